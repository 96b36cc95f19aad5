/**
 * The shrinking segment, without root: the draw (seeded, the router and the MSS vary), the
 * routers' rules alike in shape, the plan and the briefing and the early hints never naming
 * the answer, the answer in a learner's words, the debrief with the run's values, and what
 * the model adds for it (the site published from lan through r1, the webserver's GSO limit).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CaseDraw, RunView } from '../../src/cases/case.js';
import { findCase } from '../../src/cases/index.js';
import { mssChoices, mssRule, pageBytes, parseAnswer, path, routers, shrinkingSegment } from '../../src/cases/shrinking-segment.js';
import { hostInterfaces, interfaceGsoLimits, planLab, planNetworks, resolveRoutes, resolveRuleArgs, siteRoute, topologyProblems } from '../../src/core/model.js';
import { seededRng } from '../../src/core/random.js';
import { viewOf } from '../helpers/view.js';
import { clientJobs } from '../../src/cases/common.js';
import { hostConfig } from '../../src/cases/case.js';

const seeds = Array.from({ length: 40 }, (_, i) => `mss-seed-${i}`);
const draw = (seed: string, suspects = 4): CaseDraw => shrinkingSegment.draw(seededRng(seed), suspects);
const plan = (d: CaseDraw, seed = 's') =>
  planLab({ lab: 'kunit', caseId: 'shrinking-segment', seed, suspects: 4, backend: 'netns', port: 3650, subnetBase: '10.200.1', moreSubnetBases: ['10.200.2', '10.200.3', '10.200.4'], draw: d });
const word = (n: string): RegExp => new RegExp(`(^|[^0-9A-Za-z])${n}($|[^0-9A-Za-z])`);

function view(seed: string): RunView {
  const d = draw(seed);
  return viewOf(plan(d, seed), d);
}

const answerOf = (d: CaseDraw): { router: string; mss: string } => {
  const [router, mss] = d.value!.split(' ') as [string, string];
  return { router, mss };
};

test('shrinking-segment is in the catalog, answered with a value', () => {
  const c = findCase('shrinking-segment');
  assert.equal(c, shrinkingSegment);
  assert.deepEqual(c.backends, ['netns', 'docker']);
  assert.equal(c.solvedBy, 'answer');
});

test('shrinking-segment: the same seed draws the same run; the router and the MSS vary across seeds', () => {
  assert.deepEqual(draw('same'), draw('same'));
  const values = seeds.map((s) => answerOf(draw(s)));
  assert.deepEqual(new Set(values.map((v) => v.router)), new Set(routers), 'every router is the culprit for some seed');
  assert.ok(new Set(values.map((v) => v.mss)).size >= 6, 'the MSS varies');
  for (const v of values) assert.ok(mssChoices.includes(Number(v.mss)) && Number(v.mss) < 536, `${v.mss} is one of the tiny values`);
});

test('shrinking-segment: four networks, three routers that are infrastructure, one mangle rule each of the same shape, one of them sets the MSS', () => {
  for (const s of seeds.slice(0, 10)) {
    for (const n of [shrinkingSegment.suspects.min, shrinkingSegment.suspects.default, shrinkingSegment.suspects.max]) {
      const d = draw(s, n);
      const { router, mss } = answerOf(d);
      assert.deepEqual(topologyProblems(d), []);
      assert.deepEqual(d.networks!.map((x) => x.name), [...path]);
      assert.deepEqual(d.publish, { network: 'lan', via: 'r1' });
      for (const r of routers) {
        const h = d.hosts.find((x) => x.name === r)!;
        assert.equal(h.infrastructure, true);
        assert.equal(h.program, 'idle');
        assert.deepEqual(h.rules, [mssRule(r === router ? Number(mss) : undefined)]);
        assert.equal(h.rules![0]!.table, 'mangle');
        assert.equal(h.rules![0]!.args.length, r === router ? 9 : 8);
      }
      assert.deepEqual(d.hosts.filter((h) => h.rules?.some((x) => x.args.includes('--set-mss'))).map((h) => h.name), [router]);
      const suspects = d.hosts.filter((h) => h.role === 'suspect');
      assert.equal(suspects.length, n);
      const shapes = new Set(suspects.map((h) => JSON.stringify({ program: h.program, kinds: clientJobs(h).map((j) => [j.kind, j.path]), interfaces: h.interfaces, routes: h.routes })));
      assert.equal(shapes.size, 1, 'every office machine alike');
      const web = d.hosts.find((h) => h.name === 'webserver')!;
      assert.equal(hostConfig(web, 'webserver')!.pageBytes, pageBytes);
      assert.ok(pageBytes >= 500_000, 'the page is heavy: thousands of tiny segments');
      assert.deepEqual(interfaceGsoLimits(web), [{ ifname: 'eth0', segs: 1 }]);
      assert.ok(d.hosts.filter((h) => h.name !== 'webserver').every((h) => interfaceGsoLimits(h).length === 0));
    }
  }
});

test('shrinking-segment: the plan, the briefing and the hints never name the answer; the last hint gives the commands; the debrief the values', () => {
  for (const s of seeds.slice(0, 12)) {
    const v = view(s);
    const { router, mss } = answerOf(v.draw);
    const p = plan(v.draw, s);
    assert.doesNotMatch(JSON.stringify({ ...p, seed: undefined }), word(mss), `${s}: the plan holds ${mss}`);
    const briefing = shrinkingSegment.briefing(v);
    assert.doesNotMatch(briefing, word(mss));
    assert.doesNotMatch(briefing, /clamp|TCPMSS|mangle/i);
    const hints = shrinkingSegment.hints(v);
    assert.ok(hints.length >= 3);
    for (const h of hints) {
      assert.doesNotMatch(h, word(mss), 'no hint gives the number');
      assert.doesNotMatch(h, new RegExp(`${router} (sets|rewrites|is)`), 'no hint accuses the router');
    }
    const last = hints[hints.length - 1]!;
    for (const net of v.networks!) assert.ok(last.includes(net.bridge), `the last hint names ${net.name}'s bridge`);
    assert.match(last, /tcpdump -nn -v -l -i/);
    assert.match(last, /tcp\[tcpflags\] & tcp-syn != 0/);
    assert.match(last, /mystery --name kunit answer/);
    const debrief = shrinkingSegment.debrief(v, { packets: new Map(), bytes: new Map(), seconds: 10, interfaces: new Map() });
    assert.match(debrief, new RegExp(`^${router} rewrites the MSS of every SYN it forwards to ${mss}`));
    assert.match(debrief, new RegExp(`--set-mss ${mss}`));
    assert.match(debrief, new RegExp(`answer '${router} ${mss}'`));
    assert.match(debrief, new RegExp(`length ${Number(mss) - 12}`));
    assert.doesNotMatch(debrief, /\{(ip|dev|subnet):/, 'no placeholder left');
  }
});

test('shrinking-segment: the answer names the router and the MSS, in any order and a few words', () => {
  for (const s of seeds.slice(0, 12)) {
    const d = draw(s);
    const { router, mss } = answerOf(d);
    const other = routers.find((r) => r !== router)!;
    const ok = (x: string): boolean => shrinkingSegment.checkAnswer!(x, d);
    for (const right of [`${router} ${mss}`, `${mss} ${router}`, `${router} mss ${mss}`, `${router.toUpperCase()}: mss=${mss}`, ` ${router}, ${mss} `, `router ${router} sets mss to ${mss}`, `mss ${mss} on ${router}`]) {
      assert.equal(ok(right), true, right);
    }
    for (const wrong of [`${other} ${mss}`, `${router} ${Number(mss) + 8}`, `${router}`, `${mss}`, '', `${router} 1460`, `${router} ${other} ${mss}`, `${router} ${mss} 1460`, `${router} ${mss}0`, `r4 ${mss}`, `${router} -${mss}`]) {
      assert.equal(ok(wrong), false, wrong);
    }
  }
  assert.deepEqual(parseAnswer('r2 mss 136'), { router: 'r2', mss: 136 });
});

test('shrinking-segment: the site is published on lan, through r1; the routes and rules resolve', () => {
  const d = draw('render');
  const p = plan(d);
  assert.equal(planNetworks(p)[0]!.name, 'lan', 'the machine has its address on lan');
  assert.ok(planNetworks(p).slice(1).every((n) => n.gateway === ''), 'and on no other network');
  const addr = (name: string, net: string) => hostInterfaces(p, p.hosts.find((h) => h.name === name)!).find((i) => i.network === net)!.ip;
  assert.deepEqual(siteRoute(p, d), { to: `${addr('webserver', 'dmz')}/32`, via: addr('r1', 'lan') });
  const to = (name: string) => resolveRoutes(p, p.hosts.find((h) => h.name === name)!, d.hosts.find((h) => h.name === name)!);
  const subnet = (net: string) => planNetworks(p).find((x) => x.name === net)!.subnet;
  assert.deepEqual(to('r1'), [{ to: subnet('dmz'), via: addr('r2', 't1') }]);
  assert.deepEqual(to('r2'), [{ to: subnet('lan'), via: addr('r1', 't1') }, { to: subnet('dmz'), via: addr('r3', 't2') }]);
  assert.deepEqual(to('r3'), [{ to: subnet('lan'), via: addr('r2', 't2') }]);
  assert.deepEqual(to('webserver'), [{ to: subnet('lan'), via: addr('r3', 'dmz') }]);
  assert.deepEqual(to('app1'), [{ to: subnet('dmz'), via: addr('r1', 'lan') }]);
  const r1 = p.hosts.find((h) => h.name === 'r1')!;
  assert.deepEqual(resolveRuleArgs(p, r1, mssRule().args), ['-p', 'tcp', '--tcp-flags', 'SYN,RST', 'SYN', '-j', 'TCPMSS', '--clamp-mss-to-pmtu']);
  // without publish, the site stays on the webserver's own network: no route on the machine
  const plain = structuredClone(d);
  delete plain.publish;
  const p2 = plan(plain);
  assert.equal(planNetworks(p2)[0]!.name, 'dmz');
  assert.equal(siteRoute(p2, plain), undefined);
});

test('topologyProblems refuses a site published from a network that does not exist, or through a router not on it', () => {
  const base = draw('bad');
  const d = structuredClone(base);
  d.publish = { network: 'wan', via: 'r1' };
  assert.match(topologyProblems(d).join('; '), /published from "wan", which is not a network/);
  d.publish = { network: 'lan', via: 'r2' };
  assert.match(topologyProblems(d).join('; '), /published through "r2", which is not a host on lan/);
  assert.throws(() => plan(d), /broken topology/);
});

test('shrinking-segment: an answer with two routers, two numbers or a word too many is no answer', () => {
  assert.deepEqual(parseAnswer('r2 1360'), { router: 'r2', mss: 1360 });
  assert.deepEqual(parseAnswer('the MSS on r3 is 536 bytes'), { router: 'r3', mss: 536 });
  for (const bad of ['r2 r3 1360', 'r2 1360 1400', 'r2 1360 please', 'r2 please', 'r2', '1360', '', 'r2 123456']) assert.equal(parseAnswer(bad), undefined, bad);
});
