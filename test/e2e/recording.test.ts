/**
 * Recorded incidents: `mystery record` runs a case in a lab of its own, captures every bridge
 * and veth, and leaves the host as it found it; under sudo the files are the learner's (written
 * with the learner's rights). The recording, and the two that come with the package, are then
 * solved from `tcpdump -r` alone, as a learner without root or a lab would, and answered with
 * `mystery answer --recording`. Root for the record (real kernel and tools); lab rec*, ports 39000+.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chmodSync, chownSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mystery, sh } from '../helpers/cli.js';
import { takeSnapshot } from '../helpers/snapshot.js';
import { assertHostAsBefore } from '../helpers/robust.js';
import type { RecordingManifest } from '../../src/core/recording.js';

const shipped = fileURLToPath(new URL('../../../recordings/', import.meta.url));
const env = { XDG_STATE_HOME: mkdtempSync(join(tmpdir(), 'mystery-rec-')) };

function manifestOf(dir: string): RecordingManifest {
  return JSON.parse(readFileSync(join(dir, 'recording.json'), 'utf8')) as RecordingManifest;
}

/** What tcpdump -r prints of one of the recording's files. */
async function read(dir: string, file: string, args: string[], filter = ''): Promise<string[]> {
  const r = await sh('tcpdump', ['-nn', '-r', join(dir, file), ...args, ...(filter ? [filter] : [])]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

const byIp = (m: RecordingManifest, ip: string): string => m.hosts.find((h) => h.interfaces.some((i) => i.ip === ip))?.name ?? `(unknown ${ip})`;
const bridgeOf = (m: RecordingManifest, network: string): string => m.captures.find((c) => c.interface === m.networks.find((n) => n.name === network)!.bridge)!.file;

async function answer(ref: string, value: string): Promise<number | null> {
  const r = await mystery(['answer', '--recording', ref, value], { env });
  console.log(`# answer --recording ${ref} '${value}': ${r.code} ${r.stdout.split('\n')[0]}`);
  return r.code;
}

test('record under sudo: a lab of its own, every interface captured, files the learner\'s; solved from tcpdump -r; the host as before', { timeout: 120_000 }, async () => {
  const before = await takeSnapshot();
  // the learner's own folder (nobody's here), as with `sudo mystery record -o ~/rec`
  const home = mkdtempSync(join(tmpdir(), 'mystery-rec-home-'));
  chownSync(home, 65534, 65534);
  chmodSync(home, 0o755);
  const out = join(home, 'reset');
  try {
    const sudo = { ...env, SUDO_USER: 'nobody', SUDO_UID: '65534', SUDO_GID: '65534' };
    const r = await mystery(['record', 'reset-storm', '-o', out, '--seconds', '5', '--warmup', '2', '--seed', 'rec-e2e-1'], { env: sudo, timeoutMs: 90_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const m = manifestOf(out);
    assert.deepEqual(readdirSync(out).sort(), ['BRIEFING.txt', 'recording.json', ...m.captures.map((c) => c.file)].sort());
    for (const f of readdirSync(out)) assert.equal(statSync(join(out, f)).uid, 65534, `${f} is the learner's`);
    assert.equal(m.captures.length, m.hosts.length + m.networks.length, 'every bridge and every veth');
    // the detective: resets on the bridge, and whom they go to
    const resets = await read(out, bridgeOf(m, 'lan'), [], 'tcp[tcpflags] & tcp-rst != 0');
    const to = new Map<string, number>();
    for (const l of resets) {
      const dst = /> (\d+\.\d+\.\d+\.\d+)\.\d+:/.exec(l)?.[1];
      if (dst) to.set(dst, (to.get(dst) ?? 0) + 1);
    }
    const [top, second] = [...to].sort((a, b) => b[1] - a[1]);
    assert.ok(top && top[1] >= 5 && top[1] > 3 * (second?.[1] ?? 0), `resets go to one host: ${[...to].join(' ')}`);
    const culprit = byIp(m, top[0]);
    const innocent = m.hosts.find((h) => h.role === 'suspect' && h.name !== culprit)!.name;
    assert.equal(await answer(out, innocent), 8, 'an innocent is the wrong answer');
    assert.equal(await answer(out, culprit), 0, 'the culprit is the right one');
    // nothing of the answer is written in plain text: only its seal
    assert.doesNotMatch(readFileSync(join(out, 'recording.json'), 'utf8'), /"(seed|culprit)"/);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
  await assertHostAsBefore(before, 'a record');
});

test('record refuses a folder that exists, and a case it cannot build, before building anything', { timeout: 60_000 }, async () => {
  const before = await takeSnapshot();
  const dir = mkdtempSync(join(tmpdir(), 'mystery-rec-exists-'));
  try {
    const exists = await mystery(['record', '-o', dir], { env });
    assert.equal(exists.code, 5, exists.stderr);
    assert.match(exists.stderr, /exists already[\s\S]*does not exist yet/);
    const nowhere = await mystery(['record', '-o', join(dir, 'no', 'such')], { env });
    assert.equal(nowhere.code, 2, nowhere.stderr);
    assert.match(nowhere.stderr, /does not exist/);
    const bad = await mystery(['answer', '--recording', dir, 'x'], { env });
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /holds no recording/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  await assertHostAsBefore(before, 'refused records');
});

test('the recordings that come with the package are solved from tcpdump -r alone', { timeout: 60_000 }, async () => {
  // the password in the clear: a Basic login on the bridge, decoded
  const pw = join(shipped, 'password-in-clear');
  const pwm = manifestOf(pw);
  const lines = await read(pw, bridgeOf(pwm, 'lan'), ['-A'], 'tcp dst port 3000');
  const basic = lines.map((l) => /authorization: Basic ([A-Za-z0-9+/=]+)/i.exec(l)?.[1]).find(Boolean);
  assert.ok(basic, 'a Basic login was recorded');
  const password = Buffer.from(basic, 'base64').toString().split(':')[1]!;
  assert.equal(await answer('password-in-clear', 'hunter2'), 8);
  assert.equal(await answer('password-in-clear', password), 0);

  // the vanishing packet: the machine whose SYNs get no SYN-ACK on lan, and whether they come out on dmz
  const vp = join(shipped, 'vanishing-packet');
  const vpm = manifestOf(vp);
  const syn = "tcp port 3000 and tcp[tcpflags] & tcp-syn != 0";
  const lan = await read(vp, bridgeOf(vpm, 'lan'), [], syn);
  const synsFrom = new Map<string, number>();
  const answered = new Set<string>();
  for (const l of lan) {
    const m = /IP (\d+\.\d+\.\d+\.\d+)\.\d+ > (\d+\.\d+\.\d+\.\d+)\.\d+: Flags \[(S|S\.)\]/.exec(l);
    if (!m) continue;
    if (m[3] === 'S') synsFrom.set(m[1]!, (synsFrom.get(m[1]!) ?? 0) + 1);
    else answered.add(m[2]!);
  }
  const unanswered = [...synsFrom.keys()].filter((ip) => !answered.has(ip));
  assert.equal(unanswered.length, 1, `one machine's SYNs go unanswered on lan: ${[...synsFrom].join(' ')}`);
  const victimIp = unanswered[0]!;
  const onDmz = await read(vp, bridgeOf(vpm, 'dmz'), [], `${syn} and host ${victimIp}`);
  const lost = onDmz.some((l) => l.includes(`IP ${victimIp}.`)) ? 'answers' : 'requests';
  const victim = byIp(vpm, victimIp);
  assert.equal(await answer('vanishing-packet', `${victim} ${lost === 'requests' ? 'answers' : 'requests'}`), 8, 'the wrong direction');
  assert.equal(await answer('vanishing-packet', `${victim} ${lost}`), 0);
});
