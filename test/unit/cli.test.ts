import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../src/cli/main.js';
import { capturingIo } from '../helpers/io.js';


test('--help lists the docker-like verbs and the toolkit', async () => {
  const io = capturingIo();
  assert.equal(await main(['--help'], io), 0);
  for (const verb of ['start', 'ps', 'exec', 'stop', 'restart', 'status', 'down', 'hint', 'check', 'debrief', 'give-up', 'cases']) {
    assert.match(io.stdout, new RegExp(`\\n  ${verb}\\b`), verb);
  }
});

test('every command has its own --help', async () => {
  for (const verb of ['start', 'ps', 'exec', 'stop', 'restart', 'status', 'down']) {
    const io = capturingIo();
    assert.equal(await main([verb, '--help'], io), 0, verb);
    assert.match(io.stdout, new RegExp(`Usage: mystery ${verb}`));
  }
});

test('an unknown command or option is a usage error (exit 2)', async () => {
  let io = capturingIo();
  assert.equal(await main(['frobnicate'], io), 2);
  assert.match(io.stderr, /unknown command 'frobnicate'/);
  io = capturingIo();
  assert.equal(await main(['ps', '--bogus'], io), 2);
  assert.match(io.stderr, /unknown option '--bogus'/);
});

test('option values are checked before anything is touched', async () => {
  let io = capturingIo();
  assert.equal(await main(['start', '--port', '70000'], io), 2);
  assert.match(io.stderr, /--port must be a whole number from 1 to 65535/);
  io = capturingIo();
  assert.equal(await main(['start', '--backend', 'vagrant'], io), 2);
  assert.match(io.stderr, /--backend must be one of: netns, docker/);
  io = capturingIo();
  assert.equal(await main(['start', '--suspects', 'many'], io), 2);
});

test('an unknown case says which exist', async () => {
  const io = capturingIo();
  const code = await main(['start', 'no-such-case', '-d'], io);
  // as root the case is checked; as a user, the root check comes first
  if (process.getuid?.() === 0) {
    assert.equal(code, 2);
    assert.match(io.stderr, /There is no case called "no-such-case"[\s\S]*noisy-neighbour/);
  } else {
    assert.equal(code, 3);
    assert.match(io.stderr, /needs root[\s\S]*sudo/);
  }
});

test('--suspects out of range names the range', async () => {
  const io = capturingIo();
  const code = await main(['start', '--suspects', '40', '-d', '--name', 'unitx'], io);
  if (process.getuid?.() === 0) {
    assert.equal(code, 2);
    assert.match(io.stderr, /--suspects 40 is out of range[\s\S]*from 2 to 12/);
  } else assert.equal(code, 3);
});

test('cases lists the catalog with difficulty and skills, and works without root', async () => {
  const io = capturingIo();
  const old = process.env.XDG_STATE_HOME;
  process.env.XDG_STATE_HOME = '/nonexistent-dir-for-test';
  try {
    assert.equal(await main(['cases', '--json'], io), 0);
  } finally {
    if (old === undefined) delete process.env.XDG_STATE_HOME;
    else process.env.XDG_STATE_HOME = old;
  }
  const rows = JSON.parse(io.stdout) as Array<{ id: string; difficulty: string; skills: string[]; solved: number }>;
  const nn = rows.find((r) => r.id === 'noisy-neighbour');
  assert.ok(nn);
  assert.equal(nn.difficulty, 'easy');
  assert.ok(nn.skills.length >= 2);
  assert.equal(nn.solved, 0);
});

test('explain answers from one bundled file that shares the CLI\'s errors: a refused filter still exits 2 with its message', async () => {
  const { readFileSync } = await import('node:fs');
  const bundle = readFileSync(new URL('../../src/commands/explain.bundle.js', import.meta.url), 'utf8');
  const imports = [...bundle.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]);
  // node's own modules and the one module whose classes main.js checks with instanceof
  assert.deepEqual([...new Set(imports.filter((s) => !s!.startsWith('node:')))], ['../core/errors.js']);
  assert.doesNotMatch(bundle, /class UserError/, 'UserError is not copied into the bundle');
  const io = capturingIo();
  assert.equal(await main(['explain', 'tcp and udp'], io), 2);
  assert.match(io.stderr, /rejects every packet/);
  const ok = capturingIo();
  assert.equal(await main(['explain', 'tcp port 80'], ok), 0);
  assert.match(ok.stdout, /tcpdump -d: accepts it/);
});
