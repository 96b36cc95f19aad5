/**
 * The MTU black hole, without root: the draw (seeded, the MTU varies, never round), the
 * plan and the briefing never naming the MTU, the answer, and the interface MTU rendered
 * inside the router's namespace only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CaseDraw, RunView } from '../../src/cases/case.js';
import { findCase } from '../../src/cases/index.js';
import { drawMtu, icmpRule, mtuBlackhole, mtuRange } from '../../src/cases/mtu-blackhole.js';
import { hostInterfaces, hostWiring, interfaceMtus, planLab, planNetworks, resolveRoutes, resolveRuleArgs, topologyProblems } from '../../src/core/model.js';
import { seededRng } from '../../src/core/random.js';
import { viewOf } from '../helpers/view.js';
import { clientJobs } from '../../src/cases/common.js';
import { hostConfig } from '../../src/cases/case.js';

const seeds = Array.from({ length: 40 }, (_, i) => `mtu-seed-${i}`);
const draw = (seed: string, suspects = 5): CaseDraw => mtuBlackhole.draw(seededRng(seed), suspects);
const plan = (d: CaseDraw, seed = 's') =>
  planLab({ lab: 'munit', caseId: 'mtu-blackhole', seed, suspects: 5, backend: 'netns', port: 3610, subnetBase: '10.200.1', moreSubnetBases: ['10.200.2', '10.200.3'], draw: d });
/** The number as a whole word: random hex ids and veth names may hold its digits. */
const word = (n: string): RegExp => new RegExp(`(^|[^0-9A-Za-z])${n}($|[^0-9A-Za-z])`);

function view(seed: string): RunView {
  const d = draw(seed);
  return viewOf(plan(d, seed), d);
}

test('mtu-blackhole is in the catalog, on both backends, answered with a value', () => {
  const c = findCase('mtu-blackhole');
  assert.equal(c, mtuBlackhole);
  assert.deepEqual(c.backends, ['netns', 'docker']);
  assert.equal(c.solvedBy, 'answer');
});

test('mtu-blackhole: the same seed draws the same run; the MTU varies across seeds, within its range, never round', () => {
  assert.deepEqual(draw('same'), draw('same'));
  const mtus = seeds.map((s) => Number(draw(s).value));
  for (const n of mtus) {
    assert.ok(Number.isInteger(n) && n >= mtuRange.min && n <= mtuRange.max && n < 1500, `${n} in range`);
    assert.notEqual(n % 10, 0, `${n} is no round number`);
  }
  assert.ok(new Set(mtus).size >= 30, `${new Set(mtus).size} distinct MTUs over ${seeds.length} seeds`);
  // drawMtu alone, over many draws: every value is allowed, none is a multiple of 10
  const rng = seededRng('many');
  for (let i = 0; i < 2000; i++) assert.notEqual(drawMtu(rng) % 10, 0);
});

test('mtu-blackhole: three networks, two routers that are infrastructure, the MTU on r1\'s lan leg only, r2\'s rule the only one', () => {
  for (const s of seeds.slice(0, 10)) {
    for (const n of [mtuBlackhole.suspects.min, mtuBlackhole.suspects.default, mtuBlackhole.suspects.max]) {
      const d = draw(s, n);
      assert.deepEqual(topologyProblems(d), []);
      assert.deepEqual(d.networks!.map((x) => x.name), ['lan', 'transit', 'dmz']);
      assert.ok(d.networks!.every((x) => x.mtu === undefined), 'no network is narrower: the bridges stay 1500');
      const r1 = d.hosts.find((h) => h.name === 'r1')!;
      const r2 = d.hosts.find((h) => h.name === 'r2')!;
      assert.equal(r1.infrastructure, true);
      assert.equal(r2.infrastructure, true);
      assert.deepEqual(r1.interfaces, [{ network: 'transit' }, { network: 'lan', mtu: Number(d.value) }]);
      assert.deepEqual(d.hosts.filter((h) => h.interfaces?.some((i) => i.mtu)).map((h) => h.name), ['r1']);
      assert.deepEqual(d.hosts.filter((h) => h.rules?.length).map((h) => h.name), ['r2']);
      assert.deepEqual(r2.rules, [icmpRule]);
      assert.ok(icmpRule.args.includes('icmp'), 'the rule drops ICMP only: every handshake completes');
      const suspects = d.hosts.filter((h) => h.role === 'suspect');
      assert.equal(suspects.length, n);
      const shapes = new Set(suspects.map((h) => JSON.stringify({ program: h.program, kinds: clientJobs(h).map((j) => [j.kind, j.path]), interfaces: h.interfaces, routes: h.routes, sysctls: h.sysctls })));
      assert.equal(shapes.size, 1, 'every office machine alike: everyone\'s download hangs');
      const web = d.hosts.find((h) => h.name === 'webserver')!;
      assert.equal(web.sysctls?.['net.ipv4.tcp_mtu_probing'], '0', 'the webserver never probes the path by itself');
      assert.equal(web.sysctls?.['net.ipv4.ip_no_pmtu_disc'], '0', 'the webserver sends DF');
      assert.ok(Number(hostConfig(web, 'webserver')!.exportBytes) > 100_000, 'the export is far more than one segment');
      assert.ok(Number(hostConfig(web, 'webserver')!.workers) > n, 'a worker for every hung download, and the pages besides');
    }
  }
});

test('mtu-blackhole: the plan, the briefing and the early hints never name the MTU; the debrief does', () => {
  for (const s of seeds.slice(0, 10)) {
    const v = view(s);
    const n = v.draw.value!;
    const p = plan(v.draw, s);
    assert.doesNotMatch(JSON.stringify({ ...p, seed: undefined }), word(n), `${s}: the plan holds ${n}`);
    assert.ok(planNetworks(p).every((x) => x.mtu === undefined));
    assert.doesNotMatch(mtuBlackhole.briefing(v), word(n));
    const hints = mtuBlackhole.hints(v);
    assert.ok(hints.length >= 3);
    for (const h of hints) assert.doesNotMatch(h, word(n), 'no hint gives the number: the learner reads it off the wire');
    const last = hints[hints.length - 1]!;
    for (const net of v.networks!.filter((x) => x.name !== 'lan')) assert.ok(last.includes(net.bridge), `the last hint names ${net.name}'s bridge`);
    assert.match(last, /sudo timeout \d+ tcpdump -nn -v -i br-[0-9a-f]{12} icmp/);
    assert.match(last, /mystery --name munit answer/);
    const debrief = mtuBlackhole.debrief(v, { packets: new Map(), bytes: new Map(), seconds: 10, interfaces: new Map() });
    assert.match(debrief, word(n));
    assert.match(debrief, /iptables -A FORWARD -o eth1 -p icmp -j DROP/);
    assert.match(debrief, new RegExp(`need to frag \\(mtu ${n}\\)`));
    assert.doesNotMatch(debrief, /\{(ip|dev|subnet):/, 'no placeholder left');
  }
});

test('mtu-blackhole: the answer is the exact number', () => {
  for (const s of seeds.slice(0, 10)) {
    const d = draw(s);
    const n = Number(d.value);
    const ok = (v: string): boolean => mtuBlackhole.checkAnswer!(v, d);
    for (const right of [`${n}`, ` ${n} `, `mtu ${n}`, `MTU ${n}`, `mtu=${n}`, `${n} bytes`, `0${n}`]) assert.equal(ok(right), true, right);
    for (const wrong of [`${n - 1}`, `${n + 1}`, '1500', '', 'mtu', `${n}0`, `${n}.5`, `${n} 1500`, `-${n}`, `${n - 28}`]) assert.equal(ok(wrong), false, wrong);
  }
});

test('an interface MTU is rendered inside the host\'s namespace only, on ethN, never on the veth or the bridge', () => {
  const d = draw('render');
  const p = plan(d);
  const n = d.value!;
  const r1 = p.hosts.find((h) => h.name === 'r1')!;
  const spec = d.hosts.find((h) => h.name === 'r1')!;
  assert.deepEqual(interfaceMtus(spec), [{ ifname: 'eth1', mtu: Number(n) }]);
  assert.equal(hostInterfaces(p, r1)[1]!.network, 'lan', 'eth1 is r1\'s leg on lan');
  // the wiring both backends run inside r1: the MTU first, then its route; nothing else
  const wiring = hostWiring(p, r1, spec);
  const subnetOf = (net: string) => planNetworks(p).find((x) => x.name === net)!.subnet;
  assert.deepEqual(wiring, [
    { tool: 'ip', args: ['link', 'set', 'dev', 'eth1', 'mtu', n] },
    { tool: 'ip', args: ['route', 'replace', subnetOf('dmz'), 'via', hostInterfaces(p, p.hosts.find((h) => h.name === 'r2')!).find((i) => i.network === 'transit')!.ip] },
  ]);
  const named = wiring.flatMap((c) => c.args).join(' ');
  for (const nic of hostInterfaces(p, r1)) assert.ok(!named.includes(nic.veth), 'never the host-side veth');
  for (const net of planNetworks(p)) assert.ok(!named.includes(net.bridge), 'never a bridge');
  for (const h of d.hosts.filter((x) => x.name !== 'r1')) {
    const planned = p.hosts.find((x) => x.name === h.name)!;
    assert.ok(!hostWiring(p, planned, h).some((c) => c.args.includes('mtu')), `${h.name} keeps 1500`);
  }
  // r2's rule, resolved to its dmz leg, after its route
  assert.deepEqual(hostWiring(p, p.hosts.find((h) => h.name === 'r2')!, d.hosts.find((h) => h.name === 'r2')!).at(-1), { tool: 'iptables', args: ['-w', '-t', 'filter', '-A', 'FORWARD', '-o', 'eth1', '-p', 'icmp', '-j', 'DROP'] });
  // the routes and the rule resolve: r2 drops what leaves on its dmz leg, each router reaches the far network
  const r2 = p.hosts.find((h) => h.name === 'r2')!;
  assert.deepEqual(resolveRuleArgs(p, r2, icmpRule.args), ['-o', 'eth1', '-p', 'icmp', '-j', 'DROP']);
  const to = (name: string) => resolveRoutes(p, p.hosts.find((h) => h.name === name)!, d.hosts.find((h) => h.name === name)!);
  const subnet = (net: string) => planNetworks(p).find((x) => x.name === net)!.subnet;
  assert.deepEqual(to('r1').map((r) => r.to), [subnet('dmz')]);
  assert.deepEqual(to('r2').map((r) => r.to), [subnet('lan')]);
  assert.deepEqual(to('webserver').map((r) => r.to), [subnet('lan')]);
  assert.deepEqual(to('app1').map((r) => r.to), [subnet('dmz')]);
});

test('topologyProblems refuses an interface MTU that is not a whole number from 576 to 9000', () => {
  const base = draw('bad');
  for (const bad of [100, 575, 9001, 1400.5, Number.NaN]) {
    const d = structuredClone(base);
    d.hosts.find((h) => h.name === 'r1')!.interfaces![1]!.mtu = bad;
    assert.match(topologyProblems(d).join('; '), /r1's eth1 has an MTU of .*, not a whole number from 576 to 9000/, String(bad));
    assert.throws(() => plan(d), /broken topology/);
  }
  const ok = structuredClone(base);
  ok.hosts.find((h) => h.name === 'r1')!.interfaces![1]!.mtu = 576;
  assert.deepEqual(topologyProblems(ok), []);
});
