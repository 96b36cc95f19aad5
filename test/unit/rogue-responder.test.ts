/**
 * The rogue responder without root: its draw (seeded, the culprit spread over the machines,
 * every machine running the same agent, only the culprit's list claiming the intranet's
 * name), the naive count's margin (the busiest innocent loads twice the culprit's pages, even
 * were the culprit to win every race), its plan (no secret), hints, answers and debrief; the
 * multicast DNS answer and its parsing as pure functions; and the status line of outcomes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CaseDraw, RunView } from '../../src/cases/case.js';
import { findCase } from '../../src/cases/index.js';
import { intranetMark, intranetOf, pageLoadsPerSec, rogueResponder } from '../../src/cases/rogue-responder.js';
import { planLab } from '../../src/core/model.js';
import { seededRng } from '../../src/core/random.js';
import { aRecord, encodeQuery, parseQuery, parseResponse, response, answer, TYPE_A } from '../../src/services/dns.js';
import { formatOutcomes, parseOutcome, tallyOutcomes } from '../../src/core/outcomes.js';
import type { AgentConfig } from '../../src/services/agent.js';
import { hostConfig } from '../../src/cases/case.js';

const seeds = Array.from({ length: 40 }, (_, i) => `rogue-seed-${i}`);
const draw = (seed: string, suspects = 5): CaseDraw => rogueResponder.draw(seededRng(seed), suspects);
const agentOf = (d: CaseDraw, name: string): AgentConfig => d.hosts.find((h) => h.name === name)!.config as unknown as AgentConfig;

function view(d: CaseDraw, seed = 's'): RunView {
  const p = planLab({ lab: 'rogue', caseId: 'rogue-responder', seed, suspects: d.hosts.length - 1, backend: 'netns', port: 3660, subnetBase: '10.200.9', draw: d });
  return { lab: 'rogue', port: 3660, backend: 'netns', cli: 'mystery --name rogue', bridge: p.bridge, hosts: p.hosts.map((h, i) => ({ name: h.name, id: h.id, ip: h.ip, veth: h.veth, ifindex: 100 + i })), draw: d };
}

test('rogue-responder: in the catalog, medium, arrested, on both backends', () => {
  assert.equal(findCase('rogue-responder'), rogueResponder);
  assert.equal(rogueResponder.solvedBy, 'arrest');
  assert.deepEqual(rogueResponder.backends, ['netns', 'docker']);
  assert.ok(rogueResponder.hints(view(draw('h'))).length >= 3);
});

test('rogue-responder: the same seed draws the same run; the culprit varies and is always a machine', () => {
  assert.deepEqual(draw('same'), draw('same'));
  assert.ok(new Set(seeds.map((s) => JSON.stringify(draw(s)))).size >= 35);
  const culprits = new Map<string, number>();
  for (const s of seeds) {
    const d = draw(s);
    assert.equal(d.hosts.find((h) => h.name === d.culprit)?.role, 'suspect');
    culprits.set(d.culprit, (culprits.get(d.culprit) ?? 0) + 1);
  }
  assert.equal(culprits.size, 5, JSON.stringify([...culprits]));
  for (const [, n] of culprits) assert.ok(n < seeds.length / 2);
});

test('rogue-responder: every machine runs the agent with the same shape; only the culprit claims the intranet', () => {
  for (const s of seeds) {
    for (const n of [3, 5, 8]) {
      const d = draw(s, n);
      const intranet = intranetOf(d);
      assert.match(intranet, /^[a-z]+\.local$/);
      const web = d.hosts.find((h) => h.name === 'webserver')!;
      assert.deepEqual([web.program, hostConfig(web, 'webserver')!.port, hostConfig(web, 'webserver')!.mdnsName], ['webserver', 3000, intranet]);
      const machines = d.hosts.filter((h) => h.role === 'suspect');
      assert.equal(machines.length, n);
      assert.ok(machines.every((h) => h.program === 'agent'), 'one program');
      for (const h of machines) {
        const c = agentOf(d, h.name);
        assert.deepEqual(Object.keys(c).sort(), ['alsoAnswers', 'intranet', 'name', 'port', 'visits']);
        assert.equal(c.name, `${h.name}.local`);
        assert.deepEqual(c.intranet, { name: intranet, expect: intranetMark });
        assert.deepEqual(c.alsoAnswers, h.name === d.culprit ? [intranet] : []);
        assert.ok(c.visits.some((v) => v.name === intranet), `${h.name} visits the intranet`);
        assert.ok(c.visits.every((v) => v.name !== c.name), 'nobody visits itself');
      }
    }
  }
});

test('rogue-responder: counting port 3000 never points at the culprit, even were it to win every race', () => {
  for (let k = 0; k < 200; k++) {
    for (const n of [3, 5, 8]) {
      const d = draw(`naive-${k}`, n);
      const loads = pageLoadsPerSec(d);
      const culprit = loads.get(d.culprit)!;
      const busiest = Math.max(...[...loads].filter(([h]) => h !== d.culprit).map(([, v]) => v));
      assert.ok(busiest >= 2 * culprit, `naive-${k}/${n}: ${busiest.toFixed(1)} vs the culprit's ${culprit.toFixed(1)} page loads/s`);
    }
  }
});

test('rogue-responder: the plan holds nothing of the draw; the briefing and early hints name no culprit; the last does', () => {
  for (const s of seeds.slice(0, 10)) {
    const d = draw(s);
    const v = view(d, s);
    const culprit = v.hosts.find((h) => h.name === d.culprit)!;
    const p = planLab({ lab: 'rogue', caseId: 'rogue-responder', seed: s, suspects: 5, backend: 'netns', port: 3660, subnetBase: '10.200.9', draw: d });
    assert.doesNotMatch(JSON.stringify(p), /alsoAnswers|visits|\.local/);
    const briefing = rogueResponder.briefing(v);
    assert.ok(!new RegExp(`\\b${d.culprit}\\b`).test(briefing.replace(/app1 \.\. app\d+/, '')));
    assert.ok(briefing.includes(intranetOf(d)), 'the briefing names the intranet');
    const hints = rogueResponder.hints(v);
    const ip = new RegExp(`${culprit.ip.replace(/\./g, '\\.')}(?!\\d)`);
    for (const h of hints.slice(0, -1)) {
      assert.ok(!new RegExp(`\\b${d.culprit}\\b`).test(h) && !ip.test(h), `an early hint names the culprit: ${h}`);
    }
    assert.ok(hints.slice(0, -1).some((h) => /udp port 5353/.test(h) && /-vv/.test(h)));
    const last = hints[hints.length - 1]!;
    assert.match(last, new RegExp(`stop ${d.culprit}\\b`));
    assert.ok(ip.test(last) && last.includes('/sys/class/net/eth0/address'));
    const debrief = rogueResponder.debrief(v, { packets: new Map([[d.culprit, 1000]]), bytes: new Map(), seconds: 10, interfaces: new Map() });
    assert.ok(debrief.includes(culprit.ip) && debrief.includes(intranetOf(d)) && debrief.includes(`stop ${d.culprit}`));
  }
});

test('rogue-responder: the situational hints see a wrong arrest, no capture, and the webserver\'s veth alone', () => {
  const d = draw('sit');
  const v = view(d);
  const innocent = v.hosts.find((h) => /^app/.test(h.name) && h.name !== d.culprit)!.name;
  assert.match(rogueResponder.situationalHint!(v, { tcpdumpOn: [], wrongArrests: [innocent] })!, /restart/);
  assert.match(rogueResponder.situationalHint!(v, { tcpdumpOn: [], wrongArrests: [] })!, /udp port 5353/);
  const web = v.hosts.find((h) => h.name === 'webserver')!.veth!;
  assert.match(rogueResponder.situationalHint!(v, { tcpdumpOn: [web], wrongArrests: [] })!, /bridge/);
  assert.equal(rogueResponder.situationalHint!(v, { tcpdumpOn: [v.bridge], wrongArrests: [] }), undefined);
});

test('multicast DNS: a legacy unicast answer echoes the id and the question, AA only; parseResponse reads it', () => {
  const q = parseQuery(encodeQuery(0xabcd, 'Wiki.local', TYPE_A, 0))!;
  assert.equal(q.flags, 0, 'an mDNS question has no RD');
  assert.equal(q.name, 'wiki.local');
  const r = response(q, 0x0400, aRecord('10.200.9.7', 10));
  assert.equal(r.readUInt16BE(0), 0xabcd);
  assert.equal(r.readUInt16BE(2), 0x8400, 'QR and AA');
  assert.deepEqual([r.readUInt16BE(4), r.readUInt16BE(6)], [1, 1]);
  assert.deepEqual(r.subarray(12, 12 + q.raw.length), q.raw, 'the question as asked');
  assert.deepEqual(parseResponse(r), { id: 0xabcd, addresses: ['10.200.9.7'] });
  assert.equal(parseResponse(encodeQuery(1, 'wiki.local')), undefined, 'a query is no response');
  assert.equal(parseResponse(r.subarray(0, r.length - 2)), undefined, 'a truncated answer');
  // the resolver's answers, made by the same function, are as before
  const a = answer(parseQuery(encodeQuery(7, 'db.lab'))!, { zone: 'lab', address: '10.200.9.4' });
  assert.equal(a.readUInt16BE(2), 0x8580, 'QR, AA, RD, RA');
  assert.deepEqual(parseResponse(a), { id: 7, addresses: ['10.200.9.4'] });
});

test('outcomes: the lines services report, tallied and shown as one share for status', () => {
  assert.deepEqual(['outcome ok', 'outcome wrong', 'outcome failed', 'sending', 'outcome maybe'].map(parseOutcome), ['ok', 'wrong', 'failed', undefined, undefined]);
  const t = tallyOutcomes(['ok', 'ok', 'wrong', 'failed'], 30_000);
  assert.deepEqual(t, { windowMs: 30_000, ok: 2, wrong: 1, failed: 1 });
  assert.equal(formatOutcomes(t), "50% of the clients' 4 page loads in the last 30 s went wrong (1 got the wrong page, 1 no answer)");
  assert.equal(formatOutcomes(tallyOutcomes([])), undefined, 'nothing to say without outcomes');
  assert.equal(formatOutcomes(undefined), undefined);
});

test("rogue-responder: the shared desk is visited every 0.6-0.9 s by the other innocents, and each one's occasional peer is another machine", () => {
  for (const s of seeds.slice(0, 20)) {
    for (const n of [3, 5, 8]) {
      const d = draw(s, n);
      const machines = d.hosts.filter((h) => h.role === 'suspect').map((h) => agentOf(d, h.name));
      const desks = new Set(machines.flatMap((c) => c.visits.filter((v) => v.everyMs >= 600 && v.everyMs < 900).map((v) => v.name)));
      assert.equal(desks.size, 1, `${s}/${n}: one shared desk`);
      const desk = [...desks][0]!;
      assert.notEqual(desk, `${d.culprit}.local`, 'the culprit is no desk');
      for (const c of machines.filter((m) => m.name !== desk)) {
        const occasional = c.visits.filter((v) => v.everyMs >= 2500);
        assert.equal(occasional.length, 1, `${s}/${n}: ${c.name} visits one peer now and then`);
        assert.ok(occasional[0]!.everyMs < 4000);
        assert.ok(occasional[0]!.name !== desk && occasional[0]!.name !== c.name, `${s}/${n}: ${c.name}'s occasional peer is ${occasional[0]!.name}`);
        assert.equal(c.visits.some((v) => v.name === desk), c.name !== `${d.culprit}.local`, `${c.name}: only the innocents visit the desk`);
      }
    }
  }
});
