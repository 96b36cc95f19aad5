/**
 * A lab never damages or litters its host: killed at any step of setup, interrupted,
 * taken down twice or without its state, beside lookalikes that are not its own, beside a
 * second lab. Each test compares a host snapshot taken before with one taken after.
 * Root, real kernel and tools. Labs r*, ports 3500-3549.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { countPackets, mystery, sh } from '../helpers/cli.js';
import { takeSnapshot } from '../helpers/snapshot.js';
import {
  assertHostAsBefore,
  down,
  httpStatus,
  netnsNames,
  runRoot,
  sleep,
  spawnMystery,
  startLab,
} from '../helpers/robust.js';

const small = ['--suspects', '2']; // three hosts: every kind of step, fewer of them

test('SIGKILL at each step of setup, then down: the host is as before', { timeout: 180_000 }, async () => {
  // Every step boundary, and the points inside a step where a resource exists but is not
  // configured yet, or a process runs whose pid is not journalled.
  const steps = [
    'bridge',
    'bridge/added',
    'firewall',
    'netns:0',
    'netns:0/added',
    'veth:0',
    'veth:0/added',
    'netns:1',
    'veth:2',
    'veth:2/added',
    'services',
    'cgroup',
    'supervisor',
    'supervisor/spawned',
    'ready',
  ];
  const before = await takeSnapshot();
  for (const step of steps) {
    try {
      const r = await mystery(['start', '-d', '--name', 'rkill', '--port', '3501', ...small], { env: { MYSTERY_TEST_KILL_AT: step } });
      assert.equal(r.signal, 'SIGKILL', `start was to be killed at ${step}; it ended with ${r.code}: ${r.stderr}`);
      // what the kill left: a half-made lab the tool knows as its own
      const ps = await mystery(['ps', '--name', 'rkill']);
      assert.equal(ps.code, 6, `ps after a kill at ${step} should say the start was interrupted: ${ps.stderr}`);
      const again = await mystery(['start', '-d', '--name', 'rkill', '--port', '3501', ...small]);
      assert.equal(again.code, 5, `a start over the leftovers of ${step} should refuse: ${again.stderr}`);
      assert.match(again.stderr, /mystery down --name rkill/);
    } finally {
      await down('rkill');
    }
    await assertHostAsBefore(before, `killed at ${step}, then down`);
  }
});

test('a step that fails undoes what came before it, with no down', { timeout: 90_000 }, async () => {
  const before = await takeSnapshot();
  // MYSTERY_TEST_FAIL_AT makes the step throw as a failing command would; inside the veth
  // step the veth exists already, so it must be removed at once, then everything else.
  for (const step of ['bridge/added', 'firewall', 'netns:1/added', 'veth:1/added', 'services', 'supervisor/spawned', 'ready']) {
    const r = await mystery(['start', '-d', '--name', 'rfail', '--port', '3506', ...small], { env: { MYSTERY_TEST_FAIL_AT: step } });
    try {
      assert.equal(r.code, 1, `a failure at ${step}: exit ${r.code} ${r.signal}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`rolling back[\\s\\S]*the step ${step} failed`));
      await assertHostAsBefore(before, `failed at ${step}, rolled back`);
    } finally {
      await down('rfail');
    }
  }
});

test('SIGKILL during setup, state file deleted or corrupt: down still removes everything', { timeout: 120_000 }, async () => {
  const before = await takeSnapshot();
  // every resource is made and tagged by one ip process, so even just after it is made the
  // tag is there for down to find it by
  const cases: Array<[string, 'delete' | 'corrupt']> = [
    ['bridge/added', 'delete'],
    ['netns:0/added', 'delete'],
    ['veth:0/added', 'corrupt'],
    ['veth:1', 'delete'],
    ['supervisor/spawned', 'delete'],
    ['ready', 'delete'],
    ['ready', 'corrupt'],
    ['veth:2', 'corrupt'],
  ];
  for (const [step, how] of cases) {
    try {
      const r = await mystery(['start', '-d', '--name', 'rkill', '--port', '3502', ...small], { env: { MYSTERY_TEST_KILL_AT: step } });
      assert.equal(r.signal, 'SIGKILL', `not killed at ${step}: ${r.stderr}`);
      const file = `${runRoot}/rkill/state.json`;
      if (how === 'delete') await rm(file, { force: true });
      else await writeFile(file, '{"version": 1, "plan": {"lab": "rk', { mode: 0o600 });
      if (how === 'corrupt') {
        const ps = await mystery(['ps', '--name', 'rkill']);
        assert.equal(ps.code, 6);
        assert.match(ps.stderr, /corrupt/);
      }
    } finally {
      const r = await down('rkill');
      assert.match(r.stdout, /Removed the lab "rkill"/, `down found nothing after a kill at ${step} (${how})`);
    }
    await assertHostAsBefore(before, `killed at ${step}, state ${how}d, then down`);
  }
});

test('Ctrl-C during a fresh start rolls back and exits 130', { timeout: 120_000 }, async () => {
  const before = await takeSnapshot();
  // Ctrl-C, and the same for `kill` (SIGTERM) and a closed terminal (SIGHUP)
  const points: Array<[string, NodeJS.Signals]> = [['bridge', 'SIGINT'], ['veth:1', 'SIGINT'], ['supervisor', 'SIGINT'], ['ready', 'SIGINT'], ['netns:2', 'SIGTERM'], ['veth:0', 'SIGHUP']];
  for (const [step, signal] of points) {
    const run = spawnMystery(['start', '-d', '--name', 'rint', '--port', '3503', ...small], { MYSTERY_TEST_PAUSE_AT: step });
    try {
      await run.waitFor(`paused at ${step}`);
      run.child.kill(signal);
      const r = await run.done;
      assert.equal(r.code, 130, `${signal} at ${step}: exit ${r.code} ${r.signal}: ${r.stderr}`);
      assert.match(r.stderr, /rolled back/);
    } finally {
      run.child.kill('SIGKILL');
      await run.done;
    }
    // nothing to remove: the rollback did it (down would fix a failure, hiding it)
    await assertHostAsBefore(before, `${signal} at ${step}`);
  }
  // and while it waits for the lab to become ready (no hook: a real poll loop)
  const run = spawnMystery(['start', '-d', '--name', 'rint', '--port', '3503', ...small]);
  try {
    await run.waitFor('waiting for the site');
    run.child.kill('SIGINT');
    const r = await run.done;
    // the lab may have become ready in the same instant: then it is a running lab, not rolled back
    if (r.code === 0) await down('rint');
    else assert.equal(r.code, 130, r.stderr);
  } finally {
    run.child.kill('SIGKILL');
    await run.done;
  }
  await assertHostAsBefore(before, 'Ctrl-C while waiting for ready');

  // In the foreground (no -d), Ctrl-C once the lab runs is how the learner ends it: removed.
  const fg = spawnMystery(['start', '--name', 'rint', '--port', '3503', ...small]);
  try {
    const deadline = Date.now() + 30_000;
    while (!fg.stdout().includes('until you press Ctrl-C') && Date.now() < deadline && fg.child.exitCode === null) await sleep(50);
    assert.match(fg.stdout(), /until you press Ctrl-C/, fg.stderr());
    fg.child.kill('SIGINT');
    const r = await fg.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /The lab is removed/);
  } finally {
    fg.child.kill('SIGKILL');
    await fg.done;
    await down('rint');
  }
  await assertHostAsBefore(before, 'Ctrl-C of a foreground lab');
});

test('down during a start interrupts it: the start rolls back and exits 130, down exits 0', { timeout: 90_000 }, async () => {
  const before = await takeSnapshot();
  // A start in another terminal, caught half way: without the interruption it would go on
  // building beside the down, and leave a lab behind. 'supervisor' = the services run, not ready.
  for (const step of ['veth:1', 'supervisor']) {
    const run = spawnMystery(['start', '-d', '--name', 'rdown', '--port', '3507', ...small], { MYSTERY_TEST_PAUSE_AT: step });
    try {
      await run.waitFor(`paused at ${step}`);
      const d = await mystery(['down', '--name', 'rdown']);
      assert.equal(d.code, 0, d.stderr);
      assert.match(d.stderr, new RegExp(`A start of this lab was under way \\(pid ${run.child.pid}\\): it was interrupted and rolled back`));
      const r = await run.done;
      assert.equal(r.code, 130, `the start, downed at ${step}: exit ${r.code} ${r.signal}: ${r.stderr}`);
      assert.match(r.stderr, /rolled back/);
    } finally {
      run.child.kill('SIGKILL');
      await run.done;
      await down('rdown');
    }
    await assertHostAsBefore(before, `down during a start at ${step}`);
  }
  // a start killed with SIGKILL leaves its pid in the state file: down must not signal
  // whatever process has that pid now, only clean up
  const killed = await mystery(['start', '-d', '--name', 'rdown', '--port', '3507', ...small], { env: { MYSTERY_TEST_KILL_AT: 'veth:1' } });
  assert.equal(killed.signal, 'SIGKILL');
  const d = await mystery(['down', '--name', 'rdown']);
  assert.equal(d.code, 0, d.stderr);
  assert.doesNotMatch(d.stderr, /interrupted/);
  await assertHostAsBefore(before, 'down after a killed start');
});

test('down twice, down with no lab, down without a state file: exit 0, nothing left', { timeout: 60_000 }, async () => {
  const before = await takeSnapshot();
  const none = await mystery(['down', '--name', 'rnone']);
  assert.equal(none.code, 0, none.stderr);
  assert.match(none.stdout, /Nothing to remove/);
  await assertHostAsBefore(before, 'down with no lab');

  await startLab('rdown', 3504, small);
  try {
    await rm(`${runRoot}/rdown/state.json`);
    const first = await down('rdown');
    assert.match(first.stdout, /Removed the lab "rdown"/);
  } finally {
    await down('rdown');
  }
  const second = await down('rdown');
  assert.match(second.stdout, /Nothing to remove/);
  await assertHostAsBefore(before, 'down without state, then down again');

  await startLab('rdown', 3504, small);
  try {
    await writeFile(`${runRoot}/rdown/state.json`, 'not json at all');
    await down('rdown');
  } finally {
    await down('rdown');
  }
  await assertHostAsBefore(before, 'down with a corrupt state file');
});

test('the services run as nobody, each in its own namespace; nothing leaves the lab', { timeout: 90_000 }, async () => {
  const before = await takeSnapshot();
  const state = await startLab('rsvc', 3505);
  try {
    for (const h of state.plan.hosts) {
      const pids = (await sh('ip', ['netns', 'pids', h.netns])).stdout.split(/\s+/).filter(Boolean).map(Number);
      assert.ok(pids.length >= 1, `nothing runs in ${h.name}'s namespace`);
      const nsIno = (await stat(`/run/netns/${h.netns}`)).ino;
      for (const pid of pids) {
        const status = await readFile(`/proc/${pid}/status`, 'utf8');
        const uids = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(status)!;
        assert.deepEqual(uids.slice(1).map(Number), [65534, 65534, 65534, 65534], `${h.name} (pid ${pid}) does not run as nobody`);
        assert.equal(await readlink(`/proc/${pid}/ns/net`), `net:[${nsIno}]`);
        const cmd = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
        assert.ok(cmd.some((a) => a.endsWith(`/services/${h.program}.js`)), `${h.name} runs ${cmd.join(' ')}, not ${h.program}`);
      }
    }
    // the host side: the supervisor (root) and the forwarder (nobody), in the host's namespace
    const supervisor = (await readFile(`/proc/${state.supervisorPid}/cmdline`, 'utf8')).split('\0');
    assert.ok(supervisor.includes(`${runRoot}/rsvc`), 'the journalled supervisor pid is not the supervisor');

    // Nothing leaves: the lab's addresses never appear on the host's uplink, while the
    // lab's bridge carries its traffic all the while (so the capture could have seen it).
    const route = JSON.parse((await sh('ip', ['-j', 'route', 'show', 'default'])).stdout || '[]') as Array<{ dev: string }>;
    const uplinks = [...new Set(route.map((r) => r.dev))];
    assert.ok(uplinks.length > 0, 'no default route: no uplink to watch');
    const [onBridge, ...onUplinks] = await Promise.all([
      countPackets(state.plan.bridge, 'tcp', 4),
      ...uplinks.map((u) => countPackets(u, `net ${state.plan.subnet}`, 4)),
    ]);
    assert.ok(onBridge!.captured > 0, `no traffic on the lab's bridge: ${JSON.stringify(onBridge)}`);
    for (const [i, c] of onUplinks.entries()) assert.equal(c.captured, 0, `${c.captured} packets of ${state.plan.subnet} on the uplink ${uplinks[i]}`);
  } finally {
    await down('rsvc');
  }
  await assertHostAsBefore(before, 'services lab');
});

test('two labs at once with --name: each works, taking one down leaves the other running', { timeout: 120_000 }, async () => {
  const before = await takeSnapshot();
  try {
    const a = await startLab('rtwoa', 3510, small);
    const b = await startLab('rtwob', 3511, small);
    assert.notEqual(a.plan.subnet, b.plan.subnet);
    assert.notEqual(a.plan.bridge, b.plan.bridge);
    assert.equal(new Set([...a.plan.hosts, ...b.plan.hosts].map((h) => h.netns)).size, 6);
    assert.equal(await httpStatus(3510), 200);
    assert.equal(await httpStatus(3511), 200);

    await down('rtwoa');
    const ps = await mystery(['ps', '--name', 'rtwob', '--json']);
    assert.equal(ps.code, 0, ps.stderr);
    const rows = JSON.parse(ps.stdout) as Array<{ state: string }>;
    assert.deepEqual(rows.map((r) => r.state), ['running', 'running', 'running']);
    assert.equal(await httpStatus(3511), 200);
    assert.equal((await mystery(['ps', '--name', 'rtwoa'])).code, 6);
    const names = await netnsNames();
    assert.equal(names.filter((n) => n.startsWith('tmys-rtwoa-')).length, 0);
    assert.equal(names.filter((n) => n.startsWith('tmys-rtwob-')).length, 3);
  } finally {
    await down('rtwoa');
    await down('rtwob');
  }
  await assertHostAsBefore(before, 'two labs');
});

test('two starts of one lab at once: one builds it, the other refuses; no half-built second lab', { timeout: 90_000 }, async () => {
  const before = await takeSnapshot();
  try {
    const args = ['start', '-d', '--name', 'rlock', '--port', '3512', ...small];
    const [x, y] = await Promise.all([mystery(args), mystery(args)]);
    const codes = [x.code, y.code].sort();
    assert.deepEqual(codes, [0, 5], `exits ${x.code} and ${y.code}:\n${x.stderr}\n${y.stderr}`);
    const loser = x.code === 5 ? x : y;
    assert.match(loser.stderr, /already running|in progress/);
    assert.equal((await netnsNames()).filter((n) => n.startsWith('tmys-rlock-')).length, 3);
    const ps = await mystery(['ps', '--name', 'rlock', '--json']);
    assert.equal(ps.code, 0, ps.stderr);
  } finally {
    await down('rlock');
  }
  await assertHostAsBefore(before, 'two starts at once');
});

test('a start that holds the lock: a second start waits, then refuses with the holder', { timeout: 90_000 }, async () => {
  const before = await takeSnapshot();
  const first = spawnMystery(['start', '-d', '--name', 'rholda', '--port', '3513', ...small], { MYSTERY_TEST_PAUSE_AT: 'bridge' });
  try {
    await first.waitFor('paused at bridge');
    const t0 = Date.now();
    const second = await mystery(['start', '-d', '--name', 'rholdb', '--port', '3514', ...small], { timeoutMs: 40_000 });
    assert.equal(second.code, 5, second.stderr);
    assert.match(second.stderr, new RegExp(`Another \`mystery start\` is in progress \\(pid ${first.child.pid}\\)`));
    assert.ok(Date.now() - t0 >= 10_000, 'it should have waited for the first start');
    assert.equal((await netnsNames()).filter((n) => n.startsWith('tmys-rholdb-')).length, 0);
    first.child.kill('SIGINT');
    assert.equal((await first.done).code, 130);
  } finally {
    first.child.kill('SIGKILL');
    await first.done;
    await down('rholda');
    await down('rholdb');
  }
  await assertHostAsBefore(before, 'held lock');
});

test('Ctrl-C in another command never takes a running lab down', { timeout: 90_000 }, async () => {
  const before = await takeSnapshot();
  try {
    const state = await startLab('rctl', 3515, small);
    for (const args of [
      ['status', '--name', 'rctl'],
      ['exec', '--name', 'rctl', state.plan.hosts[0]!.name, 'sleep', '5'],
      ['start', '-d', '--name', 'rctl', '--port', '3516'],
    ]) {
      const run = spawnMystery(args);
      await sleep(400);
      run.child.kill('SIGINT');
      await run.done;
      const ps = await mystery(['ps', '--name', 'rctl', '--json']);
      assert.equal(ps.code, 0, `after Ctrl-C of ${args[0]}: ${ps.stderr}`);
      assert.ok((JSON.parse(ps.stdout) as Array<{ state: string }>).every((r) => r.state === 'running'), `after Ctrl-C of ${args[0]}: ${ps.stdout}`);
      assert.equal(await httpStatus(3515), 200);
    }
    // a start refused over a running lab (same name) leaves it running too
    const again = await mystery(['start', '-d', '--name', 'rctl', '--port', '3517']);
    assert.equal(again.code, 5);
    assert.equal((await mystery(['ps', '--name', 'rctl'])).code, 0);
  } finally {
    await down('rctl');
  }
  await assertHostAsBefore(before, 'Ctrl-C of other commands');
});

/** Lookalikes: resources named like the lab's, or tagged almost like them, that are not its own. */
test('lookalikes that are not ours survive start and down', { timeout: 120_000 }, async () => {
  const clean = await takeSnapshot();
  const made: Array<() => Promise<unknown>> = [];
  const children: ChildProcess[] = [];
  const must = async (cmd: string, args: string[]): Promise<void> => {
    const r = await sh(cmd, args);
    assert.equal(r.code, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  };
  try {
    // namespaces: the lab's exact pattern (but untagged), and near names; a process in one
    for (const ns of ['tmys-rlook-1234abcd', 'tmys-rlook', 'tmys-rlookx-00c0ffee']) {
      await must('ip', ['netns', 'add', ns]);
      made.push(() => sh('ip', ['netns', 'del', ns]));
    }
    await must('ip', ['-n', 'tmys-rlookx-00c0ffee', 'link', 'set', 'dev', 'lo', 'alias', 'tcpdump-mystery:rlookx-old']);
    const inNs = spawn('ip', ['netns', 'exec', 'tmys-rlook-1234abcd', 'sleep', '300'], { stdio: 'ignore' });
    children.push(inNs);
    // links: a bridge and veths named as the tool names them, tagged almost as it tags them
    await must('ip', ['link', 'add', 'br-00000000beef', 'type', 'bridge']);
    made.push(() => sh('ip', ['link', 'del', 'br-00000000beef']));
    await must('ip', ['link', 'set', 'dev', 'br-00000000beef', 'alias', 'tcpdump-mystery:rlookalike0000']);
    await must('ip', ['link', 'add', 'vethdeadbee', 'type', 'veth', 'peer', 'name', 'vethdeadbef']);
    made.push(() => sh('ip', ['link', 'del', 'vethdeadbee']));
    await must('ip', ['link', 'set', 'dev', 'vethdeadbee', 'alias', 'xtcpdump-mystery:rlook']);
    await must('ip', ['link', 'set', 'dev', 'vethdeadbef', 'alias', 'tcpdump-mystery:rlook-old']);
    await must('ip', ['link', 'add', 'veth0c0ffee', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', 'tmys-rlook-1234abcd']);
    // a firewall rule with a near tag
    const rule = ['FORWARD', '-i', 'br-00000000beef', '-o', 'br-00000000beef', '-m', 'comment', '--comment', 'tcpdump-mystery:rlook-old', '-j', 'ACCEPT'];
    await must('iptables', ['-w', '-A', ...rule]);
    made.push(() => sh('iptables', ['-w', '-D', ...rule]));
    // a host process whose arguments look like a lab's supervisor and service
    const proc = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 300000)', '--', '--lab-dir', `${runRoot}/rlookx`, `${runRoot}/rlookx/services/sender.js`], { stdio: 'ignore' });
    children.push(proc);
    // Docker, where it runs: a network and a container named like the lab, not labelled as ours
    const docker = await sh('docker', ['info', '--format', '{{.ID}}'], 10_000).catch(() => undefined);
    if (docker?.code === 0) {
      await must('docker', ['network', 'create', '--label', 'tcpdump-mystery.lab-not=rlook', 'tmys-rlook-net']);
      made.push(() => sh('docker', ['network', 'rm', 'tmys-rlook-net']));
      const image = (await sh('docker', ['image', 'ls', '-q'])).stdout.split('\n')[0];
      if (image) {
        await must('docker', ['create', '--name', 'tmys-rlook-web', '--network', 'none', '--label', 'tcpdump-mystery.lab-not=rlook', image, 'true']);
        made.push(() => sh('docker', ['rm', '-f', 'tmys-rlook-web']));
      }
    }
    await sleep(200);
    const withLookalikes = await takeSnapshot();

    const state = await startLab('rlook', 3520, small);
    assert.equal(state.plan.lab, 'rlook');
    await down('rlook');
    await assertHostAsBefore(withLookalikes, 'start and down beside lookalikes');
    assert.equal(inNs.exitCode, null, 'the process in the lookalike namespace was ended');
    assert.equal(proc.exitCode, null, 'the lookalike host process was ended');

    // down --all removes every lab of the tool and nothing else. On a shared machine other
    // people's labs would go too: run it only when no lab but ours is there (as in CI).
    const others = (await mystery(['down', '--name', 'rlook'])).code === 0 ? await otherLabs() : ['?'];
    if (others.length === 0) {
      await startLab('rlook', 3520, small);
      await startLab('rlooky', 3521, small);
      const all = await mystery(['down', '--all']);
      assert.equal(all.code, 0, all.stderr);
      assert.match(all.stdout, /Removed 2 labs/);
      await assertHostAsBefore(withLookalikes, 'down --all beside lookalikes');
    } else {
      console.log(`# down --all not run: other labs on this host (${others.join(', ')})`);
    }
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await down('rlook');
    await down('rlooky');
    for (const undo of made.reverse()) await undo();
  }
  await sleep(300);
  await assertHostAsBefore(clean, 'lookalikes removed');
});

/** Labs on the host that are not this file's (state directories or namespaces of the tool). */
async function otherLabs(): Promise<string[]> {
  const { allLabs } = await import('../../src/core/lab.js');
  return (await allLabs()).filter((l) => !['rlook', 'rlooky', 'rlookx'].includes(l));
}
