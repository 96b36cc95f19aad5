// Every documented exit code from 2 to 9 (docs/errors.md, src/core/errors.ts), reached through
// main(argv, io) on the fake backend, with the message that goes with it.
import { fakeUid, runDir } from '../helpers/fake-env.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { installFakes } from '../helpers/fake-backend.js';
import { drawOf, freePort, mystery, startLab, stateOf } from '../helpers/fake-cli.js';
import { ExitCode, UserError } from '../../src/core/errors.js';
import { acquireStartLock } from '../../src/core/lock.js';
import { writeState } from '../../src/core/state.js';

const { netns: fake } = installFakes();

test('the exit codes are the documented ones', () => {
  assert.deepEqual(ExitCode, { ok: 0, failure: 1, usage: 2, notRoot: 3, missingTool: 4, conflict: 5, noLab: 6, resources: 7, wrong: 8, unsolved: 9, interrupted: 130 });
});

test('2: usage (an unknown case, host, lab name, --backend, --random with a case)', async () => {
  let r = await mystery('start', 'no-such-case', '-d', '--port', String(await freePort()));
  assert.equal(r.code, 2);
  assert.match(r.err, /^error: There is no case called "no-such-case"\.\n {2}Pick one of: .*noisy-neighbour/);
  r = await mystery('ps', '--name', 'Bad_Name');
  assert.equal(r.code, 2);
  assert.match(r.err, /The lab name "Bad_Name" is not valid/);
  r = await mystery('start', 'reset-storm', '--random', '-d');
  assert.equal(r.code, 2);
  assert.match(r.err, /`--random` draws the case itself/);
  r = await mystery('start', 'lossy-link', '--backend', 'docker', '-d', '--name', 'nodock', '--port', String(await freePort()));
  assert.equal(r.code, 2);
  assert.match(r.err, /cannot be built on the docker backend[\s\S]*--backend netns/);
  await startLab('u2');
  r = await mystery('stop', '--name', 'u2', 'nobody-here');
  assert.equal(r.code, 2);
  assert.match(r.err, /There is no host "nobody-here" in this lab\.\n {2}The hosts are: .*webserver/);
  r = await mystery('exec', '--name', 'u2', 'webserver', '--');
  assert.equal(r.code, 2);
  assert.match(r.err, /needs a command to run after the host/);
  await mystery('down', '--name', 'u2');
});

test('3: not root', async () => {
  fakeUid.value = 1000;
  try {
    const r = await mystery('start', '-d');
    assert.equal(r.code, 3);
    assert.match(r.err, /`mystery start` needs root[\s\S]*sudo/);
  } finally {
    fakeUid.value = 0;
  }
});

test('4: a missing tool, found by the backend\'s preflight: nothing is built or left', async () => {
  fake.requiredTools = ['mystery-no-such-tool'];
  try {
    const r = await mystery('start', '-d', '--name', 'tool', '--port', String(await freePort()));
    assert.equal(r.code, 4);
    assert.match(r.err, /mystery-no-such-tool/);
    assert.ok(!fake.labs.has('tool'));
    assert.ok(!existsSync(join(runDir, 'tool')));
  } finally {
    fake.requiredTools = [];
  }
});

test('5: conflicts: a lab of that name runs, the port is taken, the start lock is held', async () => {
  const { port } = await startLab('c5');
  let r = await mystery('start', '-d', '--name', 'c5', '--port', String(await freePort()));
  assert.equal(r.code, 5);
  assert.match(r.err, /already running[\s\S]*mystery down --name c5/);
  r = await mystery('start', '-d', '--name', 'c5b', '--port', String(port));
  assert.equal(r.code, 5);
  assert.match(r.err, new RegExp(`Port ${port} on localhost is already in use[\\s\\S]*--name c5b --port \\d+`));
  assert.ok(!fake.labs.has('c5b'));
  // a start lock held by a live process (this one's parent) that is not this one
  await mkdir(runDir, { recursive: true });
  await writeFile(join(runDir, 'start.lock'), `${process.ppid}\n`);
  try {
    await assert.rejects(acquireStartLock(50), (e: UserError) => e.exitCode === 5 && new RegExp(`Another \`mystery start\` is in progress \\(pid ${process.ppid}\\)`).test(e.message));
  } finally {
    await writeFile(join(runDir, 'start.lock'), '');
  }
  await mystery('down', '--name', 'c5');
});

test('6: no lab: none running, still starting, a corrupt state file, a case that does not exist', async () => {
  let r = await mystery('ps', '--name', 'none6');
  assert.equal(r.code, 6);
  assert.match(r.err, /No lab named "none6" is running\.\n {2}Start one with `.*start --name none6`/);
  r = await mystery('status');
  assert.equal(r.code, 6);
  assert.match(r.err, /^error: No lab is running\./);

  await startLab('s6');
  const s = await stateOf('s6');
  await writeState({ ...s, readyAt: undefined });
  r = await mystery('check', '--name', 's6');
  assert.equal(r.code, 6);
  assert.match(r.err, /is still starting/);
  await writeState({ ...s, plan: { ...s.plan, suspects: 13 } });
  r = await mystery('ps', '--name', 's6');
  assert.equal(r.code, 6);
  assert.match(r.err, /13 suspects is out of range for the case noisy-neighbour/);
  await writeState({ ...s, plan: { ...s.plan, suspects: 1 } });
  assert.equal((await mystery('ps', '--name', 's6')).code, 6);
  await writeState({ ...s, plan: { ...s.plan, caseId: 'no-such-case' } });
  r = await mystery('ps', '--name', 's6');
  assert.equal(r.code, 6);
  assert.match(r.err, /there is no case no-such-case/);
  await writeFile(join(runDir, 's6', 'state.json'), '{ not json');
  r = await mystery('hint', '--name', 's6');
  assert.equal(r.code, 6);
  assert.match(r.err, /state file is corrupt/);
  // a corrupt state is in the way of a start (5); down removes the lab without it
  r = await mystery('start', '-d', '--name', 's6', '--port', String(await freePort()));
  assert.equal(r.code, 5);
  assert.match(r.err, /corrupt[\s\S]*mystery down --name s6/);
  assert.equal((await mystery('down', '--name', 's6')).code, 0);
  assert.ok(!fake.labs.has('s6'), 'found by the backend and torn down');
});

test('7: resources: a lab name too long for an interface', async () => {
  let r = await mystery('ps', '--name', 'abcdefghijklm');
  assert.equal(r.code, 7);
  assert.match(r.err, /The lab name "abcdefghijklm" is too long \(13 characters; at most 12\)/);
  r = await mystery('ps', '--name', 'abcdefghijkl');
  assert.equal(r.code, 6, 'twelve characters is a name');
});

test('7: resources: no free subnet (every 10.200.X.0/24 is taken on the machine)', async () => {
  fake.prefixes = ['10.200.0.0/16'];
  try {
    const r = await mystery('start', '-d', '--name', 'nosub', '--port', String(await freePort()));
    assert.equal(r.code, 7);
    assert.match(r.err, /No free subnet/);
    assert.ok(!fake.labs.has('nosub'));
  } finally {
    fake.prefixes = [];
  }
});

test('8: a wrong arrest and a wrong answer; 9: not solved yet (check, debrief)', async () => {
  await startLab('w8');
  const culprit = fake.fakeLab('w8').culprit;
  const innocent = (await stateOf('w8')).plan.hosts.find((h) => h.role === 'suspect' && h.name !== culprit)!.name;
  let r = await mystery('stop', '--name', 'w8', innocent);
  assert.equal(r.code, 8);
  r = await mystery('check', '--name', 'w8');
  assert.equal(r.code, 9);
  r = await mystery('debrief', '--name', 'w8');
  assert.equal(r.code, 9);
  await mystery('down', '--name', 'w8');
  await startLab('w8b', 'password-in-clear');
  r = await mystery('answer', '--name', 'w8b', 'not-the-password');
  assert.equal(r.code, 8);
  assert.match(r.out, /WRONG ANSWER: "not-the-password" is not it/);
  r = await mystery('answer', '--name', 'w8b', (await drawOf('w8b')).value!);
  assert.equal(r.code, 0);
  await mystery('down', '--name', 'w8b');
});

test('1: an unexpected failure of the backend is reported as a bug, and the start is rolled back', async () => {
  const build = fake.build.bind(fake);
  fake.build = async (state, step) => {
    await build(state, step);
    throw new Error('the fake failed on purpose');
  };
  try {
    const r = await mystery('start', '-d', '--name', 'bug1', '--port', String(await freePort()));
    assert.equal(r.code, 1);
    assert.match(r.err, /rolling back[\s\S]*bug: Error: the fake failed on purpose/, r.err);
    assert.ok(!fake.labs.has('bug1'), 'torn down');
    assert.ok(!existsSync(join(runDir, 'bug1')), 'its runtime files removed');
  } finally {
    fake.build = build;
  }
});
