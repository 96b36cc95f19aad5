/** What the benchmarks share: timing a step, sampling the site, and memory of processes. */
import { join } from 'node:path';
import { runRoot } from '../src/core/paths.js';
import { readFile } from 'node:fs/promises';
import { measureLatency } from '../src/core/latency.js';
import { findProcesses } from '../src/core/procs.js';

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = process.hrtime.bigint();
  const value = await fn();
  return { ms: Math.round(Number(process.hrtime.bigint() - t0) / 1e6), value };
}

/** `n` response times of the site on localhost:port, 200 ms apart (unanswered ones left out). */
export async function latencies(port: number, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const ms = await measureLatency(port, 20_000);
    if (ms !== null) out.push(Math.round(ms * 10) / 10);
    await new Promise((r) => setTimeout(r, 200));
  }
  return out;
}

export async function rssKiB(pid: number): Promise<number> {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** A namespace lab's processes: its supervisor (by --lab-dir) and its services (run from its directory). */
export function netnsLabPids(lab: string): Promise<number[]> {
  const dir = join(runRoot, lab);
  return findProcesses((args) => args.some((a, i) => (a === dir && args[i - 1] === '--lab-dir') || a.startsWith(`${dir}/services/`)));
}

export async function totalRssKiB(pids: readonly number[]): Promise<number> {
  let total = 0;
  for (const p of pids) total += await rssKiB(p);
  return total;
}
