/**
 * The detective's toolkit on a real lab: hints in order, a wrong arrest then a right one
 * with their verdicts, the debrief's values against what tcpdump saw, progress recorded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mystery } from '../helpers/cli.js';
import { takeSnapshot } from '../helpers/snapshot.js';
import { assertHostAsBefore, runRoot } from '../helpers/robust.js';
import { countEach, findBridge, ifindexFromIpLink, ps, vethsOf } from '../helpers/learner.js';
import { noisyNeighbour } from '../../src/cases/noisy-neighbour.js';
import { seededRng } from '../../src/core/random.js';
import { pickIncident } from '../../src/core/incident.js';
import { allCases } from '../../src/cases/index.js';

const lab = 'etool';
const port = 3220;
const seed = 'toolkit-seed-7';

test('hints, verdicts, debrief and progress on a real lab', { timeout: 240_000 }, async (t) => {
  const before = await takeSnapshot();
  const stateHome = await mkdtemp(join(tmpdir(), 'mystery-progress-'));
  const env = { XDG_STATE_HOME: stateHome };
  const run = (args: string[]) => mystery([...args, '--name', lab], { env });
  t.after(async () => {
    await mystery(['down', '--name', lab]);
    await rm(stateHome, { recursive: true, force: true });
  });

  const culprit = noisyNeighbour.draw(seededRng(seed), 5).culprit;
  const start = await mystery(['start', '-d', '--name', lab, '--port', String(port), '--seed', seed], { env });
  assert.equal(start.code, 0, start.stderr);
  assert.doesNotMatch(start.stdout, new RegExp(culprit), 'the briefing never names the culprit');

  // debrief before solving gives nothing away
  const early = await run(['debrief']);
  assert.equal(early.code, 9);
  assert.match(early.stderr, /not solved yet/);
  assert.equal((await run(['check'])).code, 9);

  // hints come in order, each adding to the last; the last has this run's names
  const hints: string[] = [];
  for (let i = 1; i <= 4; i++) {
    const h = await run(['hint']);
    assert.equal(h.code, 0, h.stderr);
    assert.match(h.stdout, new RegExp(`Hint ${i} of 4`));
    hints.push(h.stdout);
  }
  assert.doesNotMatch(hints[0]!, new RegExp(culprit));
  assert.match(hints[3]!, new RegExp(`stop ${culprit}`));
  const extra = await run(['hint']);
  assert.match(extra.stdout, /That was the last hint/);
  // no tcpdump is running: the situational hint says so
  assert.match(hints[0]!, /No tcpdump is running yet/);

  // a tcpdump on the bridge: the hint sees it and says why the bridge cannot tell who is loud
  const bridgeName = await findBridge((await ps(lab))[0]!.ip);
  const capture = spawn('tcpdump', ['-nq', '-i', bridgeName, 'tcp port 3000'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 500));
    const seen = await run(['hint', '--again']);
    assert.match(seen.stdout, new RegExp(`capturing on the bridge ${bridgeName}: it sees everyone's traffic`));
    assert.match(seen.stdout, /Hint 1 of 4[\s\S]*Hint 4 of 4/);
  } finally {
    capture.kill('SIGTERM');
  }

  // a wrong arrest: says so, the site stays slow, exit 8; restart brings the innocent back
  const innocent = ['http-sender1', 'http-sender2', 'http-sender3', 'http-sender4', 'http-sender5'].find((h) => h !== culprit)!;
  const wrong = await run(['stop', innocent]);
  assert.equal(wrong.code, 8, wrong.stdout + wrong.stderr);
  assert.match(wrong.stdout, new RegExp(`WRONG ARREST: ${innocent} is innocent`));
  assert.match(wrong.stdout, /still slow/);
  let status = JSON.parse((await run(['status', '--json'])).stdout);
  assert.equal(status.solved, false);
  assert.equal(status.hosts.find((h: { name: string }) => h.name === innocent).state, 'stopped');
  assert.equal((await run(['restart', innocent])).code, 0);
  status = JSON.parse((await run(['status', '--json'])).stdout);
  assert.equal(status.hosts.find((h: { name: string }) => h.name === innocent).state, 'running');
  assert.equal(status.hintsUsed, 4);

  // what tcpdump sees, to hold the debrief against
  const hosts = await ps(lab);
  const veths = await vethsOf(await findBridge(hosts[0]!.ip));
  const counts = await countEach(veths.map((v) => v.name), 'tcp port 3000', 2);
  const loudest2 = [...counts.entries()].sort((a, b) => b[1].captured - a[1].captured).slice(0, 2).map(([v]) => v).sort();

  // the right arrest: before and after, time, hints
  const right = await run(['stop', culprit]);
  assert.equal(right.code, 0, right.stdout + right.stderr);
  assert.match(right.stdout, new RegExp(`CASE SOLVED: ${culprit} was the culprit`));
  const m = /(\d[\d.]*) (s|ms) before the arrest, (\d[\d.]*) (s|ms) after/.exec(right.stdout);
  assert.ok(m, right.stdout);
  const ms = (v: string, unit: string) => Number(v) * (unit === 's' ? 1000 : 1);
  assert.ok(ms(m[3]!, m[4]!) < ms(m[1]!, m[2]!), 'faster after the arrest');
  assert.match(right.stdout, /hints used: 4/);

  status = JSON.parse((await run(['status', '--json'])).stdout);
  assert.equal(status.solved, true);
  assert.deepEqual(status.arrests, [
    { host: innocent, correct: false },
    { host: culprit, correct: true },
  ]);
  const check = await run(['check']);
  assert.equal(check.code, 0, check.stdout);
  assert.match(check.stdout, /Solved/);

  // the debrief names the culprit, its veth and ifindex, and ranks the veths as tcpdump did
  const debrief = await run(['debrief']);
  assert.equal(debrief.code, 0, debrief.stderr);
  assert.match(debrief.stdout, new RegExp(`The culprit was ${culprit}`));
  const rows = debrief.stdout
    .split('\n')
    .map((l) => /^(veth[0-9a-f]{7})\s+(\d+)\s+(\S+)\s+\S+ (\d+)/.exec(l))
    .filter((x): x is RegExpExecArray => !!x);
  assert.equal(rows.length, 6, debrief.stdout);
  for (const r of rows) assert.equal(Number(r[2]), await ifindexFromIpLink(r[1]!), `ifindex of ${r[1]}`);
  assert.deepEqual(rows.slice(0, 2).map((r) => r[1]).sort(), loudest2, 'the two loudest veths agree with tcpdump');
  const culpritRow = rows.find((r) => r[3] === culprit)!;
  assert.ok(loudest2.includes(culpritRow[1]!));

  // progress is recorded per user
  const progress = JSON.parse(await readFile(join(stateHome, 'tcpdump-mystery', 'progress.json'), 'utf8'));
  const runs = Object.values(progress.runs) as Array<{ caseId: string; solved: boolean; hintsUsed: number; wrongArrests: number; timeMs: number }>;
  assert.equal(runs.length, 1);
  assert.equal(runs[0]!.caseId, 'noisy-neighbour');
  assert.equal(runs[0]!.solved, true);
  assert.equal(runs[0]!.hintsUsed, 4);
  assert.equal(runs[0]!.wrongArrests, 1);
  assert.ok(runs[0]!.timeMs > 0);
  const cases = JSON.parse((await mystery(['cases', '--json'], { env })).stdout);
  const nn = cases.find((c: { id: string }) => c.id === 'noisy-neighbour');
  assert.equal(nn.solved, 1);
  assert.equal(nn.wrongArrests, 1);

  assert.equal((await mystery(['down', '--name', lab])).code, 0);
  await assertHostAsBefore(before, 'after the toolkit run');
});

/**
 * The unknown incident: `start --random` names no case anywhere the learner looks (output,
 * status, hints, the state file, the progress file), a wrong name is exit 8, the right one
 * brings the case's own briefing, the solve says which incident it was, and progress counts it apart.
 */
test('the unknown incident: nothing names it until the learner does; named, solved, counted apart', { timeout: 120_000 }, async (t) => {
  const before = await takeSnapshot();
  const stateHome = await mkdtemp(join(tmpdir(), 'mystery-incident-'));
  const env = { XDG_STATE_HOME: stateHome };
  const incLab = 'einc';
  const run = (args: string[]) => mystery([...args, '--name', incLab], { env, timeoutMs: 60_000 });
  t.after(async () => {
    await mystery(['down', '--name', incLab]);
    await rm(stateHome, { recursive: true, force: true });
  });
  // the seed decides the case too: the test knows it, the learner does not
  const incSeed = 'incident-e2e-2';
  const c = pickIncident('netns', incSeed);
  const others = allCases().filter((x) => x.id !== c.id);
  const start = await mystery(['start', '--random', '-d', '--name', incLab, '--port', '3221', '--seed', incSeed], { env, timeoutMs: 120_000 });
  assert.equal(start.code, 0, start.stderr);
  const said: string[] = [start.stdout, start.stderr];
  const status = await run(['status', '--json']);
  assert.equal((JSON.parse(status.stdout) as { case: string | null }).case, null);
  said.push(status.stdout, (await run(['status'])).stdout, (await run(['hint'])).stdout, (await run(['hint'])).stdout);
  said.push(await readFile(join(runRoot, incLab, 'state.json'), 'utf8'));
  said.push(await readFile(join(stateHome, 'tcpdump-mystery', 'progress.json'), 'utf8').catch(() => ''));
  for (const text of said) {
    assert.ok(!text.includes(c.id) && !text.includes(c.title), `nothing names ${c.id} before the learner does: ${text.slice(0, 300)}`);
  }
  const wrong = await run(['answer', '--incident', others[0]!.id]);
  assert.equal(wrong.code, 8, wrong.stdout + wrong.stderr);
  const right = await run(['answer', '--incident', c.id]);
  assert.equal(right.code, 0, right.stdout + right.stderr);
  assert.match(right.stdout, new RegExp(`INCIDENT NAMED: ${c.title} \\(${c.id}\\), triaged in \\d+ s, at guess 2`));
  // then it is the case as ever: solved by its own way
  const draw = c.draw(seededRng(incSeed), c.suspects.default);
  const solve = c.solvedBy === 'answer' ? await run(['answer', c.id === 'vanishing-packet' ? `${draw.culprit} ${draw.value}` : draw.value!]) : await run(['stop', draw.culprit]);
  assert.equal(solve.code, 0, solve.stdout + solve.stderr);
  const check = await run(['check']);
  assert.equal(check.code, 0, check.stdout);
  assert.match(check.stdout, new RegExp(`The incident was ${c.title} \\(${c.id}\\): you named it after \\d+ s \\(2 guesses\\)`));
  const cases = await mystery(['cases'], { env });
  assert.match(cases.stdout, /unknown incidents: 1 named of 1, fastest triage/);
  const down = await mystery(['down', '--name', incLab]);
  assert.equal(down.code, 0, down.stderr);
  await assertHostAsBefore(before, 'an unknown incident, then down');
});
