/**
 * The npm package, as a user gets it: `npm pack` of the built project, `npm install -g` of the
 * tarball (into a prefix of the test's own), then the installed `mystery` run from an empty
 * directory: --version, cases, and a real `start -d` / `down` that write nothing into that
 * directory. `npx tcpdump-mystery` resolves to the installed package (its bin carries the
 * package's name). The install needs only `commander`, from npm's cache (`npm ci` put it
 * there) or the registry. Lab rpkg, port 3385.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCommand, type CliResult } from '../helpers/cli.js';
import { assertHostAsBefore } from '../helpers/robust.js';
import { takeSnapshot } from '../helpers/snapshot.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const lab = 'rpkg';
const port = 3385;

const run = (cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<CliResult> => runCommand(cmd, args, opts);

test('npm pack, npm install -g of the tarball, then mystery from an empty directory', { timeout: 300_000 }, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'mystery-package-'));
  const prefix = join(work, 'prefix');
  const empty = join(work, 'empty');
  await mkdir(empty);
  const before = await takeSnapshot();
  const version = (JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  t.after(async () => {
    await run(join(prefix, 'bin', 'mystery'), ['down', '--name', lab], { cwd: empty, timeoutMs: 60_000 }).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  });

  // npm pack (the project is built: `npm test` builds first)
  const pack = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', work], { cwd: root, timeoutMs: 120_000 });
  assert.equal(pack.code, 0, pack.stderr);
  const tarball = join(work, `tcpdump-mystery-${version}.tgz`);
  const size = (await stat(tarball)).size;
  const list = (await run('tar', ['-tzf', tarball], { cwd: work })).stdout.split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
  for (const f of ['package.json', 'README.md', 'LICENSE', 'dist/src/cli/main.js', 'dist/src/services/webserver.js', 'docker-compose.yml', '.env', '.dockerignore', 'randomize_suspects.sh', 'docker/http-sender/Dockerfile', 'docker/service/Dockerfile', 'Dockerfile', 'docker/box/entry.sh', 'docs/errors.md', 'docs/docker.md']) {
    assert.ok(list.includes(f), `the tarball holds ${f}`);
  }
  const strays = list.filter((f) => /^(test|src|bench|scripts|\.ci)\/|^dist\/(test|bench)\/|\.ts$|\.env\.suspects|node_modules/.test(f));
  assert.deepEqual(strays, [], 'no tests, sources, bench, CI or evidence in the tarball');
  const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { private?: boolean; bin: Record<string, string>; scripts: Record<string, string>; dependencies: Record<string, string> };
  assert.notEqual(manifest.private, true, 'the package can be published');
  assert.deepEqual(Object.keys(manifest.dependencies), ['commander'], 'one dependency');
  const installScripts = ['preinstall', 'install', 'postinstall', 'prepare'].filter((s) => manifest.scripts[s]);
  assert.deepEqual(installScripts, [], 'no install script: the tarball ships dist/ built');

  // npm install -g ./tcpdump-mystery-X.Y.Z.tgz
  const t0 = Date.now();
  const install = await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: empty, timeoutMs: 180_000 });
  assert.equal(install.code, 0, `${install.stdout}${install.stderr}`);
  const installMs = Date.now() - t0;
  assert.doesNotMatch(install.stderr, /install-scripts|ERR/, install.stderr);
  const bin = join(prefix, 'bin', 'mystery');

  // from an empty directory
  const v = await run(bin, ['--version'], { cwd: empty });
  assert.equal(v.code, 0, v.stderr);
  assert.equal(v.stdout.trim(), version);
  const v2 = await run(join(prefix, 'bin', 'tcpdump-mystery'), ['--version'], { cwd: empty });
  assert.equal(v2.stdout.trim(), version, 'the bin tcpdump-mystery is the same command');
  // npx tcpdump-mystery: the package's own name resolves to its installed bin, no registry
  const npx = await run('npx', ['--no', '--', 'tcpdump-mystery', '--version'], { cwd: empty, env: { npm_config_prefix: prefix }, timeoutMs: 120_000 });
  assert.equal(npx.code, 0, npx.stderr);
  assert.equal(npx.stdout.trim(), version, 'npx tcpdump-mystery runs this package');
  const cases = await run(bin, ['cases'], { cwd: empty });
  assert.equal(cases.code, 0, cases.stderr);
  assert.match(cases.stdout, /noisy-neighbour/);
  assert.match(cases.stdout, /zero-window/);
  // the recorded incidents come with it, and are answered from it: no lab, nothing written
  assert.ok(list.includes('recordings/password-in-clear/recording.json'), 'the tarball holds the recordings');
  const recs = await run(bin, ['recording'], { cwd: empty });
  assert.equal(recs.code, 0, recs.stderr);
  assert.match(recs.stdout, /password-in-clear .*recordings\/password-in-clear/);
  const wrong = await run(bin, ['answer', '--recording', 'password-in-clear', 'not-the-password'], { cwd: empty });
  assert.equal(wrong.code, 8, `${wrong.stdout}${wrong.stderr}`);
  assert.deepEqual(await readdir(empty), [], 'answering a recording writes nothing');

  // sudo mystery start -d in an empty folder writes nothing there
  const start = await run(bin, ['start', '-d', '--name', lab, '--port', String(port)], { cwd: empty, timeoutMs: 120_000 });
  assert.equal(start.code, 0, start.stderr);
  assert.match(start.stdout, /The lab is ready/);
  const status = await run(bin, ['status', '--json', '--name', lab], { cwd: empty });
  assert.equal(status.code, 0, status.stderr);
  assert.equal((JSON.parse(status.stdout) as { case: string }).case, 'noisy-neighbour');
  const down = await run(bin, ['down', '--name', lab], { cwd: empty, timeoutMs: 60_000 });
  assert.equal(down.code, 0, down.stderr);
  assert.deepEqual(await readdir(empty), [], 'nothing written into the directory it ran in');
  t.diagnostic(`package: tarball ${size} bytes, ${list.length} files; npm install -g ${installMs} ms`);
  await assertHostAsBefore(before, 'the installed package: start, then down');
});
