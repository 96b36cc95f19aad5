/**
 * The catalog's edges: what validateCase refuses, the order `mystery cases` lists, the
 * suspects' order, and the situational hints of the cases of several networks, network by
 * network (the hint that says where to listen next).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateCase, type CaseModule, type RunView } from '../../src/cases/case.js';
import { allCases, defaultCaseId, findCase } from '../../src/cases/index.js';
import { network, suspectNames } from '../../src/cases/common.js';
import { planLab } from '../../src/core/model.js';
import { seededRng } from '../../src/core/random.js';
import { viewOf } from '../helpers/view.js';

const good = findCase(defaultCaseId);

test('validateCase refuses each malformed field, one problem each, and takes the catalog as it is', () => {
  assert.deepEqual(validateCase(good), []);
  assert.deepEqual(validateCase(null), ['a case must be an object']);
  assert.deepEqual(validateCase('noisy'), ['a case must be an object']);
  const bad: Array<[Partial<Record<keyof CaseModule, unknown>>, RegExp]> = [
    [{ id: 'Noisy' }, /^id must/],
    [{ id: 'a' }, /^id must/],
    [{ title: '' }, /^title must/],
    [{ difficulty: 'expert' }, /^difficulty must/],
    [{ skills: [] }, /^skills must/],
    [{ skills: [3] }, /^skills must/],
    [{ summary: '' }, /^summary must/],
    [{ symptom: '' }, /^symptom must/],
    [{ backends: [] }, /^backends must/],
    [{ backends: ['netns', 'vm'] }, /^backends must/],
    [{ backends: 'netns' }, /^backends must/],
    [{ suspects: { min: 0, default: 3, max: 5 } }, /^suspects must/],
    [{ suspects: { min: 4, default: 3, max: 5 } }, /^suspects must/],
    [{ suspects: { min: 1, default: 6, max: 5 } }, /^suspects must/],
    [{ suspects: { min: 1, default: 2.5, max: 5 } }, /^suspects must/],
    [{ suspects: { min: 1, default: 3, max: Infinity } }, /^suspects must/],
    [{ suspects: undefined }, /^suspects must/],
    [{ draw: 'x' }, /^draw must/],
    [{ briefing: undefined }, /^briefing must/],
    [{ hints: undefined }, /^hints must/],
    [{ debrief: undefined }, /^debrief must/],
    [{ solvedBy: 'repair' }, /^solvedBy must/],
    [{ solvedBy: 'answer', checkAnswer: undefined }, /needs checkAnswer/],
    [{ endToEnd: { goal: '', what: 'page loads', probes: () => [] } }, /^endToEnd must/],
    [{ endToEnd: { goal: 'it works', what: '', probes: () => [] } }, /^endToEnd must/],
    [{ endToEnd: { goal: 'it works', what: 'page loads' } }, /^endToEnd must/],
    [{ endToEnd: { goal: 'it works', what: 'page loads', probes: () => [], repairable: 'yes' } }, /^endToEnd must/],
    [{ endToEnd: null }, /^endToEnd must/],
  ];
  for (const [change, why] of bad) {
    const problems = validateCase({ ...good, ...change });
    assert.equal(problems.length, 1, `${JSON.stringify(change)}: ${problems.join('; ')}`);
    assert.match(problems[0]!, why, JSON.stringify(change));
  }
  // the edges that are fine: min = default = max, and a symptom left out
  assert.deepEqual(validateCase({ ...good, suspects: { min: 3, default: 3, max: 3 } }), []);
  assert.deepEqual(validateCase({ ...good, symptom: undefined }), []);
  assert.deepEqual(validateCase({ ...good, backends: ['docker'] }), []);
  assert.deepEqual(validateCase({ ...good, endToEnd: { goal: 'it works', what: 'page loads', probes: () => [] } }), []);
  assert.deepEqual(validateCase({ ...good, endToEnd: { goal: 'it works', what: 'page loads', probes: () => [], repairable: true } }), []);
});

test('the catalog lists the default case first, then by difficulty, then by id', () => {
  const all = allCases();
  assert.equal(all[0]!.id, defaultCaseId);
  const rank = { easy: 0, medium: 1, hard: 2 } as const;
  for (const [i, c] of all.slice(2).entries()) {
    const prev = all[i + 1]!;
    assert.ok(rank[prev.difficulty] < rank[c.difficulty] || (rank[prev.difficulty] === rank[c.difficulty] && prev.id.localeCompare(c.id) < 0), `${prev.id} before ${c.id}`);
  }
  assert.ok(new Set(all.map((c) => rank[c.difficulty])).size > 1, 'the catalog has more than one level');
});

const viewFor = (caseId: string, seed: string, suspects?: number): RunView => {
  const c = findCase(caseId);
  const n = suspects ?? c.suspects.default;
  const d = c.draw(seededRng(seed), n);
  const nets = d.networks?.length ?? 1;
  const bases = Array.from({ length: nets }, (_, i) => `10.200.${20 + i}`);
  return viewOf(planLab({ lab: 'edge', caseId, seed, suspects: n, backend: 'netns', port: 3651, subnetBase: bases[0]!, moreSubnetBases: bases.slice(1), draw: d }), d);
};

test('suspects are listed in natural order: http-sender2 before http-sender10', () => {
  const c = findCase(defaultCaseId);
  const v = viewFor(defaultCaseId, 'edge-order', Math.min(c.suspects.max, 11));
  const names = suspectNames(v);
  assert.ok(names.length >= 10, `${names.length} suspects`);
  const n = (x: string): number => Number(/(\d+)$/.exec(x)![1]);
  assert.deepEqual(names.map(n), names.map(n).sort((a, b) => a - b), names.join(', '));
});

test('the MTU black hole: the situational hint sends a listener on dmz or lan to transit, and is quiet once transit is heard', () => {
  const c = findCase('mtu-blackhole');
  const v = viewFor('mtu-blackhole', 'edge-mtu');
  const [lan, transit, dmz] = ['lan', 'transit', 'dmz'].map((n) => network(v, n).bridge);
  const hint = (...on: string[]): string | undefined => c.situationalHint!(v, { tcpdumpOn: on, wrongArrests: [] });
  assert.match(hint()!, new RegExp(`No tcpdump is running yet.*lan ${lan}, transit ${transit}, dmz ${dmz}`));
  assert.match(hint(dmz)!, /listening on dmz.*Listen there too/);
  assert.match(hint(lan)!, /listening on lan/);
  assert.equal(hint(dmz, transit), undefined);
  assert.equal(hint(lan, transit), undefined);
  assert.equal(hint(transit), undefined);
});

test('the shrinking segment: the situational hint names the four bridges, then asks a listener on one network for the others', () => {
  const c = findCase('shrinking-segment');
  const v = viewFor('shrinking-segment', 'edge-mss');
  const bridges = ['lan', 't1', 't2', 'dmz'].map((n) => network(v, n).bridge);
  const hint = (...on: string[]): string | undefined => c.situationalHint!(v, { tcpdumpOn: on, wrongArrests: [] });
  assert.equal(hint(), `No tcpdump is running yet. Four networks lie on the way, lan to dmz: ${bridges.join(', ')}.`);
  for (const b of bridges) assert.match(hint(b)!, /one network of the path/);
  assert.equal(hint(bridges[0]!, bridges[3]!), undefined);
  // a tcpdump elsewhere (e.g. on a veth) is not one of the path's networks
  assert.equal(hint('vethnotours'), undefined);
});

test("noisy-neighbour: the situational hint for the bridge, for any, for the culprit's veth, after a wrong arrest, before any tcpdump", () => {
  const c = findCase(defaultCaseId);
  const v = viewFor(defaultCaseId, 'edge-nn');
  const culprit = v.hosts.find((h) => h.name === v.draw.culprit)!;
  const innocent = v.hosts.find((h) => h.veth && h.name !== culprit.name && h.name !== 'webserver')!;
  const hint = (on: string[], wrong: string[] = []): string | undefined => c.situationalHint!(v, { tcpdumpOn: on, wrongArrests: wrong });
  assert.match(hint([v.bridge])!, new RegExp(`capturing on the bridge ${v.bridge}`));
  assert.match(hint(['any'])!, /capturing on any interface/);
  assert.match(hint([culprit.veth!])!, new RegExp(`You are listening on ${culprit.veth}`));
  assert.equal(hint([innocent.veth!]), undefined);
  assert.match(hint([innocent.veth!], [innocent.name])!, new RegExp(`You arrested ${innocent.name}, .* Bring it back`));
  assert.match(hint([], [innocent.name, 'x'])!, /Bring them back/);
  assert.match(hint([])!, /No tcpdump is running yet/);
});

test('the routing loop: the debrief counts the copies on core from the first ttl', () => {
  const c = findCase('routing-loop');
  const v = viewFor('routing-loop', 'edge-loop');
  const d = c.debrief(v, { packets: new Map(), bytes: new Map(), seconds: 10, interfaces: new Map() });
  assert.match(d, /left the webserver with ttl 64 and crossed core 63 times: r2 sent it on with ttl 63, 61, \.\.\. 1,/);
  assert.match(d, /with 62, 60, \.\.\. 2\./);
});

const noEvidence = { packets: new Map<string, number>(), bytes: new Map<string, number>(), seconds: 10, interfaces: new Map() };

test("lossy-link: the debrief gives the culprit's own loss rate, and marks one row as the lossy link, the culprit's", () => {
  const c = findCase('lossy-link');
  for (const seed of ['edge-loss-1', 'edge-loss-2', 'edge-loss-3']) {
    const v = viewFor('lossy-link', seed);
    const loss = v.draw.hosts.find((h) => h.name === v.draw.culprit)!.link!.lossPercent!;
    assert.ok(loss >= 10 && loss < 16, `${seed}: ${loss}`);
    const d = c.debrief(v, noEvidence);
    const culprit = v.hosts.find((h) => h.name === v.draw.culprit)!;
    assert.equal(d.split('\n')[0], `The bad link was ${culprit.name}'s (${culprit.ip}, veth ${culprit.veth}): it lost ${loss}% of the packets sent to it.`);
    const marked = d.split('\n').filter((l) => l.includes('<- the lossy link'));
    assert.equal(marked.length, 1, seed);
    assert.match(marked[0]!, new RegExp(`^ {2}${v.draw.culprit} +\\d+ packets/s {3}<- the lossy link$`), seed);
  }
});

test('vanishing-packet: the debrief tells where the traffic died, by the direction this run lost', () => {
  const c = findCase('vanishing-packet');
  const seen = new Set<string>();
  for (let i = 0; i < 12 && seen.size < 2; i++) {
    const v = viewFor('vanishing-packet', `edge-vp-${i}`);
    const lost = v.draw.value!;
    seen.add(lost);
    const d = c.debrief(v, noEvidence);
    if (lost === 'requests') {
      assert.match(d, /lost its requests: the gateway gw dropped every packet from it on the way in from lan\./);
      assert.match(d, /lan\.txt: its SYNs, again and again; dmz\.txt: nothing\. They die inside gw, on the way in\./);
      assert.doesNotMatch(d, /never leave it on lan/);
    } else {
      assert.match(d, /lost its answers: the gateway gw dropped every packet to it on the way back from dmz\./);
      assert.match(d, /dmz\.txt: the same SYNs .* The answers reach gw and never leave it on lan\./);
      assert.doesNotMatch(d, /They die inside gw/);
    }
    assert.ok(d.includes(`answer '${v.draw.culprit} ${lost}'`), d);
  }
  assert.deepEqual([...seen].sort(), ['answers', 'requests'], 'both directions drawn');
});

test('reset-storm: the situational hint says to listen while no tcpdump runs, and is quiet once one does', () => {
  const c = findCase('reset-storm');
  const v = viewFor('reset-storm', 'edge-rst');
  const hint = (on: string[], wrong: string[] = []) => c.situationalHint!(v, { tcpdumpOn: on, wrongArrests: wrong });
  assert.equal(hint([]), `No tcpdump is running yet. Listen on the bridge ${v.bridge}, with a filter on TCP flags.`);
  assert.equal(hint([v.bridge]), undefined);
  assert.match(hint([v.bridge], ['app1'])!, /^You arrested app1: a loud host is not a broken one\. Bring it back/);
});
