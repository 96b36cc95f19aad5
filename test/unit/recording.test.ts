import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { capturingIo } from '../helpers/io.js';
import { judgeRecordingAnswer, loadRecording, manifestProblem, shippedRecordings, type RecordingManifest } from '../../src/core/recording.js';
import { sealDraw, unsealDraw } from '../../src/core/seal.js';
import { UserError } from '../../src/core/errors.js';

test('a seal opens to the run it sealed, differs every time, and refuses any change', () => {
  const run = { caseId: 'reset-storm', seed: 's-1', suspects: 5 };
  const a = sealDraw(run);
  assert.deepEqual(unsealDraw(a), run);
  assert.notEqual(sealDraw(run), a, 'a fresh salt each time');
  assert.doesNotMatch(a, /s-1|reset/);
  const parts = a.split('.');
  const body = Buffer.from(parts[3]!, 'base64url');
  body[0] = body[0]! ^ 1;
  assert.equal(unsealDraw([...parts.slice(0, 3), body.toString('base64url')].join('.')), undefined, 'a changed byte');
  assert.equal(unsealDraw('not a seal'), undefined);
  assert.equal(unsealDraw(''), undefined);
});

const base = (): RecordingManifest => ({
  format: 'tcpdump-mystery-recording',
  version: 1,
  caseId: 'reset-storm',
  title: 't',
  recordedAt: '2026-12-03T00:00:00Z',
  seconds: 5,
  briefing: 'b',
  hosts: [{ name: 'app1', role: 'suspect', interfaces: [{ ifname: 'eth0', network: 'lan', ip: '10.0.0.2' }] }],
  networks: [{ name: 'lan', subnet: '10.0.0.0/24', bridge: 'br-1' }],
  captures: [{ file: 'br-1.pcap', interface: 'br-1', what: 'the bridge' }],
  seal: sealDraw({ caseId: 'reset-storm', seed: 'x', suspects: 5 }),
});

test('a manifest is checked field by field; a capture is a file of its own folder, never a path', () => {
  assert.equal(manifestProblem(base()), undefined);
  for (const file of ['../etc/passwd.pcap', '/etc/x.pcap', 'a/b.pcap', '.hidden.pcap', 'x.txt', '']) {
    assert.match(manifestProblem({ ...base(), captures: [{ file, interface: 'i', what: 'w' }] }) ?? '', /capture/, file);
  }
  assert.match(manifestProblem({ ...base(), format: 'other' }) ?? '', /format/);
  assert.match(manifestProblem({ ...base(), version: 2 }) ?? '', /version/);
  assert.match(manifestProblem({ ...base(), captures: [] }) ?? '', /no capture/);
  assert.match(manifestProblem({ ...base(), seconds: 0 }) ?? '', /seconds/);
  assert.match(manifestProblem({ ...base(), hosts: [{ name: 1 }] }) ?? '', /host/);
  assert.match(manifestProblem(null) ?? '', /object/);
});

test('a folder without a manifest, a broken one, or an altered seal: a clear error (exit 2), never a crash', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mystery-unit-rec-'));
  try {
    await assert.rejects(loadRecording(dir, undefined), (e: unknown) => e instanceof UserError && /holds no recording/.test(e.message) && e.exitCode === 2);
    writeFileSync(join(dir, 'recording.json'), '{');
    await assert.rejects(loadRecording(dir, undefined), (e: unknown) => e instanceof UserError && /not JSON/.test(e.message));
    writeFileSync(join(dir, 'recording.json'), JSON.stringify({ ...base(), seal: sealDraw({ caseId: 'fat-payload', seed: 'x', suspects: 5 }) }));
    await assert.rejects(loadRecording(dir, undefined), (e: unknown) => e instanceof UserError && /altered/.test(e.message), 'a seal of another case');
    writeFileSync(join(dir, 'recording.json'), JSON.stringify(base()));
    const rec = await loadRecording(join(dir, 'recording.json'), undefined);
    assert.equal(rec.case.id, 'reset-storm');
    assert.equal(judgeRecordingAnswer(rec, rec.draw.culprit), true);
    assert.equal(judgeRecordingAnswer(rec, ` ${rec.draw.culprit.toUpperCase()} `), true);
    assert.equal(judgeRecordingAnswer(rec, rec.draw.culprit === 'app1' ? 'app2' : 'app1'), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the package ships at least two recordings, each whole, small, and without its answer in plain text', async () => {
  const shipped = await shippedRecordings();
  assert.ok(shipped.length >= 2, `recordings: ${shipped.map((s) => s.caseId).join(', ')}`);
  for (const s of shipped) {
    const rec = await loadRecording(s.dir, undefined);
    assert.equal(rec.case.id, s.caseId, 'a recording\'s folder is named after its case');
    const files = readdirSync(s.dir);
    let bytes = 0;
    for (const c of rec.manifest.captures) {
      assert.ok(files.includes(c.file), `${s.caseId}: ${c.file}`);
      const head = readFileSync(join(s.dir, c.file));
      assert.equal(head.readUInt32LE(0), 0xa1b2c3d4, `${c.file} is a pcap`);
      bytes += head.length;
    }
    assert.ok(bytes < 3 * 1024 * 1024, `${s.caseId} is small: ${bytes} bytes`);
    const text = readFileSync(join(s.dir, 'recording.json'), 'utf8') + readFileSync(join(s.dir, 'BRIEFING.txt'), 'utf8');
    if (rec.case.solvedBy === 'answer' && rec.draw.value && rec.draw.value.length > 8) assert.ok(!text.includes(rec.draw.value), `${s.caseId}: the value is not written down`);
    assert.doesNotMatch(text, /\/work\/|\/root\/|dist\/src\/cli/, 'no path of the machine it was recorded on');
  }
});

test('answer --recording needs no root and no lab: right (exit 0), wrong (exit 8), by folder or by case id', async (t) => {
  const getuid = process.getuid;
  process.getuid = () => 1000; // a learner without sudo
  t.after(() => {
    process.getuid = getuid;
  });
  const dir = mkdtempSync(join(tmpdir(), 'mystery-unit-rec-'));
  try {
    const [first] = await shippedRecordings();
    cpSync(first!.dir, join(dir, 'copy'), { recursive: true });
    const rec = await loadRecording(join(dir, 'copy'), undefined);
    const wrong = capturingIo();
    assert.equal(await main(['answer', '--recording', join(dir, 'copy'), 'certainly-not-it'], wrong), 8, wrong.stderr);
    assert.match(wrong.stdout, /WRONG ANSWER/);
    const right = capturingIo();
    const value = rec.case.solvedBy === 'answer' ? (rec.case.id === 'vanishing-packet' ? `${rec.draw.culprit} ${rec.draw.value}` : rec.draw.value!) : rec.draw.culprit;
    assert.equal(await main(['answer', '--recording', first!.caseId, value], right), 0, right.stderr);
    assert.match(right.stdout, /CASE SOLVED/);
    const shown = capturingIo();
    assert.equal(await main(['recording', first!.caseId], shown), 0, shown.stderr);
    assert.match(shown.stdout, /tcpdump -nn -r \S+\.pcap/);
    assert.match(shown.stdout, /The briefing of the live run/);
    const list = capturingIo();
    assert.equal(await main(['recording'], list), 0);
    assert.match(list.stdout, new RegExp(first!.caseId));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
