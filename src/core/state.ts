/**
 * The lab's state file: the plan (names, no secrets), what has been created so far (a
 * journal written *before* each step, so an interrupted start can be undone), and the
 * learner's record for this run. Written atomically; readable only by root.
 */
import { mkdir, readFile, rename, rm, writeFile, readdir, rmdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { minCpus, minMemoryBytes, type LabPlan } from './model.js';
import { labDir, runRoot, stateFile } from './paths.js';
import { sealDraw, unsealDraw } from './seal.js';

export interface Arrest {
  host: string;
  correct: boolean;
  at: string;
  latencyBeforeMs?: number | null;
  latencyAfterMs?: number | null;
}

export interface LabState {
  version: 1;
  plan: LabPlan;
  /** The journal: what may exist. Cleanup removes each if it is still there. */
  created: {
    bridge?: string;
    /** the bridges of the lab's other networks */
    bridges?: string[];
    netns: string[];
    veths: string[];
    /** iptables rules as `-A CHAIN ...` argument lists */
    rules: string[][];
    /** docker backend: the compose project name */
    composeProject?: string;
  };
  supervisorPid?: number;
  /** its start time (/proc/PID/stat), so that `down` never signals a process that reused the pid */
  supervisorStartTicks?: number;
  /** docker backend: each stopped host's veth and its counters just before it stopped (the veth goes with it) */
  countersAtStop?: Record<string, { packets: number; bytes: number; veth?: string; ifindex?: number }>;
  /** the `mystery start` that builds the lab, until it is ready: `down` interrupts it */
  starter?: { pid: number; startTicks: number };
  startedAt: string;
  readyAt?: string;
  arrests: Arrest[];
  hintsUsed: number;
  /** answers given with `mystery answer` (cases solved by a value) */
  answers?: Array<{ value: string; correct: boolean; at: string }>;
  solvedAt?: string;
  gaveUp?: boolean;
  /** captures the learner submitted (`mystery submit`), and what each showed */
  evidence?: Array<{ at: string; proves: boolean; says: string }>;
  /** a lab started outside the tool (the seed's `docker-compose up`), read back from its backend */
  adopted?: boolean;
  /**
   * The unknown incident (`mystery start --random`): the case is not named until the learner
   * names it (`mystery answer --incident ID`). On disk its case is sealed (see writeState).
   */
  incident?: { guesses: Array<{ id: string; correct: boolean; at: string }>; namedAt?: string; triageHints?: number };
}

/** What the state file holds of an unknown incident's case: a seal, never its name. */
const hiddenCase = 'unknown-incident';

export type StateRead = { kind: 'ok'; state: LabState } | { kind: 'missing' } | { kind: 'corrupt'; reason: string };

export async function readState(lab: string): Promise<StateRead> {
  let text: string;
  try {
    text = await readFile(stateFile(lab), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'corrupt', reason: (err as Error).message };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { kind: 'corrupt', reason: (err as Error).message };
  }
  const problem = stateProblem(parsed, lab);
  if (problem) return { kind: 'corrupt', reason: problem };
  const state = parsed as LabState & { incidentSeal?: string };
  if (state.incidentSeal !== undefined) {
    const run = unsealDraw(state.incidentSeal);
    if (!run || state.plan.caseId !== hiddenCase || run.seed !== state.plan.seed || !/^[a-z][a-z0-9-]{0,39}$/.test(run.caseId)) return { kind: 'corrupt', reason: "the unknown incident's seal does not open" };
    state.plan.caseId = run.caseId;
    delete state.incidentSeal;
  }
  return { kind: 'ok', state };
}

const ipv4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const isIpv4 = (v: unknown): boolean => typeof v === 'string' && ipv4.test(v) && v.split('.').every((o) => Number(o) <= 255);
const isInt = (v: unknown, min: number, max: number): boolean => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
const isStrings = (v: unknown, ok: (s: string) => boolean): boolean => Array.isArray(v) && v.length <= 256 && v.every((x) => typeof x === 'string' && ok(x));
/** Docker leaves a lab's netns fields empty: the empty string is a value of its own. */
const emptyOr = (re: RegExp) => (v: unknown): boolean => v === '' || (typeof v === 'string' && re.test(v));

/**
 * What is wrong with a state file's content, or undefined: every field the commands use is
 * checked for its type and range (a bad backend, a billion suspects, a name that is not one
 * of ours), so that no command acts on a value the tool never wrote.
 */
export function stateProblem(x: unknown, lab: string): string | undefined {
  if (!x || typeof x !== 'object') return 'not an object';
  const s = x as Record<string, unknown>;
  if (s.version !== 1) return 'not version 1';
  const plan = s.plan as Record<string, unknown> | undefined;
  if (!plan || typeof plan !== 'object') return 'no plan';
  if (plan.lab !== lab) return `the plan is of another lab (${String(plan.lab).slice(0, 40)})`;
  if (typeof plan.caseId !== 'string' || !/^[a-z][a-z0-9-]{0,39}$/.test(plan.caseId)) return 'plan.caseId is not a case name';
  if (typeof plan.seed !== 'string' || plan.seed.length > 200) return 'plan.seed is not a seed';
  if (!isInt(plan.suspects, 1, 64)) return 'plan.suspects is not a number from 1 to 64';
  if (plan.backend !== 'netns' && plan.backend !== 'docker') return 'plan.backend is neither netns nor docker';
  if (!isInt(plan.port, 1, 65535)) return 'plan.port is not a port';
  // a /24 of ours on netns; on Docker the network's own (a /16 of 172.x, say)
  if (!(plan.subnet === '' || (typeof plan.subnet === 'string' && /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\/\d{1,2}$/.test(plan.subnet)))) return 'plan.subnet is not a subnet';
  if (!(plan.gateway === '' || isIpv4(plan.gateway))) return 'plan.gateway is not an address';
  if (!emptyOr(/^br-[0-9a-f]{12}$/)(plan.bridge)) return 'plan.bridge is not a bridge name of ours';
  if (!Array.isArray(plan.hosts) || plan.hosts.length === 0 || plan.hosts.length > 64) return 'plan.hosts is not a list of hosts';
  const netns = new RegExp(`^tmys-${lab}-[0-9a-f]{8}$`);
  for (const h of plan.hosts as Array<Record<string, unknown>>) {
    if (!h || typeof h !== 'object') return 'a host is not an object';
    if (typeof h.name !== 'string' || !/^[a-z][a-z0-9-]{0,39}$/.test(h.name)) return 'a host name is not valid';
    if (typeof h.id !== 'string' || !/^[0-9a-f]{12}$/.test(h.id)) return `the id of ${h.name} is not 12 hex digits`;
    if (h.role !== 'server' && h.role !== 'suspect' && h.role !== 'router') return `the role of ${h.name} is not valid`;
    if (typeof h.program !== 'string' || !/^[a-z][a-z0-9-]{0,39}$/.test(h.program)) return `the program of ${h.name} is not valid`;
    if (!(h.ip === '' || isIpv4(h.ip))) return `the address of ${h.name} is not valid`;
    if (!emptyOr(netns)(h.netns)) return `the namespace of ${h.name} is not one of this lab`;
    if (!emptyOr(/^veth[0-9a-f]{7}$/)(h.veth)) return `the veth of ${h.name} is not a veth name of ours`;
    if (h.infrastructure !== undefined && typeof h.infrastructure !== 'boolean') return `infrastructure of ${h.name} is not true or false`;
    if (h.interfaces !== undefined) {
      if (!Array.isArray(h.interfaces) || h.interfaces.length === 0 || h.interfaces.length > 8) return `the interfaces of ${h.name} are not a list`;
      for (const [i, x] of (h.interfaces as Array<Record<string, unknown>>).entries()) {
        if (!x || x.ifname !== `eth${i}` || typeof x.network !== 'string' || !/^[a-z][a-z0-9]{0,11}$/.test(x.network)) return `interface ${i} of ${h.name} is not valid`;
        if (!(x.ip === '' || isIpv4(x.ip)) || !emptyOr(/^veth[0-9a-f]{7}$/)(x.veth)) return `interface ${i} of ${h.name} is not valid`;
      }
    }
  }
  if (plan.networks !== undefined) {
    if (!Array.isArray(plan.networks) || plan.networks.length === 0 || plan.networks.length > 8) return 'plan.networks is not a list of networks';
    for (const n of plan.networks as Array<Record<string, unknown>>) {
      if (!n || typeof n.name !== 'string' || !/^[a-z][a-z0-9]{0,11}$/.test(n.name)) return 'a network name is not valid';
      if (typeof n.subnet !== 'string' || !/^\d{1,3}\.\d{1,3}\.\d{1,3}\.0\/24$/.test(n.subnet)) return `the subnet of ${n.name} is not a /24`;
      if (!(n.gateway === '' || isIpv4(n.gateway))) return `the gateway of ${n.name} is not an address`;
      if (!emptyOr(/^br-[0-9a-f]{12}$/)(n.bridge)) return `the bridge of ${n.name} is not a bridge name of ours`;
      if (n.mtu !== undefined && !isInt(n.mtu, 576, 9000)) return `the MTU of ${n.name} is not from 576 to 9000`;
    }
  }
  if (plan.limits !== undefined) {
    const l = plan.limits as Record<string, unknown> | null;
    if (!l || typeof l !== 'object') return 'plan.limits is not an object';
    if (l.cpus !== undefined && !(typeof l.cpus === 'number' && l.cpus >= minCpus && l.cpus <= 1024)) return `plan.limits.cpus is not from ${minCpus} to 1024`;
    if (l.memoryBytes !== undefined && !isInt(l.memoryBytes, minMemoryBytes, 2 ** 50)) return 'plan.limits.memoryBytes is not a size of ours';
  }
  const created = s.created as Record<string, unknown> | undefined;
  if (!created || typeof created !== 'object') return 'no journal';
  if (created.bridge !== undefined && !emptyOr(/^br-[0-9a-f]{12}$/)(created.bridge)) return 'the journal names a bridge that is not ours';
  if (created.bridges !== undefined && !isStrings(created.bridges, (n) => /^br-[0-9a-f]{12}$/.test(n))) return 'the journal names a bridge that is not ours';
  if (!isStrings(created.netns, (n) => netns.test(n))) return 'the journal names a namespace that is not of this lab';
  if (!isStrings(created.veths, (n) => /^veth[0-9a-f]{7}$/.test(n))) return 'the journal names a veth that is not ours';
  if (!Array.isArray(created.rules) || !created.rules.every((r) => isStrings(r, () => true))) return 'the journal\'s rules are not argument lists';
  if (created.composeProject !== undefined && typeof created.composeProject !== 'string') return 'the journal\'s compose project is not a name';
  if (s.supervisorPid !== undefined && !isInt(s.supervisorPid, 1, 2 ** 22)) return 'supervisorPid is not a pid';
  if (s.supervisorStartTicks !== undefined && !isInt(s.supervisorStartTicks, 0, Number.MAX_SAFE_INTEGER)) return 'supervisorStartTicks is not a time';
  const starter = s.starter as Record<string, unknown> | undefined;
  if (starter !== undefined && !(starter && isInt(starter.pid, 1, 2 ** 22) && isInt(starter.startTicks, 0, Number.MAX_SAFE_INTEGER))) return 'starter is not a process';
  if (typeof s.startedAt !== 'string' || Number.isNaN(Date.parse(s.startedAt))) return 'startedAt is not a time';
  if (s.readyAt !== undefined && (typeof s.readyAt !== 'string' || Number.isNaN(Date.parse(s.readyAt)))) return 'readyAt is not a time';
  if (!Array.isArray(s.arrests) || !s.arrests.every((a) => a && typeof a === 'object' && typeof (a as Arrest).host === 'string' && typeof (a as Arrest).correct === 'boolean')) return 'arrests is not a list of arrests';
  if (!isInt(s.hintsUsed, 0, 1000)) return 'hintsUsed is not a count';
  if (s.answers !== undefined && !(Array.isArray(s.answers) && s.answers.every((a) => a && typeof a === 'object' && typeof a.value === 'string' && typeof a.correct === 'boolean'))) return 'answers is not a list of answers';
  const incident = s.incident as Record<string, unknown> | undefined;
  if (incident !== undefined && !(incident && typeof incident === 'object' && Array.isArray(incident.guesses) && incident.guesses.length <= 100 && incident.guesses.every((g) => g && typeof g === 'object' && typeof g.id === 'string' && typeof g.correct === 'boolean') && (incident.namedAt === undefined || typeof incident.namedAt === 'string') && (incident.triageHints === undefined || isInt(incident.triageHints, 0, 100)))) return 'incident is not a record of guesses';
  if (s.incidentSeal !== undefined && (typeof s.incidentSeal !== 'string' || s.incidentSeal.length > 1000 || incident === undefined)) return 'incidentSeal is not a seal';
  if (s.evidence !== undefined && !(Array.isArray(s.evidence) && s.evidence.length <= 100 && s.evidence.every((e) => e && typeof e === 'object' && typeof e.proves === 'boolean' && typeof e.says === 'string'))) return 'evidence is not a list of submissions';
  return undefined;
}

export async function writeState(state: LabState): Promise<void> {
  const file = stateFile(state.plan.lab);
  await mkdir(dirname(file), { recursive: true, mode: 0o755 });
  const tmp = `${file}.${process.pid}.tmp`;
  // an unknown incident's case is sealed on disk: `sudo cat state.json` must not name it
  const onDisk = state.incident
    ? { ...state, plan: { ...state.plan, caseId: hiddenCase }, incidentSeal: sealDraw({ caseId: state.plan.caseId, seed: state.plan.seed, suspects: state.plan.suspects }) }
    : state;
  await writeFile(tmp, JSON.stringify(onDisk, null, 2), { mode: 0o600 });
  await rename(tmp, file);
}

/**
 * Re-reads, applies a change and writes, so two commands do not lose each other's records.
 * A lab started by hand (adopted) gets its state file with its first record: a hint, an arrest.
 */
export async function updateState(loaded: LabState, change: (s: LabState) => void): Promise<LabState | undefined> {
  const r = await readState(loaded.plan.lab);
  const state = r.kind === 'ok' ? r.state : r.kind === 'missing' && loaded.adopted ? structuredClone(loaded) : undefined;
  if (!state) return undefined;
  change(state);
  await writeState(state);
  return state;
}

/** Removes the lab's runtime directory, and the tool's root too when nothing else is in it. */
export async function removeLabDir(lab: string): Promise<void> {
  // a second down, or a supervisor's last log line, may race with the removal: retry
  await rm(labDir(lab), { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  await removeRunRootIfEmpty();
}

export async function removeRunRootIfEmpty(): Promise<void> {
  try {
    const left = await readdir(runRoot);
    if (left.length === 0) await rmdir(runRoot);
  } catch {
    /* already gone, or not empty */
  }
}

/** The names of labs that have a runtime directory. */
export async function listLabDirs(): Promise<string[]> {
  try {
    const entries = await readdir(runRoot, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  } catch {
    return [];
  }
}
