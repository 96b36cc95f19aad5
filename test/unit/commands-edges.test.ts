// The commands' words and edges on the fake backend: the exact verdict lines (nothing more),
// an unknown incident's hints once it is named, the caps the Docker backend refuses, explain's
// nesting limit and its words, a recording's answer, and `record` where tcpdump cannot capture.
import '../helpers/fake-env.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installFakes } from '../helpers/fake-backend.js';
import { freePort, mystery, startLab, stateOf } from '../helpers/fake-cli.js';
import { capturingIo } from '../helpers/io.js';
import { explainFastPath, maxNesting } from '../../src/commands/explain.js';
import { pickIncident } from '../../src/core/incident.js';
import { loadRecording, shippedRecordings } from '../../src/core/recording.js';
import { readState } from '../../src/core/state.js';

const { netns: fake } = installFakes();

test('stop and check of a named case: the verdict lines and nothing else (no incident line)', async () => {
  await startLab('ex1');
  const culprit = fake.fakeLab('ex1').culprit!;
  const r = await mystery('stop', '--name', 'ex1', culprit);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trimEnd().split('\n');
  assert.equal(lines.length, 4, r.out);
  assert.equal(lines[0], `CASE SOLVED: ${culprit} was the culprit.`);
  assert.match(lines[1]!, /^ {2}site response time: \d+ ms before the arrest, \d+ ms after$/);
  assert.match(lines[2]!, /^ {2}time taken: 0 min \d+ s, hints used: 0$/);
  assert.match(lines[3]!, /debrief` shows how it could be found, with this run's real values; `.* down` removes the lab\.$/);

  const c = await mystery('check', '--name', 'ex1');
  assert.equal(c.code, 0, c.out);
  const checked = c.out.trimEnd().split('\n');
  assert.equal(checked.length, 2, c.out);
  assert.match(checked[0]!, /^Solved: the culprit is stopped, and the site answers in \d+ ms\.$/);
  assert.match(checked[1]!, /debrief` shows how it could be found, with this run's real values\.$/);
  await mystery('down', '--name', 'ex1');
});

test("an unknown incident, once named: the case's own hints, one more each time", async () => {
  const port = String(await freePort());
  assert.equal((await mystery('start', '--random', '-d', '--name', 'ex2', '--seed', 'hints-1', '--port', port)).code, 0);
  const c = pickIncident('netns', 'hints-1');
  // before it is named: triage hints, counted apart
  let r = await mystery('hint', '--name', 'ex2');
  assert.equal(r.code, 0);
  assert.equal((await stateOf('ex2')).incident!.triageHints, 1);
  assert.equal((await stateOf('ex2')).hintsUsed, 0);

  r = await mystery('answer', '--incident', c.id, '--name', 'ex2');
  assert.equal(r.code, 0, r.out);
  let total = 0;
  for (const n of [1, 2]) {
    r = await mystery('hint', '--name', 'ex2');
    assert.equal(r.code, 0);
    const m = /^Hint (\d+) of (\d+):/.exec(r.out);
    assert.ok(m, r.out);
    total ||= Number(m[2]);
    assert.deepEqual([Number(m[1]), Number(m[2])], [n, total], `${c.id}: hint ${n} of ${total}`);
    assert.equal((await stateOf('ex2')).hintsUsed, n);
  }
  assert.ok(total >= 3, `${c.id} has at least three hints`);
  assert.equal((await stateOf('ex2')).incident!.triageHints, 1, 'the triage hints stay as they were');
  await mystery('down', '--name', 'ex2');
});

test('the Docker backend refuses --cpus and --memory, each alone (exit 2), before anything is built', async () => {
  for (const caps of [['--cpus', '0.5'], ['--memory', '256m']]) {
    const r = await mystery('start', '--backend', 'docker', '-d', '--name', 'exd', '--port', String(await freePort()), ...caps);
    assert.equal(r.code, 2, caps.join(' '));
    assert.match(r.err, /`--cpus` and `--memory` cap a namespace lab \(its cgroup\); the Docker backend does not take them/);
    assert.equal((await readState('exd')).kind, 'missing');
  }
});

test("explain's nesting limit counts open parentheses, whatever stands between them", async () => {
  const run = async (argv: string[]) => {
    const io = capturingIo();
    const ctx = { io, exitCode: 0 };
    try {
      await explainFastPath(argv, ctx);
      return { error: undefined, out: io.stdout };
    } catch (err) {
      return { error: err as Error & { code?: number }, out: io.stdout };
    }
  };
  const nested = (n: number) => `tcpdump -c 1 -i veth0 ${'( '.repeat(n)}tcp${' )'.repeat(n)}`;
  const deep = await run([nested(maxNesting + 1)]);
  assert.match(deep.error?.message ?? '', new RegExp(`nests its parentheses ${maxNesting + 1} deep: too deep to explain \\(at most ${maxNesting}\\)`));
  const atLimit = await run([nested(maxNesting)]);
  assert.doesNotMatch(atLimit.error?.message ?? '', /too deep/);
  // groups side by side nest one deep: the filter is refused for what it is, not for its depth
  const wide = await run([`tcpdump -c 1 -i veth0 ${'()'.repeat(maxNesting + 1)}`]);
  assert.match(wide.error?.message ?? '', /^the filter is invalid at column 2: expected a primitive/);

  // several words: the text explanation, JSON only when asked
  const words = await run(['tcpdump', '-c', '1', '-i', 'veth0', 'tcp']);
  assert.equal(words.error, undefined);
  assert.match(words.out, /means: packets that are TCP/);
  assert.throws(() => JSON.parse(words.out));
  const json = await run(['tcpdump', '-c', '1', '-i', 'veth0', 'tcp', '--json']);
  assert.equal(JSON.parse(json.out).filter.expression, 'tcp');
});

test('answer --recording of a case solved by a value: the right one is named as right, with the title', async () => {
  const [first] = await shippedRecordings();
  const rec = await loadRecording(first!.dir, undefined);
  assert.equal(rec.case.solvedBy, 'answer');
  const value = rec.case.id === 'vanishing-packet' ? `${rec.draw.culprit} ${rec.draw.value}` : rec.draw.value!;
  const r = await mystery('answer', '--recording', first!.caseId, value);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.split('\n')[0], `CASE SOLVED: "${value}" is right (${rec.manifest.title}, recorded).`);
});

test('record where tcpdump cannot capture the lab (the fake has no interfaces): it fails, and leaves no folder and no lab', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mystery-unit-record-'));
  try {
    const out = join(dir, 'rec');
    const before = fake.calls.length;
    const r = await mystery('record', 'noisy-neighbour', '-o', out, '--seconds', '1', '--warmup', '1');
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(r.err, /tcpdump could not record br-/);
    assert.doesNotMatch(r.out, /Recorded/);
    assert.equal(existsSync(out), false, 'the half-made recording is removed');
    const calls = fake.calls.slice(before).filter((c) => c.op === 'build' || c.op === 'teardown');
    assert.equal(calls.length, 2, JSON.stringify(calls));
    const lab = calls[0]!.lab!;
    assert.match(lab, /^rec[0-9a-f]{4}$/);
    assert.deepEqual(calls.map((c) => [c.op, c.lab]), [['build', lab], ['teardown', lab]]);
    assert.equal((await readState(lab)).kind, 'missing', `the recording's lab ${lab} is down`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
