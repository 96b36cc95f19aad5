/**
 * The docker backend's figures, as bench.ts prints them for the namespace backend: start
 * until ready (image build included: `down` removes the images it built), down, the memory
 * of the whole lab (every container's cgroup, as `docker stats` reports it, and the resident
 * memory of their processes, as bench.ts counts the namespace lab's), and the site's
 * median response time while the culprit runs and after it is arrested. Nothing asserted.
 *
 *   node dist/bench/docker.js          runs it alone (root, a running Docker engine)
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { mystery, sh } from '../test/helpers/cli.js';
import { median } from '../src/core/latency.js';
import { latencies, timed } from './measure.js';
import { noisyNeighbour } from '../src/cases/noisy-neighbour.js';
import { seededRng } from '../src/core/random.js';

const lab = 'dock';
const port = 3300;



const units: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, kB: 1e3, MB: 1e6, GB: 1e9 };

/** "12.5MiB / 23.4GiB" -> bytes of the first figure. */
function parseMem(s: string): number {
  const m = /^([\d.]+)\s*([KMG]?i?B|kB)/.exec(s.trim());
  return m ? Number(m[1]) * (units[m[2]!] ?? 1) : 0;
}

/** Memory of every container of the lab: `docker stats`, and the cgroup files where they are (cgroup v1 or v2). */
async function labMemory(): Promise<{ rssMiB: number; totalMiB: number; byContainerMiB: Record<string, number>; cgroupTotalMiB?: number }> {
  const ids = (await sh('docker', ['ps', '-q', '--no-trunc', '--filter', `label=tcpdump-mystery.lab=${lab}`])).stdout.split('\n').filter(Boolean);
  const stats = await sh('docker', ['stats', '--no-stream', '--format', '{{.Name}}\t{{.MemUsage}}', ...ids], 60_000);
  const byContainerMiB: Record<string, number> = {};
  let total = 0;
  for (const line of stats.stdout.split('\n').filter(Boolean)) {
    const [name, mem] = line.split('\t');
    const bytes = parseMem(mem ?? '');
    byContainerMiB[name!] = Math.round((bytes / 1024 ** 2) * 10) / 10;
    total += bytes;
  }
  let cgroup = 0;
  let found = 0;
  for (const id of ids) {
    for (const f of [`/sys/fs/cgroup/memory/docker/${id}/memory.usage_in_bytes`, `/sys/fs/cgroup/system.slice/docker-${id}.scope/memory.current`, `/sys/fs/cgroup/docker/${id}/memory.current`]) {
      try {
        cgroup += Number((await readFile(f, 'utf8')).trim());
        found++;
        break;
      } catch {
        /* another layout */
      }
    }
  }
  // resident memory of the containers' processes, as bench.ts counts the namespace lab's
  let rssKiB = 0;
  for (const id of ids) {
    const pid = (await sh('docker', ['inspect', '--format', '{{.State.Pid}}', id])).stdout.trim();
    try {
      rssKiB += Number(/VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      /* gone */
    }
  }
  return {
    rssMiB: Math.round(rssKiB / 102.4) / 10,
    totalMiB: Math.round((total / 1024 ** 2) * 10) / 10,
    byContainerMiB,
    ...(found === ids.length && found > 0 ? { cgroupTotalMiB: Math.round((cgroup / 1024 ** 2) * 10) / 10 } : {}),
  };
}

export async function benchDocker(): Promise<Record<string, unknown>> {
  await mystery(['down', '--name', lab], { timeoutMs: 120_000 }); // leftovers of an interrupted run
  const seed = 'bench-docker-1';
  const culprit = noisyNeighbour.draw(seededRng(seed), 5).culprit;
  const cycles: Array<{ startMs: number; downMs: number }> = [];
  for (let i = 0; i < 2; i++) {
    const s = await timed(() => mystery(['start', '-d', '--backend', 'docker', '--name', lab, '--port', String(port)], { timeoutMs: 600_000 }));
    if (s.value.code !== 0) throw new Error(`docker start failed: ${s.value.stderr}`);
    const d = await timed(() => mystery(['down', '--name', lab], { timeoutMs: 120_000 }));
    if (d.value.code !== 0) throw new Error(`docker down failed: ${d.value.stderr}`);
    cycles.push({ startMs: s.ms, downMs: d.ms });
  }
  const start = await timed(() => mystery(['start', '-d', '--backend', 'docker', '--name', lab, '--port', String(port), '--seed', seed], { timeoutMs: 600_000 }));
  if (start.value.code !== 0) throw new Error(`docker start failed: ${start.value.stderr}`);
  try {
    await new Promise((r) => setTimeout(r, 3000)); // let the queue build, as a learner would find it
    const memory = await labMemory();
    const during = await latencies(port, 10);
    const stop = await mystery(['stop', '--name', lab, culprit], { timeoutMs: 60_000 });
    if (stop.code !== 0) throw new Error(`stop of the culprit failed: ${stop.stdout}${stop.stderr}`);
    await new Promise((r) => setTimeout(r, 2000));
    const after = await latencies(port, 10);
    const medDuring = median(during)!;
    const medAfter = median(after)!;
    const down = await timed(() => mystery(['down', '--name', lab], { timeoutMs: 120_000 }));
    cycles.push({ startMs: start.ms, downMs: down.ms });
    return {
      compose: (await sh('docker-compose', ['version', '--short']).catch(() => undefined))?.stdout.trim() || 'docker compose (v2)',
      engine: (await sh('docker', ['info', '--format', '{{.ServerVersion}}'])).stdout.trim(),
      baseImage: process.env.NODE_IMAGE ?? '(node:20-alpine, or the local tcpdump-mystery/node-base:local)',
      startToReadyMs: cycles.map((c) => c.startMs),
      startToReadyMedianMs: median(cycles.map((c) => c.startMs)),
      downMs: cycles.map((c) => c.downMs),
      downMedianMs: median(cycles.map((c) => c.downMs)),
      labMemoryMiB: memory.totalMiB,
      labMemoryCgroupMiB: memory.cgroupTotalMiB,
      labMemoryRssMiB: memory.rssMiB,
      memoryByContainerMiB: memory.byContainerMiB,
      latencyWhileCulpritRunsMs: { median: medDuring, samples: during },
      latencyAfterArrestMs: { median: medAfter, samples: after },
      latencyRatio: Math.round((medDuring / medAfter) * 10) / 10,
    };
  } finally {
    await mystery(['down', '--name', lab], { timeoutMs: 120_000 });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(JSON.stringify({ docker: await benchDocker() }, null, 2));
}
