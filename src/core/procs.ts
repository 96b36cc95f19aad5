/** Finding and ending processes: always by pid, never by a broad name. */
import { readdir, readFile } from 'node:fs/promises';
import { pidAlive } from './lock.js';

export async function processArgs(pid: number): Promise<string[] | undefined> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').filter((s) => s.length > 0);
  } catch {
    return undefined;
  }
}

/**
 * When the process started, in clock ticks since boot (/proc/PID/stat field 22): with the
 * pid it names one process for good, even after the pid is reused.
 */
export async function processStartTicks(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // the fields after the command name (which may hold spaces) start at field 3
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[22 - 3]);
    return Number.isFinite(ticks) ? ticks : undefined;
  } catch {
    return undefined;
  }
}

/** Pids whose argument list satisfies `match` (reads /proc, runs nothing). */
export async function findProcesses(match: (args: string[]) => boolean): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const args = await processArgs(pid);
    if (args && match(args)) out.push(pid);
  }
  return out;
}

/** The lab's supervisor, by its arguments: `--lab-dir DIR` with the lab's own directory. */
export function isSupervisorOf(args: readonly string[], dir: string): boolean {
  return args.some((a, i) => a === dir && args[i - 1] === '--lab-dir');
}

/** A host-side process of the lab: its supervisor, or a program run from the lab's own services folder. */
export function isLabProcess(args: readonly string[], dir: string): boolean {
  return isSupervisorOf(args, dir) || args.some((a) => a.startsWith(`${dir}/services/`));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A process known by its pid and its start time: the pair names it for good. */
export interface ProcessId {
  pid: number;
  startTicks: number;
}

/** Pins each live pid to the process that has it now (its start time). */
export async function identify(pids: readonly number[]): Promise<ProcessId[]> {
  const out: ProcessId[] = [];
  for (const pid of new Set(pids)) {
    const startTicks = await processStartTicks(pid);
    if (startTicks !== undefined && pidAlive(pid)) out.push({ pid, startTicks });
  }
  return out;
}

/** Still the same process: alive, and started when it did (its pid not handed to another). */
export async function isSameProcess(p: ProcessId): Promise<boolean> {
  return pidAlive(p.pid) && (await processStartTicks(p.pid)) === p.startTicks;
}

/**
 * TERM, then KILL what is still there after `graceMs`; waits until all are gone. Each pid is
 * pinned to its process first and checked again before every signal, so a process that
 * exits and whose pid the kernel hands to another is never signalled in its place.
 */
export async function endProcesses(pids: readonly number[], graceMs = 1500): Promise<void> {
  await endIdentified(await identify(pids), graceMs);
}

export async function endIdentified(procs: readonly ProcessId[], graceMs = 1500): Promise<void> {
  const live = async (): Promise<ProcessId[]> => {
    const out: ProcessId[] = [];
    for (const p of procs) if (await isSameProcess(p)) out.push(p);
    return out;
  };
  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    for (const p of await live()) {
      try {
        process.kill(p.pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  await signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while ((await live()).length && Date.now() < deadline) await sleep(25);
  if ((await live()).length) {
    await signal('SIGKILL');
    const hard = Date.now() + 3000;
    while ((await live()).length && Date.now() < hard) await sleep(25);
  }
}
