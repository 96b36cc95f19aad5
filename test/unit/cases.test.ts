/**
 * The catalog's cases, without root: each validates, draws reproducibly from its seed and
 * differently across seeds, spreads its answers over the hosts, keeps its briefing free of
 * the answer, and gives at least three hints, the last with this run's names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allCases, findCase } from '../../src/cases/index.js';
import { validateCase, type CaseDraw, type CaseModule, type RunView } from '../../src/cases/case.js';
import { seededRng } from '../../src/core/random.js';
import { planLab, resolveConfig } from '../../src/core/model.js';

const newCases = ['reset-storm', 'password-in-clear', 'fat-payload', 'arp-storm', 'lossy-link', 'slowloris', 'intermittent-burst'];
const seeds = Array.from({ length: 40 }, (_, i) => `unit-seed-${i}`);

function draw(c: CaseModule, seed: string, suspects = c.suspects.default): CaseDraw {
  return c.draw(seededRng(seed), suspects);
}

/** A view as the lab would give it, with made-up interfaces. */
function view(c: CaseModule, seed: string, suspects = c.suspects.default): RunView {
  const d = draw(c, seed, suspects);
  const plan = planLab({ lab: 'cunit', caseId: c.id, seed, suspects, backend: 'netns', port: 3499, subnetBase: '10.200.9', draw: d });
  return {
    lab: 'cunit',
    port: 3499,
    backend: 'netns',
    cli: 'mystery --name cunit',
    bridge: plan.bridge,
    hosts: plan.hosts.map((h, i) => ({ name: h.name, id: h.id, ip: h.ip, veth: h.veth, ifindex: 100 + i })),
    draw: d,
  };
}

test('the catalog holds the seven new cases, each valid, each with skills and a difficulty', () => {
  const ids = allCases().map((c) => c.id);
  for (const id of newCases) assert.ok(ids.includes(id), id);
  assert.equal(new Set(ids).size, ids.length, 'ids are unique');
  for (const c of allCases()) {
    assert.deepEqual(validateCase(c), [], c.id);
    assert.ok(c.skills.length >= 2, `${c.id} lists its skills`);
  }
  const levels = newCases.map((id) => findCase(id).difficulty);
  for (const level of ['easy', 'medium', 'hard']) assert.ok(levels.includes(level as never), `a ${level} case`);
});

for (const id of newCases) {
  const c = findCase(id);

  test(`${id}: the same seed draws the same run; different seeds draw different runs`, () => {
    assert.deepEqual(draw(c, 'same'), draw(c, 'same'));
    const distinct = new Set(seeds.map((s) => JSON.stringify(draw(c, s))));
    assert.ok(distinct.size >= seeds.length / 2, `${distinct.size} distinct draws of ${seeds.length}`);
  });

  test(`${id}: the culprit is spread over the hosts, and is always a suspect`, () => {
    const culprits = new Map<string, number>();
    for (const s of seeds) {
      const d = draw(c, s);
      const culprit = d.hosts.find((h) => h.name === d.culprit);
      assert.ok(culprit, `${s}: the culprit is a host`);
      assert.equal(culprit.role, 'suspect');
      culprits.set(d.culprit, (culprits.get(d.culprit) ?? 0) + 1);
    }
    assert.equal(culprits.size, c.suspects.default, `every suspect is the culprit in some run: ${JSON.stringify([...culprits])}`);
    for (const [, n] of culprits) assert.ok(n < seeds.length / 2, 'no host is the culprit in half the runs');
  });

  test(`${id}: every suspect runs the same program, and the webserver is the only server`, () => {
    for (const s of seeds.slice(0, 10)) {
      for (const n of [c.suspects.min, c.suspects.default, c.suspects.max]) {
        const d = draw(c, s, n);
        const suspects = d.hosts.filter((h) => h.role === 'suspect');
        assert.equal(suspects.length, n);
        assert.equal(new Set(suspects.map((h) => h.program)).size, 1, 'nothing in ps tells the suspects apart');
        const servers = d.hosts.filter((h) => h.role === 'server');
        assert.deepEqual(servers.map((h) => [h.name, h.program, h.config.port]), [['webserver', 'webserver', 3000]]);
        assert.equal(new Set(d.hosts.map((h) => h.name)).size, d.hosts.length, 'host names are unique');
      }
    }
  });

  test(`${id}: the plan and the briefing never name the answer`, () => {
    for (const s of seeds.slice(0, 10)) {
      const v = view(c, s);
      const plan = planLab({ lab: 'cunit', caseId: c.id, seed: s, suspects: c.suspects.default, backend: 'netns', port: 3499, subnetBase: '10.200.9', draw: v.draw });
      const planned = JSON.stringify({ ...plan, seed: undefined });
      // as a whole word: random hex ids and interface names may hold the digits of a port
      const word = (x: string): RegExp => new RegExp(`(^|[^0-9A-Za-z-])${x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^0-9A-Za-z-])`);
      if (v.draw.value && !plan.hosts.some((h) => h.name === v.draw.value)) assert.ok(!word(v.draw.value).test(planned), 'the plan holds no secret value');
      const briefing = c.briefing(v);
      assert.ok(!new RegExp(`\\b${v.draw.culprit}\\b`).test(briefing.replace(/app1 \.\. app\d+/, '')), `${s}: the briefing names the culprit`);
      const culpritIp = v.hosts.find((h) => h.name === v.draw.culprit)!.ip;
      assert.ok(!briefing.includes(culpritIp), 'the briefing gives no culprit IP');
      if (v.draw.value && !/^app\d+$/.test(v.draw.value)) assert.ok(!word(v.draw.value).test(briefing), `the briefing gives no value: ${v.draw.value}`);
      assert.ok(!c.title.includes(v.draw.culprit) && !c.summary.includes(v.draw.culprit));
    }
  });

  test(`${id}: at least three hints; only the last names this run's culprit, with its commands`, () => {
    for (const s of seeds.slice(0, 10)) {
      const v = view(c, s);
      const hints = c.hints(v);
      assert.ok(hints.length >= 3, `${hints.length} hints`);
      const last = hints[hints.length - 1]!;
      assert.match(last, new RegExp(`\\b${v.draw.culprit}\\b`));
      assert.match(last, /sudo/);
      for (const h of hints.slice(0, -1)) assert.ok(!new RegExp(`\\b${v.draw.culprit}\\b`).test(h), `an early hint names the culprit: ${h}`);
      const debrief = c.debrief(v, { packets: new Map([[v.draw.culprit, 1000]]), bytes: new Map(), seconds: 10, interfaces: new Map() });
      assert.match(debrief, new RegExp(`\\b${v.draw.culprit}\\b`), 'the debrief names the culprit');
      if (c.solvedBy === 'answer') assert.ok(debrief.includes(v.draw.value!), "the debrief gives this run's value");
    }
  });

  test(`${id}: the configuration resolves host names to lab addresses`, () => {
    const v = view(c, 'resolve');
    const plan = planLab({ lab: 'cunit', caseId: c.id, seed: 'resolve', suspects: c.suspects.default, backend: 'netns', port: 3499, subnetBase: '10.200.9', draw: v.draw });
    const web = plan.hosts.find((h) => h.name === 'webserver')!;
    for (const h of v.draw.hosts.filter((x) => x.role === 'suspect')) {
      assert.equal(resolveConfig(h.config, plan).target, `http://${web.ip}:3000/`);
    }
  });
}

test('answer cases check the value, and only the value', () => {
  const pw = findCase('password-in-clear');
  for (const s of seeds.slice(0, 10)) {
    const d = draw(pw, s);
    assert.equal(pw.solvedBy, 'answer');
    assert.ok(pw.checkAnswer!(d.value!, d));
    assert.ok(pw.checkAnswer!(` ${d.value!} `, d), 'spaces around do not matter');
    assert.ok(!pw.checkAnswer!(d.value!.toUpperCase(), d), 'a password is case-sensitive');
    assert.ok(!pw.checkAnswer!('wrong-guess-1234', d));
    assert.ok(!pw.checkAnswer!('', d));
    // the Basic header in the culprit's configuration decodes to user:password
    const culprit = d.hosts.find((h) => h.name === d.culprit)!;
    const auth = JSON.stringify(culprit.config).match(/Basic ([A-Za-z0-9+/=]+)/)![1]!;
    const decoded = Buffer.from(auth, 'base64').toString();
    assert.ok(decoded.endsWith(`:${d.value}`));
    assert.ok(pw.checkAnswer!(decoded, d), 'user:password as it decodes is accepted');
    // no innocent sends Basic authentication
    for (const h of d.hosts.filter((x) => x.name !== d.culprit)) assert.ok(!JSON.stringify(h.config).includes('Basic '));
  }
  const lossy = findCase('lossy-link');
  for (const s of seeds.slice(0, 10)) {
    const d = draw(lossy, s);
    assert.ok(lossy.checkAnswer!(d.culprit, d));
    assert.ok(lossy.checkAnswer!(d.culprit.toUpperCase(), d));
    const other = d.hosts.find((h) => h.role === 'suspect' && h.name !== d.culprit)!;
    assert.ok(!lossy.checkAnswer!(other.name, d));
    assert.ok(!lossy.checkAnswer!('webserver', d));
    // only the culprit's link is impaired
    assert.deepEqual(d.hosts.filter((h) => h.link).map((h) => h.name), [d.culprit]);
  }
});

test('one seed does not put the culprit at the same place in every case', () => {
  let same = 0;
  for (const s of seeds) {
    const culprits = newCases.map((id) => draw(findCase(id), s).culprit);
    if (new Set(culprits).size === 1) same++;
  }
  assert.ok(same <= 2, `${same} seeds of ${seeds.length} pick the same host in all the new cases`);
});

test('the culprit is never the loudest by design where loudness is the wrong trick', () => {
  // the everyday GET gaps of the innocents: at least one is busier than the culprit's traffic
  for (const id of ['reset-storm', 'fat-payload']) {
    const c = findCase(id);
    for (const s of seeds) {
      const d = draw(c, s);
      const gaps = d.hosts
        .filter((h) => h.role === 'suspect' && h.name !== d.culprit)
        .flatMap((h) => (h.config.jobs as Array<{ kind: string; sleepMs?: number }>).filter((j) => j.kind === 'get').map((j) => j.sleepMs!));
      assert.ok(Math.min(...gaps) <= 160, `${id} ${s}: a busy innocent`);
    }
  }
});
