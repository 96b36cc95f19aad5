// The lab's commands in-process on the fake backend: start, ps, exec, stop, restart, status, down.
import { fakeUid, runDir } from '../helpers/fake-env.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { installFakes } from '../helpers/fake-backend.js';
import { drawOf, freePort, mystery, startLab, stateOf } from '../helpers/fake-cli.js';
import { registerBackend } from '../../src/backends/index.js';
import { netnsBackend } from '../../src/backends/netns/index.js';

const { netns: fake } = installFakes();

test('start builds the lab on the backend, writes its state and prints the briefing', async () => {
  const { port, run } = await startLab('st1', 'noisy-neighbour', '--seed', 'alpha');
  assert.match(run.out, /The lab is ready .*: The noisy neighbour|The lab is ready/);
  assert.match(run.out, /runs in the background/);
  const s = await stateOf('st1');
  assert.equal(s.plan.seed, 'alpha', '--seed is honoured');
  assert.equal(s.plan.port, port);
  assert.equal(s.plan.suspects, 5);
  assert.ok(s.readyAt, 'ready');
  assert.equal(s.starter, undefined);
  assert.ok(fake.labs.has('st1'));
  assert.ok(fake.calls.some((c) => c.op === 'build' && c.lab === 'st1'));
  assert.equal((await mystery('down', '--name', 'st1')).code, 0);
});

test('a seed reproduces the run; the loaded lab keeps its draw', async () => {
  await startLab('sa', 'noisy-neighbour', '--seed', 'same');
  await startLab('sb', 'noisy-neighbour', '--seed', 'same');
  assert.equal(fake.fakeLab('sa').culprit, fake.fakeLab('sb').culprit);
  assert.equal((await drawOf('sa')).culprit, fake.fakeLab('sa').culprit);
  // over several seeds the culprit is not always the same one
  const culprits = new Set<string | undefined>();
  for (const seed of ['s1', 's2', 's3', 's4', 's5', 's6']) {
    await startLab('sc', 'noisy-neighbour', '--seed', seed);
    culprits.add(fake.fakeLab('sc').culprit);
    assert.equal((await stateOf('sc')).plan.seed, seed);
    await mystery('down', '--name', 'sc');
  }
  assert.ok(culprits.size > 1, `always ${[...culprits].join()}`);
  // the same arrest is judged by the loaded draw: the built lab's culprit is the culprit
  const culprit = fake.fakeLab('sa').culprit!;
  const r = await mystery('stop', culprit, '--name', 'sa');
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, new RegExp(`CASE SOLVED: ${culprit} was the culprit`));
  await mystery('down', '--name', 'sa');
  await mystery('down', '--name', 'sb');
});

test('start without --seed draws a fresh seed each time', async () => {
  await startLab('fa');
  await startLab('fb');
  assert.notEqual((await stateOf('fa')).plan.seed, (await stateOf('fb')).plan.seed);
  await mystery('down', '--all');
});

test('--port edge values: 65535 accepted, 65536 and 0 refused; 12abc is not 12', async () => {
  let r = await mystery('start', '-d', '--name', 'edge', '--port', '65536');
  assert.equal(r.code, 2);
  assert.match(r.err, /--port must be a whole number from 1 to 65535/);
  r = await mystery('start', '-d', '--name', 'edge', '--port', '0');
  assert.equal(r.code, 2);
  r = await mystery('start', '-d', '--name', 'edge', '--suspects', '12abc');
  assert.equal(r.code, 2);
  assert.match(r.err, /--suspects must be a whole number/);
  r = await mystery('start', '-d', '--name', 'edge', '--port', '3000.5');
  assert.equal(r.code, 2);
  assert.ok(!fake.labs.has('edge'));
  r = await mystery('start', '-d', '--name', 'edge', '--port', '65535');
  if (r.code === 5) return; // something on this machine holds 65535: the conflict is the right answer
  assert.equal(r.code, 0, r.err);
  assert.equal((await stateOf('edge')).plan.port, 65535);
  await mystery('down', '--name', 'edge');
});

test('--suspects at the case\'s bounds: min-1 and max+1 refused, min and max accepted', async () => {
  // noisy-neighbour: 2 to 12
  for (const [n, ok] of [['1', false], ['2', true], ['12', true], ['13', false]] as const) {
    const port = await freePort();
    const r = await mystery('start', '-d', '--name', 'sus', '--port', String(port), '--suspects', n);
    if (!ok) {
      assert.equal(r.code, 2, n);
      assert.match(r.err, new RegExp(`--suspects ${n} is out of range[\\s\\S]*from 2 to 12`));
      assert.ok(!fake.labs.has('sus'), n);
      continue;
    }
    assert.equal(r.code, 0, `${n}: ${r.err}`);
    const s = await stateOf('sus');
    assert.equal(s.plan.suspects, Number(n));
    assert.equal(s.plan.hosts.filter((h) => h.role === 'suspect').length, Number(n));
    await mystery('down', '--name', 'sus');
  }
});

test('a lab already running is refused (exit 5), and is not drawn again', async () => {
  await startLab('dup', 'noisy-neighbour', '--seed', 'first');
  const before = await stateOf('dup');
  const r = await mystery('start', '-d', '--name', 'dup', '--seed', 'second', '--port', String(await freePort()));
  assert.equal(r.code, 5);
  assert.match(r.err, /A lab named "dup" is already running/);
  const after = await stateOf('dup');
  assert.equal(after.plan.seed, 'first');
  assert.deepEqual(after.plan.hosts, before.plan.hosts);
  await mystery('down', '--name', 'dup');
});

test('leftovers of a lab found by the backend refuse a start (exit 5)', async () => {
  fake.leftovers.add('left');
  const r = await mystery('start', '-d', '--name', 'left', '--port', String(await freePort()));
  assert.equal(r.code, 5);
  assert.match(r.err, /Leftovers of a lab named "left"/);
  assert.equal((await mystery('down', '--name', 'left')).code, 0);
  assert.ok(!fake.leftovers.has('left'), 'down tore the leftovers down');
});

test('the subnet avoids the machine\'s routes, as the backend reports them', async () => {
  fake.prefixes = ['10.200.0.0/17'];
  await startLab('sub');
  const s = await stateOf('sub');
  const third = Number(s.plan.subnet.split('.')[2]);
  assert.ok(third >= 128, s.plan.subnet);
  fake.prefixes = [];
  await mystery('down', '--name', 'sub');
});

test('ps lists every host with its id, state and IP; -q the ids; --json the rows', async () => {
  await startLab('ps1');
  const s = await stateOf('ps1');
  let r = await mystery('ps', '--name', 'ps1');
  assert.equal(r.code, 0);
  const lines = r.out.trim().split('\n');
  assert.match(lines[0]!, /^HOST ID\s+NAME\s+STATE\s+IP$/);
  assert.equal(lines.length, s.plan.hosts.length + 1);
  s.plan.hosts.forEach((h, i) => assert.match(lines[i + 1]!, new RegExp(`^${h.id}\\s+${h.name}\\s+running\\s+${h.ip.replace(/\./g, '\\.')}$`)));
  r = await mystery('ps', '-q', '--name', 'ps1');
  assert.deepEqual(r.out.trim().split('\n'), s.plan.hosts.map((h) => h.id));
  const culprit = fake.fakeLab('ps1').culprit!;
  fake.fakeLab('ps1').hosts.get(culprit)!.state = 'stopped';
  r = await mystery('ps', '--json', '--name', 'ps1');
  const rows = JSON.parse(r.out) as Array<{ name: string; state: string }>;
  assert.equal(rows.find((x) => x.name === culprit)!.state, 'stopped');
  assert.ok(rows.filter((x) => x.name !== culprit).every((x) => x.state === 'running'));
  await mystery('down', '--name', 'ps1');
});

test('exec runs the command in the host and passes its exit code; infrastructure is refused', async () => {
  await startLab('ex1');
  fake.execCode = 7;
  let r = await mystery('exec', '--name', 'ex1', 'webserver', '--', 'cat', '/sys/class/net/eth0/iflink');
  assert.equal(r.code, 7);
  assert.deepEqual(fake.calls.at(-1), { op: 'exec', lab: 'ex1', host: 'webserver', argv: ['cat', '/sys/class/net/eth0/iflink'] });
  fake.execCode = 0;
  // by id, and by a unique prefix of it
  const web = (await stateOf('ex1')).plan.hosts.find((h) => h.name === 'webserver')!;
  assert.equal((await mystery('exec', '--name', 'ex1', web.id, 'true')).code, 0);
  assert.equal(fake.calls.at(-1)!.host, 'webserver');
  assert.equal((await mystery('exec', '--name', 'ex1', web.id.slice(0, 4), 'true')).code, 0);
  assert.equal(fake.calls.at(-1)!.host, 'webserver');
  r = await mystery('exec', '--name', 'ex1', 'nosuchhost', 'true');
  assert.equal(r.code, 2);
  assert.match(r.err, /There is no host "nosuchhost"/);
  await mystery('down', '--name', 'ex1');

  await startLab('ex2', 'vanishing-packet');
  const infra = (await stateOf('ex2')).plan.hosts.find((h) => h.infrastructure)!;
  assert.ok(infra, 'the vanishing packet has an infrastructure host');
  const calls = fake.calls.length;
  for (const verb of ['exec', 'stop', 'restart']) {
    r = await mystery(verb, '--name', 'ex2', infra.name, ...(verb === 'exec' ? ['true'] : []));
    assert.equal(r.code, 2, verb);
    assert.match(r.err, /is infrastructure/, verb);
  }
  assert.equal(fake.calls.length, calls, 'nothing reached the backend');
  await mystery('down', '--name', 'ex2');
});

test('stop: the culprit solves the case; an innocent is a wrong arrest (exit 8); restart brings it back', async () => {
  await startLab('ar1');
  const culprit = fake.fakeLab('ar1').culprit!;
  const s = await stateOf('ar1');
  const innocent = s.plan.hosts.find((h) => h.role === 'suspect' && h.name !== culprit)!.name;
  let r = await mystery('stop', '--name', 'ar1', innocent);
  assert.equal(r.code, 8);
  assert.match(r.out, new RegExp(`WRONG ARREST: ${innocent} is innocent`));
  assert.equal(fake.fakeLab('ar1').hosts.get(innocent)!.state, 'stopped');
  let st = await stateOf('ar1');
  assert.deepEqual(st.arrests.map((a) => [a.host, a.correct]), [[innocent, false]]);
  assert.equal(st.solvedAt, undefined);

  r = await mystery('restart', '--name', 'ar1', innocent);
  assert.equal(r.code, 0);
  assert.match(r.out, new RegExp(`Restarted ${innocent}`));
  assert.equal(fake.fakeLab('ar1').hosts.get(innocent)!.state, 'running');
  assert.deepEqual(fake.calls.slice(-2).map((c) => [c.op, c.host]), [['stop', innocent], ['start', innocent]]);

  r = await mystery('stop', '--name', 'ar1', culprit);
  assert.equal(r.code, 0);
  assert.match(r.out, new RegExp(`CASE SOLVED: ${culprit} was the culprit`));
  assert.match(r.out, /hints used: 0/);
  st = await stateOf('ar1');
  assert.deepEqual(st.arrests.map((a) => [a.host, a.correct]), [[innocent, false], [culprit, true]]);
  assert.ok(st.solvedAt);
  await mystery('down', '--name', 'ar1');
});

test('stop of a server is no arrest; the site goes down with the webserver', async () => {
  await startLab('srv');
  const r = await mystery('stop', '--name', 'srv', 'webserver');
  assert.equal(r.code, 0);
  assert.match(r.out, /It is not a suspect: the site is down now/);
  assert.deepEqual((await stateOf('srv')).arrests, []);
  await mystery('down', '--name', 'srv');
});

test('a slow site: the verdict says before and after', async () => {
  fake.slowMs = 320;
  try {
    await startLab('slow');
    const culprit = fake.fakeLab('slow').culprit!;
    const r = await mystery('stop', '--name', 'slow', culprit);
    assert.equal(r.code, 0);
    assert.match(r.out, /site response time: (3\d\d ms|\d\.\d\d s) before the arrest, \d+ ms after/);
    assert.match(r.out, /status` shows the site recovering/);
  } finally {
    fake.slowMs = 0;
  }
  await mystery('down', '--name', 'slow');
});

test('status: the case, the hosts, solved or not, arrests, hints, the monitor\'s history', async () => {
  await startLab('sta');
  fake.latency = [{ at: 1, ms: 10.4 }, { at: 2, ms: null }, { at: 3, ms: 2000 }];
  let r = await mystery('status', '--json', '--name', 'sta');
  assert.equal(r.code, 0);
  let j = JSON.parse(r.out);
  assert.equal(j.case, 'noisy-neighbour');
  assert.equal(j.backend, 'netns');
  assert.equal(j.solved, false);
  assert.deepEqual(j.latencyHistory, [{ at: 1, ms: 10 }, { at: 2, ms: null }, { at: 3, ms: 2000 }]);
  assert.ok(typeof j.latencyMs === 'number');
  assert.ok(j.hosts.every((h: { state: string }) => h.state === 'running'));
  const culprit = fake.fakeLab('sta').culprit!;
  await mystery('stop', '--name', 'sta', culprit);
  r = await mystery('status', '--name', 'sta');
  assert.match(r.out, /^case: +The .*\(noisy-neighbour\), netns backend, running for 0 min/);
  assert.match(r.out, /solved: +yes/);
  assert.match(r.out, new RegExp(`arrests: +${culprit} \\(right\\)`));
  assert.match(r.out, /hints: +0 used/);
  assert.match(r.out, /history: /);
  j = JSON.parse((await mystery('status', '--json', '--name', 'sta')).out);
  assert.equal(j.solved, true);
  assert.deepEqual(j.arrests, [{ host: culprit, correct: true }]);
  assert.equal(j.hosts.find((h: { name: string }) => h.name === culprit).state, 'stopped');
  fake.latency = [];
  await mystery('down', '--name', 'sta');
});

test('status of an unknown incident names no case', async () => {
  const port = await freePort();
  let r = await mystery('start', '--random', '-d', '--name', 'inc', '--seed', 'inc-1', '--port', String(port));
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /an unknown incident/);
  const caseId = (await stateOf('inc')).plan.caseId;
  assert.ok(!r.out.includes(caseId), 'the start names no case');
  r = await mystery('status', '--json', '--name', 'inc');
  assert.equal(JSON.parse(r.out).case, null);
  r = await mystery('answer', '--incident', caseId === 'noisy-neighbour' ? 'reset-storm' : 'noisy-neighbour', '--name', 'inc');
  assert.equal(r.code, 8);
  assert.match(r.out, /NOT THIS ONE/);
  r = await mystery('answer', '--incident', caseId, '--name', 'inc');
  assert.equal(r.code, 0);
  assert.match(r.out, /INCIDENT NAMED: .*at guess 2/);
  assert.equal(JSON.parse((await mystery('status', '--json', '--name', 'inc')).out).case, caseId);
  await mystery('down', '--name', 'inc');
});

test('down removes the lab and its runtime files; twice is fine; --all removes every lab', async () => {
  await startLab('dn1');
  await startLab('dn2');
  assert.ok(existsSync(join(runDir, 'dn1', 'state.json')));
  let r = await mystery('down', '--name', 'dn1');
  assert.equal(r.code, 0);
  assert.match(r.out, /Removed the lab "dn1"/);
  assert.ok(!fake.labs.has('dn1'));
  assert.ok(!existsSync(join(runDir, 'dn1')));
  r = await mystery('down', '--name', 'dn1');
  assert.equal(r.code, 0);
  assert.match(r.out, /Nothing to remove/);
  await startLab('dn3');
  r = await mystery('down', '--all');
  assert.equal(r.code, 0);
  assert.match(r.out, /Removed 2 labs/);
  assert.equal(fake.labs.size, 0);
  assert.equal((await mystery('ps', '--name', 'dn2')).code, 6);
});

test('as a user, the lab commands need root (exit 3) and touch nothing', async () => {
  fakeUid.value = 1000;
  try {
    const calls = fake.calls.length;
    for (const verb of ['start', 'ps', 'status', 'down', 'hint', 'check', 'debrief', 'give-up', 'map']) {
      const r = await mystery(verb);
      assert.equal(r.code, 3, verb);
      assert.match(r.err, new RegExp(`\`mystery ${verb}\` needs root`), verb);
    }
    for (const argv of [['stop', 'x'], ['restart', 'x'], ['exec', 'x', 'true'], ['answer', 'x']]) assert.equal((await mystery(...argv)).code, 3, argv[0]);
    assert.equal(fake.calls.length, calls);
  } finally {
    fakeUid.value = 0;
  }
});

test('the unit tier builds and removes no real lab: MYSTERY_NO_LABS refuses a backend that is not in memory', async () => {
  registerBackend(netnsBackend);
  try {
    const r = await mystery('start', '-d', '--name', 'real', '--port', String(await freePort()));
    assert.equal(r.code, 1);
    assert.match(r.err, /MYSTERY_NO_LABS=1: this process builds and removes no lab/);
    const d = await mystery('down', '--name', 'real');
    assert.equal(d.code, 1);
    assert.match(d.err, /MYSTERY_NO_LABS=1/);
  } finally {
    registerBackend(fake);
  }
});

test('without --port: the default port, or where it is taken (another lab), the next free one, said', async () => {
  let base = await freePort();
  // the next port must be free too
  for (let i = 0; i < 20 && !(await portIsFree(base + 1)); i++) base = await freePort();
  process.env.MYSTERY_TEST_DEFAULT_PORT = String(base);
  try {
    let r = await mystery('start', '-d', '--name', 'dp1');
    assert.equal(r.code, 0, r.err);
    assert.equal((await stateOf('dp1')).plan.port, base);
    assert.ok(!r.err.includes('is taken'));
    r = await mystery('start', '-d', '--name', 'dp2');
    assert.equal(r.code, 0, r.err);
    assert.equal((await stateOf('dp2')).plan.port, base + 1);
    assert.match(r.err, new RegExp(`port ${base} on localhost is taken \\(another lab\\?\\): this lab's site is published on port ${base + 1}`));
  } finally {
    delete process.env.MYSTERY_TEST_DEFAULT_PORT;
    await mystery('down', '--all');
  }
});

async function portIsFree(port: number): Promise<boolean> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ host: '127.0.0.1', port }, () => s.close(() => resolve(true)));
  });
}

test('a port held on both loopback addresses is named so (exit 5)', async () => {
  const { createServer } = await import('node:net');
  const port = await freePort();
  const v4 = createServer().listen({ host: '127.0.0.1', port });
  const v6 = createServer();
  const v6ok = await new Promise<boolean>((resolve) => {
    v6.once('error', () => resolve(false));
    v6.listen({ host: '::1', port, ipv6Only: true }, () => resolve(true));
  });
  try {
    const r = await mystery('start', '-d', '--name', 'both', '--port', String(port));
    assert.equal(r.code, 5);
    assert.match(r.err, new RegExp(`Port ${port} on localhost is already in use \\(on ${v6ok ? '127\\.0\\.0\\.1 and \\[::1\\]' : '127\\.0\\.0\\.1'}\\)`));
  } finally {
    v4.close();
    if (v6ok) v6.close();
  }
});

test('map draws the lab; the veths only once the case is over', async () => {
  await startLab('mp1');
  const s = await stateOf('mp1');
  let r = await mystery('map', '--name', 'mp1');
  assert.equal(r.code, 0);
  assert.match(r.out, new RegExp(s.plan.bridge));
  assert.ok(!s.plan.hosts.some((h) => r.out.includes(h.veth)), 'no veth before the end');
  await mystery('give-up', '--name', 'mp1');
  r = await mystery('map', '--name', 'mp1');
  assert.ok(s.plan.hosts.every((h) => r.out.includes(h.veth)), r.out);
  await mystery('down', '--name', 'mp1');
  await startLab('mp2');
  await mystery('stop', '--name', 'mp2', fake.fakeLab('mp2').culprit!);
  r = await mystery('map', '--name', 'mp2');
  assert.ok((await stateOf('mp2')).plan.hosts.every((h) => r.out.includes(h.veth)), 'after a solve');
  await mystery('down', '--name', 'mp2');
});
