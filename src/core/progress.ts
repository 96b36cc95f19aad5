/**
 * The learner's progress, per user, in the XDG state directory: one record per run
 * (so recording the same run twice changes nothing), summed per case on reading.
 */
import { join } from 'node:path';
import type { LabState } from './state.js';
import { invokingUser, readUserFile, writeUserFile, type Owner } from './userfs.js';

export interface RunRecord {
  caseId: string;
  startedAt: string;
  solved: boolean;
  timeMs?: number;
  hintsUsed: number;
  wrongArrests: number;
  gaveUp: boolean;
  /** a capture of the learner's proved the case (`mystery submit`) */
  evidence?: boolean;
  /** an unknown incident (`start --random`): named or not, after how many guesses, how fast */
  incident?: { named: boolean; guesses: number; triageMs?: number };
}

/** The case of an unknown incident not named yet, as progress records it: the file must not name it. */
export const unnamedIncident = 'unknown-incident';

export interface IncidentProgress {
  runs: number;
  named: number;
  bestTriageMs?: number;
}

export interface CaseProgress {
  solved: number;
  runs: number;
  bestTimeMs?: number;
  hintsUsed: number;
  wrongArrests: number;
  gaveUp: number;
  /** runs in which a submitted capture proved the case */
  evidence: number;
}

interface ProgressFile {
  version: 1;
  runs: Record<string, unknown>;
}

/** Where the progress lives (below `base`, the one directory the tool does not make), and whose it is. */
export function progressLocation(env: NodeJS.ProcessEnv = process.env): { base: string; file: string; owner: Owner | undefined } {
  const owner = invokingUser(env);
  if (env.XDG_STATE_HOME) return { base: env.XDG_STATE_HOME, file: join(env.XDG_STATE_HOME, 'tcpdump-mystery', 'progress.json'), owner };
  const home = owner?.home ?? env.HOME ?? '/root';
  return { base: home, file: join(home, '.local', 'state', 'tcpdump-mystery', 'progress.json'), owner };
}

export function progressFile(env: NodeJS.ProcessEnv = process.env): string {
  return progressLocation(env).file;
}

/** A record as the file holds it, or undefined if any field has the wrong type. */
export function validRecord(r: unknown): RunRecord | undefined {
  if (!r || typeof r !== 'object') return undefined;
  const x = r as Record<string, unknown>;
  const count = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 1e9;
  if (typeof x.caseId !== 'string' || typeof x.startedAt !== 'string') return undefined;
  if (typeof x.solved !== 'boolean' || typeof x.gaveUp !== 'boolean') return undefined;
  if (!count(x.hintsUsed) || !count(x.wrongArrests)) return undefined;
  if (x.evidence !== undefined && typeof x.evidence !== 'boolean') return undefined;
  const inc = x.incident as Record<string, unknown> | undefined;
  if (inc !== undefined && !(inc && typeof inc === 'object' && typeof inc.named === 'boolean' && count(inc.guesses) && (inc.triageMs === undefined || (typeof inc.triageMs === 'number' && inc.triageMs >= 0)))) return undefined;
  if (x.timeMs !== undefined && !(typeof x.timeMs === 'number' && Number.isFinite(x.timeMs) && x.timeMs >= 0)) return undefined;
  return x as unknown as RunRecord;
}

type Loaded = { kind: 'ok'; progress: ProgressFile } | { kind: 'bad'; reason: string };

async function load(env: NodeJS.ProcessEnv): Promise<Loaded> {
  const { file, owner } = progressLocation(env);
  const r = await readUserFile(file, owner);
  if (r.kind === 'missing') return { kind: 'ok', progress: { version: 1, runs: {} } };
  if (r.kind === 'bad') return { kind: 'bad', reason: r.reason };
  try {
    const p = JSON.parse(r.text) as ProgressFile;
    if (p && p.version === 1 && p.runs && typeof p.runs === 'object' && !Array.isArray(p.runs)) return { kind: 'ok', progress: p };
    return { kind: 'bad', reason: 'it is not a progress file of this tool (version 1)' };
  } catch (err) {
    return { kind: 'bad', reason: `it is not valid JSON (${(err as Error).message})` };
  }
}

/** What to tell the learner when the progress file cannot be used: it is kept as it is. */
export function progressProblem(file: string, reason: string): string {
  return `note: your progress is not recorded: ${file} cannot be used (${reason}). It is left as it is; move it aside (mv ${file} ${file}.old) to start a new record.`;
}

export function runKey(state: LabState): string {
  return `${state.plan.lab}@${state.startedAt}`;
}

export function runRecord(state: LabState, solved: boolean): RunRecord {
  const solvedAt = state.solvedAt ? Date.parse(state.solvedAt) : undefined;
  const readyAt = Date.parse(state.readyAt ?? state.startedAt);
  const inc = state.incident;
  const revealed = !inc || !!inc.namedAt || solved || !!state.gaveUp || !!state.solvedAt;
  return {
    caseId: revealed ? state.plan.caseId : unnamedIncident,
    startedAt: state.startedAt,
    solved: solved && !state.gaveUp,
    timeMs: solved && solvedAt ? Math.max(0, solvedAt - readyAt) : undefined,
    hintsUsed: state.hintsUsed,
    wrongArrests: state.arrests.filter((a) => !a.correct).length,
    gaveUp: !!state.gaveUp,
    evidence: (state.evidence ?? []).some((e) => e.proves),
    ...(inc ? { incident: { named: !!inc.namedAt, guesses: inc.guesses.length, ...(inc.namedAt ? { triageMs: Math.max(0, Date.parse(inc.namedAt) - readyAt) } : {}) } } : {}),
  };
}

/**
 * Records (or updates) this run in the user's progress, written as that user. Never fails
 * the command; a progress file that cannot be used is never overwritten (it says so).
 */
export async function recordRun(state: LabState, solved: boolean, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const { base, file, owner } = progressLocation(env);
  try {
    const loaded = await load(env);
    if (loaded.kind === 'bad') {
      process.stderr.write(`${progressProblem(file, loaded.reason)}\n`);
      return;
    }
    const p = loaded.progress;
    const previous = validRecord(p.runs[runKey(state)]);
    p.runs[runKey(state)] = runRecord(state, solved || !!previous?.solved);
    await writeUserFile(base, file, JSON.stringify(p, null, 2), owner);
  } catch {
    /* progress is a nicety: a read-only home must not break the case */
  }
}

/** Each case's progress, summed over the runs; records of the wrong shape are left out. */
export async function caseProgress(env: NodeJS.ProcessEnv = process.env): Promise<Map<string, CaseProgress>> {
  return (await readProgress(env)).cases;
}

export async function readProgress(env: NodeJS.ProcessEnv = process.env): Promise<{ cases: Map<string, CaseProgress>; incidents: IncidentProgress; problem?: string }> {
  const loaded = await load(env);
  const out = new Map<string, CaseProgress>();
  const incidents: IncidentProgress = { runs: 0, named: 0 };
  if (loaded.kind === 'bad') return { cases: out, incidents, problem: progressProblem(progressFile(env), loaded.reason) };
  for (const raw of Object.values(loaded.progress.runs)) {
    const r = validRecord(raw);
    if (!r) continue;
    if (r.incident) {
      // unknown incidents are counted apart (and also under their case, once it is known)
      incidents.runs++;
      if (r.incident.named) incidents.named++;
      const t = r.incident.triageMs;
      if (t !== undefined && (incidents.bestTriageMs === undefined || t < incidents.bestTriageMs)) incidents.bestTriageMs = t;
    }
    if (r.caseId === unnamedIncident) continue;
    const c = out.get(r.caseId) ?? { solved: 0, runs: 0, hintsUsed: 0, wrongArrests: 0, gaveUp: 0, evidence: 0 };
    c.runs++;
    if (r.solved) {
      c.solved++;
      if (r.timeMs !== undefined && (c.bestTimeMs === undefined || r.timeMs < c.bestTimeMs)) c.bestTimeMs = r.timeMs;
    }
    c.hintsUsed += r.hintsUsed;
    c.wrongArrests += r.wrongArrests;
    if (r.gaveUp) c.gaveUp++;
    if (r.evidence) c.evidence++;
    out.set(r.caseId, c);
  }
  return { cases: out, incidents };
}
