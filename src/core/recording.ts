/**
 * Recorded incidents: a case's run captured on every bridge and veth of its lab, one pcap file
 * an interface, with a manifest (`recording.json`) that holds the briefing, the hosts and their
 * addresses, and the run's draw sealed. Anyone reads the files with `tcpdump -r` (no root, no
 * lab, no Linux); `mystery answer --recording DIR VALUE` re-draws the run from the sealed seed
 * and judges the answer as the live case would. The answer itself is never written down.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { findCase } from '../cases/index.js';
import type { CaseDraw, CaseModule } from '../cases/case.js';
import { ExitCode, UserError } from './errors.js';
import { projectRoot } from './paths.js';
import { seededRng } from './random.js';
import { unsealDraw } from './seal.js';
import { readUserFile, type Owner } from './userfs.js';

export const manifestName = 'recording.json';
export const recordingFormat = 'tcpdump-mystery-recording';

export interface RecordedCapture {
  /** the file's name in the recording's folder: `IFACE.pcap` */
  file: string;
  /** the interface it was captured on, as the live lab named it */
  interface: string;
  /** what the interface is: a network's bridge, or one host's veth */
  what: string;
}

export interface RecordedHost {
  name: string;
  role: string;
  infrastructure?: boolean;
  interfaces: Array<{ ifname: string; network: string; ip: string }>;
}

export interface RecordingManifest {
  format: typeof recordingFormat;
  version: 1;
  caseId: string;
  title: string;
  recordedAt: string;
  /** how long each interface was captured, in seconds */
  seconds: number;
  /** the live briefing of the run, as the learner would have read it */
  briefing: string;
  hosts: RecordedHost[];
  networks: Array<{ name: string; subnet: string; bridge: string }>;
  captures: RecordedCapture[];
  /** the case, seed and suspects of the run, sealed (see seal.ts) */
  seal: string;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const fileName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,60}\.pcap$/;

/** What is wrong with a manifest, field by field; undefined when it is whole. */
export function manifestProblem(m: unknown): string | undefined {
  if (typeof m !== 'object' || m === null) return 'it is not a JSON object';
  const r = m as Partial<RecordingManifest>;
  if (r.format !== recordingFormat) return `its format is not ${recordingFormat}`;
  if (r.version !== 1) return `its version (${String(r.version)}) is not 1`;
  if (!isString(r.caseId) || !isString(r.title) || !isString(r.briefing) || !isString(r.seal) || !isString(r.recordedAt)) return 'a text field is missing';
  if (typeof r.seconds !== 'number' || !(r.seconds > 0)) return 'its length in seconds is missing';
  if (!Array.isArray(r.hosts) || !r.hosts.every((h) => isString(h?.name) && isString(h?.role) && Array.isArray(h?.interfaces))) return 'its host list is malformed';
  if (!Array.isArray(r.networks)) return 'its network list is missing';
  if (!Array.isArray(r.captures) || r.captures.length === 0) return 'it lists no capture';
  for (const c of r.captures) {
    // a name of its own folder only: never a path elsewhere
    if (!isString(c?.file) || !fileName.test(c.file) || !isString(c.interface) || !isString(c.what)) return `a capture's entry is malformed (${JSON.stringify(c?.file)})`;
  }
  return undefined;
}

export interface LoadedRecording {
  dir: string;
  manifest: RecordingManifest;
  case: CaseModule;
  draw: CaseDraw;
}

/** A recording's folder (or its recording.json), read and checked; the run re-drawn from its seal. */
export async function loadRecording(path: string, owner: Owner | undefined): Promise<LoadedRecording> {
  const dir = path.endsWith(manifestName) ? path.slice(0, -manifestName.length - 1) || '.' : path;
  const file = join(dir, manifestName);
  const fix = 'Give the folder a recording was written to (`mystery record CASE -o DIR`), or one of the package\'s own (`mystery recording --list`).';
  const read = await readUserFile(file, owner);
  if (read.kind === 'missing') throw new UserError(`${dir} holds no recording: there is no ${file}.`, fix, ExitCode.usage);
  if (read.kind === 'bad') throw new UserError(`${file} cannot be read: ${read.reason}.`, fix, ExitCode.usage);
  let manifest: unknown;
  try {
    manifest = JSON.parse(read.text);
  } catch {
    throw new UserError(`${file} is not JSON.`, fix, ExitCode.usage);
  }
  const problem = manifestProblem(manifest);
  if (problem) throw new UserError(`${file} is not a recording of this tool: ${problem}.`, fix, ExitCode.usage);
  const m = manifest as RecordingManifest;
  const run = unsealDraw(m.seal);
  if (!run || run.caseId !== m.caseId) throw new UserError(`${file} has been altered: its seal does not open.`, 'Use the recording as it was written, or record it again.', ExitCode.usage);
  const c = findCase(run.caseId);
  if (run.suspects < c.suspects.min || run.suspects > c.suspects.max) throw new UserError(`${file} names ${run.suspects} suspects, out of range for ${c.id}.`, fix, ExitCode.usage);
  return { dir, manifest: m, case: c, draw: c.draw(seededRng(run.seed), run.suspects) };
}

/** Judges an answer against the recording's own draw: the value of an answer case, the culprit's name for an arrest case. */
export function judgeRecordingAnswer(rec: Pick<LoadedRecording, 'case' | 'draw'>, value: string): boolean {
  const v = value.trim();
  if (rec.case.solvedBy === 'answer' && rec.case.checkAnswer) return rec.case.checkAnswer(v, rec.draw);
  return v.toLowerCase() === rec.draw.culprit;
}

/** What the learner reads first: how to read the files, what to answer, then the run's own briefing. */
export function recordingBriefing(rec: LoadedRecording, cli: string): string {
  const m = rec.manifest;
  const ask = rec.case.solvedBy === 'arrest' ? 'the host you would arrest' : 'your answer, as the briefing asks';
  const width = Math.max(...m.captures.map((c) => c.file.length));
  const hostLines = m.hosts
    .slice()
    .sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }))
    .map((h) => `  ${h.name.padEnd(10)} ${h.interfaces.map((i) => `${i.ifname} ${i.ip} (${i.network})`).join(', ')}${h.infrastructure ? '   infrastructure' : ''}`);
  return [
    `A recorded incident: ${m.title} (${m.caseId}), ${m.seconds} s of it, captured ${m.recordedAt.slice(0, 10)}.`,
    'There is no lab: the commands of the briefing below were those of the live run. Everything it',
    'carried is in these files, one an interface; read them with tcpdump (no root needed):',
    ...m.captures.map((c) => `  tcpdump -nn -r ${join(rec.dir, c.file).padEnd(rec.dir.length + 1 + width)}   # ${c.what}`),
    'The hosts and their addresses (what `mystery ps` showed):',
    ...hostLines,
    `Answer with ${ask}: ${cli} answer --recording ${rec.dir} VALUE`,
    '',
    'The briefing of the live run:',
    m.briefing,
  ].join('\n');
}

/** The recordings that come with the package (its `recordings/` folder), one folder a case. */
export async function shippedRecordings(root = join(projectRoot, 'recordings')): Promise<Array<{ caseId: string; dir: string }>> {
  const names = await readdir(root).catch(() => [] as string[]);
  return names.sort().map((caseId) => ({ caseId, dir: join(root, caseId) }));
}

/** A recording's folder as given, or (a bare name that is no folder here) the package's own recording of that case. */
export async function resolveRecording(ref: string): Promise<string> {
  const local = await stat(ref).then((s) => s.isDirectory(), () => false);
  if (local || ref.includes('/')) return ref;
  return (await shippedRecordings()).find((s) => s.caseId === ref)?.dir ?? ref;
}
