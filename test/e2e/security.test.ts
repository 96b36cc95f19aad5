/**
 * What a local user could turn the root tool against, tried for real: symlinks planted in the
 * learner's home, a pid the kernel handed to another process, a link that only bears the
 * journal's name, a squatted [::1], a poisoned environment, hostile state files.
 * Root, real kernel and tools. Labs r*, ports 3560-3569.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chown, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile, chmod } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { mystery, sh } from '../helpers/cli.js';
import { takeSnapshot } from '../helpers/snapshot.js';
import { assertHostAsBefore, down, readLabState } from '../helpers/robust.js';
import { recordRun } from '../../src/core/progress.js';
import { writeUserFile } from '../../src/core/userfs.js';
import { labDir, stateFile } from '../../src/core/paths.js';
import { planLab } from '../../src/core/model.js';
import { seededRng } from '../../src/core/random.js';
import { noisyNeighbour } from '../../src/cases/noisy-neighbour.js';
import type { LabState } from '../../src/core/state.js';

assert.equal(process.getuid?.(), 0, 'the security tests need root: run `sudo npm test`');

const nobody = { name: 'nobody', uid: 65534, gid: 65534 };

/** A home of the unprivileged user `nobody`, as a learner's would be. */
async function learnerHome(): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), 'mystery-home-'));
  await chown(home, nobody.uid, nobody.gid);
  await chmod(home, 0o755);
  return home;
}

/** A directory of root's that must not change: /etc stands in for it. */
async function rootVictim(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mystery-victim-'));
  await chmod(dir, 0o755);
  await writeFile(join(dir, 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
  return dir;
}

async function assertUntouched(victim: string): Promise<void> {
  assert.deepEqual(await readdir(victim), ['passwd'], 'nothing new in the victim directory');
  const st = await stat(victim);
  assert.equal(st.uid, 0, 'the victim directory is still root\'s');
  assert.equal((await stat(join(victim, 'passwd'))).uid, 0);
  assert.equal(await readFile(join(victim, 'passwd'), 'utf8'), 'root:x:0:0::/root:/bin/sh\n');
}

function aState(lab: string, extra: Partial<LabState> = {}): LabState {
  const draw = noisyNeighbour.draw(seededRng('s'), 3);
  const plan = planLab({ lab, caseId: 'noisy-neighbour', seed: 's', suspects: 3, backend: 'netns', port: 3569, subnetBase: '10.200.250', draw });
  return { version: 1, plan, created: { netns: [], veths: [], rules: [] }, startedAt: new Date().toISOString(), readyAt: new Date().toISOString(), arrests: [], hintsUsed: 0, ...extra };
}

async function writeStateFile(lab: string, state: unknown): Promise<void> {
  await mkdir(labDir(lab), { recursive: true, mode: 0o755 });
  await writeFile(stateFile(lab), JSON.stringify(state), { mode: 0o600 });
}

test('progress under sudo is written as the learner: a symlinked ~/.local/state hands nothing of root\'s to them', async () => {
  const home = await learnerHome();
  const victim = await rootVictim();
  try {
    // ln -s /etc ~/.local/state, as the learner could
    await mkdir(join(home, '.local'));
    await chown(join(home, '.local'), nobody.uid, nobody.gid);
    await symlink(victim, join(home, '.local', 'state'));
    const file = join(home, '.local', 'state', 'tcpdump-mystery', 'progress.json');
    await writeUserFile(home, file, '{"version":1,"runs":{}}', { ...nobody, home }).catch(() => {});
    await assertUntouched(victim);

    // the same through the state directory itself (XDG_STATE_HOME kept by sudo -E)
    const env = { SUDO_USER: 'nobody', SUDO_UID: '65534', XDG_STATE_HOME: join(home, '.local', 'state') };
    await recordRun(aState('rsec'), true, env);
    await assertUntouched(victim);

    // without a planted link the progress is there, and it is the learner's
    await rm(join(home, '.local', 'state'));
    const real = join(home, 'state');
    await mkdir(real);
    await chown(real, nobody.uid, nobody.gid);
    await recordRun(aState('rsec'), true, { ...env, XDG_STATE_HOME: real });
    const written = join(real, 'tcpdump-mystery', 'progress.json');
    const st = await stat(written);
    assert.equal(st.uid, nobody.uid, 'the progress file is the learner\'s');
    assert.equal((await stat(join(real, 'tcpdump-mystery'))).uid, nobody.uid, 'its directory is the learner\'s');
    assert.match(await readFile(written, 'utf8'), /"noisy-neighbour"/);
  } finally {
    await rm(home, { recursive: true, force: true });
    await rm(victim, { recursive: true, force: true });
  }
});

test('down never signals a process that only has the recorded pid, nor deletes a link that only has a journal name', async () => {
  const before = await takeSnapshot();
  // a process of someone else's, at the pid the state file names (as after a pid reuse)
  const stranger = spawn('sleep', ['60'], { stdio: 'ignore' });
  await new Promise((r) => stranger.once('spawn', r));
  const lookalike = 'vethabc1234';
  const made = await sh('ip', ['link', 'add', lookalike, 'type', 'bridge']); // no dummy module on every kernel
  assert.equal(made.code, 0, made.stderr);
  try {
    for (const startTicks of [undefined, 12345]) {
      const state = aState('rpid', { supervisorPid: stranger.pid, supervisorStartTicks: startTicks });
      state.created.veths = [lookalike];
      state.plan.hosts[0]!.veth = lookalike;
      await writeStateFile('rpid', state);
      const r = await mystery(['down', '--name', 'rpid']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(stranger.exitCode, null, `the stranger at the recorded pid is alive (start time ${startTicks})`);
      assert.equal(stranger.signalCode, null);
      const link = await sh('ip', ['link', 'show', 'dev', lookalike]);
      assert.equal(link.code, 0, 'the untagged link with the journal\'s name is still there');
    }
  } finally {
    stranger.kill('SIGKILL');
    await sh('ip', ['link', 'del', 'dev', lookalike]);
  }
  await assertHostAsBefore(before, 'down with a reused pid');
});

test('a port someone else holds on [::1] refuses the start: the learner\'s localhost would reach them', async () => {
  const before = await takeSnapshot();
  const squat: Server = createServer((c) => c.end('HTTP/1.1 200 OK\r\n\r\nnot the lab\n'));
  await new Promise<void>((resolve, reject) => {
    squat.once('error', reject);
    squat.listen({ host: '::1', port: 3562, ipv6Only: true }, resolve);
  });
  try {
    const r = await mystery(['start', '-d', '--name', 'rsquat', '--port', '3562', '--suspects', '2']);
    assert.equal(r.code, 5, `start over a squatted [::1]:3562 should refuse (exit 5): ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /Port 3562 on localhost is already in use \(on \[::1\]\)/);
    assert.match(r.stderr, /--port 3563/);
  } finally {
    await new Promise((r) => squat.close(r));
  }
  await assertHostAsBefore(before, 'a refused start');
});

test('root\'s children get a trusted PATH and no NODE_OPTIONS; exec takes `--`; a hostile state file is corrupt, not a bug', { timeout: 120_000 }, async () => {
  const before = await takeSnapshot();
  // a directory anyone can write to, first on PATH, holding an `ip` of the attacker's
  const trap = await mkdtemp(join(tmpdir(), 'mystery-trap-'));
  await chmod(trap, 0o777);
  const marker = join(trap, 'ran');
  await writeFile(join(trap, 'ip'), `#!/bin/sh\ntouch ${marker}\nexec /usr/sbin/ip "$@"\n`, { mode: 0o755 });
  const env = { PATH: `${trap}:${process.env.PATH}`, NODE_OPTIONS: '--max-old-space-size=1234' };
  try {
    const r = await mystery(['start', '-d', '--name', 'rsec', '--port', '3561', '--suspects', '2'], { env, timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const state = await readLabState('rsec');
    const environ = (await readFile(`/proc/${state.supervisorPid}/environ`, 'utf8')).split('\0');
    assert.ok(!environ.some((v) => v.startsWith('NODE_OPTIONS=')), `the supervisor has no NODE_OPTIONS: ${environ.join(' ')}`);
    const path = environ.find((v) => v.startsWith('PATH='));
    assert.ok(path && !path.includes(trap), `the supervisor's PATH leaves out the writable directory: ${path}`);

    const host = state.plan.hosts[0]!.name;
    const ex = await mystery(['exec', '--name', 'rsec', host, '--', 'cat', '/sys/class/net/eth0/iflink'], { env });
    assert.equal(ex.code, 0, `exec HOST -- CMD runs CMD: ${ex.stderr}`);
    assert.match(ex.stdout, /^\d+\n$/);
    await assert.rejects(stat(marker), 'the `ip` in a writable directory never ran');
  } finally {
    await down('rsec');
    await rm(trap, { recursive: true, force: true });
  }

  for (const [what, change] of [
    ['a backend that does not exist', (s: any) => (s.plan.backend = 'bogus')],
    ['a billion suspects', (s: any) => (s.plan.suspects = 1e9)],
    ['suspects out of the case\'s range', (s: any) => (s.plan.suspects = 60)],
    ['a case that does not exist', (s: any) => (s.plan.caseId = 'no-such-case')],
  ] as const) {
    const s = aState('rhostile');
    change(s);
    await writeStateFile('rhostile', s);
    const st = await mystery(['status', '--name', 'rhostile']);
    assert.equal(st.code, 6, `${what}: ${st.stderr}`);
    assert.match(st.stderr, /corrupt/, what);
    assert.doesNotMatch(st.stderr, /bug:/, what);
    assert.match(st.stderr, /mystery down --name rhostile/, `${what}: says what to do`);
    await down('rhostile');
  }
  await assertHostAsBefore(before, 'a lab started with a poisoned environment, and hostile state files');
});

test('Docker down removes only what carries the lab\'s label: not a container of a project with the same name, not a compose process of someone else\'s', { timeout: 120_000 }, async () => {
  const image = process.env.NODE_IMAGE ?? 'tcpdump-mystery/node-base:local';
  const info = await sh('docker', ['image', 'inspect', image]);
  assert.equal(info.code, 0, `the Docker tests need the local base image ${image} (bash .ci/docker-setup.sh)`);
  const before = await takeSnapshot();
  const made: string[] = [];
  // leftovers of a lab "rdk" of ours, and a stranger's container of the same Compose project name
  for (const [name, label] of [['rdk-ours', 'tcpdump-mystery.lab=rdk'], ['rdk-stranger', 'com.docker.compose.project=tcpdump-mystery-rdk']] as const) {
    const r = await sh('docker', ['create', '--name', name, '--label', label, '--network', 'none', image, 'node', '-e', '0']);
    assert.equal(r.code, 0, r.stderr);
    made.push(name);
  }
  // a process of someone else's that names the same project, as a compose run elsewhere would
  const stranger = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', 'docker-compose', '-p', 'tcpdump-mystery-rdk', 'up'], { stdio: 'ignore' });
  await new Promise((r) => stranger.once('spawn', r));
  try {
    const r = await mystery(['down', '--name', 'rdk'], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    const left = (await sh('docker', ['ps', '-a', '--format', '{{.Names}}'])).stdout.split('\n');
    assert.ok(!left.includes('rdk-ours'), 'the lab\'s own container is removed');
    assert.ok(left.includes('rdk-stranger'), 'the stranger\'s container of the same project name stays');
    assert.equal(stranger.exitCode, null, 'the stranger\'s compose process is alive');
    assert.equal(stranger.signalCode, null);
  } finally {
    stranger.kill('SIGKILL');
    for (const name of made) await sh('docker', ['rm', '-f', name]);
  }
  await assertHostAsBefore(before, 'docker down beside a stranger\'s project');
});
