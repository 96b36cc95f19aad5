/**
 * The learner's progress, per user, in the XDG state directory: one record per run
 * (so recording the same run twice changes nothing), summed per case on reading.
 */
import { chown, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabState } from './state.js';

export interface RunRecord {
  caseId: string;
  startedAt: string;
  solved: boolean;
  timeMs?: number;
  hintsUsed: number;
  wrongArrests: number;
  gaveUp: boolean;
}

export interface CaseProgress {
  solved: number;
  runs: number;
  bestTimeMs?: number;
  hintsUsed: number;
  wrongArrests: number;
  gaveUp: number;
}

interface ProgressFile {
  version: 1;
  runs: Record<string, RunRecord>;
}

/** The user who ran sudo, if any: progress belongs to them, not to root. */
function invokingUser(env: NodeJS.ProcessEnv): { home: string; uid: number; gid: number } | undefined {
  const name = env.SUDO_USER;
  if (!name || name === 'root') return undefined;
  try {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${name}:`));
    const f = line?.split(':');
    if (!f || !f[5]) return undefined;
    return { home: f[5], uid: Number(f[2]), gid: Number(f[3]) };
  } catch {
    return undefined;
  }
}

export function progressFile(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XDG_STATE_HOME) return join(env.XDG_STATE_HOME, 'tcpdump-mystery', 'progress.json');
  const user = invokingUser(env);
  const home = user?.home ?? env.HOME ?? '/root';
  return join(home, '.local', 'state', 'tcpdump-mystery', 'progress.json');
}

async function load(file: string): Promise<ProgressFile> {
  try {
    const p = JSON.parse(await readFile(file, 'utf8')) as ProgressFile;
    if (p.version === 1 && p.runs && typeof p.runs === 'object') return p;
  } catch {
    /* missing or unreadable: start afresh */
  }
  return { version: 1, runs: {} };
}

export function runKey(state: LabState): string {
  return `${state.plan.lab}@${state.startedAt}`;
}

export function runRecord(state: LabState, solved: boolean): RunRecord {
  const solvedAt = state.solvedAt ? Date.parse(state.solvedAt) : undefined;
  const readyAt = Date.parse(state.readyAt ?? state.startedAt);
  return {
    caseId: state.plan.caseId,
    startedAt: state.startedAt,
    solved: solved && !state.gaveUp,
    timeMs: solved && solvedAt ? Math.max(0, solvedAt - readyAt) : undefined,
    hintsUsed: state.hintsUsed,
    wrongArrests: state.arrests.filter((a) => !a.correct).length,
    gaveUp: !!state.gaveUp,
  };
}

/** Records (or updates) this run in the user's progress. Never fails the command. */
export async function recordRun(state: LabState, solved: boolean, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const file = progressFile(env);
  try {
    const p = await load(file);
    const previous = p.runs[runKey(state)];
    const record = runRecord(state, solved || !!previous?.solved);
    p.runs[runKey(state)] = record;
    const dir = join(file, '..');
    await mkdir(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(p, null, 2));
    await rename(tmp, file);
    const user = env.XDG_STATE_HOME ? undefined : invokingUser(env);
    if (user) {
      for (const path of [join(dir, '..', '..'), join(dir, '..'), dir, file]) {
        if (path.startsWith(user.home)) await chown(path, user.uid, user.gid).catch(() => {});
      }
    }
  } catch {
    /* progress is a nicety: a read-only home must not break the case */
  }
}

export async function caseProgress(env: NodeJS.ProcessEnv = process.env): Promise<Map<string, CaseProgress>> {
  const p = await load(progressFile(env));
  const out = new Map<string, CaseProgress>();
  for (const r of Object.values(p.runs)) {
    const c = out.get(r.caseId) ?? { solved: 0, runs: 0, hintsUsed: 0, wrongArrests: 0, gaveUp: 0 };
    c.runs++;
    if (r.solved) {
      c.solved++;
      if (r.timeMs !== undefined && (c.bestTimeMs === undefined || r.timeMs < c.bestTimeMs)) c.bestTimeMs = r.timeMs;
    }
    c.hintsUsed += r.hintsUsed;
    c.wrongArrests += r.wrongArrests;
    if (r.gaveUp) c.gaveUp++;
    out.set(r.caseId, c);
  }
  return out;
}
