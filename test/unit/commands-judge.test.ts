// The judging commands in-process on the fake backend: check, answer, hint, debrief, give-up,
// and the progress they record (cases --json).
import '../helpers/fake-env.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { installFakes } from '../helpers/fake-backend.js';
import { backdate, drawOf, freePort, mystery, startLab, stateOf } from '../helpers/fake-cli.js';
import { recordRun, readProgress } from '../../src/core/progress.js';
import { findCase } from '../../src/cases/index.js';

const { netns: fake } = installFakes();

const innocentOf = async (lab: string): Promise<string> => {
  const culprit = fake.fakeLab(lab).culprit;
  return (await stateOf(lab)).plan.hosts.find((h) => h.role === 'suspect' && h.name !== culprit)!.name;
};

async function progressOf(caseId: string) {
  const r = await mystery('cases', '--json');
  assert.equal(r.code, 0);
  return (JSON.parse(r.out) as Array<{ id: string; solved: number; runs: number; bestTimeMs: number | null; hintsUsed: number; wrongArrests: number }>).find((x) => x.id === caseId)!;
}

test('check: not solved while the culprit sends (exit 9); solved once it is quiet or stopped', async () => {
  await startLab('ck1');
  const culprit = fake.fakeLab('ck1').culprit!;
  let r = await mystery('check', '--name', 'ck1');
  assert.equal(r.code, 9);
  assert.match(r.out, /Not solved yet: the culprit is still at large/);
  assert.equal((await stateOf('ck1')).solvedAt, undefined);
  // the window is the check's own second for the noisy neighbour
  assert.equal(fake.calls.filter((c) => c.op === 'packetsSent').at(-1)!.windowMs, 1000);

  // just under the quiet threshold is still loud, under it quiet
  fake.packets.set(culprit, 5);
  assert.equal((await mystery('check', '--name', 'ck1')).code, 9);
  fake.packets.set(culprit, 4);
  // a culprit being restarted (a crash, restart: always) is not arrested, however quiet
  fake.fakeLab('ck1').hosts.get(culprit)!.state = 'restarting';
  assert.equal((await mystery('check', '--name', 'ck1')).code, 9);
  fake.fakeLab('ck1').hosts.get(culprit)!.state = 'starting';
  assert.equal((await mystery('check', '--name', 'ck1')).code, 9);
  fake.fakeLab('ck1').hosts.get(culprit)!.state = 'running';
  r = await mystery('check', '--name', 'ck1');
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /Solved: the culprit's traffic has stopped/);
  assert.ok((await stateOf('ck1')).solvedAt);
  fake.packets.delete(culprit);
  await mystery('down', '--name', 'ck1');

  await startLab('ck2');
  const c2 = fake.fakeLab('ck2').culprit!;
  const innocent = await innocentOf('ck2');
  // a killed (TERM) culprit is stopped: solved, and the innocents down are named, not the culprit
  fake.fakeLab('ck2').hosts.get(c2)!.state = 'stopped';
  fake.fakeLab('ck2').hosts.get(innocent)!.state = 'stopped';
  r = await mystery('check', '--name', 'ck2');
  assert.equal(r.code, 0);
  assert.match(r.out, /Solved: the culprit is stopped/);
  assert.match(r.out, new RegExp(`But innocent hosts are down too: ${innocent}\\.`));
  assert.ok(!r.out.split('down too:')[1]!.includes(c2), 'the culprit is no innocent');
  // a server down is no innocent suspect
  fake.fakeLab('ck2').hosts.get(innocent)!.state = 'running';
  fake.fakeLab('ck2').hosts.get('webserver')!.state = 'stopped';
  r = await mystery('check', '--name', 'ck2');
  assert.ok(!r.out.includes('innocent hosts are down'), r.out);
  await mystery('down', '--name', 'ck2');
});

test('check waits out the case\'s quiet window (arp-storm: 2 s)', async () => {
  await startLab('ckq', 'arp-storm');
  const culprit = fake.fakeLab('ckq').culprit!;
  fake.packets.set(culprit, 0);
  const r = await mystery('check', '--name', 'ckq');
  assert.equal(r.code, 0);
  assert.equal(fake.calls.filter((c) => c.op === 'packetsSent').at(-1)!.windowMs, findCase('arp-storm').quietWindowMs);
  fake.packets.delete(culprit);
  await mystery('down', '--name', 'ckq');
});

test('answer: right solves (0), wrong is exit 8; an arrest case refuses answer; stop judges nothing there', async () => {
  await startLab('an1', 'password-in-clear');
  const draw = await drawOf('an1');
  assert.ok(draw.value);
  const culprit = fake.fakeLab('an1').culprit!;
  // stopping the culprit of an answer case is no solve
  let r = await mystery('stop', '--name', 'an1', culprit);
  assert.equal(r.code, 0);
  assert.match(r.out, /This case is not solved by an arrest: nothing was judged/);
  assert.deepEqual((await stateOf('an1')).arrests, []);
  r = await mystery('check', '--name', 'an1');
  assert.equal(r.code, 9, 'no answer, no solve');
  assert.match(r.out, /When you know the answer/);
  assert.equal((await mystery('debrief', '--name', 'an1')).code, 9);

  r = await mystery('answer', '--name', 'an1', `${draw.value}x`);
  assert.equal(r.code, 8);
  assert.match(r.out, /WRONG ANSWER/);
  assert.equal((await stateOf('an1')).solvedAt, undefined);
  assert.equal((await mystery('check', '--name', 'an1')).code, 9);

  r = await mystery('answer', '--name', 'an1', `  ${draw.value}  `);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /CASE SOLVED/);
  const s = await stateOf('an1');
  assert.ok(s.solvedAt);
  assert.deepEqual(s.answers!.map((a) => [a.value, a.correct]), [[`${draw.value}x`, false], [draw.value, true]]);
  r = await mystery('check', '--name', 'an1');
  assert.equal(r.code, 0);
  assert.match(r.out, /Solved: your answer is right/);
  assert.equal((await mystery('debrief', '--name', 'an1')).code, 0);
  await mystery('down', '--name', 'an1');

  await startLab('an2');
  r = await mystery('answer', '--name', 'an2', 'http-sender1');
  assert.equal(r.code, 2);
  assert.match(r.err, /is solved by an arrest, not by a value/);
  assert.equal((await stateOf('an2')).answers, undefined);
  await mystery('down', '--name', 'an2');
});

test('check on a case with a repair: not solved while a probe fails (9, nothing named); repaired once every probe goes through from running hosts (0); an answer still solves', async () => {
  await startLab('rp1', 'one-way-street');
  const culprit = fake.fakeLab('rp1').culprit!;
  const machines = (await stateOf('rp1')).plan.hosts.filter((h) => h.role === 'suspect').map((h) => h.name);
  let r = await mystery('check', '--name', 'rp1');
  assert.equal(r.code, 9, r.out);
  assert.match(r.out, new RegExp(`Not solved yet: 1 of the ${machines.length} requests made now from inside the lab failed \\(the goal: every office machine loads the page\\)`));
  assert.match(r.out, /or repair the lab/);
  assert.doesNotMatch(r.out, new RegExp(`\\b${culprit}\\b`), 'the check names no machine');
  // one probe from every office machine, to the webserver's page on dmz, as its users wait
  const probes = fake.calls.filter((c) => c.op === 'probe' && c.lab === 'rp1');
  assert.deepEqual(probes.map((c) => c.host).sort(), [...machines].sort());
  const web = (await stateOf('rp1')).plan.hosts.find((h) => h.name === 'webserver')!;
  const webIp = web.interfaces?.find((i) => i.network === 'dmz')?.ip ?? web.ip;
  assert.ok(probes.every((c) => c.argv![0] === `http://${webIp}:3000/` && c.argv![1] === '4000'), JSON.stringify(probes));
  assert.equal((await stateOf('rp1')).solvedAt, undefined);

  // repaired, but a machine is stopped: a stopped machine loads nothing
  fake.probeFails = new Set();
  const other = machines.find((m) => m !== culprit)!;
  fake.fakeLab('rp1').hosts.get(other)!.state = 'stopped';
  r = await mystery('check', '--name', 'rp1');
  assert.equal(r.code, 9, r.out);
  assert.match(r.out, /1 of the \d+ requests/);
  fake.fakeLab('rp1').hosts.get(other)!.state = 'running';
  // a repair that breaks another machine is no repair
  fake.probeFails = new Set([other]);
  assert.equal((await mystery('check', '--name', 'rp1')).code, 9);
  fake.probeFails = new Set();
  r = await mystery('check', '--name', 'rp1');
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /Solved: you repaired the lab: every office machine loads the page/);
  assert.ok((await stateOf('rp1')).solvedAt);
  const st = await mystery('status', '--json', '--name', 'rp1');
  assert.equal((JSON.parse(st.out) as { solved: boolean }).solved, true);
  await mystery('down', '--name', 'rp1');

  // the answer solves without a repair, and then no probe is made
  fake.probeFails = undefined;
  await startLab('rp2', 'one-way-street');
  const draw = await drawOf('rp2');
  assert.equal((await mystery('answer', '--name', 'rp2', `${draw.culprit} ${draw.value}`)).code, 0);
  const before = fake.calls.filter((c) => c.op === 'probe').length;
  r = await mystery('check', '--name', 'rp2');
  assert.equal(r.code, 0);
  assert.match(r.out, /Solved: your answer is right/);
  assert.equal(fake.calls.filter((c) => c.op === 'probe').length, before);
  await mystery('down', '--name', 'rp2');

  // a case without a repair makes no probe
  await startLab('rp3', 'mtu-blackhole');
  assert.equal((await mystery('check', '--name', 'rp3')).code, 9);
  assert.equal(fake.calls.filter((c) => c.op === 'probe' && c.lab === 'rp3').length, 0);
  await mystery('down', '--name', 'rp3');
});

test('status shows the office machines\' page loads made now where a case says what a healthy lab answers; check probes only a repairable case', async () => {
  fake.probeFails = undefined;
  await startLab('ee1', 'vanishing-packet');
  const machines = (await stateOf('ee1')).plan.hosts.filter((h) => h.role === 'suspect').length;
  let r = await mystery('status', '--name', 'ee1');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, new RegExp(`^inside: +${machines - 1} of ${machines} office machines' page loads went through just now`, 'm'));
  r = await mystery('status', '--json', '--name', 'ee1');
  assert.deepEqual((JSON.parse(r.out) as { endToEnd: unknown }).endToEnd, { probes: machines, passed: machines - 1 });
  // not repairable: check judges the answer only, and makes no request
  const before = fake.calls.filter((c) => c.op === 'probe').length;
  fake.probeFails = new Set();
  r = await mystery('check', '--name', 'ee1');
  assert.equal(r.code, 9, 'a lab that works again solves nothing where the case is not repairable');
  assert.equal(fake.calls.filter((c) => c.op === 'probe').length, before);
  assert.match((await mystery('status', '--name', 'ee1')).out, new RegExp(`inside: +${machines} of ${machines} `));
  await mystery('down', '--name', 'ee1');
  // a case of one network and no such requests shows no such line
  fake.probeFails = undefined;
  await startLab('ee2');
  r = await mystery('status', '--json', '--name', 'ee2');
  assert.equal((JSON.parse(r.out) as { endToEnd?: unknown }).endToEnd, undefined);
  assert.doesNotMatch((await mystery('status', '--name', 'ee2')).out, /^inside:/m);
  await mystery('down', '--name', 'ee2');
});

test('hint: one more each time, in order, none skipped; the last says so; --again shows them all', async () => {
  await startLab('hi1');
  const state = await stateOf('hi1');
  const total = 4;
  for (let i = 1; i <= total; i++) {
    const r = await mystery('hint', '--name', 'hi1');
    assert.equal(r.code, 0);
    assert.match(r.out, new RegExp(`^Hint ${i} of ${total}:`));
    assert.ok(!r.out.includes(`Hint ${i - 1} of`), `hint ${i} alone`);
    assert.ok(!r.out.includes(`Hint ${i + 1} of`), `hint ${i} alone`);
    assert.equal((await stateOf('hi1')).hintsUsed, i);
  }
  let r = await mystery('hint', '--name', 'hi1');
  assert.match(r.out, /^That was the last hint/);
  assert.match(r.out, new RegExp(`Hint ${total} of ${total}:`));
  assert.equal((await stateOf('hi1')).hintsUsed, total);
  r = await mystery('hint', '--again', '--name', 'hi1');
  for (let i = 1; i <= total; i++) assert.match(r.out, new RegExp(`Hint ${i} of ${total}:`));
  // the last gives this run's exact commands: the culprit's name
  assert.match(r.out, new RegExp(`stop ${fake.fakeLab('hi1').culprit}`));
  assert.equal(state.hintsUsed, 0);
  // the run's record counts the hints
  assert.equal((await progressOf('noisy-neighbour')).hintsUsed >= total, true);
  await mystery('down', '--name', 'hi1');
});

test('hint sees the learner\'s tcpdumps through the backend: a capture on the bridge is noticed, another lab\'s is not', async () => {
  await startLab('hi2');
  const s = await stateOf('hi2');
  fake.captureOn = [s.plan.bridge];
  let r = await mystery('hint', '--name', 'hi2');
  assert.match(r.out, new RegExp(`You are capturing on the bridge ${s.plan.bridge}`));
  fake.captureOn = ['br-000000000000'];
  r = await mystery('hint', '--name', 'hi2');
  assert.match(r.out, /No tcpdump is running yet/);
  fake.captureOn = ['any'];
  r = await mystery('hint', '--name', 'hi2');
  assert.match(r.out, /You are capturing on any interface/);
  fake.captureOn = [];
  // the first hint of the noisy neighbour names no one
  r = await mystery('hint', '--again', '--name', 'hi2');
  const first = r.out.split('Hint 2 of')[0]!;
  assert.ok(!first.includes(fake.fakeLab('hi2').culprit!), 'the first hint names the culprit');
  await mystery('down', '--name', 'hi2');
});

test('debrief only after a solve or a give-up (exit 9 before); it names the culprit with the run\'s veths and counts', async () => {
  await startLab('db1');
  const culprit = fake.fakeLab('db1').culprit!;
  let r = await mystery('debrief', '--name', 'db1');
  assert.equal(r.code, 9);
  assert.match(r.err, /would give the answer away/);
  assert.ok(!r.out.includes(culprit));
  fake.counters.set(culprit, 12345);
  await mystery('stop', '--name', 'db1', culprit);
  r = await mystery('debrief', '--name', 'db1');
  assert.equal(r.code, 0);
  assert.match(r.out, new RegExp(`The culprit was ${culprit}`));
  const veth = fake.fakeLab('db1').hosts.get(culprit)!.veth;
  assert.match(r.out, new RegExp(`${veth} .*${culprit}`));
  assert.match(r.out, /12345/);
  fake.counters.clear();
  await mystery('down', '--name', 'db1');
});

test('give-up: shows the debrief, is counted as given up and never as solved, even after a later arrest', async () => {
  const before = await progressOf('reset-storm');
  await startLab('gu1', 'reset-storm');
  const culprit = fake.fakeLab('gu1').culprit!;
  let r = await mystery('give-up', '--name', 'gu1');
  assert.equal(r.code, 0);
  assert.match(r.out, /^You gave up/);
  assert.ok(r.out.includes(culprit));
  assert.equal((await stateOf('gu1')).gaveUp, true);
  assert.equal((await mystery('debrief', '--name', 'gu1')).code, 0, 'the debrief is open after a give-up');
  r = await mystery('stop', '--name', 'gu1', culprit);
  let p = await progressOf('reset-storm');
  assert.equal(p.runs, before.runs + 1);
  assert.equal(p.solved, before.solved, 'a give-up is no solve');
  r = await mystery('check', '--name', 'gu1');
  p = await progressOf('reset-storm');
  assert.equal(p.solved, before.solved, 'a give-up is no solve');
  const all = await readProgress();
  assert.equal(all.cases.get('reset-storm')!.gaveUp, 1);
  await mystery('down', '--name', 'gu1');
});

test('give-up after a solve changes nothing: the run stays solved, in the state and in the progress', async () => {
  await startLab('gu2', 'reset-storm');
  const culprit = fake.fakeLab('gu2').culprit!;
  assert.equal((await mystery('stop', '--name', 'gu2', culprit)).code, 0);
  const before = await progressOf('reset-storm');
  const givenUpBefore = (await readProgress()).cases.get('reset-storm')?.gaveUp ?? 0;
  const r = await mystery('give-up', '--name', 'gu2');
  assert.equal(r.code, 0);
  assert.match(r.out, /^The case is solved already/);
  assert.ok(r.out.includes(culprit), 'the debrief follows');
  assert.equal((await stateOf('gu2')).gaveUp, undefined);
  const after = await progressOf('reset-storm');
  assert.equal(after.solved, before.solved, 'still solved');
  assert.equal((await readProgress()).cases.get('reset-storm')!.gaveUp, givenUpBefore, 'not given up');
  await mystery('down', '--name', 'gu2');
});

test('progress: the best time is the fastest run; wrong arrests and runs are counted', async () => {
  // one run solved through the commands, then records of two more runs of the same case
  await startLab('pg0', 'slowloris');
  await backdate('pg0', 600_000);
  assert.equal((await mystery('stop', '--name', 'pg0', await innocentOf('pg0'))).code, 8);
  assert.equal((await mystery('stop', '--name', 'pg0', fake.fakeLab('pg0').culprit!)).code, 0);
  const s = await stateOf('pg0');
  await mystery('down', '--name', 'pg0');
  const solvedAt = Date.parse(s.solvedAt!);
  for (const [i, ms] of [30_000, 120_000].entries()) {
    const startedAt = new Date(solvedAt + 1000 * (i + 1)).toISOString();
    await recordRun({ ...s, startedAt, readyAt: new Date(solvedAt - ms).toISOString(), arrests: [] }, true);
  }
  const p = await progressOf('slowloris');
  assert.equal(p.runs, 3);
  assert.equal(p.solved, 3);
  assert.equal(p.wrongArrests, 1);
  assert.equal(p.bestTimeMs, 30_000);
  const r = await mystery('cases');
  assert.match(r.out, /slowloris +hard +solved 3x, best 30\.00 s/);
});

test('progress: a later record of the same run never un-solves it; another run is another record', async () => {
  await startLab('pr1', 'fat-payload');
  await mystery('stop', '--name', 'pr1', fake.fakeLab('pr1').culprit!);
  const s = await stateOf('pr1');
  assert.equal((await progressOf('fat-payload')).solved, 1);
  await recordRun(s, false);
  await recordRun({ ...s, solvedAt: undefined }, false);
  assert.equal((await progressOf('fat-payload')).solved, 1);
  assert.equal((await progressOf('fat-payload')).runs, 1);
  // a wrong arrest after the solve keeps it solved
  const r = await mystery('stop', '--name', 'pr1', await innocentOf('pr1'));
  assert.equal(r.code, 8);
  const p = await progressOf('fat-payload');
  assert.equal(p.solved, 1);
  assert.equal(p.wrongArrests, 1);
  await mystery('down', '--name', 'pr1');
});

test('cases: the catalog says which case needs the netns backend', async () => {
  const r = await mystery('cases');
  assert.equal(r.code, 0);
  assert.match(r.out, /^lossy-link .*\(needs the netns backend\)$/m);
  assert.doesNotMatch(r.out, /^noisy-neighbour .*needs the/m);
});

test('answer --incident: a name that is no case is a usage error (2); a lab that is no incident too', async () => {
  const port = String(await freePort());
  let r = await mystery('start', '--random', '-d', '--name', 'inc2', '--seed', 'inc-2', '--port', port);
  assert.equal(r.code, 0, r.err);
  r = await mystery('answer', '--incident', 'no-such-incident', '--name', 'inc2');
  assert.equal(r.code, 2);
  assert.match(r.err, /There is no incident called "no-such-incident"/);
  assert.deepEqual((await stateOf('inc2')).incident!.guesses, []);
  await mystery('down', '--name', 'inc2');
  await startLab('inc3');
  r = await mystery('answer', '--incident', 'noisy-neighbour', '--name', 'inc3');
  assert.equal(r.code, 2);
  assert.match(r.err, /This run is no unknown incident/);
  await mystery('down', '--name', 'inc3');
});

test('a progress file of another version is left alone and said so', async () => {
  const { writeFile, readFile, mkdir } = await import('node:fs/promises');
  const { progressFile } = await import('../../src/core/progress.js');
  const file = progressFile();
  let saved: string | undefined;
  try {
    saved = await readFile(file, 'utf8');
  } catch {
    saved = undefined;
  }
  await mkdir((await import('node:path')).dirname(file), { recursive: true });
  for (const text of ['{"version":2,"runs":{}}', '{"version":1,"runs":[]}', '{"version":1}', 'null']) {
    await writeFile(file, text);
    const r = await mystery('cases');
    assert.equal(r.code, 0);
    assert.match(r.err, /note: your progress is not recorded/, text);
  }
  await writeFile(file, '{"version":1,"runs":{}}');
  assert.equal((await mystery('cases')).err, '');
  if (saved !== undefined) await writeFile(file, saved);
});
