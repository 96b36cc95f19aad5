/**
 * The routing loop without root: its draw (seeded, spread over machines and routers, the
 * fault in r2's routes only), its plan (the same whatever the fault, no route in it), its
 * answers, hints and debrief; and host routes in the model (`{ip:HOST}` as a route's `to`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CaseDraw, RunView } from '../../src/cases/case.js';
import { findCase } from '../../src/cases/index.js';
import { otherRouters, routerSysctls, routingLoop } from '../../src/cases/routing-loop.js';
import { vanishingPacket } from '../../src/cases/vanishing-packet.js';
import { addressOf, hostInterfaces, hostRouteTarget, networkOrder, planLab, planNetworks, resolveRoutes, topologyProblems, type LabPlan } from '../../src/core/model.js';
import { seededRng } from '../../src/core/random.js';
import { stateProblem, type LabState } from '../../src/core/state.js';
import { viewOf } from '../helpers/view.js';
import { clientJobs } from '../../src/cases/common.js';

const seeds = Array.from({ length: 40 }, (_, i) => `loop-seed-${i}`);
const draw = (seed: string, suspects = 5): CaseDraw => routingLoop.draw(seededRng(seed), suspects);
const plan = (d: CaseDraw, seed = 's', rng = seededRng(`plan-${seed}`)): LabPlan =>
  planLab({ lab: 'loop', caseId: 'routing-loop', seed, suspects: 5, backend: 'netns', port: 3620, subnetBase: '10.200.1', moreSubnetBases: ['10.200.2', '10.200.3'], draw: d, rng });

const view = (d: CaseDraw, p: LabPlan): RunView => viewOf(p, d);

const word = (w: string): RegExp => new RegExp(`(^|[^0-9A-Za-z-])${w.replace(/\./g, '\\.')}($|[^0-9A-Za-z-])`);

test('routing-loop: in the catalog, on both backends, answered with a value', () => {
  assert.equal(findCase('routing-loop'), routingLoop);
  assert.deepEqual(routingLoop.backends, ['netns', 'docker']);
  assert.equal(routingLoop.solvedBy, 'answer');
});

test('routing-loop: the same seed draws the same run; the victim and the router vary across seeds', () => {
  assert.deepEqual(draw('same'), draw('same'));
  const victims = new Map<string, number>();
  const routers = new Map<string, number>();
  for (const s of seeds) {
    const d = draw(s);
    victims.set(d.culprit, (victims.get(d.culprit) ?? 0) + 1);
    routers.set(d.value!, (routers.get(d.value!) ?? 0) + 1);
    assert.equal(d.hosts.find((h) => h.name === d.culprit)?.role, 'suspect');
    assert.ok((otherRouters as readonly string[]).includes(d.value!), `${s}: the loop goes through one of ${otherRouters.join(', ')}`);
  }
  assert.equal(victims.size, 5, `every machine is the victim in some run: ${JSON.stringify([...victims])}`);
  assert.equal(routers.size, 3, `every other router is in the loop in some run: ${JSON.stringify([...routers])}`);
  for (const n of [...victims.values(), ...routers.values()]) assert.ok(n < seeds.length / 2, 'nothing is drawn in half the runs');
  for (const n of [3, 8]) assert.equal(draw('size', n).hosts.filter((h) => h.role === 'suspect').length, n);
});

test('routing-loop: three networks, five routers, all infrastructure; the fault is one host route of r2, everything else the same on every run', () => {
  for (const s of seeds.slice(0, 10)) {
    const d = draw(s);
    assert.deepEqual(topologyProblems(d), []);
    assert.deepEqual(networkOrder(d).map((n) => n.name), ['dmz', 'lan', 'core']);
    const routers = d.hosts.filter((h) => h.role === 'router');
    assert.deepEqual(routers.map((h) => h.name), ['r1', 'r2', ...otherRouters]);
    assert.ok(routers.every((h) => h.infrastructure && h.program === 'idle'));
    // every router the same sysctls for its number of legs; every key a per-namespace one
    for (const r of routers) {
      assert.deepEqual(r.sysctls, routerSysctls(r.interfaces!.length));
      for (const k of Object.keys(r.sysctls!)) assert.match(k, /^net(\.[a-z0-9_]+)+$/);
    }
    // the other sites' routers: one leg on core, default via r2, all alike
    const others = routers.filter((h) => (otherRouters as readonly string[]).includes(h.name));
    assert.equal(new Set(others.map((h) => JSON.stringify({ ...h, name: '' }))).size, 1, 'r3 .. r5 are alike');
    assert.deepEqual(others[0]!.routes, [{ to: 'default', via: 'r2' }]);
    const r2 = routers.find((h) => h.name === 'r2')!;
    assert.deepEqual(r2.routes, [{ to: 'lan', via: 'r1' }, { to: `{ip:${d.culprit}}`, via: d.value }]);
    // the machines: the same program and the same kind of job, default via r1
    const apps = d.hosts.filter((h) => h.role === 'suspect');
    const shapes = new Set(apps.map((h) => JSON.stringify({ program: h.program, kinds: clientJobs(h).map((j) => [j.kind, j.timeoutMs]), interfaces: h.interfaces, routes: h.routes })));
    assert.equal(shapes.size, 1, 'no machine differs but by its pace');
    // only r2's routes name a host
    assert.deepEqual(d.hosts.filter((h) => (h.routes ?? []).some((r) => hostRouteTarget(r.to))).map((h) => h.name), ['r2']);
  }
});

test('routing-loop: the routes resolve to the loop: the victim /32 via the drawn router, its way back via r2', () => {
  const d = draw('loop-seed-3');
  const p = plan(d);
  const routes = (name: string) => resolveRoutes(p, p.hosts.find((h) => h.name === name)!, d.hosts.find((h) => h.name === name)!);
  const core = (name: string) => addressOf(p, name, 'core');
  assert.deepEqual(routes('r2'), [
    { to: planNetworks(p).find((n) => n.name === 'lan')!.subnet, via: core('r1') },
    { to: `${addressOf(p, d.culprit)}/32`, via: core(d.value!) },
  ]);
  assert.deepEqual(routes(d.value!), [{ to: 'default', via: core('r2') }]);
  assert.deepEqual(routes('webserver'), [{ to: 'default', via: addressOf(p, 'r2', 'dmz') }]);
  assert.deepEqual(routes('r1'), [{ to: planNetworks(p).find((n) => n.name === 'dmz')!.subnet, via: core('r2') }]);
  assert.deepEqual(routes(d.culprit), [{ to: 'default', via: addressOf(p, 'r1', 'lan') }]);
});

test('routing-loop: the plan is the same whatever the fault, and never names the answer', () => {
  const a = draw('loop-seed-0');
  const b = seeds.map((s) => draw(s)).find((x) => x.culprit !== a.culprit && x.value !== a.value)!;
  assert.ok(b, 'two seeds with another victim and another router');
  // the same planning randomness: the plans of two faults are equal, for the plan holds no route
  const pa = plan(a, 'x', seededRng('same'));
  const pb = plan(b, 'x', seededRng('same'));
  const shape = (p: LabPlan) => JSON.stringify(p.hosts.map((h) => ({ name: h.name, role: h.role, program: h.program, interfaces: hostInterfaces(p, h).map((i) => [i.ifname, i.network, i.ip]), infrastructure: h.infrastructure })));
  assert.equal(shape(pa), shape(pb));
  for (const [d, p] of [[a, pa], [b, pb]] as const) {
    const text = JSON.stringify({ ...p, seed: undefined });
    assert.doesNotMatch(text, /\/32|culprit|victim|"routes"|"value"/);
    const v = view(d, p);
    const briefing = routingLoop.briefing(v);
    assert.doesNotMatch(briefing, word(d.culprit));
    assert.ok(!briefing.includes(addressOf(p, d.culprit)!) && !briefing.includes(addressOf(p, d.value!, 'core')!));
    assert.equal(briefing, routingLoop.briefing({ ...v, draw: d === a ? b : a }), 'the briefing says nothing of the fault');
    assert.ok(!routingLoop.summary.includes(d.culprit) && !routingLoop.title.includes(d.value!));
  }
});

test('routing-loop: its state file of three networks and five routers passes the schema; it holds no route to check', () => {
  const p = plan(draw('s'));
  const s: LabState = { version: 1, plan: p, created: { netns: [], veths: [], rules: [], bridges: p.networks!.slice(1).map((n) => n.bridge) }, startedAt: new Date().toISOString(), arrests: [], hintsUsed: 0 };
  assert.equal(stateProblem(s, 'loop'), undefined);
  assert.doesNotMatch(JSON.stringify(s), /routes|\/32/, 'routes are drawn again from the seed, never written');
  const bad = structuredClone(s);
  bad.plan.hosts.find((h) => h.name === 'r2')!.interfaces![0]!.ip = '10.200.3.999';
  assert.match(stateProblem(bad, 'loop') ?? '', /interface 0 of r2 is not valid/, 'the addresses routes resolve to are checked');
});

test('routing-loop: the answer is the machine and the router, in any order and words; nothing else', () => {
  for (const s of seeds.slice(0, 10)) {
    const d = draw(s);
    const ok = (v: string) => routingLoop.checkAnswer!(v, d);
    const [m, r] = [d.culprit, d.value!];
    const otherMachine = d.culprit === 'app1' ? 'app2' : 'app1';
    const otherRouter = otherRouters.find((x) => x !== r)!;
    assert.equal(ok(`${m} ${r}`), true);
    assert.equal(ok(`${r.toUpperCase()}, ${m.toUpperCase()}`), true, 'order and case are free');
    assert.equal(ok(`${m}->${r}`), true);
    assert.equal(ok(`the webserver's answers to ${m} go round via ${r}`), true, 'the webserver named along is fine');
    assert.equal(ok(`${m} ${r} ${m}`), true, 'a name twice is one name');
    assert.equal(ok(`${m} r2`), false, 'r2 is the router with the stale route, not the one the answers go to');
    assert.equal(ok(`${m} ${otherRouter}`), false, 'another router');
    assert.equal(ok(`${otherMachine} ${r}`), false, 'another machine');
    assert.equal(ok(`${m} r2 ${r}`), false, 'both routers of the loop is no answer');
    assert.equal(ok(`${m} ${r} ${otherRouter}`), false, 'two candidates');
    assert.equal(ok(`${m} ${otherMachine} ${r}`), false, 'two machines');
    assert.equal(ok(m), false, 'the machine alone');
    assert.equal(ok(r), false, 'the router alone');
    assert.equal(ok(`${m}${r}`), false, 'no separator: no name');
    assert.equal(ok(''), false);
  }
});

test('routing-loop: hints build up, only the last names the machine and the router, with this run\'s commands; the debrief gives the loop', () => {
  for (const s of seeds.slice(0, 10)) {
    const d = draw(s);
    const p = plan(d, s);
    const v = view(d, p);
    const hints = routingLoop.hints(v);
    assert.ok(hints.length >= 3);
    const victimIp = addressOf(p, d.culprit)!;
    const routerIp = addressOf(p, d.value!, 'core')!;
    for (const h of hints.slice(0, -1)) {
      assert.doesNotMatch(h, word(d.culprit), 'an early hint names the machine');
      assert.ok(!h.includes(victimIp) && !h.includes(routerIp), 'an early hint gives an address of the answer');
      assert.doesNotMatch(h, word(d.value!), 'an early hint names the router');
    }
    assert.match(hints.join('\n'), /-v/);
    assert.match(hints.join('\n'), /icmp\[icmptype\] = icmp-timxceed/);
    assert.match(hints.join('\n'), / -e /);
    const last = hints[hints.length - 1]!;
    assert.match(last, word(d.culprit));
    assert.match(last, word(d.value!));
    assert.ok(last.includes(victimIp) && last.includes(routerIp) && /sudo/.test(last));
    for (const n of planNetworks(p)) assert.ok(last.includes(n.bridge), `the last hint names ${n.name}'s bridge`);
    assert.ok(last.includes(`answer '${d.culprit} ${d.value}'`));
    const debrief = routingLoop.debrief(v, { packets: new Map([[d.value!, 6300]]), bytes: new Map(), seconds: 100, interfaces: new Map() });
    assert.match(debrief, word(d.culprit));
    assert.ok(debrief.includes(`${victimIp}/32 via ${routerIp} (${d.value})`));
    assert.match(debrief, /ttl 64/);
    assert.match(debrief, new RegExp(`${d.value} about 63 packets a second`));
    assert.match(debrief, /ICMP time exceeded in-transit/);
  }
});

test('routing-loop: what the learner is doing: no capture yet, or not on core', () => {
  const d = draw('s');
  const p = plan(d);
  const v = view(d, p);
  const br = (n: string) => planNetworks(p).find((x) => x.name === n)!.bridge;
  assert.match(routingLoop.situationalHint!(v, { tcpdumpOn: [], wrongArrests: [] })!, /No tcpdump/);
  assert.match(routingLoop.situationalHint!(v, { tcpdumpOn: [br('lan')], wrongArrests: [] })!, new RegExp(`core \\(${br('core')}\\)`));
  assert.equal(routingLoop.situationalHint!(v, { tcpdumpOn: [br('core')], wrongArrests: [] }), undefined);
  assert.equal(routingLoop.situationalHint!(v, { tcpdumpOn: ['any'], wrongArrests: [] }), undefined);
});

test('host routes in the model: {ip:HOST} and {ip:HOST@NET} resolve to the host\'s /32 on that network', () => {
  assert.deepEqual(hostRouteTarget('{ip:app3}'), { host: 'app3' });
  assert.deepEqual(hostRouteTarget('{ip:r1@core}'), { host: 'r1', network: 'core' });
  for (const not of ['lan', 'default', '{ip:}', '{ip:app3', 'x{ip:app3}', '{subnet:lan}', '10.0.0.1/32']) assert.equal(hostRouteTarget(not), undefined, not);
  const d = structuredClone(draw('s'));
  const web = d.hosts.find((h) => h.name === 'webserver')!;
  web.routes = [{ to: '{ip:r1@lan}', via: 'r2' }, { to: '{ip:r1}', via: 'r2' }, { to: '{ip:r2@core}', via: 'r2' }, { to: 'default', via: 'r2' }];
  assert.deepEqual(topologyProblems(d), []);
  const p = plan(d);
  const routes = resolveRoutes(p, p.hosts.find((h) => h.name === 'webserver')!, web);
  assert.deepEqual(routes.map((r) => r.to), [`${addressOf(p, 'r1', 'lan')}/32`, `${addressOf(p, 'r1')}/32`, `${addressOf(p, 'r2', 'core')}/32`, 'default']);
  assert.equal(addressOf(p, 'r1'), addressOf(p, 'r1', 'lan'), "{ip:HOST} is its first network's address");
  assert.ok(routes.every((r) => r.via === addressOf(p, 'r2', 'dmz')));
  // a plan that lacks the host (another version's state) is refused with the route named
  const lacking: LabPlan = { ...p, hosts: p.hosts.filter((h) => h.name !== 'r1') };
  assert.throws(() => resolveRoutes(lacking, lacking.hosts.find((h) => h.name === 'webserver')!, web), /route of webserver to \{ip:r1@lan\} via r2 does not resolve/);
});

test('host routes in the model: a route to a stranger, to a network the host is not on, to oneself or to a bare address is refused', () => {
  const base = vanishingPacket.draw(seededRng('v1'), 3);
  const broken = (to: string, who = 'webserver'): CaseDraw => {
    const d = structuredClone(base);
    d.hosts.find((h) => h.name === who)!.routes = [{ to, via: 'gw' }];
    return d;
  };
  const cases: Array<[string, CaseDraw, RegExp]> = [
    ['a host that does not exist', broken('{ip:app99}'), /routes to the address of "app99", which is not a host/],
    ['a network the host is not on', broken('{ip:app1@dmz}'), /routes to app1 on dmz, where it has no interface/],
    ['its own address', broken('{ip:webserver}'), /webserver routes to its own address/],
    ['a bare address', broken('10.200.1.7/32'), /routes to "10\.200\.1\.7\/32", which is not a network, default or a host's \{ip:HOST\}/],
    ['a placeholder of another kind', broken('{subnet:lan}'), /which is not a network, default or a host's/],
  ];
  for (const [what, d, re] of cases) {
    assert.match(topologyProblems(d).join('; '), re, what);
    assert.throws(() => planLab({ lab: 'bad', caseId: 'vanishing-packet', seed: 'v1', suspects: 3, backend: 'netns', port: 3000, subnetBase: '10.200.1', moreSubnetBases: ['10.200.2'], draw: d }), /broken topology/, what);
  }
  assert.deepEqual(topologyProblems(broken('{ip:app1}')), [], 'a host route to a host of the lab');
  assert.deepEqual(topologyProblems(broken('{ip:gw@dmz}')), []);
});
