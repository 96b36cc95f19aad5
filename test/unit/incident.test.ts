import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allCases } from '../../src/cases/index.js';
import { genericSymptom, incidentBriefing, incidentHidden, incidentReveal, pickIncident, triageHints } from '../../src/core/incident.js';
import { runRecord, unnamedIncident, validRecord } from '../../src/core/progress.js';
import { stateProblem, type LabState } from '../../src/core/state.js';
import { main } from '../../src/cli/main.js';
import { capturingIo } from '../helpers/io.js';
import type { RunView } from '../../src/cases/case.js';

const view = (): RunView => ({ lab: 'x', port: 3000, backend: 'netns', cli: 'mystery', hosts: [], bridge: 'br-000000000000', networks: [{ name: 'lan', bridge: 'br-000000000000', subnet: '10.0.0.0/24' }], draw: { hosts: [], culprit: 'app1' } });

test('an unknown incident can be any case of the backend, the same one for a seed, and only of that backend', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 400; i++) seen.add(pickIncident('netns', `s${i}`).id);
  assert.deepEqual([...seen].sort(), allCases().filter((c) => c.backends.includes('netns')).map((c) => c.id).sort(), 'every netns case comes up');
  for (let i = 0; i < 100; i++) assert.ok(pickIncident('docker', `d${i}`).backends.includes('docker'));
  assert.equal(pickIncident('netns', 'fixed').id, pickIncident('netns', 'fixed').id);
});

test('every case has a symptom of its own that names neither the case nor its title', () => {
  for (const c of allCases()) {
    const symptom = c.symptom ?? genericSymptom;
    const briefing = incidentBriefing(c, view());
    assert.ok(briefing.includes(symptom), c.id);
    for (const word of [c.id, c.title]) {
      assert.ok(!briefing.toLowerCase().includes(word.toLowerCase()), `${c.id}: the incident's briefing says "${word}"`);
    }
    assert.ok(c.symptom, `${c.id} has a symptom`);
  }
  const hints = triageHints(view()).join('\n');
  for (const c of allCases()) assert.ok(!hints.includes(c.id) && !hints.includes(c.title), `the triage hints name ${c.id}`);
});

const state = (over: Partial<LabState> = {}): LabState =>
  ({
    version: 1,
    plan: { lab: 'x', caseId: 'reset-storm', seed: 's', suspects: 5, backend: 'netns', port: 3000, subnet: '', gateway: '', bridge: '', hosts: [] },
    created: { netns: [], veths: [], rules: [] },
    startedAt: '2026-12-03T10:00:00.000Z',
    readyAt: '2026-12-03T10:00:01.000Z',
    arrests: [],
    hintsUsed: 0,
    incident: { guesses: [] },
    ...over,
  }) as LabState;

test('the progress record of an unknown incident does not name its case until it is named, solved or given up', () => {
  assert.equal(incidentHidden(state()), true);
  assert.equal(runRecord(state(), false).caseId, unnamedIncident);
  const named = state({ incident: { guesses: [{ id: 'fat-payload', correct: false, at: 'a' }, { id: 'reset-storm', correct: true, at: 'b' }], namedAt: '2026-12-03T10:00:31.000Z' } });
  assert.equal(incidentHidden(named), false);
  const r = runRecord(named, false);
  assert.equal(r.caseId, 'reset-storm');
  assert.deepEqual(r.incident, { named: true, guesses: 2, triageMs: 30_000 });
  assert.ok(validRecord(r));
  assert.equal(runRecord(state({ gaveUp: true }), false).caseId, 'reset-storm');
  assert.equal(runRecord(state({ solvedAt: '2026-12-03T10:01:00.000Z' }), true).caseId, 'reset-storm');
  assert.equal(runRecord(state({ incident: undefined }), false).incident, undefined);
  assert.equal(validRecord({ ...r, incident: { named: 'yes', guesses: 1 } }), undefined);
  assert.match(incidentReveal(named, allCases().find((c) => c.id === 'reset-storm')!) ?? '', /named it after 30 s \(2 guesses\)/);
});

test('the state file checks the incident record and its seal', () => {
  const ok = JSON.parse(JSON.stringify(state())) as Record<string, unknown> & { plan: { hosts: unknown[] } };
  ok.plan.hosts = [{ name: 'app1', id: '0123456789ab', role: 'suspect', program: 'client', ip: '10.0.0.2', netns: '', veth: '' }];
  assert.equal(stateProblem(ok, 'x'), undefined);
  // the journal of what was created must be an object: a string or nothing is no journal
  for (const created of ['x', 1, null, undefined]) assert.equal(stateProblem({ ...ok, created }, 'x'), 'no journal', JSON.stringify(created));
  assert.match(stateProblem({ ...ok, incident: { guesses: 'many' } }, 'x') ?? '', /incident/);
  assert.match(stateProblem({ ...ok, incidentSeal: 42 }, 'x') ?? '', /seal/);
  assert.match(stateProblem({ ...ok, incident: undefined, incidentSeal: 'abc' }, 'x') ?? '', /seal/);
});

test('start --random takes no case name (exit 2, before anything is built)', async () => {
  const io = capturingIo();
  const uid = process.getuid;
  process.getuid = () => 0;
  try {
    assert.equal(await main(['start', 'reset-storm', '--random', '-d'], io), 2, io.stderr);
  } finally {
    process.getuid = uid;
  }
  assert.match(io.stderr, /--random.*takes no case name/);
});
