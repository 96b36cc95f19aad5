/**
 * Every error a user can cause: one clear message (what happened, what to do), the exit code
 * docs/errors.md documents, and nothing half-made (a host snapshot before and after).
 * Root, real tools. Labs r*, ports 3550-3599.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { mystery, sh, type CliResult } from '../helpers/cli.js';
import { takeSnapshot } from '../helpers/snapshot.js';
import { assertHostAsBefore, down, runRoot, settledSnapshot, startLab } from '../helpers/robust.js';

const E = { usage: 2, notRoot: 3, missingTool: 4, conflict: 5, noLab: 6, resources: 7 };

/** The one shape every user error has: `error: WHAT` then an indented line saying what to do. */
function assertUserError(r: CliResult, code: number, what: RegExp): void {
  assert.equal(r.code, code, `expected exit ${code}, got ${r.code} ${r.signal ?? ''}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.match(r.stderr, what);
  assert.doesNotMatch(r.stderr, /^bug:|\n\s+at /m, 'a stack trace is no message for a user');
  assert.equal(r.stdout.trim(), '', 'nothing on stdout when it fails');
}

/** An error reported by `mystery`'s own handler: the second line says what to do. */
function assertFix(r: CliResult, fix: RegExp): void {
  const lines = r.stderr.trim().split('\n');
  assert.match(lines[0]!, /^error: /);
  assert.match(lines.slice(1).join('\n'), fix);
}

test('unknown command, option, case; bad values', { timeout: 60_000 }, async () => {
  const snap = await takeSnapshot();
  assertUserError(await mystery(['frobnicate']), E.usage, /unknown command 'frobnicate'/);
  assertUserError(await mystery(['start', '--bogus']), E.usage, /unknown option '--bogus'/);
  const c = await mystery(['start', '-d', 'no-such-case', '--name', 'rbad', '--port', '3550']);
  assertUserError(c, E.usage, /There is no case called "no-such-case"/);
  assertFix(c, /Pick one of: noisy-neighbour/);
  for (const n of ['1', '13']) {
    const r = await mystery(['start', '-d', '--name', 'rbad', '--port', '3550', '--suspects', n]);
    assertUserError(r, E.usage, new RegExp(`--suspects ${n} is out of range`));
    assertFix(r, /from 2 to 12/);
  }
  assertUserError(await mystery(['start', '-d', '--name', 'rbad', '--suspects', 'many']), E.usage, /--suspects must be a whole number/);
  assertUserError(await mystery(['start', '-d', '--name', 'rbad', '--port', '70000']), E.usage, /--port must be a whole number from 1 to 65535/);
  assertUserError(await mystery(['start', '-d', '--name', 'rbad', '--backend', 'vm']), E.usage, /--backend must be one of/);
  const bad = await mystery(['ps', '--name', 'Bad_Name']);
  assertUserError(bad, E.usage, /The lab name "Bad_Name" is not valid/);
  await assertHostAsBefore(snap, 'usage errors');
});

test('a name too long for an interface', { timeout: 30_000 }, async () => {
  const snap = await takeSnapshot();
  const r = await mystery(['start', '-d', '--name', 'rabcdefghijkl', '--port', '3551']);
  assertUserError(r, E.resources, /too long \(13 characters; at most 12\)/);
  assertFix(r, /choose a name of 1 to 12/);
  await assertHostAsBefore(snap, 'name too long');
});

test('not root: every command that needs root says so', { timeout: 60_000 }, async () => {
  // nobody may not be able to read this checkout (a clone under /root, or in a 0700 mktemp -d):
  // the built CLI and its one dependency are copied where anyone can read them, and run from there
  const copy = await mkdtemp(join(tmpdir(), 'rmystery-cli-'));
  const root = fileURLToPath(new URL('../../..', import.meta.url));
  try {
    await cp(join(root, 'dist', 'src'), join(copy, 'dist', 'src'), { recursive: true });
    await cp(join(root, 'node_modules', 'commander'), join(copy, 'node_modules', 'commander'), { recursive: true });
    await cp(join(root, 'package.json'), join(copy, 'package.json'));
    const chmod = await sh('chmod', ['-R', 'a+rX', copy]);
    assert.equal(chmod.code, 0, chmod.stderr);
    const cli = join(copy, 'dist', 'src', 'cli', 'main.js');
    const snap = await takeSnapshot();
    for (const args of [['start', '-d', '--name', 'rbad', '--port', '3552'], ['ps'], ['down'], ['status', '--name', 'rbad']]) {
      const r = await new Promise<CliResult>((resolve, reject) => {
        const child = spawn(process.execPath, [cli, ...args], { uid: 65534, gid: 65534, cwd: '/', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent' } });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        child.on('error', reject);
        child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
      });
      assertUserError(r, E.notRoot, new RegExp(`\`mystery ${args[0]}\` needs root`));
      assertFix(r, /sudo/);
    }
    await assertHostAsBefore(snap, 'not root');
  } finally {
    await rm(copy, { recursive: true, force: true });
  }
});

/** A PATH holding every program of the usual directories but `missing`. */
async function pathWithout(missing: string): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'rmystery-path-'));
  const seen = new Set<string>();
  for (const d of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    for (const f of await readdir(d).catch(() => [] as string[])) {
      if (f === missing || seen.has(f)) continue;
      seen.add(f);
      await symlink(join(d, f), join(dir, f)).catch(() => {});
    }
  }
  return { path: dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

test('ip, tcpdump, nsenter or iptables missing: which one and how to install it', { timeout: 90_000 }, async () => {
  const filtered = (await sh('cat', ['/proc/sys/net/bridge/bridge-nf-call-iptables'])).stdout.trim() === '1';
  const cases: Array<[string, RegExp]> = [
    ['ip', /apt-get install iproute2/],
    ['tcpdump', /apt-get install tcpdump/],
    ['nsenter', /apt-get install util-linux/],
  ];
  // iptables is needed only where bridged traffic meets the firewall (br_netfilter loaded)
  if (filtered) cases.push(['iptables', /apt-get install iptables/]);
  else console.log('# iptables missing: not tested, br_netfilter is not loaded here (iptables is not needed then)');
  for (const [tool, fix] of cases) {
    const snap = await takeSnapshot();
    const { path, cleanup } = await pathWithout(tool);
    try {
      const r = await mystery(['start', '-d', '--name', 'rbad', '--port', '3553', ...['--suspects', '2']], { env: { PATH: path } });
      assertUserError(r, E.missingTool, new RegExp(`\`${tool}\` is not installed`));
      assertFix(r, fix);
    } finally {
      await cleanup();
      await down('rbad');
    }
    await assertHostAsBefore(snap, `${tool} missing`);
  }

  if (!filtered) return; // no rule, nothing iptables would have to remove at down
  // iptables uninstalled between start and down: the lab's rule cannot be removed. down
  // says so, fails, and keeps what the next down needs to find it.
  const snap = await takeSnapshot();
  const { path, cleanup } = await pathWithout('iptables');
  try {
    const state = await startLab('rbad', 3553, ['--suspects', '2']);
    assert.equal(state.created.rules.length, 1, 'the lab added its FORWARD rule');
    const r = await mystery(['down', '--name', 'rbad'], { env: { PATH: path } });
    assertUserError(r, E.missingTool, /firewall rule .*`iptables` is no longer installed/);
    assertFix(r, /apt-get install iptables.*mystery down --name rbad/);
    assert.match((await sh('iptables', ['-w', '-S', 'FORWARD'])).stdout, /tcpdump-mystery:rbad/, 'the rule is still there');
    const again = await mystery(['down', '--name', 'rbad']);
    assert.equal(again.code, 0, again.stderr);
  } finally {
    await cleanup();
    await down('rbad');
  }
  await assertHostAsBefore(snap, 'iptables missing at down, then down');
});

test('docker missing for the docker backend', { timeout: 60_000 }, async (t) => {
  const { allBackends } = await import('../../src/backends/index.js');
  await import('../../src/cli/main.js'); // registers every backend the CLI offers
  if (!allBackends().some((b) => b.name === 'docker')) {
    t.skip('no docker backend registered in this build');
    return;
  }
  const snap = await takeSnapshot();
  const { path, cleanup } = await pathWithout('docker');
  try {
    const r = await mystery(['start', '-d', '--backend', 'docker', '--name', 'rbad', '--port', '3554'], { env: { PATH: path } });
    assertUserError(r, E.missingTool, /`docker(-compose)?` is not installed/);
  } finally {
    await cleanup();
  }
  await assertHostAsBefore(snap, 'docker missing');
});

test('the port in use, a lab already running, no lab, an unknown host', { timeout: 120_000 }, async () => {
  const snap = await takeSnapshot();
  // something else listens on the port
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(3555, '127.0.0.1', r));
  try {
    const r = await mystery(['start', '-d', '--name', 'rbad', '--port', '3555']);
    assertUserError(r, E.conflict, /Port 3555 on localhost is already in use/);
    assertFix(r, /--port 3556/);
  } finally {
    await new Promise((r) => srv.close(r));
  }
  await assertHostAsBefore(snap, 'port in use');

  const none = await mystery(['ps', '--name', 'rbad']);
  assertUserError(none, E.noLab, /No lab named "rbad" is running/);
  // the fix is the command as this test ran it (node PATH/main.js), as the learner's would be theirs
  assertFix(none, /(mystery|main\.js) start --name rbad/);
  assertUserError(await mystery(['stop', 'webserver', '--name', 'rbad']), E.noLab, /No lab named "rbad"/);

  try {
    await startLab('rbad', 3556, ['--suspects', '2']);
    const running = await settledSnapshot();
    const again = await mystery(['start', '-d', '--name', 'rbad', '--port', '3557']);
    assertUserError(again, E.conflict, /A lab named "rbad" is already running/);
    assertFix(again, /mystery down --name rbad/);
    // another lab on the first one's port
    const port = await mystery(['start', '-d', '--name', 'rbadb', '--port', '3556']);
    assertUserError(port, E.conflict, /Port 3556 on localhost is already in use/);
    for (const args of [['stop', 'nosuchhost'], ['restart', 'nosuchhost'], ['exec', 'nosuchhost', 'true']]) {
      const r = await mystery([args[0]!, '--name', 'rbad', ...args.slice(1)]); // exec passes what follows the host to the command
      assertUserError(r, E.usage, /There is no host "nosuchhost" in this lab/);
      assertFix(r, /The hosts are: http-sender1, .*webserver \(see `mystery ps`\)/);
    }
    await assertHostAsBefore(running, 'refusals beside a running lab');
  } finally {
    await down('rbad');
  }
  await assertHostAsBefore(snap, 'lab already running');
});

test('a corrupt state file: clear message, down removes it', { timeout: 60_000 }, async () => {
  const snap = await takeSnapshot();
  try {
    await mkdir(`${runRoot}/rcorrupt`, { recursive: true });
    await writeFile(`${runRoot}/rcorrupt/state.json`, '{"version": 1, "pl', { mode: 0o600 });
    const ps = await mystery(['ps', '--name', 'rcorrupt']);
    assertUserError(ps, E.noLab, /The lab's state file is corrupt/);
    assertFix(ps, /mystery down --name rcorrupt/);
    const start = await mystery(['start', '-d', '--name', 'rcorrupt', '--port', '3558']);
    assertUserError(start, E.conflict, /The state file of the lab "rcorrupt" is corrupt/);
    assertFix(start, /mystery down --name rcorrupt/);
  } finally {
    await down('rcorrupt');
  }
  await assertHostAsBefore(snap, 'corrupt state');
});

test('no free subnet: every 10.200.X.0/24 is taken', { timeout: 60_000 }, async () => {
  // A blackhole route over 10.200.0.0/16 on the host makes every candidate overlap. Labs that
  // run keep working (their /24s are more specific); the route is removed in `finally`.
  const snap = await takeSnapshot();
  const route = ['route', 'add', 'blackhole', '10.200.0.0/16'];
  const added = await sh('ip', route);
  assert.equal(added.code, 0, added.stderr);
  try {
    const r = await mystery(['start', '-d', '--name', 'rbad', '--port', '3559']);
    assertUserError(r, E.resources, /No free subnet for the lab/);
    assertFix(r, /10\.200\.0\.0\/16/);
  } finally {
    await sh('ip', ['route', 'del', 'blackhole', '10.200.0.0/16']);
    await down('rbad');
  }
  await assertHostAsBefore(snap, 'no free subnet');
});
