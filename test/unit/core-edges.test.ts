/**
 * Pure functions of src/core at their edges: how an exit is described, which directories of
 * PATH root trusts, which sudo user owns the learner's files (read from a passwd file of the
 * test's own), and the `{subnet:NAME}` of a case's rules resolved to that network's subnet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeExit } from '../../src/core/errors.js';
import { trustedPath } from '../../src/core/run.js';
import { invokingUser } from '../../src/core/userfs.js';
import { planLab, planNetworks, resolveRuleArgs } from '../../src/core/model.js';
import { findCase } from '../../src/cases/index.js';
import { seededRng } from '../../src/core/random.js';

test('describeExit: each code and signal in words', () => {
  const rows: Array<[number | null, NodeJS.Signals | null, string]> = [
    [137, null, 'exited with code 137 (killed, SIGKILL)'],
    [143, null, 'exited with code 143 (terminated, SIGTERM)'],
    [130, null, 'exited with code 130 (interrupted, SIGINT)'],
    [127, null, 'exited with code 127 (command not found)'],
    [126, null, 'exited with code 126 (not executable)'],
    [1, null, 'exited with code 1'],
    [null, null, 'ended without an exit code'],
    [null, 'SIGTERM', 'was killed by SIGTERM'],
  ];
  for (const [code, signal, want] of rows) assert.equal(describeExit(code, signal), want, `${code} ${signal}`);
});

test("trustedPath, as root: only root's directories that nobody else may write; not root: PATH as it is", (t) => {
  const getuid = process.getuid;
  const realRoot = getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'mystery-unit-path-'));
  t.after(() => {
    process.getuid = getuid;
    rmSync(dir, { recursive: true, force: true });
  });
  // a directory a user owns: as root, nothing run from it can be trusted
  if (realRoot) chownSync(dir, 65534, 65534);
  process.getuid = () => 0;
  assert.equal(trustedPath(`${dir}:/usr/bin:relative/bin:/usr/bin`), '/usr/bin');
  process.getuid = () => 1000;
  assert.equal(trustedPath(`${dir}:/usr/bin`), `${dir}:/usr/bin`);
});

test('invokingUser: the sudo user from a passwd line, refused when any field is off', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mystery-unit-passwd-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const passwd = join(dir, 'passwd');
  const user = (line: string, env: NodeJS.ProcessEnv = { SUDO_USER: 'ann', SUDO_UID: '1000' }) => {
    writeFileSync(passwd, `root:x:0:0:root:/root:/bin/bash\n${line}\n`);
    return invokingUser(env, passwd);
  };
  assert.deepEqual(user('ann:x:1000:1000:Ann:/home/ann:/bin/sh'), { name: 'ann', uid: 1000, gid: 1000, home: '/home/ann' });
  for (const bad of ['ann:x:abc:1000:Ann:/home/ann:/bin/sh', 'ann:x:1000:abc:Ann:/home/ann:/bin/sh', 'ann:x:0:1000:Ann:/home/ann:/bin/sh', 'ann:x:1000:1000:Ann:home/ann:/bin/sh', 'ann:x:1000:1000:Ann:/home/ann']) {
    assert.equal(user(bad, { SUDO_USER: 'ann' }), undefined, bad);
  }
  assert.equal(user('ann:x:1000:1000:Ann:/home/ann:/bin/sh', { SUDO_USER: 'ann', SUDO_UID: '1001' }), undefined, 'SUDO_UID must agree');
  assert.equal(user('ann:x:1000:1000:Ann:/home/ann:/bin/sh', {}), undefined, 'no sudo, no invoking user');
});

test("resolveRuleArgs: {subnet:NAME} is that network's subnet; an unknown name stays as written", () => {
  const c = findCase('vanishing-packet');
  const draw = c.draw(seededRng('edge-rules'), c.suspects.default);
  const plan = planLab({ lab: 'edge', caseId: c.id, seed: 'edge-rules', suspects: c.suspects.default, backend: 'netns', port: 3000, subnetBase: '10.200.30', moreSubnetBases: ['10.200.31'], draw });
  const nets = planNetworks(plan);
  assert.deepEqual(nets.map((n) => n.name).sort(), ['dmz', 'lan']);
  const gw = plan.hosts.find((h) => h.name === 'gw')!;
  for (const n of nets) assert.deepEqual(resolveRuleArgs(plan, gw, ['-d', `{subnet:${n.name}}`]), ['-d', n.subnet]);
  assert.notEqual(nets[0]!.subnet, nets[1]!.subnet);
  assert.deepEqual(resolveRuleArgs(plan, gw, ['{subnet:nowhere}']), ['{subnet:nowhere}']);
});

test('packetsSent: what a host sent in the window, read from its veth counters; no interface, or one gone, is 0', async () => {
  const { packetsSent } = await import('../../src/core/traffic.js');
  const { createSocket } = await import('node:dgram');
  // the loopback interface stands in for a host's veth: what it receives here, this process sends
  const rx = createSocket('udp4');
  await new Promise<void>((r) => rx.bind(0, '127.0.0.1', () => r()));
  const tx = createSocket('udp4');
  const port = (rx.address() as { port: number }).port;
  const sending = setInterval(() => tx.send('x', port, '127.0.0.1'), 5);
  try {
    const sent = await packetsSent(new Map([['loud', { veth: 'lo', ifindex: 1 }], ['gone', { veth: 'nosuchveth0', ifindex: 99 }], ['stopped', undefined]]), 200);
    assert.ok(sent.get('loud')! > 0, `lo carried ${sent.get('loud')} packets in the window`);
    assert.equal(sent.get('gone'), 0);
    assert.equal(sent.get('stopped'), 0);
  } finally {
    clearInterval(sending);
    tx.close();
    rx.close();
  }
});

test('readCapture reads as the invoking user only when root runs it: not root, the file is read as it is', async (t) => {
  const { readCapture } = await import('../../src/core/capture.js');
  const dir = mkdtempSync(join(tmpdir(), 'mystery-unit-cap-'));
  const getuid = process.getuid;
  t.after(() => {
    process.getuid = getuid;
    rmSync(dir, { recursive: true, force: true });
  });
  // one Ethernet frame: IPv4 UDP 10.0.0.3:40000 -> 10.0.0.2:3000, 4 bytes of payload
  const ip = Buffer.from('4500002000004000401100000a0000030a000002', 'hex');
  const udp = Buffer.from('9c400bb8000c0000', 'hex');
  const frame = Buffer.concat([Buffer.from('0200000000020200000000030800', 'hex'), ip, udp, Buffer.from('ping')]);
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16);
  header.writeUInt32LE(1, 20);
  const record = Buffer.alloc(16);
  record.writeUInt32LE(1_700_000_000, 0);
  record.writeUInt32LE(frame.length, 8);
  record.writeUInt32LE(frame.length, 12);
  const file = join(dir, 'one.pcap');
  writeFileSync(file, Buffer.concat([header, record, frame]), { mode: 0o600 });
  process.getuid = () => 1000;
  // an owner with no right to the file: not root, nobody's rights are taken on
  const read = await readCapture(file, { name: 'nobody', uid: 65534, gid: 65534, home: '/nonexistent' });
  assert.equal(read.packets.length, 1, JSON.stringify(read));
  assert.deepEqual([read.packets[0]!.src, read.packets[0]!.dst, read.packets[0]!.dport], ['10.0.0.3', '10.0.0.2', 3000]);
  // root reads as the invoking user: a file that user may not read is not read for them
  // (not really root, taking on their uid fails; really root, the user cannot open the file)
  process.getuid = () => 0;
  const asNobody = await readCapture(file, { name: 'nobody', uid: 65534, gid: 65534, home: '/nonexistent' }).catch((err: Error) => err);
  assert.ok(asNobody instanceof Error || asNobody.packets.length === 0, JSON.stringify(asNobody));
});
