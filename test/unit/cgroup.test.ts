/**
 * The lab's cgroup, on folders laid out as each hierarchy is (v2, v1, none): which folders
 * are the lab's, the caps written where the kernel reads them, refusals where a controller
 * is missing, removal that leaves everything else, and usage read as `docker stats` does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cgroupLabs, cgroupLayout, cgroupUsage, createLabCgroup, joinLabCgroup, labCgroupDirs, labCgroupPids, removeLabCgroup } from '../../src/backends/netns/cgroup.js';

function v2(controllers = 'cpuset cpu io memory pids'): string {
  const root = mkdtempSync(join(tmpdir(), 'cg2-'));
  writeFileSync(join(root, 'cgroup.controllers'), `${controllers}\n`);
  writeFileSync(join(root, 'cgroup.subtree_control'), `${controllers}\n`);
  // what the kernel puts in a new folder: its controllers are what the parent hands down
  mkdirSync(join(root, 'tcpdump-mystery'));
  writeFileSync(join(root, 'tcpdump-mystery', 'cgroup.controllers'), `${controllers}\n`);
  writeFileSync(join(root, 'tcpdump-mystery', 'cgroup.subtree_control'), '\n');
  return root;
}

function v1(controllers = ['memory', 'cpu', 'cpuacct', 'pids']): string {
  const root = mkdtempSync(join(tmpdir(), 'cg1-'));
  for (const c of controllers) {
    mkdirSync(join(root, c));
    writeFileSync(join(root, c, 'cgroup.procs'), '1\n');
  }
  return root;
}

test('the layout: v2 by its cgroup.controllers, v1 by each controller\'s folder, none when neither', () => {
  assert.deepEqual(cgroupLayout(v2()).version, 2);
  const one = v1(['memory', 'cpuacct']);
  assert.deepEqual(cgroupLayout(one), { version: 1, memory: join(one, 'memory'), cpu: undefined, cpuacct: join(one, 'cpuacct'), pids: undefined });
  assert.deepEqual(cgroupLayout(mkdtempSync(join(tmpdir(), 'cg0-'))), { version: 0 });
});

test('the lab\'s folders are tcpdump-mystery/LAB under each hierarchy, and nothing else', () => {
  const two = v2();
  assert.deepEqual(labCgroupDirs('lab1', cgroupLayout(two)), [join(two, 'tcpdump-mystery', 'lab1')]);
  const one = v1();
  assert.deepEqual(labCgroupDirs('lab1', cgroupLayout(one)), ['memory', 'cpu', 'cpuacct', 'pids'].map((c) => join(one, c, 'tcpdump-mystery', 'lab1')));
  assert.deepEqual(labCgroupDirs('lab1', { version: 0 }), []);
});

test('v2: the caps go to memory.max and cpu.max, the controllers on in our folder only', () => {
  const root = v2();
  const layout = cgroupLayout(root);
  assert.equal(createLabCgroup('lab1', { cpus: 0.5, memoryBytes: 256 * 1024 ** 2 }, layout), true);
  const dir = join(root, 'tcpdump-mystery', 'lab1');
  assert.equal(readFileSync(join(dir, 'memory.max'), 'utf8'), String(256 * 1024 ** 2));
  assert.equal(readFileSync(join(dir, 'cpu.max'), 'utf8'), '50000 100000');
  assert.equal(readFileSync(join(root, 'tcpdump-mystery', 'cgroup.subtree_control'), 'utf8'), '+memory +cpu +pids');
  assert.equal(readFileSync(join(root, 'cgroup.subtree_control'), 'utf8'), 'cpuset cpu io memory pids\n', 'the machine\'s root is left as it was');
});

test('v2: a cap whose controller the machine does not hand down is refused; without caps, no error', () => {
  const root = v2('cpuset io pids');
  const layout = cgroupLayout(root);
  assert.throws(() => createLabCgroup('lab1', { memoryBytes: 128 * 1024 ** 2 }, layout), /memory controller/);
  assert.throws(() => createLabCgroup('lab2', { cpus: 1 }, layout), /cpu controller/);
  assert.equal(createLabCgroup('lab3', {}, layout), true);
});

test('v1: memory.limit_in_bytes and the CFS quota; a missing controller refuses its cap', () => {
  const root = v1();
  assert.equal(createLabCgroup('lab1', { cpus: 1.5, memoryBytes: 64 * 1024 ** 2 }, cgroupLayout(root)), true);
  assert.equal(readFileSync(join(root, 'memory', 'tcpdump-mystery', 'lab1', 'memory.limit_in_bytes'), 'utf8'), String(64 * 1024 ** 2));
  assert.equal(readFileSync(join(root, 'cpu', 'tcpdump-mystery', 'lab1', 'cpu.cfs_quota_us'), 'utf8'), '150000');
  assert.equal(readFileSync(join(root, 'cpu', 'tcpdump-mystery', 'lab1', 'cpu.cfs_period_us'), 'utf8'), '100000');
  const noCpu = v1(['memory', 'pids']);
  assert.throws(() => createLabCgroup('lab1', { cpus: 1 }, cgroupLayout(noCpu)), /no cpu cgroup/);
  assert.throws(() => createLabCgroup('lab1', { memoryBytes: 1 }, cgroupLayout(v1(['cpu']))), /no memory cgroup/);
  assert.equal(createLabCgroup('lab1', {}, { version: 0 }), false, 'no hierarchy and no cap: a lab without a cgroup');
  assert.throws(() => createLabCgroup('lab1', { cpus: 1 }, { version: 0 }), /no cgroup hierarchy/);
});

test('joining writes the pid to every hierarchy\'s cgroup.procs; the pids are read back once each', () => {
  const root = v1(['memory', 'cpuacct']);
  const layout = cgroupLayout(root);
  createLabCgroup('lab1', {}, layout);
  assert.equal(joinLabCgroup('lab1', 4242, layout), true);
  assert.equal(readFileSync(join(root, 'memory', 'tcpdump-mystery', 'lab1', 'cgroup.procs'), 'utf8'), '4242');
  assert.equal(readFileSync(join(root, 'cpuacct', 'tcpdump-mystery', 'lab1', 'cgroup.procs'), 'utf8'), '4242');
  assert.deepEqual(labCgroupPids('lab1', layout), [4242]);
  assert.equal(joinLabCgroup('other', 4242, layout), false, 'a lab without a folder is joined by nothing');
  assert.deepEqual(labCgroupPids('other', layout), []);
});

test('removal takes the lab\'s folder, and ours once empty; another lab\'s and the machine\'s stay', () => {
  const root = v2();
  const layout = cgroupLayout(root);
  mkdirSync(join(root, 'tcpdump-mystery', 'lab1'));
  mkdirSync(join(root, 'tcpdump-mystery', 'lab2'));
  mkdirSync(join(root, 'system.slice'));
  assert.deepEqual(cgroupLabs(layout).sort(), ['lab1', 'lab2'], 'folders only: cgroup.controllers is no lab');
  assert.equal(removeLabCgroup('lab1', layout), true);
  assert.deepEqual(cgroupLabs(layout), ['lab2']);
  assert.ok(existsSync(join(root, 'system.slice')));
  assert.equal(removeLabCgroup('lab1', layout), true, 'gone already is no error');
  // a folder the kernel will not remove (a process in it) says so
  writeFileSync(join(root, 'tcpdump-mystery', 'lab2', 'cgroup.procs'), '77\n');
  assert.equal(removeLabCgroup('lab2', layout), false);
});

test('usage as docker stats counts it: v2 memory.current less inactive_file, usage_usec; v1 usage_in_bytes less total_inactive_file, cpuacct.usage', () => {
  const d2 = mkdtempSync(join(tmpdir(), 'u2-'));
  writeFileSync(join(d2, 'memory.current'), '104857600\n');
  writeFileSync(join(d2, 'memory.stat'), 'anon 90000000\nactive_file 1\ninactive_file 4857600\n');
  writeFileSync(join(d2, 'cpu.stat'), 'usage_usec 2500000\nuser_usec 2000000\n');
  assert.deepEqual(cgroupUsage(d2), { memoryBytes: 100_000_000, cpuNs: 2_500_000_000 });
  const mem = mkdtempSync(join(tmpdir(), 'u1m-'));
  const cpu = mkdtempSync(join(tmpdir(), 'u1c-'));
  writeFileSync(join(mem, 'memory.usage_in_bytes'), '5000\n');
  writeFileSync(join(mem, 'memory.stat'), 'inactive_file 7\ntotal_inactive_file 1000\n');
  writeFileSync(join(cpu, 'cpuacct.usage'), '123456789\n');
  assert.deepEqual(cgroupUsage(mem, cpu), { memoryBytes: 4000, cpuNs: 123_456_789 });
  assert.equal(cgroupUsage(mkdtempSync(join(tmpdir(), 'u0-'))), undefined);
});

test('--cpus and --memory: the values docker run takes, and nothing else', async () => {
  const { cpusOption, sizeOption } = await import('../../src/commands/options.js');
  const cpus = cpusOption('--cpus', 0.05, 2);
  assert.equal(cpus('0.5'), 0.5);
  assert.equal(cpus('2'), 2);
  assert.equal(cpus('0.05'), 0.05);
  for (const bad of ['0', '0.04', '2.01', '1.5.2', '-1', '1e0', '', ' 1', '0x1', 'one']) assert.throws(() => cpus(bad), /--cpus must be a number of CPUs from 0.05 to 2/, bad);
  const size = sizeOption('--memory', 64 * 1024 ** 2);
  assert.equal(size('64m'), 64 * 1024 ** 2);
  assert.equal(size('1g'), 1024 ** 3);
  assert.equal(size('1G'), 1024 ** 3);
  assert.equal(size('65536k'), 64 * 1024 ** 2);
  assert.equal(size('256mb'), 256 * 1024 ** 2);
  assert.equal(size(String(64 * 1024 ** 2)), 64 * 1024 ** 2);
  for (const bad of ['63m', '67108863', '12x', '1.5g', '', 'm', '-64m', '64 m', '99999999999999999g']) assert.throws(() => size(bad), /--memory must be a size of at least 64m/, bad);
});

test('the state file\'s caps are checked like every field: numbers in range, or the file is corrupt', async () => {
  const { stateProblem } = await import('../../src/core/state.js');
  const withLimits = (limits: unknown): unknown => ({
    version: 1,
    plan: { lab: 'x', caseId: 'reset-storm', seed: 's', suspects: 5, backend: 'netns', port: 3000, subnet: '', gateway: '', bridge: '', limits, hosts: [{ name: 'app1', id: '0123456789ab', role: 'suspect', program: 'client', ip: '10.0.0.2', netns: '', veth: '' }] },
    created: { netns: [], veths: [], rules: [] },
    startedAt: '2026-12-03T10:00:00.000Z',
    arrests: [],
    hintsUsed: 0,
  });
  assert.equal(stateProblem(withLimits(undefined), 'x'), undefined);
  assert.equal(stateProblem(withLimits({ cpus: 0.5, memoryBytes: 256 * 1024 ** 2 }), 'x'), undefined);
  assert.equal(stateProblem(withLimits({ cpus: 0.05 }), 'x'), undefined);
  for (const bad of [null, 'fast', { cpus: 0.04 }, { cpus: '1' }, { cpus: 2000 }, { memoryBytes: 64 * 1024 ** 2 - 1 }, { memoryBytes: 1.5e8 + 0.5 }]) {
    assert.match(stateProblem(withLimits(bad), 'x') ?? '', /plan\.limits/, JSON.stringify(bad));
  }
});
