/**
 * The endurance run (`npm run bench -- --soak MINUTES`): a lab of its own runs for the given
 * time while the lab's resident memory is sampled and its supervisor is checked; now and then
 * a host is killed with SIGKILL and the time until it is back is measured. At the end the lab
 * is taken down and the host compared with a snapshot taken before. A benchmark: it reports
 * figures (and `ok` against the bounds), it asserts nothing.
 */
import { join } from 'node:path';
import { runRoot } from '../src/core/paths.js';
import { readFile } from 'node:fs/promises';
import { control, type HostStatus } from '../src/backends/netns/control.js';
import { netnsLabPids, totalRssKiB } from './measure.js';
import { measureLatency, median } from '../src/core/latency.js';
import { mystery } from '../test/helpers/cli.js';
import { diffSnapshots, takeSnapshot } from '../test/helpers/snapshot.js';

const lab = 'rsoak';
const port = 3590;
const dir = join(runRoot, lab);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));


async function labRssKiB(): Promise<{ total: number; processes: number }> {
  const pids = await netnsLabPids(lab);
  return { total: await totalRssKiB(pids), processes: pids.length };
}

async function status(): Promise<{ pid?: number; hosts: HostStatus[] }> {
  const r = await control(lab, { op: 'status' }, 3000);
  return { pid: r.pid, hosts: r.hosts ?? [] };
}

/** SIGKILLs a host's service and measures until the supervisor has it running and ready again. */
async function killAndTimeBack(host: string): Promise<{ host: string; backMs: number | null; psRunningMs: number | null; siteMs?: number | null }> {
  const before = (await status()).hosts.find((h) => h.name === host);
  if (!before?.pid) return { host, backMs: null, psRunningMs: null };
  const t0 = Date.now();
  process.kill(before.pid, 'SIGKILL');
  let backMs: number | null = null;
  let siteMs: number | null | undefined;
  while (Date.now() - t0 < 15_000) {
    const h = (await status().catch(() => undefined))?.hosts.find((x) => x.name === host);
    if (h && h.pid && h.pid !== before.pid && h.state === 'running' && h.ready) {
      backMs = Date.now() - t0;
      break;
    }
    await sleep(10);
  }
  if (host === 'webserver') {
    siteMs = null;
    while (Date.now() - t0 < 15_000) {
      if ((await measureLatency(port, 2000)) !== null) {
        siteMs = Date.now() - t0;
        break;
      }
      await sleep(20);
    }
  }
  // what the learner sees: `mystery ps --json` listing it as running
  const psRows = JSON.parse((await mystery(['ps', '--name', lab, '--json'])).stdout || '[]') as Array<{ name: string; state: string }>;
  const psRunningMs = psRows.find((r) => r.name === host)?.state === 'running' ? Date.now() - t0 : null;
  return { host, backMs, psRunningMs, ...(siteMs !== undefined ? { siteMs } : {}) };
}

export async function runSoak(minutes: number): Promise<Record<string, unknown>> {
  const durationMs = minutes * 60_000;
  const sampleEveryMs = Math.max(2000, Math.min(15_000, Math.round(durationMs / 120)));
  const warmupMs = Math.min(60_000, Math.round(durationMs * 0.1));
  const before = await takeSnapshot();
  const started = await mystery(['start', '-d', '--name', lab, '--port', String(port)], { timeoutMs: 60_000 });
  if (started.code !== 0) throw new Error(`the soak lab did not start: ${started.stderr}`);

  const samples: Array<{ atS: number; rssKiB: number; processes: number; latencyMs: number | null }> = [];
  const kills: Array<Awaited<ReturnType<typeof killAndTimeBack>>> = [];
  const problems: string[] = [];
  let supervisorPid: number | undefined;
  let hostsAtEnd: HostStatus[] = [];
  const t0 = Date.now();
  // kills at a quarter, a half and three quarters of the run; the webserver and two senders
  const killAt = [0.25, 0.5, 0.75].map((f) => t0 + f * durationMs);
  const onSignal = (): void => {
    problems.push('interrupted');
  };
  process.once('SIGINT', onSignal);
  try {
    supervisorPid = (await status()).pid;
    const names = (await status()).hosts.map((h) => h.name).filter((n) => !n.startsWith('('));
    const victims = ['webserver', ...names.filter((n) => n !== 'webserver')].slice(0, killAt.length);
    while (Date.now() - t0 < durationMs && !problems.includes('interrupted')) {
      const st = await status().catch((err: Error) => {
        problems.push(`supervisor did not answer at ${Math.round((Date.now() - t0) / 1000)} s: ${err.message}`);
        return undefined;
      });
      if (st && st.pid !== supervisorPid) problems.push(`supervisor pid changed: ${supervisorPid} -> ${st.pid}`);
      const mem = await labRssKiB();
      samples.push({ atS: Math.round((Date.now() - t0) / 1000), rssKiB: mem.total, processes: mem.processes, latencyMs: await measureLatency(port, 10_000) });
      if (killAt.length && Date.now() >= killAt[0]!) {
        killAt.shift();
        const victim = victims.shift();
        if (victim) kills.push(await killAndTimeBack(victim));
      }
      await sleep(Math.max(0, Math.min(sampleEveryMs, t0 + durationMs - Date.now())));
    }
    // the supervisor's own record: every exit it restarted, and why
    const log = await readFile(`${dir}/supervisor.log`, 'utf8').catch(() => '');
    for (const line of log.split('\n')) {
      if (/ exited \(/.test(line) && !line.includes('signal SIGKILL')) problems.push(`crash: ${line}`);
    }
    const end = await status().catch(() => undefined);
    hostsAtEnd = end?.hosts ?? [];
    if (!end) problems.push('supervisor did not answer at the end');
    else if (end.pid !== supervisorPid) problems.push('the supervisor was replaced');
  } finally {
    process.off('SIGINT', onSignal);
    const d = await mystery(['down', '--name', lab]);
    if (d.code !== 0) problems.push(`down failed: ${d.stderr}`);
  }
  // crashes: restarts beyond the kills we made, hosts not running at the end
  const restarts = hostsAtEnd.reduce((n, h) => n + h.restarts, 0);
  if (restarts !== kills.length) problems.push(`${restarts} restarts for ${kills.length} kills: something crashed by itself`);
  for (const h of hostsAtEnd) if (h.state !== 'running') problems.push(`${h.name} is ${h.state} at the end`);
  // memory: the median of the first three samples after the warm-up against the last three
  const steady = samples.filter((s) => s.atS * 1000 >= warmupMs);
  const first = median(steady.slice(0, 3).map((s) => s.rssKiB));
  const last = median(steady.slice(-3).map((s) => s.rssKiB));
  const growthPct = first && last ? Math.round(((last - first) / first) * 1000) / 10 : null;
  const maxBackMs = kills.reduce<number | null>((m, k) => (k.backMs === null ? m : Math.max(m ?? 0, k.backMs)), null);
  const hostDiff = diffSnapshots(before, await takeSnapshot());
  const latencies = samples.map((s) => s.latencyMs).filter((x): x is number => x !== null);
  return {
    lab,
    minutes,
    sampleEveryS: sampleEveryMs / 1000,
    warmupS: warmupMs / 1000,
    samples: samples.length,
    rssKiB: { afterWarmup: first, atEnd: last, growthPct, max: Math.max(0, ...samples.map((s) => s.rssKiB)), series: samples.map((s) => [s.atS, s.rssKiB]) },
    processes: samples.at(-1)?.processes,
    siteLatencyMs: { median: median(latencies), noAnswer: samples.length - latencies.length },
    kills,
    maxBackMs,
    problems,
    hostAsBefore: hostDiff.length === 0,
    hostDiff,
    ok: {
      memoryUnder10pct: growthPct !== null && growthPct < 10,
      backWithin2s: kills.length > 0 && kills.every((k) => k.backMs !== null && k.backMs < 2000),
      nothingCrashed: problems.length === 0,
      hostAsBefore: hostDiff.length === 0,
    },
  };
}
