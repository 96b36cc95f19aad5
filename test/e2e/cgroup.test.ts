/**
 * Each namespace lab in a cgroup of its own: every service in it (and nothing of the
 * machine's), the caps of `start --cpus/--memory` where the kernel reads them, the lab's
 * memory and CPU read from it, and nothing left after down: not the lab's folder, not ours.
 * A folder of ours left behind is a leftover of that lab: start refuses, down removes it.
 * Root, real kernel. Labs rcg*, ports 3585-3589.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mystery, sh } from '../helpers/cli.js';
import { takeSnapshot } from '../helpers/snapshot.js';
import { assertHostAsBefore, down, runRoot } from '../helpers/robust.js';
import { cgroupLayout, labCgroupDirs, labCgroupPids, labCgroupUsage } from '../../src/backends/netns/cgroup.js';
import { netnsPids } from '../../src/backends/netns/ip.js';
import { noisyNeighbour } from '../../src/cases/noisy-neighbour.js';
import { seededRng } from '../../src/core/random.js';

const env = { XDG_STATE_HOME: mkdtempSync(join(tmpdir(), 'mystery-cgroup-')) };
const layout = cgroupLayout();

test('this machine has cgroups (v1 or v2): the lab tests need them', () => {
  assert.notEqual(layout.version, 0, 'no cgroup hierarchy at /sys/fs/cgroup');
});

test('start --cpus 0.5 --memory 192m: every service in the lab\'s cgroup, capped; down removes it', { timeout: 90_000 }, async () => {
  const before = await takeSnapshot();
  const lab = 'rcga';
  try {
    const st = await mystery(['start', '-d', '--name', lab, '--port', '3585', '--suspects', '3', '--seed', 'cg-1', '--cpus', '0.5', '--memory', '192m'], { env, timeoutMs: 60_000 });
    assert.equal(st.code, 0, st.stderr);
    const dirs = labCgroupDirs(lab, layout);
    assert.ok(dirs.length > 0 && dirs.every((d) => existsSync(d)), `the lab's folders: ${dirs.join(', ')}`);
    // the services: every process inside the lab's namespaces, and those only
    const state = JSON.parse(readFileSync(join(runRoot, lab, 'state.json'), 'utf8')) as { plan: { hosts: Array<{ netns: string }> } };
    const inNamespaces = (await Promise.all(state.plan.hosts.map((h) => netnsPids(h.netns)))).flat().sort();
    assert.equal(inNamespaces.length, 4, 'one service a host');
    assert.deepEqual(labCgroupPids(lab, layout).sort(), inNamespaces);
    if (layout.version === 2) {
      assert.equal(readFileSync(join(dirs[0]!, 'memory.max'), 'utf8').trim(), String(192 * 1024 ** 2));
      assert.equal(readFileSync(join(dirs[0]!, 'cpu.max'), 'utf8').trim(), '50000 100000');
    } else if (layout.version === 1) {
      assert.equal(readFileSync(join(layout.memory!, 'tcpdump-mystery', lab, 'memory.limit_in_bytes'), 'utf8').trim(), String(192 * 1024 ** 2));
      assert.equal(readFileSync(join(layout.cpu!, 'tcpdump-mystery', lab, 'cpu.cfs_quota_us'), 'utf8').trim(), '50000');
    }
    await new Promise((r) => setTimeout(r, 1000));
    const usage = labCgroupUsage(lab, layout);
    assert.ok(usage && usage.memoryBytes > 4 * 1024 ** 2 && usage.memoryBytes < 192 * 1024 ** 2, `the lab's memory in its cgroup: ${usage?.memoryBytes}`);
    assert.ok(usage.cpuNs > 0, 'the lab has used CPU');
    // an arrest ends the process; its restart joins the cgroup again
    const culprit = noisyNeighbour.draw(seededRng('cg-1'), 3).culprit;
    const ps = JSON.parse((await mystery(['ps', '--json', '--name', lab], { env })).stdout) as Array<{ name: string }>;
    const suspect = ps.find((h) => h.name !== 'webserver' && h.name !== culprit)!.name;
    assert.equal((await mystery(['stop', '--name', lab, suspect], { env })).code, 8, 'an innocent arrested: exit 8');
    assert.equal(labCgroupPids(lab, layout).length, 3);
    assert.equal((await mystery(['restart', '--name', lab, suspect], { env })).code, 0);
    for (let i = 0; i < 40 && labCgroupPids(lab, layout).length < 4; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(labCgroupPids(lab, layout).length, 4, 'the restarted service is in the cgroup again');
    const d = await mystery(['down', '--name', lab], { env });
    assert.equal(d.code, 0, d.stderr);
    assert.ok(dirs.every((x) => !existsSync(x)), 'the lab\'s folders are gone');
  } finally {
    await down(lab);
  }
  await assertHostAsBefore(before, 'a capped lab, then down');
});

test('a cgroup folder of ours left behind is a leftover of that lab: start refuses (5), down removes it', { timeout: 60_000 }, async () => {
  const before = await takeSnapshot();
  const lab = 'rcgb';
  try {
    for (const d of labCgroupDirs(lab, layout)) mkdirSync(d, { recursive: true });
    const st = await mystery(['start', '-d', '--name', lab, '--port', '3586', '--suspects', '2'], { env, timeoutMs: 60_000 });
    assert.equal(st.code, 5, st.stderr);
    assert.match(st.stderr, /Leftovers of a lab named "rcgb"/);
    const d = await mystery(['down', '--name', lab], { env });
    assert.equal(d.code, 0, d.stderr);
    assert.ok(labCgroupDirs(lab, layout).every((x) => !existsSync(x)));
  } finally {
    await down(lab);
  }
  await assertHostAsBefore(before, 'a leftover cgroup, then down');
});

test('caps the machine cannot honour, or on Docker, are refused before anything is made', { timeout: 30_000 }, async () => {
  const before = await takeSnapshot();
  for (const [args, code, message] of [
    [['--cpus', '0'], 2, /--cpus must be a number of CPUs from 0.05/],
    [['--cpus', '1.5.2'], 2, /--cpus must be/],
    [['--memory', '63m'], 2, /--memory must be a size of at least 64m/],
    [['--memory', '12x'], 2, /--memory must be/],
    [['--backend', 'docker', '--memory', '1g'], 2, /the Docker backend does not take them/],
  ] as const) {
    const r = await mystery(['start', '-d', '--name', 'rcgc', '--port', '3587', ...args], { env });
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  assert.equal((await sh('ip', ['netns', 'list'])).stdout.includes('tmys-rcgc-'), false);
  await assertHostAsBefore(before, 'refused caps');
});
