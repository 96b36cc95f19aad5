/**
 * `npm run bench`: the figures of the issue, measured on this machine and printed as JSON.
 * Nothing here asserts a time: these machines are noisy; the figures are for reading.
 *
 *   npm run bench                      namespace backend (and Docker where an engine runs)
 *   npm run bench -- --soak MINUTES    the endurance run
 *   npm run bench -- --no-docker       skip the Docker backend
 *   npm run bench -- --explain         only `mystery explain`'s median time (no root, no lab)
 *   npm run bench -- --topology        only the labs of several networks (start, down, leftovers)
 *   npm run bench -- --footprint       only memory and CPU of a running lab, both backends side by side
 *   npm run bench -- --capacity        only how many default labs run at once, each still showing its case
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countPackets, mystery, sh } from '../test/helpers/cli.js';
import { median } from '../src/core/latency.js';
import { latencies, netnsLabPids, timed, totalRssKiB } from './measure.js';
import { noisyNeighbour } from '../src/cases/noisy-neighbour.js';
import { seededRng } from '../src/core/random.js';
import { findCase } from '../src/cases/index.js';
import { networksOf } from '../src/core/model.js';
import { findBridge, ifindexFromIpLink, iflinks, ps, vethsOf } from '../test/helpers/learner.js';

const lab = 'bench';
const port = 3900;





async function startDown(rounds: number, extra: string[] = []): Promise<{ startMs: number[]; downMs: number[] }> {
  const startMs: number[] = [];
  const downMs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const s = await timed(() => mystery(['start', ...extra, '-d', '--name', lab, '--port', String(port)]));
    if (s.value.code !== 0) throw new Error(`start failed: ${s.value.stderr}`);
    startMs.push(s.ms);
    const d = await timed(() => mystery(['down', '--name', lab]));
    if (d.value.code !== 0) throw new Error(`down failed: ${d.value.stderr}`);
    downMs.push(d.ms);
  }
  return { startMs, downMs };
}

async function benchNetns(): Promise<Record<string, unknown>> {
  const cycles = await startDown(3);
  const seed = 'bench-seed-1';
  const culprit = noisyNeighbour.draw(seededRng(seed), 5).culprit;
  const start = await timed(() => mystery(['start', '-d', '--name', lab, '--port', String(port), '--seed', seed]));
  if (start.value.code !== 0) throw new Error(start.value.stderr);
  try {
    await new Promise((r) => setTimeout(r, 3000)); // let the queue build, as a learner would find it
    const memoryKiB = await totalRssKiB(await netnsLabPids(lab));
    const during = await latencies(port, 10);

    // 5-second captures on every veth at once, as the figure asks
    const hosts = await ps(lab);
    const veths = await vethsOf(await findBridge(hosts[0]!.ip));
    const links = await iflinks(lab);
    const ownerOf = new Map<string, string>();
    for (const h of hosts) {
      const v = veths.find((x) => x.ifindex === links.get(h.id));
      if (v) ownerOf.set(v.name, h.name);
    }
    const captures = await Promise.all(veths.map(async (v) => ({ veth: v.name, host: ownerOf.get(v.name)!, ifindex: await ifindexFromIpLink(v.name), ...(await countPackets(v.name, 'tcp port 3000', 5)) })));
    const culpritPackets = captures.find((c) => c.host === culprit)!.captured;
    const innocentMax = Math.max(...captures.filter((c) => c.host !== culprit && c.host !== 'webserver').map((c) => c.captured));
    const captured = captures.reduce((s, c) => s + c.captured, 0);
    const dropped = captures.reduce((s, c) => s + c.dropped, 0);

    const stop = await mystery(['stop', '--name', lab, culprit]);
    if (stop.code !== 0) throw new Error(`stop of the culprit failed: ${stop.stdout}${stop.stderr}`);
    await new Promise((r) => setTimeout(r, 2000));
    const after = await latencies(port, 10);
    const medDuring = median(during)!;
    const medAfter = median(after)!;
    return {
      startToReadyMs: cycles.startMs,
      startToReadyMedianMs: median(cycles.startMs),
      downMs: cycles.downMs,
      downMedianMs: median(cycles.downMs),
      labMemoryMiB: Math.round(memoryKiB / 102.4) / 10,
      latencyWhileCulpritRunsMs: { median: medDuring, samples: during },
      latencyAfterArrestMs: { median: medAfter, samples: after },
      latencyRatio: Math.round((medDuring / medAfter) * 10) / 10,
      capture5s: {
        perVeth: captures.map(({ veth, host, captured, dropped: d }) => ({ veth, host, captured, dropped: d })),
        culpritPackets,
        busiestInnocentPackets: innocentMax,
        culpritToInnocentRatio: Math.round((culpritPackets / Math.max(1, innocentMax)) * 10) / 10,
        droppedPercent: Math.round((dropped / Math.max(1, captured + dropped)) * 10000) / 100,
      },
    };
  } finally {
    await mystery(['down', '--name', lab]);
  }
}

/**
 * A lab of several networks: start until ready and down, and what is left of it after each
 * down (links with its tag, its namespaces): the vanishing packet, two networks and a router.
 */
/** One multi-network case: start until ready and down, three cycles; what is left after. */
async function benchTopologyOf(caseId: string): Promise<Record<string, unknown>> {
  const cycles = await startDown(3, [caseId]);
  const links = (await sh('ip', ['-o', 'link', 'show'])).stdout.split('\n').filter((l) => l.includes(`tcpdump-mystery:${lab}`)).length;
  const namespaces = (await sh('ip', ['netns', 'list'])).stdout.split('\n').filter((l) => l.startsWith(`tmys-${lab}-`)).length;
  const c = findCase(caseId);
  const draw = c.draw(seededRng('bench'), c.suspects.default);
  return {
    case: caseId,
    networks: networksOf(draw).length,
    routers: draw.hosts.filter((h) => h.role === 'router').length,
    hosts: draw.hosts.length,
    startToReadyMs: cycles.startMs,
    startToReadyMedianMs: median(cycles.startMs),
    downMs: cycles.downMs,
    downMedianMs: median(cycles.downMs),
    leftAfterDown: { links, namespaces },
  };
}

/** Labs of several networks: two networks and a router; three networks and two routers. */
async function benchTopology(): Promise<Record<string, unknown>[]> {
  return [await benchTopologyOf('vanishing-packet'), await benchTopologyOf('mtu-blackhole')];
}

async function dockerAvailable(): Promise<boolean> {
  const r = await sh('docker', ['info', '--format', '{{.ServerVersion}}'], 15_000).catch(() => undefined);
  return !!r && r.code === 0;
}

/** Modules written beside this one, loaded only for the runs that need them. */
function optional(path: string): string {
  return new URL(path, import.meta.url).href;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--explain')) {
    // explain's figure alone: no lab, no root
    const { benchExplain } = (await import(optional('./explain.js'))) as { benchExplain(): Promise<Record<string, unknown>> };
    console.log(JSON.stringify({ explain: await benchExplain() }, null, 2));
    return;
  }
  if (process.getuid?.() !== 0) {
    console.error('the benchmark builds real labs: run it as root (sudo npm run bench)');
    process.exit(3);
  }
  // the benchmark's arrests are not the user's: its progress records go to a directory of their own
  const stateHome = await mkdtemp(join(tmpdir(), 'mystery-bench-state-'));
  process.env.XDG_STATE_HOME = stateHome;
  try {
    await runBench(args);
  } finally {
    await rm(stateHome, { recursive: true, force: true });
  }
}

async function runBench(args: string[]): Promise<void> {
  const soakAt = args.indexOf('--soak');
  if (soakAt >= 0) {
    const minutes = Number(args[soakAt + 1]);
    if (!(minutes > 0)) {
      console.error('--soak takes a number of minutes, e.g. npm run bench -- --soak 30');
      process.exitCode = 2;
      return;
    }
    const { runSoak } = (await import(optional('./soak.js'))) as { runSoak(minutes: number): Promise<Record<string, unknown>> };
    console.log(JSON.stringify({ soak: await runSoak(minutes) }, null, 2));
    return;
  }
  const { benchExplain } = (await import(optional('./explain.js'))) as { benchExplain(): Promise<Record<string, unknown>> };
  if (args.includes('--topology')) {
    console.log(JSON.stringify({ topology: await benchTopology() }, null, 2));
    return;
  }
  const { benchFootprint } = (await import(optional('./footprint.js'))) as { benchFootprint(withDocker: boolean): Promise<Record<string, unknown>> };
  const withDocker = !args.includes('--no-docker') && (await dockerAvailable());
  if (args.includes('--capacity')) {
    const { benchCapacity } = (await import(optional('./footprint.js'))) as { benchCapacity(b: string, max: number): Promise<Record<string, unknown>> };
    console.log(JSON.stringify({ capacity: { netns: await benchCapacity('netns', 12), ...(withDocker ? { docker: await benchCapacity('docker', 8) } : {}) } }, null, 2));
    return;
  }
  if (args.includes('--footprint')) {
    console.log(JSON.stringify({ footprint: await benchFootprint(withDocker) }, null, 2));
    return;
  }
  const result: Record<string, unknown> = { machine: { cores: (await import('node:os')).availableParallelism(), node: process.version }, explain: await benchExplain(), netns: await benchNetns(), topology: await benchTopology() };
  result.footprint = await benchFootprint(withDocker);
  if (!args.includes('--no-docker')) {
    if (withDocker) {
      const { benchDocker } = (await import(optional('./docker.js'))) as { benchDocker(): Promise<Record<string, unknown>> };
      result.docker = await benchDocker();
    } else result.docker = { skipped: 'no Docker engine is running (start dockerd, or see docs/docker.md)' };
  }
  console.log(JSON.stringify(result, null, 2));
}

await main();
