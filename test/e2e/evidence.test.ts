/**
 * `mystery submit`: the learner's own captures judged on the default case, made with the real
 * tcpdump on the real veths and read back by the real `tcpdump -r`: the culprit's veth proves
 * it (pcap and pcapng), an innocent's or the bridge does not, broken files get clear errors,
 * a submit does not solve the case, and --filter says what a wrong filter missed.
 * Root, real kernel and tools. Lab revid, port 3580.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mystery, sh } from '../helpers/cli.js';
import { takeSnapshot } from '../helpers/snapshot.js';
import { assertHostAsBefore, down } from '../helpers/robust.js';
import { findBridge, iflinks, ps, vethsOf } from '../helpers/learner.js';
import { pcapToPcapng } from '../helpers/pcapng.js';
import { noisyNeighbour } from '../../src/cases/noisy-neighbour.js';
import { seededRng } from '../../src/core/random.js';

const lab = 'revid';
const env = { XDG_STATE_HOME: mkdtempSync(join(tmpdir(), 'mystery-evidence-')) };
const submit = (args: string[]) => mystery(['submit', '--name', lab, ...args], { env, timeoutMs: 60_000 });

async function capture(iface: string, file: string, seconds = 3, filter = 'tcp port 3000'): Promise<void> {
  const r = await sh('timeout', [String(seconds), 'tcpdump', '-i', iface, '-w', file, '-Z', 'root', filter], (seconds + 10) * 1000);
  assert.match(r.stderr, /packets captured/, r.stderr);
}

test('submit: the culprit\'s own veth proves the case, an innocent\'s or the bridge does not, and broken files get clear errors', { timeout: 180_000 }, async () => {
  const before = await takeSnapshot();
  const dir = mkdtempSync(join(tmpdir(), 'mystery-captures-'));
  const seed = 'evidence-1';
  const culprit = noisyNeighbour.draw(seededRng(seed), 5).culprit;
  try {
    const st = await mystery(['start', '-d', '--name', lab, '--port', '3580', '--seed', seed], { env, timeoutMs: 60_000 });
    assert.equal(st.code, 0, st.stderr);
    // the learner's way to each host's veth: iflink inside, ifindex outside
    const hosts = await ps(lab);
    const bridge = await findBridge(hosts[0]!.ip);
    const veths = await vethsOf(bridge);
    const links = await iflinks(lab);
    const vethOf = (name: string): string => veths.find((v) => v.ifindex === links.get(hosts.find((h) => h.name === name)!.id))!.name;
    const innocent = hosts.find((h) => h.name !== culprit && h.name !== 'webserver')!.name;
    const culpritIp = hosts.find((h) => h.name === culprit)!.ip;

    const mine = join(dir, 'culprit.pcap');
    await capture(vethOf(culprit), mine);
    const ok = await submit([mine]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, new RegExp(`EVIDENCE: \\d+ packets from ${culpritIp.replace(/\./g, '\\.')} in [\\d.]+ s \\(\\d+ with a payload to port 3000\\), captured on ${vethOf(culprit)}, ${culprit}'s`));
    console.log(ok.stdout.split('\n')[0]);

    const ng = join(dir, 'culprit.pcapng');
    assert.ok(pcapToPcapng(mine, ng, vethOf(culprit)) > 20);
    assert.equal(readFileSync(ng).readUInt32BE(0), 0x0a0d0d0a);
    const okNg = await submit([ng]);
    assert.equal(okNg.code, 0, `pcapng: ${okNg.stdout}${okNg.stderr}`);

    const theirs = join(dir, 'innocent.pcap');
    await capture(vethOf(innocent), theirs);
    const no = await submit([theirs]);
    assert.equal(no.code, 8, no.stdout + no.stderr);
    assert.match(no.stdout, new RegExp(`this capture holds only ${innocent}'s traffic .*: it is innocent; the culprit's traffic is elsewhere`));

    // a bridge carries others' traffic too: here the site's own probes, through localhost (in
    // a pure flood a second's capture of the bridge may hold nothing but the culprit's, and
    // then no file can tell it from the culprit's veth)
    const all = join(dir, 'bridge.pcap');
    // probes each on its own, spread over the capture (one after another, each waited a sluggish
    // site's 2 s, and a late tcpdump once saw none of them)
    const probes = Promise.all(
      Array.from({ length: 8 }, (_, k) =>
        new Promise((res) => setTimeout(res, 300 + k * 200)).then(() => fetch('http://127.0.0.1:3580/', { signal: AbortSignal.timeout(3000) }).then((r) => r.arrayBuffer()).catch(() => undefined)),
      ),
    );
    await capture(bridge, all, 3);
    await probes;
    const mixed = await submit([all]);
    assert.equal(mixed.code, 8, mixed.stdout + mixed.stderr);
    // every packet of port 3000 is the webserver's: the bridge's capture of it is its veth's
    assert.match(mixed.stdout, /(it holds the traffic of \d+ hosts|holds only traffic to and from webserver) .* Capture on (one host's|the suspects') own veths?/);

    // broken files: exit 2, a message that says what to do, at once
    const empty = join(dir, 'empty.pcap');
    writeFileSync(empty, '');
    const garbage = join(dir, 'garbage.pcap');
    writeFileSync(garbage, 'this is not a capture\n'.repeat(50));
    const header = join(dir, 'header-only.pcap');
    writeFileSync(header, readFileSync(mine).subarray(0, 30));
    for (const [file, message] of [
      [join(dir, 'missing.pcap'), /There is no file/],
      [empty, /is empty/],
      [garbage, /is not a capture \(neither pcap nor pcapng\)/],
      [header, /truncated before its first packet|cannot read a packet/],
      [dir, /is not a regular file/],
    ] as const) {
      const r = await submit([file]);
      assert.equal(r.code, 2, `${file}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, message, file);
      assert.match(r.stderr, /\n {2}\S/, `${file}: says what to do`);
    }
    // cut in the middle of a packet: what is whole is still read, and the file is said to be truncated
    const cut = join(dir, 'cut.pcap');
    const whole = readFileSync(mine);
    writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2) + 7));
    const partly = await submit([cut]);
    assert.match(partly.stdout, /the file is truncated/);
    assert.ok(partly.code === 0 || partly.code === 8, `${partly.code}: ${partly.stdout}${partly.stderr}`);

    // a submit is not an arrest
    const check = await mystery(['check', '--name', lab], { env });
    assert.equal(check.code, 9, check.stdout);

    // the filter feedback: asking for src port 3000 misses what the culprit sends, and says so
    const fb = await submit(['--filter', `src port 3000 and host ${culpritIp}`]);
    assert.equal(fb.code, 0, fb.stdout + fb.stderr);
    assert.match(fb.stdout, /matched \d+ of them:\n {2}0 of the culprit's \d+ packets/);
    assert.match(fb.stdout, new RegExp(`With src and dst swapped \\('dst port 3000 and host ${culpritIp.replace(/\./g, '\\.')}'\\) it would catch \\d+ of them`));
    const bad = await submit(['--filter', 'tcp port']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /tcpdump does not take the filter/);

    // the evidence is in the progress
    const cases = JSON.parse((await mystery(['cases', '--json'], { env })).stdout) as Array<{ id: string; evidence: number }>;
    assert.equal(cases.find((c) => c.id === 'noisy-neighbour')?.evidence, 1);
  } finally {
    await down(lab);
    rmSync(dir, { recursive: true, force: true });
  }
  await assertHostAsBefore(before, 'submit, then down');
});
