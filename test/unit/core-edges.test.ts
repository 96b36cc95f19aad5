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
