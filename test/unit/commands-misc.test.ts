// The rest of the commands' logic: explain's fast path and its size limit, the default port's
// test override, the foreground start (Ctrl-C removes the lab), an unknown incident's arrest.
import '../helpers/fake-env.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { installFakes } from '../helpers/fake-backend.js';
import { freePort, mystery, stateOf } from '../helpers/fake-cli.js';
import { capturingIo } from '../helpers/io.js';
import { explainFastPath, maxExplainChars } from '../../src/commands/explain.js';
import { defaultPort } from '../../src/commands/start.js';
import { pickIncident } from '../../src/core/incident.js';
import { main } from '../../src/cli/main.js';
import { readState } from '../../src/core/state.js';

const { netns: fake } = installFakes();

test('explain answers the plain forms itself and leaves help, options and no words to commander', async () => {
  const fast = async (argv: string[]): Promise<[boolean, string]> => {
    const io = capturingIo();
    const r = await explainFastPath(argv, { io, exitCode: 0 });
    return [r, io.stdout];
  };
  for (const argv of [[], ['--json'], ['-h'], ['--help'], ['--json', '--help'], ['--', '-x'], ['-n', 'tcpdump'], ['--json', '-h', 'tcpdump']]) {
    assert.deepEqual(await fast(argv), [false, ''], JSON.stringify(argv));
  }
  for (const argv of [['tcpdump -n'], ['--', 'tcpdump', '-n'], ['--json', 'tcpdump -n'], ['tcpdump', '-h']]) {
    const [r, out] = await fast(argv);
    assert.equal(r, true, JSON.stringify(argv));
    assert.ok(out.length > 0, JSON.stringify(argv));
  }
  const [, json] = await fast(['--json', 'tcpdump -n']);
  assert.doesNotThrow(() => JSON.parse(json));
});

test('explain refuses a command line over its size limit, not at it', async () => {
  const at = `tcpdump${' '.repeat(maxExplainChars - 'tcpdump'.length)}`;
  let io = capturingIo();
  await main(['explain', at], io);
  assert.doesNotMatch(io.stderr, /too long to explain/);
  io = capturingIo();
  assert.equal(await main(['explain', `${at} `], io), 2);
  assert.match(io.stderr, new RegExp(`too long to explain \\(${maxExplainChars + 1} characters; at most ${maxExplainChars}\\)`));
});

test('the default port a test may set: 1024 to 65000, else 3000', () => {
  for (const [v, want] of [['1024', 1024], ['65000', 65000], ['1023', 3000], ['65001', 3000], ['4000.5', 3000], ['x', 3000], [undefined, 3000]] as const) {
    assert.equal(defaultPort(v === undefined ? {} : { MYSTERY_TEST_DEFAULT_PORT: v }), want, String(v));
  }
});

test('start in the foreground: a live line, and Ctrl-C removes the lab', async () => {
  const port = await freePort();
  const io = capturingIo();
  const running = main(['start', '--name', 'fg', '--port', String(port)], io);
  for (let i = 0; i < 200 && !((await readState('fg')).kind === 'ok' && io.stdout.includes('site response time')); i++) await new Promise((r) => setTimeout(r, 25));
  assert.match(io.stdout, /The lab runs until you press Ctrl-C/);
  assert.match(io.stdout, /site response time: \d+ ms/);
  process.emit('SIGINT');
  assert.equal(await running, 0);
  assert.match(io.stdout, /Removing the lab[\s\S]*The lab is removed/);
  assert.equal((await readState('fg')).kind, 'missing');
  assert.ok(!fake.labs.has('fg'));
});

test('an unknown incident solved by an arrest: the verdict reveals the case', async () => {
  let seed = 0;
  while (pickIncident('netns', `arr-${seed}`).solvedBy !== 'arrest') seed++;
  const c = pickIncident('netns', `arr-${seed}`);
  let r = await mystery('start', '--random', '-d', '--name', 'ia', '--seed', `arr-${seed}`, '--port', String(await freePort()));
  assert.equal(r.code, 0, r.err);
  assert.equal((await stateOf('ia')).plan.caseId, c.id);
  r = await mystery('stop', '--name', 'ia', fake.fakeLab('ia').culprit!);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /CASE SOLVED/);
  assert.ok(r.out.includes(c.id), r.out);
  await mystery('down', '--name', 'ia');
});

test('times are printed in ms below a second, in s from a second on', async () => {
  const { formatMs } = await import('../../src/core/latency.js');
  for (const [ms, want] of [[999.4, '999 ms'], [1000, '1.00 s'], [2049, '2.05 s'], [null, 'no answer'], [undefined, 'no answer'], [0, '0 ms']] as const) assert.equal(formatMs(ms), want, String(ms));
});

test('the catalog counts the runs whose capture proved the case', async () => {
  const { recordRun } = await import('../../src/core/progress.js');
  await (await import('../helpers/fake-cli.js')).startLab('ev1', 'zero-window');
  const s = await stateOf('ev1');
  await mystery('down', '--name', 'ev1');
  const proof = [{ at: s.startedAt, proves: true, says: 'x' }];
  await recordRun({ ...s, evidence: proof }, false);
  let r = await mystery('cases');
  assert.match(r.out, /hints used: 0, wrong arrests: 0, evidence shown in 1 run\n/);
  await recordRun({ ...s, startedAt: new Date(Date.parse(s.startedAt) + 1).toISOString(), evidence: proof }, false);
  r = await mystery('cases');
  assert.match(r.out, /evidence shown in 2 runs\n/);
});

test('docker: a stopped container\'s veth and counters, kept at its stop, are in the debrief', async () => {
  const docker = (await import('../../src/backends/index.js')).backendFor('docker') as typeof fake;
  const port = await freePort();
  let r = await mystery('start', '-d', '--backend', 'docker', '--name', 'dk1', '--port', String(port));
  assert.equal(r.code, 0, r.err);
  const culprit = docker.fakeLab('dk1').culprit!;
  r = await mystery('stop', '--name', 'dk1', culprit);
  assert.equal(r.code, 0, r.out);
  const s = await stateOf('dk1');
  const { writeState } = await import('../../src/core/state.js');
  await writeState({ ...s, countersAtStop: { [culprit]: { packets: 4242, bytes: 1, veth: 'vethdead001', ifindex: 77 } } });
  r = await mystery('debrief', '--name', 'dk1');
  assert.equal(r.code, 0);
  assert.match(r.out, new RegExp(`vethdead001 +77 +${culprit}`));
  assert.match(r.out, /4242/);
  // restarted, it has a veth again: that one is shown, not the one it had at its stop
  await mystery('restart', '--name', 'dk1', culprit);
  r = await mystery('debrief', '--name', 'dk1');
  assert.ok(!r.out.includes('vethdead001'), r.out);
  assert.match(r.out, new RegExp(`${docker.fakeLab('dk1').hosts.get(culprit)!.veth} .*${culprit}`));
  await mystery('down', '--name', 'dk1');
});

test('submit needs a capture file or --filter, not both, not neither (exit 2)', async () => {
  await (await import('../helpers/fake-cli.js')).startLab('sb1');
  let r = await mystery('submit', '--name', 'sb1');
  assert.equal(r.code, 2);
  assert.match(r.err, /`mystery submit` needs a capture file \(or --filter\)/);
  r = await mystery('submit', 'mine.pcap', '--filter', 'tcp', '--name', 'sb1');
  assert.equal(r.code, 2);
  assert.match(r.err, /Give a capture file or --filter, not both/);
  assert.equal((await stateOf('sb1')).evidence, undefined);
  await mystery('down', '--name', 'sb1');
});

test('record refuses, before any lab: not root (3), a folder that exists (5), a parent that does not (2), a bad --seconds (2); nothing is made', async () => {
  const { fakeUid } = await import('../helpers/fake-env.js');
  const { mkdtempSync, readdirSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'mystery-record-'));
  try {
    fakeUid.value = 1000;
    let r = await mystery('record', '-o', join(dir, 'rec'));
    assert.equal(r.code, 3, r.err);
    assert.match(r.err, /`mystery record` needs root/);
    fakeUid.value = 0;
    r = await mystery('record', '-o', dir);
    assert.equal(r.code, 5, r.err);
    assert.match(r.err, /exists already/);
    assert.match(r.err, /does not exist yet/);
    r = await mystery('record', '-o', join(dir, 'no', 'rec'));
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, new RegExp(`The folder ${join(dir, 'no')} does not exist`));
    for (const bad of ['0', '301', '12abc']) {
      r = await mystery('record', '-o', join(dir, 'rec'), '--seconds', bad);
      assert.equal(r.code, 2, `--seconds ${bad}: ${r.err}`);
    }
    r = await mystery('record', 'no-such-case', '-o', join(dir, 'rec'));
    assert.equal(r.code, 2, r.err);
    assert.deepEqual(readdirSync(dir), [], 'nothing made in the folder');
    assert.deepEqual(await fake.findLabs(), [], "no lab started");
  } finally {
    fakeUid.value = 0;
    rmSync(dir, { recursive: true, force: true });
  }
});
