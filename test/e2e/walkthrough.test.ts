/**
 * The seed's walkthrough, played as a learner would on the namespace backend: real tcpdump
 * on every veth, the iflink mapping through `mystery exec`, `mystery stop` of the host it
 * found; then the site is fast again, `status` says solved, and `down` leaves the host as
 * it was.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mystery } from '../helpers/cli.js';
import { takeSnapshot } from '../helpers/snapshot.js';
import { assertHostAsBefore } from '../helpers/robust.js';
import { countEach, findBridge, ifindexFromIpLink, iflinks, ps, vethsOf } from '../helpers/learner.js';
import { measureLatency, median } from '../../src/core/latency.js';

const lab = 'ewalk';
const port = 3210;

test('the seed walkthrough solves the case on the namespace backend, and down leaves no trace', { timeout: 180_000 }, async (t) => {
  const before = await takeSnapshot();
  t.after(async () => {
    await mystery(['down', '--name', lab]);
  });

  const start = await mystery(['start', '-d', '--name', lab, '--port', String(port)]);
  assert.equal(start.code, 0, start.stderr);
  assert.match(start.stdout, /The lab is ready/);
  assert.match(start.stdout, /sluggish/);

  const hosts = await ps(lab);
  assert.equal(hosts.length, 6);
  assert.deepEqual(hosts.map((h) => h.name).sort(), ['http-sender1', 'http-sender2', 'http-sender3', 'http-sender4', 'http-sender5', 'webserver']);
  assert.ok(hosts.every((h) => /^[0-9a-f]{12}$/.test(h.id) && h.state === 'running'));
  // ps never shows which veth is whose
  const psText = (await mystery(['ps', '--name', lab])).stdout;
  assert.doesNotMatch(psText, /veth/);

  const slowMs = await measureLatency(port, 15_000);
  assert.ok(slowMs !== null);

  // 1. the bridge and its veths; 2. packets on each veth, 3 seconds each, as in the seed
  const bridge = await findBridge(hosts[0]!.ip);
  assert.match(bridge, /^br-[0-9a-f]{12}$/);
  const veths = await vethsOf(bridge);
  assert.equal(veths.length, 6);
  const counts = await countEach(veths.map((v) => v.name), 'tcp port 3000', 3);
  const ranked = [...counts.entries()].sort((a, b) => b[1].captured - a[1].captured);
  for (const [, c] of counts) assert.ok(Number.isFinite(c.captured), 'tcpdump printed its summary');

  // 3. the two loud veths' ifindexes, from `ip link show | grep vethX`
  const loud = await Promise.all(ranked.slice(0, 2).map(([v]) => ifindexFromIpLink(v)));
  // 4. which hosts have those ifindexes as their eth0's iflink
  const links = await iflinks(lab);
  const byId = new Map(hosts.map((h) => [h.id, h.name]));
  const loudHosts = [...links.entries()].filter(([, ifl]) => loud.includes(ifl)).map(([id]) => byId.get(id)!);
  assert.equal(loudHosts.length, 2, `the two loud veths belong to two hosts: ${JSON.stringify([...links])} vs ${loud}`);
  assert.ok(loudHosts.includes('webserver'), `one loud veth is the webserver's: ${loudHosts}`);
  const suspect = loudHosts.find((h) => h !== 'webserver')!;

  // the culprit's veth carries far more than any innocent's, and tcpdump drops nothing much
  const suspectIfindex = links.get(hosts.find((h) => h.name === suspect)!.id)!;
  const suspectCount = counts.get(veths.find((v) => v.ifindex === suspectIfindex)!.name)!.captured;
  const innocentMax = Math.max(
    ...hosts
      .filter((h) => h.name !== suspect && h.name !== 'webserver')
      .map((h) => counts.get(veths.find((v) => v.ifindex === links.get(h.id))!.name)!.captured),
  );
  assert.ok(suspectCount >= 3 * innocentMax, `culprit ${suspectCount} packets vs busiest innocent ${innocentMax}`);

  // 5. the arrest, and a verdict
  const stop = await mystery(['stop', '--name', lab, suspect]);
  assert.equal(stop.code, 0, stop.stdout + stop.stderr);
  assert.match(stop.stdout, new RegExp(`CASE SOLVED: ${suspect} was the culprit`));

  // the site is fast again, compared with before (the absolute figures are the benchmark's)
  const after: number[] = [];
  for (let i = 0; i < 5; i++) after.push((await measureLatency(port, 15_000)) ?? Infinity);
  assert.ok(median(after)! * 5 < slowMs!, `after ${median(after)} ms vs before ${slowMs} ms`);

  const status = await mystery(['status', '--json', '--name', lab]);
  assert.equal(status.code, 0, status.stderr);
  const s = JSON.parse(status.stdout);
  assert.equal(s.solved, true);
  assert.equal(s.case, 'noisy-neighbour');
  assert.equal(s.backend, 'netns');
  assert.deepEqual(s.arrests, [{ host: suspect, correct: true }]);
  assert.equal(s.hosts.find((h: { name: string }) => h.name === suspect).state, 'stopped');
  assert.equal(typeof s.latencyMs, 'number');

  // exec passes the exit code through
  const ex = await mystery(['exec', '--name', lab, 'webserver', 'sh', '-c', 'exit 7']);
  assert.equal(ex.code, 7);

  const down = await mystery(['down', '--name', lab]);
  assert.equal(down.code, 0, down.stderr);
  const again = await mystery(['down', '--name', lab]);
  assert.equal(again.code, 0);
  assert.match(again.stdout, /Nothing to remove/);
  await assertHostAsBefore(before, 'after the walkthrough');
});
