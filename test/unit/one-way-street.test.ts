/**
 * The one-way street without root: its draw (seeded, spread over machines and firewalls, the
 * fault in the webserver's routes only, the firewalls all alike), its plan (the same whatever
 * the fault, no route in it), its answers, hints and debrief.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CaseDraw, RunView } from '../../src/cases/case.js';
import { findCase } from '../../src/cases/index.js';
import { fault, firewallRules, firewalls, oneWayStreet } from '../../src/cases/one-way-street.js';
import { addressOf, hostInterfaces, planLab, planNetworks, resolveRoutes, topologyProblems, type LabPlan } from '../../src/core/model.js';
import { seededRng } from '../../src/core/random.js';
import { stateProblem, type LabState } from '../../src/core/state.js';
import { viewOf } from '../helpers/view.js';
import { clientJobs } from '../../src/cases/common.js';

const seeds = Array.from({ length: 40 }, (_, i) => `oneway-seed-${i}`);
const draw = (seed: string, suspects = 5): CaseDraw => oneWayStreet.draw(seededRng(seed), suspects);
const plan = (d: CaseDraw, seed = 's', rng = seededRng(`plan-${seed}`)): LabPlan =>
  planLab({ lab: 'oneway', caseId: 'one-way-street', seed, suspects: 5, backend: 'netns', port: 3640, subnetBase: '10.200.1', moreSubnetBases: ['10.200.2'], draw: d, rng });

const view = (d: CaseDraw, p: LabPlan): RunView => viewOf(p, d);

const word = (w: string): RegExp => new RegExp(`(^|[^0-9A-Za-z-])${w.replace(/\./g, '\\.')}($|[^0-9A-Za-z-])`);
const routeVia = (d: CaseDraw, name: string) => d.hosts.find((h) => h.name === name)!.routes!;

test('one-way-street: in the catalog, on both backends, answered with a value', () => {
  assert.equal(findCase('one-way-street'), oneWayStreet);
  assert.deepEqual(oneWayStreet.backends, ['netns', 'docker']);
  assert.equal(oneWayStreet.solvedBy, 'answer');
});

test('one-way-street: the same seed draws the same run; the machine, its gateway and the firewall vary across seeds', () => {
  assert.deepEqual(draw('same'), draw('same'));
  const victims = new Map<string, number>();
  const routers = new Map<string, number>();
  const gateways = new Set<string>();
  for (const s of seeds) {
    const d = draw(s);
    const f = fault(d);
    victims.set(d.culprit, (victims.get(d.culprit) ?? 0) + 1);
    routers.set(d.value!, (routers.get(d.value!) ?? 0) + 1);
    gateways.add(f.gateway);
    assert.equal(d.hosts.find((h) => h.name === d.culprit)?.role, 'suspect');
    assert.ok((firewalls as readonly string[]).includes(d.value!));
    assert.notEqual(f.via, f.gateway, `${s}: the answers go back through another firewall than the machine's gateway`);
  }
  assert.equal(victims.size, 5, `every machine is the victim in some run: ${JSON.stringify([...victims])}`);
  assert.equal(routers.size, 3, `every firewall drops the answers in some run: ${JSON.stringify([...routers])}`);
  assert.equal(gateways.size, 3);
  for (const n of [...victims.values(), ...routers.values()]) assert.ok(n < seeds.length / 2, 'nothing is drawn in half the runs');
  for (const n of [3, 8]) assert.equal(draw('size', n).hosts.filter((h) => h.role === 'suspect').length, n);
});

test('one-way-street: three firewalls alike, all infrastructure, the webserver too; every firewall is some machine\'s gateway; the fault is one route of the webserver', () => {
  for (const s of seeds.slice(0, 10)) {
    for (const n of [3, 5, 8]) {
      const d = draw(s, n);
      const { victim, gateway, via } = fault(d);
      assert.deepEqual(topologyProblems(d), []);
      const routers = d.hosts.filter((h) => h.role === 'router');
      assert.deepEqual(routers.map((h) => h.name), [...firewalls]);
      for (const r of routers) {
        assert.equal(r.infrastructure, true);
        assert.deepEqual(r.rules, firewallRules, 'the same rules on every firewall');
        assert.deepEqual(r.interfaces, [{ network: 'lan' }, { network: 'dmz' }]);
        assert.equal(r.routes, undefined);
        assert.equal(r.program, 'idle');
      }
      assert.ok(firewallRules.some((r) => r.args.join(' ') === '-m conntrack --ctstate INVALID -j DROP'));
      const web = d.hosts.find((h) => h.name === 'webserver')!;
      assert.equal(web.infrastructure, true, 'nobody reads the webserver\'s routes');
      const machines = d.hosts.filter((h) => h.role === 'suspect');
      const gws = machines.map((h) => routeVia(d, h.name).find((r) => r.to === 'dmz')!.via);
      assert.equal(new Set(gws).size, 3, 'every firewall carries some machine');
      // the same program and job for every machine
      assert.equal(new Set(machines.map((h) => JSON.stringify({ p: h.program, k: clientJobs(h).map((j) => [j.kind, j.loops, j.timeoutMs]) }))).size, 1);
      // the webserver's way back: each machine through its gateway, but the victim through another firewall
      for (const [i, h] of machines.entries()) {
        const host = web.routes!.find((r) => r.to === `{ip:${h.name}}`)?.via ?? web.routes!.find((r) => r.to === 'lan')!.via;
        if (h.name === victim) assert.equal(host, via);
        else assert.equal(host, gws[i], `${h.name}'s answers go back through its gateway`);
      }
      assert.notEqual(via, gateway);
    }
  }
});

test('one-way-street: the routes resolve: the victim /32 via the drawn firewall\'s dmz address, its own gateway on lan', () => {
  const d = draw('oneway-seed-3');
  const p = plan(d);
  const { victim, gateway, via } = fault(d);
  const web = p.hosts.find((h) => h.name === 'webserver')!;
  const routes = resolveRoutes(p, web, d.hosts.find((h) => h.name === 'webserver')!);
  assert.ok(routes.some((r) => r.to === `${addressOf(p, victim)}/32` && r.via === addressOf(p, via, 'dmz')), JSON.stringify(routes));
  const mine = resolveRoutes(p, p.hosts.find((h) => h.name === victim)!, d.hosts.find((h) => h.name === victim)!);
  assert.deepEqual(mine.map((r) => r.via), [addressOf(p, gateway, 'lan')]);
});

test('one-way-street: the plan is the same whatever the fault, and never names the answer; the briefing neither', () => {
  const a = draw('oneway-seed-0');
  const b = seeds.map((s) => draw(s)).find((x) => x.culprit !== a.culprit && x.value !== a.value)!;
  assert.ok(b, 'two seeds with another victim and another firewall');
  const pa = plan(a, 'x', seededRng('same'));
  const pb = plan(b, 'x', seededRng('same'));
  const shape = (p: LabPlan) => JSON.stringify(p.hosts.map((h) => ({ name: h.name, role: h.role, program: h.program, interfaces: hostInterfaces(p, h).map((i) => [i.ifname, i.network, i.ip]), infrastructure: h.infrastructure })));
  assert.equal(shape(pa), shape(pb));
  for (const [d, p] of [[a, pa], [b, pb]] as const) {
    const text = JSON.stringify({ ...p, seed: undefined });
    assert.doesNotMatch(text, /\/32|culprit|victim|"routes"|"rules"|"value"|conntrack/);
    const v = view(d, p);
    const briefing = oneWayStreet.briefing(v);
    assert.ok(!briefing.includes(addressOf(p, d.culprit)!) && !briefing.includes(addressOf(p, d.value!, 'dmz')!));
    assert.equal(briefing, oneWayStreet.briefing({ ...v, draw: d === a ? b : a }), 'the briefing says nothing of the fault');
    for (const t of [oneWayStreet.summary, oneWayStreet.symptom!, oneWayStreet.title]) assert.ok(!word(d.culprit).test(t) && !word(d.value!).test(t));
  }
});

test('one-way-street: its state file passes the schema and holds no route nor rule', () => {
  const p = plan(draw('s'));
  const s: LabState = { version: 1, plan: p, created: { netns: [], veths: [], rules: [], bridges: p.networks!.slice(1).map((n) => n.bridge) }, startedAt: new Date().toISOString(), arrests: [], hintsUsed: 0 };
  assert.equal(stateProblem(s, 'oneway'), undefined);
  assert.doesNotMatch(JSON.stringify(s), /routes|\/32|INVALID/);
});

test('one-way-street: the answer is the machine and the firewall, in any order and words; nothing else', () => {
  for (const s of seeds.slice(0, 10)) {
    const d = draw(s);
    const ok = (v: string) => oneWayStreet.checkAnswer!(v, d);
    const { victim: m, gateway: g, via: r } = fault(d);
    const otherMachine = m === 'app1' ? 'app2' : 'app1';
    const third = firewalls.find((x) => x !== r && x !== g)!;
    assert.equal(ok(`${m} ${r}`), true);
    assert.equal(ok(`${r.toUpperCase()}, ${m.toUpperCase()}`), true, 'order and case are free');
    assert.equal(ok(`${m}->${r}`), true);
    assert.equal(ok(`the webserver's answers to ${m} die in ${r}`), true, 'the webserver named along is fine');
    assert.equal(ok(`${m} ${r} ${m}`), true, 'a name twice is one name');
    assert.equal(ok(`${m} ${g}`), false, 'the machine\'s own gateway saw the SYN and lets the answers through');
    assert.equal(ok(`${m} ${third}`), false, 'the third firewall');
    assert.equal(ok(`${m} answers`), false, 'the direction alone (the vanishing packet\'s answer) names no firewall');
    assert.equal(ok(`${otherMachine} ${r}`), false, 'another machine');
    assert.equal(ok(`${m} ${g} ${r}`), false, 'both firewalls of the two paths is no answer');
    assert.equal(ok(`${m} ${otherMachine} ${r}`), false, 'two machines');
    assert.equal(ok(m), false, 'the machine alone');
    assert.equal(ok(r), false, 'the firewall alone');
    assert.equal(ok(`${m}${r}`), false, 'no separator: no name');
    assert.equal(ok(''), false);
  }
});

test('one-way-street: hints build up from the idea to this run\'s commands, only the last names the machine and the firewall; the debrief gives the run', () => {
  for (const s of seeds.slice(0, 10)) {
    const d = draw(s);
    const p = plan(d, s);
    const v = view(d, p);
    const { victim, gateway, via } = fault(d);
    const hints = oneWayStreet.hints(v);
    assert.ok(hints.length >= 3);
    const victimIp = addressOf(p, victim)!;
    const viaIps = [addressOf(p, via, 'dmz')!, addressOf(p, via, 'lan')!];
    for (const h of hints.slice(0, -1)) {
      assert.doesNotMatch(h, word(victim), 'an early hint names the machine');
      assert.ok(!h.includes(victimIp) && !viaIps.some((ip) => h.includes(ip)), 'an early hint gives an address of the answer');
      for (const r of firewalls) assert.doesNotMatch(h, word(r), 'an early hint names a firewall');
    }
    const all = hints.join('\n');
    for (const skill of [/ -e /, /-Q out/, /-Q in/, /bridge fdb show/, /INVALID/]) assert.match(all, skill);
    const last = hints[hints.length - 1]!;
    assert.match(last, word(victim));
    assert.match(last, word(via));
    assert.ok(last.includes(victimIp) && /sudo/.test(last));
    for (const n of planNetworks(p)) assert.ok(last.includes(n.bridge), `the last hint names ${n.name}'s bridge`);
    const veths = hostInterfaces(p, p.hosts.find((h) => h.name === via)!).map((i) => i.veth);
    for (const veth of veths) assert.ok(last.includes(veth), `the last hint names ${via}'s veth ${veth}`);
    assert.ok(last.includes(`answer '${victim} ${via}'`));
    // the repair, in the machine's own namespace: dmz through the firewall its answers come back through
    const dmz = planNetworks(p).find((n) => n.name === 'dmz')!;
    const repair = `exec ${victim} ip route replace ${dmz.subnet} via ${addressOf(p, via, 'lan')}`;
    assert.ok(last.includes(repair), `the last hint gives the repair: ${repair}`);
    const debrief = oneWayStreet.debrief(v, { packets: new Map([[via, 1200]]), bytes: new Map(), seconds: 100, interfaces: new Map() });
    assert.match(debrief, word(victim));
    assert.ok(debrief.includes(`${victimIp}/32 via ${addressOf(p, via, 'dmz')} (${via})`));
    assert.ok(debrief.includes(`its gateway is ${gateway} (${addressOf(p, gateway, 'lan')})`));
    assert.match(debrief, new RegExp(`${via} about 12 packets a second`));
    assert.match(debrief, /INVALID/);
    assert.match(debrief, /nf_conntrack_tcp_loose/);
    assert.ok(debrief.includes(repair), 'the debrief gives the repair');
  }
});

test('one-way-street: a repair is judged by a page load from every office machine, to the webserver on dmz; the briefing says it may be repaired', () => {
  const d = draw('repair');
  const p = plan(d, 'repair');
  const v = view(d, p);
  const probes = oneWayStreet.endToEnd!.probes(v);
  const machines = d.hosts.filter((h) => h.role === 'suspect').map((h) => h.name);
  assert.deepEqual(probes.map((x) => x.from), machines);
  assert.ok(probes.every((x) => x.url === `http://${addressOf(p, 'webserver', 'dmz')}:3000/` && x.timeoutMs === 4000), JSON.stringify(probes));
  assert.match(oneWayStreet.endToEnd!.goal, /every office machine/);
  assert.equal(oneWayStreet.endToEnd!.repairable, true);
  assert.match(oneWayStreet.briefing(v), /Or repair it from the office side/);
  // on Docker the images have no iproute2: the repair runs in the container's namespace
  const dv = { ...v, backend: 'docker' as const };
  assert.match(oneWayStreet.hints(dv).at(-1)!, /sudo nsenter -n -t \$\(sudo docker inspect -f '\{\{\.State\.Pid\}\}' [0-9a-f]{12}\) ip route replace /);
});

test('one-way-street: what the learner is doing: no capture yet, lan only, dmz only', () => {
  const d = draw('s');
  const p = plan(d);
  const v = view(d, p);
  const br = (n: string) => planNetworks(p).find((x) => x.name === n)!.bridge;
  assert.match(oneWayStreet.situationalHint!(v, { tcpdumpOn: [], wrongArrests: [] })!, /No tcpdump/);
  assert.match(oneWayStreet.situationalHint!(v, { tcpdumpOn: [br('lan')], wrongArrests: [] })!, new RegExp(`dmz \\(${br('dmz')}\\)`));
  assert.match(oneWayStreet.situationalHint!(v, { tcpdumpOn: [br('dmz')], wrongArrests: [] })!, /-e/);
  assert.equal(oneWayStreet.situationalHint!(v, { tcpdumpOn: [br('lan'), br('dmz')], wrongArrests: [] }), undefined);
  assert.equal(oneWayStreet.situationalHint!(v, { tcpdumpOn: ['any'], wrongArrests: [] }), undefined);
});
