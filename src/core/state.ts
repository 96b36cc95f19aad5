/**
 * The lab's state file: the plan (names, no secrets), what has been created so far (a
 * journal written *before* each step, so an interrupted start can be undone), and the
 * learner's record for this run. Written atomically; readable only by root.
 */
import { mkdir, readFile, rename, rm, writeFile, readdir, rmdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { LabPlan } from './model.js';
import { labDir, runRoot, stateFile } from './paths.js';

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
    netns: string[];
    veths: string[];
    /** iptables rules as `-A CHAIN ...` argument lists */
    rules: string[][];
    /** docker backend: the compose project name */
    composeProject?: string;
  };
  supervisorPid?: number;
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
  /** a lab started outside the tool (the seed's `docker-compose up`), read back from its backend */
  adopted?: boolean;
}

export type StateRead = { kind: 'ok'; state: LabState } | { kind: 'missing' } | { kind: 'corrupt'; reason: string };

export async function readState(lab: string): Promise<StateRead> {
  let text: string;
  try {
    text = await readFile(stateFile(lab), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'corrupt', reason: (err as Error).message };
  }
  try {
    const state = JSON.parse(text) as LabState;
    if (state.version !== 1 || !state.plan || !state.created || !Array.isArray(state.plan.hosts)) {
      return { kind: 'corrupt', reason: 'unexpected content' };
    }
    return { kind: 'ok', state };
  } catch (err) {
    return { kind: 'corrupt', reason: (err as Error).message };
  }
}

export async function writeState(state: LabState): Promise<void> {
  const file = stateFile(state.plan.lab);
  await mkdir(dirname(file), { recursive: true, mode: 0o755 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(state, null, 2), { mode: 0o600 });
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
