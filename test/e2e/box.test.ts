/**
 * The lab in a box, on a real Docker engine: .ci/box-image.sh builds the root Dockerfile's
 * image (on a base made from this machine: no Docker Hub), one container runs it as a learner
 * would (`docker run --privileged -p ...:3000 IMAGE`), and the default case is solved inside it
 * the seed's way: tcpdump on every veth, `ip link show | grep vethX`, the iflink of each host,
 * `mystery stop`. The site is reached from the host through the published port. Then the
 * container is removed and the host must be as before: the lab lived in the container's own
 * network namespace. Never skipped in CI. Container tcpdump-mystery-box-e2e, host port 3380.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sh } from '../helpers/cli.js';
import { assertHostAsBefore, sleep } from '../helpers/robust.js';
import { takeSnapshot } from '../helpers/snapshot.js';
import { measureLatency, median, sampleLatency } from '../../src/core/latency.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const container = 'tcpdump-mystery-box-e2e';
const port = 3380;

async function requireDocker(t: TestContext): Promise<boolean> {
  const info = await sh('docker', ['info', '--format', '{{.ServerVersion}}'], 20_000).catch((e: Error) => ({ code: -1, stderr: e.message, stdout: '' }));
  if (info.code === 0) return true;
  if (process.env.CI) assert.fail(`CI must run the box test: no Docker engine answers (${info.stderr.trim()}). Run .ci/docker-setup.sh first.`);
  t.skip('no Docker engine answers; run: sudo bash .ci/docker-setup.sh');
  return false;
}

/**
 * `--privileged`, as the README says. Where the engine itself runs without every capability
 * (a container of a CI service: runc then fails with "unable to apply caps"), the same
 * without the capabilities this host lacks: every other one, no seccomp filter, /proc/sys
 * writable. Said in the test's output.
 */
async function privilegedFlags(t: TestContext, image: string): Promise<string[]> {
  const probe = await sh('docker', ['run', '--rm', '--privileged', '--entrypoint', 'true', image], 60_000);
  if (probe.code === 0) return ['--privileged'];
  assert.match(probe.stderr, /apply caps|operation not permitted/, `docker run --privileged failed: ${probe.stderr}`);
  const own = BigInt(`0x${/CapBnd:\s*([0-9a-f]+)/.exec(await sh('cat', ['/proc/self/status']).then((r) => r.stdout))![1]}`);
  // the capabilities the engine cannot grant, by number (capability.h)
  const names: Record<number, string> = { 24: 'SYS_RESOURCE', 25: 'SYS_TIME', 16: 'SYS_MODULE', 22: 'SYS_BOOT', 17: 'SYS_RAWIO' };
  const missing = Object.entries(names).filter(([bit]) => !(own & (1n << BigInt(bit)))).map(([, n]) => n);
  const flags = ['--cap-add', 'ALL', ...missing.flatMap((n) => ['--cap-drop', n]), '--security-opt', 'seccomp=unconfined', '--security-opt', 'systempaths=unconfined'];
  t.diagnostic(`this engine cannot grant ${missing.join(', ') || 'some capabilities'}: --privileged replaced by ${flags.join(' ')}`);
  return flags;
}

async function inBox(script: string, timeoutMs = 60_000): Promise<string> {
  const r = await sh('docker', ['exec', container, 'bash', '-c', script], timeoutMs);
  assert.equal(r.code, 0, `in the box: ${script}\n${r.stdout}${r.stderr}`);
  return r.stdout + r.stderr;
}

test('the lab in a box: built here, the default case solved inside it the learner\'s way, nothing left on the host', { timeout: 600_000 }, async (t) => {
  if (!(await requireDocker(t))) return;
  await sh('docker', ['rm', '-f', container]);
  const before = await takeSnapshot();
  const netnsBefore = (await sh('ip', ['netns', 'list'])).stdout;
  t.after(async () => {
    await sh('docker', ['rm', '-f', container], 60_000);
  });

  // .ci/box-image.sh: its last line names the image
  const t0 = Date.now();
  const built = await sh('bash', [join(root, '.ci', 'box-image.sh')], 540_000);
  assert.equal(built.code, 0, `.ci/box-image.sh failed:\n${built.stderr}`);
  const buildMs = Date.now() - t0;
  const last = built.stdout.trim().split('\n').pop() ?? '';
  const image = /^BOX_IMAGE=(\S+)$/.exec(last)?.[1];
  assert.ok(image, `the last line is BOX_IMAGE=<tag>: ${JSON.stringify(last)}`);
  const labels = JSON.parse((await sh('docker', ['image', 'inspect', '--format', '{{json .Config.Labels}}', image])).stdout) as Record<string, string> | null;
  assert.equal(labels?.['tcpdump-mystery.lab'], undefined, 'the image is no lab: `mystery down` on the host never takes it');

  // docker run --rm -it --privileged -p 3000:3000 IMAGE (detached here, a command instead of the shell)
  const flags = await privilegedFlags(t, image);
  const run = await sh('docker', ['run', '-d', '--name', container, ...flags, '-p', `127.0.0.1:${port}:3000`, image, 'sleep', 'infinity'], 60_000);
  assert.equal(run.code, 0, run.stderr);
  const t1 = Date.now();
  let logs = '';
  for (let i = 0; i < 120 && !/The lab is ready/.test(logs); i++) {
    await sleep(250);
    const l = await sh('docker', ['logs', container]);
    logs = l.stdout + l.stderr;
  }
  assert.match(logs, /The lab is ready/, `the box starts the default case:\n${logs}`);
  const readyMs = Date.now() - t1;
  assert.match(logs, /localhost:3000/);

  // the site, from the host, through the published port: sluggish
  let answered = false;
  for (let i = 0; i < 40 && !answered; i++) answered = (await measureLatency(port, 10_000)) !== null || (await sleep(250), false);
  assert.ok(answered, `the site answers on the host's 127.0.0.1:${port}`);
  const slow = median(await sampleLatency(port, 5, 200, 20_000));
  assert.ok(slow !== null && slow >= 1000, `median response time while the culprit runs: ${slow} ms (want >= 1000)`);

  // the lab is in the container, not on the host
  const boxNetns = (list: string): string[] => list.split('\n').filter((l) => l.startsWith('tmys-mystery-'));
  assert.deepEqual(boxNetns((await sh('ip', ['netns', 'list'])).stdout), boxNetns(netnsBefore), 'no namespace of the box on the host');

  // for interface in $(ip link show | grep veth | ...); do sudo timeout 3 tcpdump -nq -i $interface "tcp port 3000" > /dev/null; ...
  const loop = await inBox(
    `for interface in $(ip link show | grep veth | awk -F ' ' '{print $2}' | awk -F '@' '{print $1}'); do
       sudo timeout 3 tcpdump -nq -i $interface "tcp port 3000" > /dev/null
       printf "\\nthis interface is $interface\\n\\n"
     done 2>&1`,
    120_000,
  );
  const counts = new Map<string, number>();
  let captured = NaN;
  for (const line of loop.split('\n')) {
    const c = /^(\d+) packets? captured/.exec(line);
    if (c) captured = Number(c[1]);
    const i = /^this interface is (\S+)/.exec(line);
    if (i) {
      counts.set(i[1]!, captured);
      captured = NaN;
    }
  }
  assert.equal(counts.size, 6, `six veths in the box:\n${loop}`);
  const hostLinks = (await sh('ip', ['-o', 'link', 'show'])).stdout;
  for (const v of counts.keys()) assert.ok(!hostLinks.includes(` ${v}@`), `${v} is in the box, not on the host`);
  const loud = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 2).map(([v]) => v);

  // ip link show | grep vethX  ->  "N: vethX@if2: ...": the veth's ifindex in the box
  const ifindexes = await Promise.all(loud.map(async (v) => Number(/^(\d+):/.exec((await inBox(`ip link show | grep ${v}`)).trim())?.[1])));
  // the README's loop, word for word: sudo and `npx --no-install mystery` work in the box (never the registry)
  const iflinks = (await inBox('for host in $(sudo npx --no-install mystery ps -q); do echo "$host $(sudo npx --no-install mystery exec $host cat /sys/class/net/eth0/iflink)"; done'))
    .trim()
    .split('\n')
    .map((l) => l.split(' ') as [string, string]);
  const loudIds = iflinks.filter(([, n]) => ifindexes.includes(Number(n))).map(([id]) => id);
  assert.equal(loudIds.length, 2, `the two loud veths ${loud} (${ifindexes}) belong to two hosts: ${JSON.stringify(iflinks)}`);
  const ps = (await inBox('mystery ps')).split('\n').slice(1).map((l) => l.trim().split(/\s+/));
  const names = loudIds.map((id) => ps.find((row) => row[0] === id)?.[1]);
  assert.ok(names.includes('webserver'), `one loud veth is the webserver's: ${names}`);
  const suspect = names.find((n) => n !== 'webserver')!;

  // mystery stop HOST: the verdict, and the site is fast again, seen from the host
  const stop = await inBox(`mystery stop ${suspect}`);
  assert.match(stop, /CASE SOLVED/, stop);
  let fast: number | null = null;
  for (let i = 0; i < 60; i++) {
    const ms = await measureLatency(port, 5000);
    if (ms !== null && ms < 50) break;
    await sleep(250);
  }
  fast = median(await sampleLatency(port, 9, 150, 5000));
  assert.ok(fast !== null && fast <= 50, `median response time after the arrest: ${fast} ms (want <= 50)`);
  assert.match(await inBox('mystery check'), /^Solved/m);
  t.diagnostic(`box: image built in ${buildMs} ms, lab ready ${readyMs} ms after docker run, median ${Math.round(slow)} ms slow, ${Math.round(fast)} ms after mystery stop ${suspect}`);

  // the container goes, and the lab with it: the host is as before
  const rm = await sh('docker', ['rm', '-f', container], 60_000);
  assert.equal(rm.code, 0, rm.stderr);
  await assertHostAsBefore(before, 'the lab in a box, then docker rm');
});
