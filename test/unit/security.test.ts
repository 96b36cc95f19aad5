/**
 * The security findings that need no root: hostile progress and state files, the identity of
 * a process, the command printed for the learner, fixed names in world-writable places.
 * The ones that need root (symlinks followed as root, a reused pid, a squatted [::1]) are in
 * test/e2e/security.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { caseProgress, readProgress, recordRun, validRecord } from '../../src/core/progress.js';
import { invokingUser, maxUserFileBytes, readUserFileHere, writeUserFileHere } from '../../src/core/userfs.js';
import { stateProblem, type LabState } from '../../src/core/state.js';
import { identify, isSameProcess } from '../../src/core/procs.js';
import { invocation } from '../../src/core/invocation.js';
import { safeEnv, withoutLoaderVars } from '../../src/core/run.js';
import { planLab } from '../../src/core/model.js';
import { seededRng } from '../../src/core/random.js';
import { noisyNeighbour } from '../../src/cases/noisy-neighbour.js';
import { main } from '../../src/cli/main.js';
import { capturingIo } from '../helpers/io.js';

const repo = fileURLToPath(new URL('../../..', import.meta.url));

function tempState(): string {
  return mkdtempSync(join(tmpdir(), 'mystery-sec-'));
}

function aState(lab = 'sec'): LabState {
  const draw = noisyNeighbour.draw(seededRng('s'), 5);
  const plan = planLab({ lab, caseId: 'noisy-neighbour', seed: 's', suspects: 5, backend: 'netns', port: 3000, subnetBase: '10.200.9', draw });
  return { version: 1, plan, created: { netns: [plan.hosts[0]!.netns], veths: [plan.hosts[0]!.veth], rules: [] }, startedAt: new Date().toISOString(), readyAt: new Date().toISOString(), arrests: [], hintsUsed: 2 };
}

test('progress: a record of the wrong types is left out, the others still count, and `mystery cases` works', async () => {
  const dir = tempState();
  mkdirSync(join(dir, 'tcpdump-mystery'));
  const good = { caseId: 'reset-storm', startedAt: 't1', solved: true, timeMs: 5000, hintsUsed: 1, wrongArrests: 0, gaveUp: false };
  const runs = {
    a: good,
    b: { ...good, hintsUsed: 'many' },
    c: { ...good, solved: 'yes' },
    d: null,
    e: { ...good, timeMs: -1 },
    f: { ...good, caseId: 7 },
    g: { ...good, wrongArrests: 1e12 },
  };
  writeFileSync(join(dir, 'tcpdump-mystery', 'progress.json'), JSON.stringify({ version: 1, runs }));
  const p = await caseProgress({ XDG_STATE_HOME: dir });
  assert.deepEqual(p.get('reset-storm'), { solved: 1, runs: 1, bestTimeMs: 5000, hintsUsed: 1, wrongArrests: 0, gaveUp: 0, evidence: 0 });
  assert.equal(validRecord(good), good);
  for (const bad of Object.values(runs).slice(1)) assert.equal(validRecord(bad), undefined, JSON.stringify(bad));

  const io = capturingIo();
  const before = process.env.XDG_STATE_HOME;
  process.env.XDG_STATE_HOME = dir;
  try {
    assert.equal(await main(['cases', '--json'], io), 0, io.stderr);
  } finally {
    process.env.XDG_STATE_HOME = before;
  }
  const rows = JSON.parse(io.stdout) as Array<{ id: string; solved: number }>;
  assert.equal(rows.find((r) => r.id === 'reset-storm')?.solved, 1);
  rmSync(dir, { recursive: true, force: true });
});

test('progress: a FIFO, a huge file, a directory or garbage is reported, never read as empty, never overwritten', async () => {
  const cases: Array<[string, (file: string) => void, RegExp]> = [
    ['fifo', (f) => assert.equal(spawnSync('mkfifo', [f]).status, 0), /not a regular file/],
    ['huge', (f) => writeFileSync(f, Buffer.alloc(maxUserFileBytes + 1, 0x20)), /too large/],
    ['directory', (f) => mkdirSync(f), /not a regular file/],
    ['garbage', (f) => writeFileSync(f, '{"version": 1, "runs": '), /not valid JSON/],
    ['wrong version', (f) => writeFileSync(f, '{"version": 2, "runs": {}}'), /not a progress file/],
  ];
  for (const [what, make, reason] of cases) {
    const dir = tempState();
    mkdirSync(join(dir, 'tcpdump-mystery'));
    const file = join(dir, 'tcpdump-mystery', 'progress.json');
    make(file);
    const before = statSync(file);
    const t0 = Date.now();
    const read = await readProgress({ XDG_STATE_HOME: dir });
    assert.match(read.problem ?? '', reason, what);
    assert.match(read.problem ?? '', /mv /, `${what}: says what to do`);
    const written: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((s: string) => (written.push(String(s)), true)) as typeof process.stderr.write;
    try {
      await recordRun(aState(), true, { XDG_STATE_HOME: dir });
    } finally {
      process.stderr.write = write;
    }
    assert.ok(Date.now() - t0 < 5000, `${what}: no hang`);
    assert.match(written.join(''), /progress is not recorded/, what);
    const after = statSync(file);
    assert.equal(after.ino, before.ino, `${what}: the file is left as it was`);
    assert.equal(after.size, before.size, `${what}: the file is left as it was`);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('user files: the temporary name cannot be guessed, and a link at the file is replaced, never followed', async () => {
  const dir = tempState();
  const victim = join(dir, 'victim');
  writeFileSync(victim, 'precious');
  mkdirSync(join(dir, 'tcpdump-mystery'));
  const file = join(dir, 'tcpdump-mystery', 'progress.json');
  // the name the old code used, and a link at the file itself
  spawnSync('ln', ['-s', victim, `${file}.${process.pid}.tmp`]);
  spawnSync('ln', ['-s', victim, file]);
  await writeUserFileHere(dir, file, '{"version":1,"runs":{}}');
  assert.equal(readFileSync(victim, 'utf8'), 'precious');
  assert.equal(readFileSync(file, 'utf8'), '{"version":1,"runs":{}}');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  // a reader never follows a link at the file
  spawnSync('ln', ['-sf', victim, file]);
  assert.deepEqual(await readUserFileHere(file), { kind: 'bad', reason: 'it is a symbolic link' });
  // a directory below the base that is a link is refused
  rmSync(join(dir, 'tcpdump-mystery'), { recursive: true });
  spawnSync('ln', ['-s', dir, join(dir, 'tcpdump-mystery')]);
  await assert.rejects(writeUserFileHere(dir, file, 'x'), /not a directory of its own/);
  rmSync(dir, { recursive: true, force: true });
});

test('user files: only sudo\'s own user counts, checked against /etc/passwd', () => {
  const dir = tempState();
  const passwd = join(dir, 'passwd');
  writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/sh\nann:x:1001:1001::/home/ann:/bin/sh\nbob:x:0:0::/home/bob:/bin/sh\nrel:x:1002:1002::home/rel:/bin/sh\n');
  assert.deepEqual(invokingUser({ SUDO_USER: 'ann', SUDO_UID: '1001' }, passwd), { name: 'ann', uid: 1001, gid: 1001, home: '/home/ann' });
  assert.equal(invokingUser({ SUDO_USER: 'ann', SUDO_UID: '1002' }, passwd), undefined, 'SUDO_UID disagrees');
  assert.equal(invokingUser({ SUDO_USER: 'bob' }, passwd), undefined, 'uid 0 is root');
  assert.equal(invokingUser({ SUDO_USER: 'rel' }, passwd), undefined, 'a relative home');
  assert.equal(invokingUser({ SUDO_USER: 'root' }, passwd), undefined);
  assert.equal(invokingUser({ SUDO_USER: 'an' }, passwd), undefined, 'a prefix of a name is not the name');
  assert.equal(invokingUser({ SUDO_USER: '../x' }, passwd), undefined);
  assert.equal(invokingUser({}, passwd), undefined);
  rmSync(dir, { recursive: true, force: true });
});

test('state files: every field is checked, so a hostile value is "corrupt", never acted on', () => {
  const good = aState();
  assert.equal(stateProblem(good, 'sec'), undefined);
  const bad: Array<[string, (s: any) => void]> = [
    ['another lab', (s) => (s.plan.lab = 'other')],
    ['bad backend', (s) => (s.plan.backend = 'bogus')],
    ['a billion suspects', (s) => (s.plan.suspects = 1e9)],
    ['port 0', (s) => (s.plan.port = 0)],
    ['port 65536', (s) => (s.plan.port = 65536)],
    ['a namespace of another lab', (s) => (s.plan.hosts[0].netns = 'tmys-other-12345678')],
    ['a namespace in the journal that is not ours', (s) => (s.created.netns = ['docker-ns'])],
    ['a veth that is not ours', (s) => (s.created.veths = ['eth0'])],
    ['a bridge that is not ours', (s) => (s.plan.bridge = 'docker0')],
    ['an address with 300', (s) => (s.plan.hosts[0].ip = '10.300.1.2')],
    ['a pid that is not a number', (s) => (s.supervisorPid = '1; rm -rf /')],
    ['a negative hint count', (s) => (s.hintsUsed = -1)],
    ['no hosts', (s) => (s.plan.hosts = [])],
    ['arrests not a list', (s) => (s.arrests = {})],
    ['rules not argument lists', (s) => (s.created.rules = ['-A FORWARD'])],
    ['a starter without its start time', (s) => (s.starter = { pid: 1 })],
    ['a host name with a slash', (s) => (s.plan.hosts[0].name = '../etc')],
  ];
  for (const [what, change] of bad) {
    const s = structuredClone(good);
    change(s);
    assert.ok(stateProblem(s, 'sec'), what);
  }
  assert.ok(stateProblem(null, 'sec'));
  assert.ok(stateProblem([], 'sec'));
});

test('processes are known by pid and start time: a pid handed to another process is not the same one', async () => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  await new Promise((r) => child.once('spawn', r));
  const [me] = await identify([child.pid!]);
  assert.ok(me && me.pid === child.pid);
  assert.equal(await isSameProcess(me), true);
  assert.equal(await isSameProcess({ pid: me.pid, startTicks: me.startTicks + 1 }), false, 'another start time is another process');
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.equal(await isSameProcess(me), false);
  assert.deepEqual(await identify([me.pid]), []);
});

test('the printed command is the one the learner ran, and npx never fetches a package', () => {
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const sudo = asRoot ? '' : 'sudo ';
  assert.equal(invocation({ npm_command: 'exec' }, '/x/dist/src/cli/main.js'), `${sudo}npx --no-install mystery`);
  assert.equal(invocation({ npm_lifecycle_event: 'start' }, '/x/dist/src/cli/main.js'), `${sudo}npx --no-install mystery`);
  assert.equal(invocation({}, '/usr/local/bin/mystery'), `${sudo}mystery`);
  assert.equal(invocation({}, '/usr/local/bin/tcpdump-mystery'), `${sudo}tcpdump-mystery`);
  assert.equal(invocation({}, '/x/dist/src/cli/main.js'), `${sudo}node /x/dist/src/cli/main.js`);
  if (asRoot) assert.equal(invocation({ SUDO_USER: 'ann', npm_command: 'exec' }, 'x'), 'sudo npx --no-install mystery');
  // no text the learner reads tells them to run a bare `npx mystery`
  const offenders: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|md|sh|yml)$/.test(e.name) && !p.endsWith('security.test.ts')) {
        readFileSync(p, 'utf8').split('\n').forEach((line, i) => {
          if (/npx (?!--no-install)[a-z]*mystery/.test(line)) offenders.push(`${p.slice(repo.length)}:${i + 1}: ${line.trim()}`);
        });
      }
    }
  };
  for (const d of ['src', 'docs', 'test', 'bench', '.ci']) walk(join(repo, d));
  for (const f of ['README.md']) {
    readFileSync(join(repo, f), 'utf8').split('\n').forEach((line, i) => {
      if (/npx (?!--no-install)[a-z]*mystery/.test(line)) offenders.push(`${f}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(offenders, []);
});

test('no fixed names in world-writable directories, in code, scripts, docs or hints', () => {
  const offenders: string[] = [];
  const fixed = /(?<![\w$.-])\/(tmp|var\/tmp|dev\/shm)\/[A-Za-z0-9_.-]+(?!\.X)/;
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|md|sh|mjs|yml)$|^run$/.test(e.name) && !p.endsWith('security.test.ts')) {
        readFileSync(p, 'utf8').split('\n').forEach((line, i) => {
          // mktemp templates (XXXXXX) make a fresh name; anything else is a fixed one
          if (fixed.test(line) && !/XXXXXX/.test(line)) offenders.push(`${p.slice(repo.length)}:${i + 1}: ${line.trim()}`);
        });
      }
    }
  };
  for (const d of ['src', 'docs', '.ci', 'scripts', 'bench']) walk(join(repo, d));
  readFileSync(join(repo, 'README.md'), 'utf8').split('\n').forEach((line, i) => {
    if (fixed.test(line)) offenders.push(`README.md:${i + 1}: ${line.trim()}`);
  });
  assert.deepEqual(offenders, []);
});

test('what root runs gets a trusted PATH and none of the caller\'s loader variables', () => {
  const env = withoutLoaderVars({ NODE_OPTIONS: '--require /tmp/evil.js', LD_PRELOAD: '/x.so', PYTHONPATH: '/x', KEEP: '1' });
  assert.deepEqual(env, { KEEP: '1' });
  const safe = safeEnv({ HOME: '/h' });
  assert.equal(safe.NODE_OPTIONS, undefined);
  assert.equal(safe.HOME, '/h');
  assert.ok(safe.PATH && safe.PATH.split(':').every((d) => d.startsWith('/')));
});

test('explain: deep nesting and thousands of terms get a clear error, never a stack overflow; control characters are escaped', async () => {
  const run = async (filter: string): Promise<{ code: number; out: string }> => {
    const io = capturingIo();
    const code = await main(['explain', `tcpdump -i eth0 '${filter}'`], io);
    return { code, out: io.stdout + io.stderr };
  };
  for (const [what, filter] of [
    ['1500 nested parentheses', `${'('.repeat(1500)}tcp${')'.repeat(1500)}`],
    ['6500 nots', `${'not '.repeat(6500)}tcp`],
    ['7000 and terms', Array.from({ length: 7000 }, () => 'tcp').join(' and ')],
  ] as const) {
    const r = await run(filter);
    assert.equal(r.code, 2, `${what}: ${r.out.slice(0, 300)}`);
    assert.doesNotMatch(r.out, /bug:|RangeError/, what);
    assert.match(r.out, /too (deep|deeply nested|long)/, what);
  }
  const r = await run('host \x1b[31mevil\x1b[0m');
  assert.doesNotMatch(r.out, /\x1b/, 'no raw escape reaches the terminal');
  assert.match(r.out, /\\x1b/);
});
