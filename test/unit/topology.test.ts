/** The lab model's topologies, without root: plans, checks, rules, routes, the map, the vanishing packet's draw. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CaseDraw, HostSpec } from '../../src/cases/case.js';
import { addressOf, hostInterfaces, networkOrder, planLab, planNetworks, resolveRoutes, resolveRuleArgs, topologyProblems } from '../../src/core/model.js';
import { seededRng } from '../../src/core/random.js';
import { drawMap } from '../../src/core/map.js';
import { stateProblem, type LabState } from '../../src/core/state.js';
import { requireHost } from '../../src/core/lab.js';
import { UserError } from '../../src/core/errors.js';
import { vanishingPacket } from '../../src/cases/vanishing-packet.js';
import { noisyNeighbour } from '../../src/cases/noisy-neighbour.js';
import { clientJobs } from '../../src/cases/common.js';

const plan = (draw: CaseDraw, bases = ['10.200.1', '10.200.2', '10.200.3']) =>
  planLab({ lab: 'topo', caseId: 'vanishing-packet', seed: 's', suspects: 5, backend: 'netns', port: 3000, subnetBase: bases[0]!, moreSubnetBases: bases.slice(1), draw });

test('a one-network case plans as before: one network, lan, every host on eth0, addresses .2 .. in ps order', () => {
  const draw = noisyNeighbour.draw(seededRng('a'), 5);
  const p = planLab({ lab: 'one', caseId: 'noisy-neighbour', seed: 'a', suspects: 5, backend: 'netns', port: 3000, subnetBase: '10.200.9', draw });
  assert.deepEqual(planNetworks(p).map((n) => [n.name, n.subnet, n.gateway]), [['lan', '10.200.9.0/24', '10.200.9.1']]);
  assert.equal(p.bridge, p.networks![0]!.bridge);
  p.hosts.forEach((h, i) => {
    assert.equal(h.ip, `10.200.9.${i + 2}`);
    assert.deepEqual(hostInterfaces(p, h), [{ ifname: 'eth0', network: 'lan', ip: h.ip, veth: h.veth }]);
  });
});

test('the vanishing packet plans two networks, the published one (the webserver\'s) first, and a gateway on both', () => {
  for (const seed of ['v1', 'v4', 'v5', 'x']) {
    const draw = vanishingPacket.draw(seededRng(seed), 5);
    assert.deepEqual(topologyProblems(draw), []);
    assert.deepEqual(networkOrder(draw).map((n) => n.name), ['dmz', 'lan']);
    const p = plan(draw);
    const [dmz, lan] = planNetworks(p);
    assert.deepEqual([dmz!.name, dmz!.subnet, dmz!.gateway], ['dmz', '10.200.1.0/24', '10.200.1.1']);
    assert.deepEqual([lan!.name, lan!.subnet, lan!.gateway], ['lan', '10.200.2.0/24', ''], 'no address of the machine on lan');
    assert.notEqual(dmz!.bridge, lan!.bridge);
    const gw = p.hosts.find((h) => h.name === 'gw')!;
    assert.equal(gw.infrastructure, true);
    assert.deepEqual(hostInterfaces(p, gw).map((i) => [i.ifname, i.network]), [['eth0', 'lan'], ['eth1', 'dmz']]);
    assert.notEqual(hostInterfaces(p, gw)[0]!.veth, hostInterfaces(p, gw)[1]!.veth);
    // every address once; each network's own numbering from .2
    const all = p.hosts.flatMap((h) => hostInterfaces(p, h).map((i) => i.ip));
    assert.equal(new Set(all).size, all.length);
    assert.ok(all.filter((ip) => ip.startsWith('10.200.2.')).sort().includes('10.200.2.2'));
    // the webserver and the clients route through gw's address on their own network
    const web = p.hosts.find((h) => h.name === 'webserver')!;
    const webSpec = draw.hosts.find((h) => h.name === 'webserver')!;
    assert.deepEqual(resolveRoutes(p, web, webSpec), [{ to: '10.200.2.0/24', via: addressOf(p, 'gw', 'dmz') }]);
    const app = p.hosts.find((h) => h.name === 'app1')!;
    assert.deepEqual(resolveRoutes(p, app, draw.hosts.find((h) => h.name === 'app1')!), [{ to: '10.200.1.0/24', via: addressOf(p, 'gw', 'lan') }]);
    // the fault rule names gw's own interface and the victim's address
    const rule = draw.hosts.find((h) => h.name === 'gw')!.rules![0]!;
    const args = resolveRuleArgs(p, gw, rule.args);
    assert.deepEqual(args, draw.value === 'requests' ? ['-i', 'eth0', '-s', addressOf(p, draw.culprit), '-j', 'DROP'] : ['-i', 'eth1', '-d', addressOf(p, draw.culprit), '-j', 'DROP']);
    assert.ok(args.every((a) => !a.includes('{')), 'no placeholder left');
  }
});

test('topologyProblems names what is wrong with a topology, and planLab refuses it', () => {
  const base = vanishingPacket.draw(seededRng('v1'), 3);
  const broken = (change: (hosts: HostSpec[]) => void): CaseDraw => {
    const d = structuredClone(base);
    change(d.hosts);
    return d;
  };
  const cases: Array<[string, CaseDraw, RegExp]> = [
    ['a network nobody declared', broken((h) => (h[2]!.interfaces = [{ network: 'wan' }])), /"wan", which is not a network/],
    ['a route via a stranger', broken((h) => (h[2]!.routes = [{ to: 'dmz', via: 'nobody' }])), /via "nobody", which is not a host/],
    ['a route via a host on no shared network', broken((h) => (h[2]!.routes = [{ to: 'dmz', via: 'webserver' }])), /shares no network/],
    ['a rule naming a missing host', broken((h) => (h[1]!.rules = [{ chain: 'FORWARD', args: ['-s', '{ip:app99}'] }])), /"app99", which is not a host/],
    ['a rule naming an interface the host lacks', broken((h) => (h[0]!.rules = [{ chain: 'INPUT', args: ['-i', '{dev:lan}'] }])), /interface on lan, where it has none/],
    ['a route to a missing network', broken((h) => (h[2]!.routes = [{ to: 'wan', via: 'gw' }])), /routes to "wan"/],
  ];
  for (const [what, draw, re] of cases) {
    assert.match(topologyProblems(draw).join('; '), re, what);
    assert.throws(() => plan(draw), /broken topology/, what);
  }
  assert.match(topologyProblems({ ...base, networks: [{ name: 'lan' }, { name: 'lan' }] }).join(';'), /share a name/);
  assert.match(topologyProblems({ ...base, networks: [{ name: 'Bad_Name' }] }).join(';'), /not 1-12 lower-case/);
  assert.throws(() => plan(base, ['10.200.1']), /2 networks need 2 subnets/);
});

test('the vanishing packet: the answer is the machine and the lost direction, in a learner\'s words', () => {
  const requests = vanishingPacket.draw(seededRng('v4'), 5);
  const answers = vanishingPacket.draw(seededRng('v5'), 5);
  assert.equal(requests.value, 'requests');
  assert.equal(answers.value, 'answers');
  const ok = (v: string, d: CaseDraw) => vanishingPacket.checkAnswer!(v, d);
  const r = requests.culprit;
  assert.equal(ok(`${r} requests`, requests), true);
  assert.equal(ok(`${r}: its SYNs never get through`, requests), true);
  assert.equal(ok(`${r.toUpperCase()} REQUEST`, requests), true);
  assert.equal(ok(`${r} answers`, requests), false, 'the other direction');
  assert.equal(ok('requests', requests), false, 'no machine');
  assert.equal(ok(`${r} requests and answers`, requests), false, 'both directions is no answer');
  assert.equal(ok(`${r} app9 requests`.replace('app9', r === 'app1' ? 'app2' : 'app1'), requests), false, 'two machines');
  const a = answers.culprit;
  assert.equal(ok(`${a} replies`, answers), true);
  assert.equal(ok(`${a} syn-ack`, answers), true);
  assert.equal(ok(`${a} requests`, answers), false);
  const other = a === 'app1' ? 'app2' : 'app1';
  assert.equal(ok(`${other} answers`, answers), false, 'another machine');
});

test('the vanishing packet: every machine runs the same program with the same kind of job; only the gateway\'s rule differs', () => {
  for (const seed of ['v1', 'v4', 'v5']) {
    const d = vanishingPacket.draw(seededRng(seed), 6);
    const apps = d.hosts.filter((h) => h.role === 'suspect');
    assert.equal(apps.length, 6);
    const shapes = new Set(apps.map((h) => JSON.stringify({ program: h.program, kinds: clientJobs(h).map((j) => [j.kind, j.loops, j.timeoutMs, j.readyWhen]), interfaces: h.interfaces, routes: h.routes })));
    assert.equal(shapes.size, 1, 'no machine differs but by its pace');
    assert.equal(d.hosts.filter((h) => h.rules?.length).map((h) => h.name).join(), 'gw');
  }
});

test('the map shows networks, hosts and routers, never the culprit, and veths only when asked', () => {
  const draw = vanishingPacket.draw(seededRng('v4'), 4);
  const p = plan(draw);
  const hidden = drawMap(p, { showVeths: false });
  assert.match(hidden, /^dmz 10\.200\.1\.0\/24 on br-[0-9a-f]{12} {3}<- the site: localhost:3000$/m);
  assert.match(hidden, /^lan 10\.200\.2\.0\/24 on br-[0-9a-f]{12}$/m);
  assert.match(hidden, /gw +10\.200\.2\.\d+ +eth0 +router to dmz \(infrastructure: no login\)/);
  assert.doesNotMatch(hidden, /veth[0-9a-f]{7}/);
  assert.doesNotMatch(hidden, /culprit|victim|requests|answers/);
  // hosts in ps order, not name order
  const order = [...hidden.matchAll(/[├└]─ (\S+)/g)].map((m) => m[1]);
  const planned = ['dmz', 'lan'].flatMap((n) => p.hosts.filter((h) => hostInterfaces(p, h).some((i) => i.network === n)).map((h) => h.name));
  assert.deepEqual(order, planned);
  const shown = drawMap(p, { showVeths: true });
  for (const h of p.hosts) for (const i of hostInterfaces(p, h)) assert.ok(shown.includes(`${i.ifname} <-> ${i.veth}`), `${h.name} ${i.ifname}`);
});

test('state files of several networks pass the schema; a bad network, interface or role does not', () => {
  const draw = vanishingPacket.draw(seededRng('v1'), 3);
  const p = { ...plan(draw), lab: 'topo' };
  const s: LabState = { version: 1, plan: p, created: { netns: [], veths: [], rules: [], bridges: [p.networks![1]!.bridge] }, startedAt: new Date().toISOString(), arrests: [], hintsUsed: 0 };
  assert.equal(stateProblem(s, 'topo'), undefined);
  const bad: Array<(x: any) => void> = [
    (x) => (x.plan.networks[1].subnet = '10.0.0.0/8'),
    (x) => (x.plan.networks[0].name = 'DMZ'),
    (x) => (x.plan.networks[0].mtu = 100),
    (x) => (x.plan.hosts[0].interfaces[0].ifname = 'eth7'),
    (x) => (x.plan.hosts[0].interfaces[0].veth = 'eth0'),
    (x) => (x.plan.hosts[0].role = 'admin'),
    (x) => (x.plan.hosts[0].infrastructure = 'yes'),
    (x) => (x.created.bridges = ['docker0']),
  ];
  for (const change of bad) {
    const x = structuredClone(s);
    change(x);
    assert.ok(stateProblem(x, 'topo'), String(change));
  }
});

test('infrastructure cannot be touched: exec, stop and restart get the same refusal, naming where to capture', () => {
  const draw = vanishingPacket.draw(seededRng('v1'), 3);
  const p = plan(draw);
  const s: LabState = { version: 1, plan: p, created: { netns: [], veths: [], rules: [] }, startedAt: '', arrests: [], hintsUsed: 0 };
  const gw = p.hosts.find((h) => h.name === 'gw')!;
  for (const ref of ['gw', gw.id, gw.id.slice(0, 5)]) {
    assert.throws(() => requireHost(s, ref), (e: unknown) => e instanceof UserError && e.exitCode === 2 && /gw is infrastructure/.test(e.message) && e.fix.includes(p.networks![0]!.bridge));
  }
  assert.equal(requireHost(s, 'app1').name, 'app1');
});
