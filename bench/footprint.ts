/**
 * What a running default lab costs, on both backends in one run and measured the same way:
 * memory from the cgroups (the lab's own on netns, one per container on Docker: usage less
 * inactive file cache, as `docker stats` counts it), the sum of PSS of the processes in them
 * (shared pages split between the processes that share them), and CPU seconds a minute over
 * a window. The netns forwarder and Docker's docker-proxy are outside both: the services only.
 * Beside them, what each backend runs per lab to keep the services up, outside their cgroups:
 * netns's supervisor and forwarder, Docker's containerd-shim of each container and its
 * docker-proxy (the daemons, dockerd and containerd, serve every lab and are not counted), and
 * the total PSS of services and runtime: what the lab adds to the machine.
 *
 *   npm run bench -- --footprint          (root; Docker where an engine runs)
 */
import { runRoot } from '../src/core/paths.js';
import { readdir, readFile } from 'node:fs/promises';
import { readState } from '../src/core/state.js';
import { join } from 'node:path';
import { mystery, sh } from '../test/helpers/cli.js';
import { cgroupLayout, cgroupUsage, labCgroupDirs, labCgroupPids, labCgroupUsage, type CgroupUsage } from '../src/backends/netns/cgroup.js';

const windowS = 20;

/** The sum of PSS (kB) of these processes, from /proc/PID/smaps_rollup. */
async function pssKiB(pids: readonly number[]): Promise<number> {
  let total = 0;
  for (const pid of pids) {
    try {
      total += Number(/^Pss:\s+(\d+) kB/m.exec(await readFile(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
    } catch {
      /* gone */
    }
  }
  return total;
}

interface Probe {
  usage(): CgroupUsage | undefined;
  pids(): Promise<number[]>;
  /** the per-lab processes of the backend itself, outside the services' cgroups */
  runtime(): Promise<number[]>;
}

/** Every process's pid and argument list, from /proc. */
async function processTable(): Promise<Array<{ pid: number; ppid: number; args: string[] }>> {
  const out: Array<{ pid: number; ppid: number; args: string[] }> = [];
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = await readFile(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const args = (await readFile(`/proc/${d}/cmdline`, 'utf8')).split('\0').filter(Boolean);
      out.push({ pid: Number(d), ppid, args });
    } catch {
      /* gone */
    }
  }
  return out;
}

async function measure(probe: Probe): Promise<Record<string, number | undefined>> {
  const first = probe.usage();
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, windowS * 1000));
  const last = probe.usage();
  const seconds = (Date.now() - t0) / 1000;
  const pids = await probe.pids();
  const runtime = (await probe.runtime()).filter((p) => !pids.includes(p));
  const mib = (bytes: number): number => Math.round((bytes / 1024 ** 2) * 10) / 10;
  const [pss, runtimePss] = await Promise.all([pssKiB(pids), pssKiB(runtime)]);
  return {
    processes: pids.length,
    cgroupMemoryMiB: last ? mib(last.memoryBytes) : undefined,
    pssMiB: Math.round(pss / 102.4) / 10,
    runtimeProcesses: runtime.length,
    runtimePssMiB: Math.round(runtimePss / 102.4) / 10,
    totalPssMiB: Math.round((pss + runtimePss) / 102.4) / 10,
    cpuSecondsPerMinute: first && last ? Math.round(((last.cpuNs - first.cpuNs) / 1e9 / seconds) * 60 * 10) / 10 : undefined,
    windowS: Math.round(seconds),
  };
}

/** The folders of a container's cgroup: v1 (memory, cpuacct) or v2 (one, under systemd or not). */
async function containerDirs(id: string): Promise<{ mem: string; cpu: string } | undefined> {
  const layout = cgroupLayout();
  const exists = async (d: string): Promise<boolean> => readFile(join(d, 'cgroup.procs'), 'utf8').then(() => true, () => false);
  if (layout.version === 1 && layout.memory) {
    const mem = join(layout.memory, 'docker', id);
    const cpu = join(layout.cpuacct ?? layout.cpu ?? layout.memory, 'docker', id);
    return (await exists(mem)) ? { mem, cpu } : undefined;
  }
  if (layout.version === 2) {
    for (const d of [join(layout.root, 'system.slice', `docker-${id}.scope`), join(layout.root, 'docker', id)]) if (await exists(d)) return { mem: d, cpu: d };
  }
  return undefined;
}

async function netnsFootprint(lab: string, port: number): Promise<Record<string, unknown>> {
  const s = await mystery(['start', '-d', '--name', lab, '--port', String(port), '--seed', 'bench-footprint']);
  if (s.code !== 0) throw new Error(`start failed: ${s.stderr}`);
  try {
    await new Promise((r) => setTimeout(r, 3000));
    if (labCgroupDirs(lab).length === 0) return { error: 'no cgroup hierarchy on this machine' };
    const read = await readState(lab);
    const supervisor = read.kind === 'ok' ? read.state.supervisorPid : undefined;
    // the supervisor, and what it runs outside the lab's cgroup (the forwarder on the machine)
    const runtime = async (): Promise<number[]> => (supervisor ? [supervisor, ...(await processTable()).filter((p) => p.ppid === supervisor).map((p) => p.pid)] : []);
    return await measure({ usage: () => labCgroupUsage(lab), pids: async () => labCgroupPids(lab), runtime });
  } finally {
    await mystery(['down', '--name', lab]);
  }
}

async function dockerFootprint(lab: string, port: number): Promise<Record<string, unknown>> {
  await mystery(['down', '--name', lab], { timeoutMs: 120_000 });
  const s = await mystery(['start', '-d', '--backend', 'docker', '--name', lab, '--port', String(port), '--seed', 'bench-footprint'], { timeoutMs: 600_000 });
  if (s.code !== 0) throw new Error(`docker start failed: ${s.stderr}`);
  try {
    await new Promise((r) => setTimeout(r, 3000));
    const ids = (await sh('docker', ['ps', '-q', '--no-trunc', '--filter', `label=tcpdump-mystery.lab=${lab}`])).stdout.split('\n').filter(Boolean);
    const dirs = (await Promise.all(ids.map(containerDirs))).filter((d): d is { mem: string; cpu: string } => !!d);
    if (dirs.length !== ids.length) return { error: `found the cgroups of ${dirs.length} of ${ids.length} containers` };
    const usage = (): CgroupUsage | undefined => {
      const all = dirs.map((d) => cgroupUsage(d.mem, d.cpu));
      if (all.some((u) => !u)) return undefined;
      return all.reduce<CgroupUsage>((a, u) => ({ memoryBytes: a.memoryBytes + u!.memoryBytes, cpuNs: a.cpuNs + u!.cpuNs }), { memoryBytes: 0, cpuNs: 0 });
    };
    const pids = async (): Promise<number[]> => {
      const out: number[] = [];
      for (const d of dirs) out.push(...(await readFile(join(d.mem, 'cgroup.procs'), 'utf8')).split('\n').filter((l) => /^\d+$/.test(l)).map(Number));
      return out;
    };
    // each container's shim (`containerd-shim-runc-v2 ... -id ID`), and the lab's docker-proxy (its published port)
    const runtime = async (): Promise<number[]> =>
      (await processTable())
        .filter((p) => (/containerd-shim/.test(p.args[0] ?? '') && ids.some((id) => p.args.includes(id))) || (/docker-proxy$/.test(p.args[0] ?? '') && p.args.includes(String(port))))
        .map((p) => p.pid);
    return { containers: ids.length, ...(await measure({ usage, pids, runtime })) };
  } finally {
    await mystery(['down', '--name', lab], { timeoutMs: 120_000 });
  }
}

/** Both backends, one after the other, the same default case and seed; Docker only where it runs. */
export async function benchFootprint(withDocker: boolean): Promise<Record<string, unknown>> {
  const netns = await netnsFootprint('benchfp', 3905);
  const docker = withDocker ? await dockerFootprint('benchfpd', 3906) : undefined;
  const ratio = (k: string): number | undefined => {
    const a = netns[k];
    const b = docker?.[k];
    return typeof a === 'number' && typeof b === 'number' && b > 0 ? Math.round((a / b) * 100) / 100 : undefined;
  };
  return {
    cgroups: `v${cgroupLayout().version}`,
    netns,
    ...(docker ? { docker, netnsToDocker: { cgroupMemory: ratio('cgroupMemoryMiB'), pss: ratio('pssMiB'), totalPss: ratio('totalPssMiB'), cpu: ratio('cpuSecondsPerMinute') } } : { docker: 'skipped (no engine, or --no-docker)' }),
  };
}

/** Packets a second each host of a lab sends and receives, over `seconds`, from its interface's counters. */
async function packetRates(counters: Map<string, () => Promise<number>>, seconds: number): Promise<Map<string, number>> {
  const read = async (): Promise<Map<string, number>> => new Map(await Promise.all([...counters].map(async ([h, f]) => [h, await f()] as [string, number])));
  const a = await read();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const b = await read();
  return new Map([...b].map(([h, n]) => [h, (n - (a.get(h) ?? 0)) / seconds]));
}

const sumFile = async (files: string[]): Promise<number> => (await Promise.all(files.map((f) => readFile(f, 'utf8').then(Number, () => 0)))).reduce((x, y) => x + y, 0);

/** A netns lab's hosts and their host-side veths' counters (as tcpdump on each veth would count). */
async function netnsCounters(lab: string): Promise<Map<string, () => Promise<number>>> {
  const state = JSON.parse(await readFile(join(runRoot, lab, 'state.json'), 'utf8')) as { plan: { hosts: Array<{ name: string; veth: string }> } };
  return new Map(state.plan.hosts.map((h) => [h.name, () => sumFile(['rx_packets', 'tx_packets'].map((c) => `/sys/class/net/${h.veth}/statistics/${c}`))]));
}

/** A Docker lab's containers, by host name, and their eth0's counters read inside. */
async function dockerCounters(lab: string): Promise<Map<string, () => Promise<number>>> {
  const out = new Map<string, () => Promise<number>>();
  const rows = (await sh('docker', ['ps', '--filter', `label=tcpdump-mystery.lab=${lab}`, '--format', '{{.ID}} {{.Label "com.docker.compose.service"}}'])).stdout.split('\n').filter(Boolean);
  for (const row of rows) {
    const [id, host] = row.split(' ');
    if (!id || !host) continue;
    out.set(host, async () => {
      const r = await sh('docker', ['exec', id, 'cat', '/sys/class/net/eth0/statistics/rx_packets', '/sys/class/net/eth0/statistics/tx_packets']);
      return r.stdout.split('\n').filter(Boolean).map(Number).reduce((x, y) => x + y, 0);
    });
  }
  return out;
}

/**
 * How many default labs run at once on this machine with each still showing its case: the site
 * slow (median response over 200 ms) and the culprit at least 10 times louder than the busiest
 * innocent. Labs are added one at a time until one of them stops showing it, or `max`.
 */
export async function benchCapacity(backend: 'netns' | 'docker', max: number): Promise<Record<string, unknown>> {
  const { noisyNeighbour } = await import('../src/cases/noisy-neighbour.js');
  const { seededRng } = await import('../src/core/random.js');
  const { median } = await import('../src/core/latency.js');
  const { latencies } = await import('./measure.js');
  const labs: Array<{ lab: string; port: number; seed: string }> = [];
  const rounds: Array<Record<string, unknown>> = [];
  let held = 0;
  try {
    for (let n = 1; n <= max; n++) {
      const lab = `${backend === 'netns' ? 'bcap' : 'bcapd'}${n}`;
      const port = 3910 + n;
      const seed = `capacity-${n}`;
      let s = await mystery(['start', '-d', '--backend', backend, '--name', lab, '--port', String(port), '--seed', seed], { timeoutMs: 600_000 });
      // another start on this machine holds the start lock: wait for it, as a learner would
      for (let i = 0; i < 20 && s.code !== 0 && /in progress/.test(s.stderr); i++) {
        await new Promise((r) => setTimeout(r, 1000));
        s = await mystery(['start', '-d', '--backend', backend, '--name', lab, '--port', String(port), '--seed', seed], { timeoutMs: 600_000 });
      }
      if (s.code !== 0) {
        rounds.push({ labs: n, error: s.stderr.split('\n')[0] });
        break;
      }
      labs.push({ lab, port, seed });
      await new Promise((r) => setTimeout(r, 3000));
      const each = await Promise.all(
        labs.map(async (l) => {
          const culprit = noisyNeighbour.draw(seededRng(l.seed), 5).culprit;
          const rates = await packetRates(await (backend === 'netns' ? netnsCounters(l.lab) : dockerCounters(l.lab)), 3);
          const innocent = Math.max(...[...rates].filter(([h]) => h !== culprit && h !== 'webserver').map(([, r]) => r));
          const latency = median(await latencies(l.port, 3));
          return { lab: l.lab, latencyMs: latency, loudness: Math.round(((rates.get(culprit) ?? 0) / Math.max(1, innocent)) * 10) / 10 };
        }),
      );
      const ok = each.every((e) => e.latencyMs !== null && e.latencyMs > 200 && e.loudness >= 10);
      rounds.push({ labs: n, allShowTheCase: ok, slowestSiteMs: Math.max(...each.map((e) => e.latencyMs ?? Infinity)), quietestCulpritToInnocent: Math.min(...each.map((e) => e.loudness)), memoryAvailableMiB: Math.round(Number(/MemAvailable:\s+(\d+)/.exec(await readFile('/proc/meminfo', 'utf8'))?.[1] ?? 0) / 1024) });
      if (!ok) break;
      held = n;
    }
  } finally {
    for (const l of labs) await mystery(['down', '--name', l.lab], { timeoutMs: 120_000 });
  }
  return { labsPerHost: held, triedUpTo: max, rounds };
}
