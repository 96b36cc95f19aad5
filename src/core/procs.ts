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

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** TERM, then KILL what is still there after `graceMs`; waits until all are gone. */
export async function endProcesses(pids: readonly number[], graceMs = 1500): Promise<void> {
  const signal = (sig: NodeJS.Signals): void => {
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (pids.some(pidAlive) && Date.now() < deadline) await sleep(25);
  if (pids.some(pidAlive)) {
    signal('SIGKILL');
    const hard = Date.now() + 3000;
    while (pids.some(pidAlive) && Date.now() < hard) await sleep(25);
  }
}
