/**
 * TLS by name, built for real and solved the learner's way, from tcpdump's output only: the
 * briefing names the slow site; on the bridge, the ClientHellos (`tcp dst port 443` and a
 * first payload byte of 0x16) read with -A give the server name each client asks for, and
 * the address that asks for the slow site far more often than the rest is the culprit's;
 * `mystery stop` it, and the slow site answers at once again (`mystery status`, the status
 * page). The tricks that do not solve it fail as they should: counting `tcp port 443` packets
 * per veth accuses an innocent (the busiest sends half as many again as the culprit at least, and
 * nobody talks to port 3000), counting handshakes accuses another, and searching the payloads
 * for the site's name or a request finds nothing but the ClientHellos. Then down, and the host
 * as before. Three seeds at once on netns, and one on Docker beside them.
 * Root, real kernel and tools. Labs x + 2 random characters, ports 3670-3679.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mystery, sh } from '../helpers/cli.js';
import { assertLabsGone, capture, dockerEngine, labNames, psJson, startCase, type PsJson } from '../helpers/lab.js';
import { takeSnapshot } from '../helpers/snapshot.js';
import { assertHostAsBefore, down } from '../helpers/robust.js';
import { findCase } from '../../src/cases/index.js';
import { seededRng } from '../../src/core/random.js';

const env = { XDG_STATE_HOME: mkdtempSync(join(tmpdir(), 'mystery-tls-')) };
const ports = [3670, 3671, 3672, 3673, 3674, 3675, 3676, 3677, 3678, 3679];
const taken = new Set<number>();
const helloFilter = 'tcp dst port 443 and tcp[((tcp[12] & 0xf0) >> 2)] = 0x16';

const ipOfLine = /^\d+:\d+:\d+\.\d+ IP (\d+\.\d+\.\d+\.\d+)\.\d+ > (\d+\.\d+\.\d+\.\d+)\.(\d+): (.*)$/;

/** `tcpdump -A` output, one entry a packet: its header line's addresses and flags, and its payload text. */
function packets(lines: string[]): Array<{ src: string; dst: string; dport: number; head: string; text: string }> {
  const out: Array<{ src: string; dst: string; dport: number; head: string; text: string }> = [];
  for (const line of lines) {
    const m = ipOfLine.exec(line);
    if (m) out.push({ src: m[1]!, dst: m[2]!, dport: Number(m[3]), head: m[4]!, text: '' });
    else if (out.length) out[out.length - 1]!.text += `${line}\n`;
  }
  return out;
}

const tally = (keys: string[]): Map<string, number> => {
  const m = new Map<string, number>();
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
};
const ranked = (m: Map<string, number>): Array<[string, number]> => [...m].sort((a, b) => b[1] - a[1]);

/** Packets on each suspect's veth in `seconds`, by port, at once: the learner's loop over the veths, iflink mapping them home. */
async function perVeth(lab: string, bridge: string, hosts: PsJson[], seconds: number): Promise<Array<{ host: string; p443: number; p3000: number }>> {
  const links = JSON.parse((await sh('ip', ['-j', 'link', 'show', 'master', bridge])).stdout) as Array<{ ifname: string; ifindex: number }>;
  const suspects = hosts.filter((h) => h.name.startsWith('app'));
  const iflink = new Map<string, number>();
  await Promise.all(
    suspects.map(async (h) => {
      const r = await mystery(['exec', '--name', lab, h.name, 'cat', '/sys/class/net/eth0/iflink'], { env });
      assert.equal(r.code, 0, r.stderr);
      iflink.set(h.name, Number(r.stdout.trim()));
    }),
  );
  return Promise.all(
    suspects.map(async (h) => {
      const veth = links.find((l) => l.ifindex === iflink.get(h.name));
      assert.ok(veth, `${h.name}'s veth on ${bridge}`);
      const lines = await capture(veth.ifname, ['-q', 'tcp port 443 or tcp port 3000'], seconds);
      const port = (p: number): number => lines.filter((l) => new RegExp(`\\.${p}[ :]`).test(l)).length;
      return { host: h.name, p443: port(443), p3000: port(3000) };
    }),
  );
}

/** One seed, solved from the captures. */
async function solve(seed: string, lab: string, backend: 'netns' | 'docker' = 'netns', o: { after?: Promise<unknown>; started?: () => void } = {}): Promise<void> {
  const culprit = findCase('tls-by-name').draw(seededRng(seed), 5).culprit;
  const t0 = Date.now();
  const at = (): string => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
  try {
    await o.after;
    const { r: st, port } = await startCase('tls-by-name', { seed, lab, ports, taken, env, backend, timeoutMs: backend === 'docker' ? 180_000 : 60_000 }).finally(o.started);
    assert.equal(st.code, 0, st.stderr);
    const ready = at();
    const bridge = /one bridge on this machine \((br-[0-9a-f]{12})\)/.exec(st.stdout)?.[1];
    assert.ok(bridge, `the briefing names the bridge:\n${st.stdout}`);
    const slow = /\n([a-z]+\.example) takes a second or more, for everyone/.exec(st.stdout)?.[1];
    assert.ok(slow, `the briefing names the slow site:\n${st.stdout}`);
    const hosts = await psJson(lab, env);
    const nameOf = (ip: string): string => hosts.find((h) => h.ip === ip)?.name ?? ip;
    const web = hosts.find((h) => h.name === 'webserver')!.ip;

    // the learner, at once for 5 s: the ClientHellos with -A; every other payload sent to 443
    // with -A (the payload search: a packet without payload fails the filter's load, whatever
    // the `not`); the SYNs; every suspect's veth, by port (the counting trick). Meanwhile the
    // symptom, real: the slow site's queue, on the status page and in `mystery status`
    const symptom = new Promise((r) => setTimeout(r, 1000)).then(() =>
      Promise.all([fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(15_000) }).then((r) => r.text()), mystery(['status', '--json', '--name', lab], { env })]),
    );
    const [hellos, rest, synLines, counts, [page, before]] = await Promise.all([
      capture(bridge, ['-A', helloFilter], 5),
      capture(bridge, ['-A', 'tcp dst port 443 and not tcp[((tcp[12] & 0xf0) >> 2)] = 0x16'], 5),
      capture(bridge, ['-q', 'tcp dst port 443 and tcp[tcpflags] == tcp-syn'], 5),
      perVeth(lab, bridge, hosts, 5),
      symptom,
    ]);
    const rows = new Map([...page.matchAll(/https:\/\/([a-z]+\.example)\/<\/td><td>([\d.]+) (ms|s)</g)].map((m) => [m[1]!, Number(m[2]) * (m[3] === 's' ? 1000 : 1)]));
    assert.equal(rows.size, 4, page);
    const slowMs = rows.get(slow)!;
    // the others' median: on a loaded machine one probe's handshake may take a while, and on a
    // very loaded one every probe does (CI saw 2370 ms for the fast sites, 4330 for the slow
    // one): the slow site's queue is time added to that, not a multiple of it
    const fastMs = [...rows].filter(([s]) => s !== slow).map(([, ms]) => ms).sort((a, b) => a - b)[1]!;
    assert.ok(slowMs >= 700 && slowMs - fastMs >= 700, `${slow} is slow on the status page (${slowMs} ms), the others not (their median ${fastMs} ms): ${JSON.stringify([...rows])}`);
    const latencyBefore = (JSON.parse(before.stdout) as { latencyMs: number }).latencyMs;
    assert.ok(latencyBefore >= 700, `mystery status: ${latencyBefore} ms`);

    const hello = packets(hellos);
    assert.ok(hello.length >= 20, `ClientHellos in 5 s: ${hello.length}`);
    assert.ok(hello.every((p) => p.dst === web && p.dport === 443));
    const sites = tally(hello.flatMap((p) => [...new Set(p.text.match(/[a-z]+\.example/g) ?? [])]));
    assert.ok(sites.size >= 2 && sites.has(slow), `the names read in clear: ${JSON.stringify([...sites])}`);
    // who asks for the slow site, and how often: one address far more than the rest
    const askers = ranked(tally(hello.filter((p) => p.text.includes(slow)).map((p) => p.src)));
    const [first, second] = askers;
    assert.ok(first && first[1] >= 5, `ClientHellos for ${slow}: ${JSON.stringify(askers)}`);
    assert.ok(first[1] >= 3 * (second?.[1] ?? 0), `one address asks for ${slow} far more often: ${JSON.stringify(askers)}`);
    const accused = nameOf(first[0]);
    assert.equal(accused, culprit, `the ClientHellos name the culprit: ${JSON.stringify(askers.map(([ip, n]) => [nameOf(ip), n]))}`);

    // the tricks that do not solve it
    const loud = [...counts].sort((a, b) => b.p443 - a.p443);
    const culpritCount = counts.find((c) => c.host === culprit)!.p443;
    const shown = loud.map((c) => `${c.host}${c.host === culprit ? '*' : ''} ${c.p443}/${c.p3000}`).join(', ');
    assert.notEqual(loud[0]!.host, culprit, `counting port 443 per veth accuses an innocent: ${shown}`);
    // the twin opens 1.8-2.2 times the culprit's connections; under load the ratio of packets
    // drifts (a CI run saw 1002 against 528): louder by half at least is what fools the count
    assert.ok(loud[0]!.p443 >= 1.5 * culpritCount, `the busiest innocent sends half as many packets again as the culprit at least: ${shown}`);
    assert.ok(counts.every((c) => c.p3000 === 0), `nobody talks to port 3000: the first case's trick has nothing to count: ${shown}`);
    const rested = packets(rest);
    const syns = ranked(tally(synLines.flatMap((l) => / IP (\d+\.\d+\.\d+\.\d+)\.\d+ > /.exec(l)?.[1] ?? [])));
    assert.ok(syns.length >= 2, `SYNs: ${synLines.length}`);
    assert.notEqual(nameOf(syns[0]![0]), culprit, `counting new connections accuses an innocent: ${JSON.stringify(syns.map(([ip, n]) => [nameOf(ip), n]))}`);
    const helloTotals = ranked(tally(hello.map((p) => p.src)));
    assert.notEqual(nameOf(helloTotals[0]![0]), culprit, 'counting ClientHellos of every site accuses an innocent');
    const withPayload = rested.filter((p) => / length [1-9]\d*$/.test(p.head));
    assert.ok(withPayload.length >= 50, `requests went to 443 meanwhile: ${withPayload.length}`);
    const plain = rested.filter((p) => /\.example|GET \/|Host: /.test(p.text));
    assert.equal(plain.length, 0, `no name nor request readable outside the ClientHellos: ${plain.slice(0, 2).map((p) => p.text).join('\n')}`);
    console.log(
      `${seed} (${lab}, ${backend}): ${slow} ${Math.round(slowMs)} ms on the status page; ClientHellos for it in 5 s: ${askers.map(([ip, n]) => `${nameOf(ip)} ${n}`).join(', ')}; ` +
        `port 443 packets per veth in 5 s: ${shown}; SYNs: ${syns.map(([ip, n]) => `${nameOf(ip)} ${n}`).join(', ')}`,
    );

    // the arrest, and the site fast again
    const solved = at();
    const stop = await mystery(['stop', '--name', lab, accused], { env, timeoutMs: 60_000 });
    assert.equal(stop.code, 0, stop.stdout + stop.stderr);
    assert.match(stop.stdout, /CASE SOLVED/);
    const [check, status, pageAfter, debrief] = await Promise.all([
      mystery(['check', '--name', lab], { env }),
      mystery(['status', '--json', '--name', lab], { env }),
      fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(15_000) }).then((r) => r.text()),
      mystery(['debrief', '--name', lab], { env }),
    ]);
    assert.equal(check.code, 0, check.stdout);
    const after = JSON.parse(status.stdout) as { solved: boolean; latencyMs: number };
    assert.equal(after.solved, true);
    // the verdict's "after" is a median of five: back to a few hundred ms at most
    const verdict = /site response time: ([\d.]+) (ms|s) before the arrest, ([\d.]+) (ms|s) after/.exec(stop.stdout);
    assert.ok(verdict, stop.stdout);
    const [vBefore, vAfter] = [Number(verdict[1]) * (verdict[2] === 's' ? 1000 : 1), Number(verdict[3]) * (verdict[4] === 's' ? 1000 : 1)];
    assert.ok(vAfter < Math.min(600, vBefore / 2), `the verdict: ${vBefore} ms before, ${vAfter} ms after`);
    // `mystery status` one sample: asked again, up to three times (a loaded machine slows the handshakes of the page's probes)
    const statusTries = [after.latencyMs];
    while (statusTries.length < 3 && Math.min(...statusTries) >= Math.min(1000, latencyBefore / 2)) {
      statusTries.push((JSON.parse((await mystery(['status', '--json', '--name', lab], { env })).stdout) as { latencyMs: number }).latencyMs);
    }
    after.latencyMs = Math.min(...statusTries);
    assert.ok(after.latencyMs < Math.min(1000, latencyBefore / 2), `mystery status after the arrest: ${statusTries.join(', ')} ms (before: ${latencyBefore} ms)`);
    // the status page, reloaded up to three times (one probe's handshake may lag on a loaded machine)
    const slowOn = (html: string): number => {
      const m = new RegExp(`https://${slow.replace('.', '\\.')}/</td><td>([\\d.]+) (ms|s)<`).exec(html);
      return m ? Number(m[1]) * (m[2] === 's' ? 1000 : 1) : Infinity;
    };
    const tries = [slowOn(pageAfter)];
    while (tries.length < 3 && Math.min(...tries) >= Math.min(1000, slowMs / 2)) {
      await new Promise((r) => setTimeout(r, 500));
      tries.push(slowOn(await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(15_000) }).then((r) => r.text())));
    }
    const again = new Map([[slow, Math.min(...tries)]]);
    assert.ok(again.get(slow)! < Math.min(1000, slowMs / 2), `${slow} after the arrest: ${tries.join(', ')} ms (before: ${slowMs} ms)`);
    console.log(`${seed} (${lab}): after the arrest ${after.latencyMs} ms (status), ${slow} ${again.get(slow)} ms (status page); ready at ${ready}, solved at ${solved}, judged at ${at()}`);
    assert.ok(debrief.stdout.includes(`The culprit was ${culprit}`) && debrief.stdout.includes(slow));
  } finally {
    await down(lab);
  }
  await assertLabsGone([lab]);
}

/**
 * Three seeds on netns and, where a Docker engine answers, one on Docker, all at once: the
 * Docker lab's start (the bulk of its time) runs beside the others', so that it adds a few
 * seconds to the test, not a test of its own.
 */
test('tls-by-name (three seeds at once, and seed tls-d on Docker beside them): the server names of the ClientHellos name the culprit; counting packets or handshakes, or searching the payloads, does not', { timeout: 150_000 }, async () => {
  const docker = await dockerEngine();
  const before = await takeSnapshot();
  const labs = labNames('x', 4);
  // the Docker lab starts once the netns labs have (starts take turns by the host's lock, and
  // its start is the longest): it solves while they do
  const marks: Array<() => void> = [];
  const started = ['tls-a', 'tls-b', 'tls-c'].map(() => new Promise<void>((resolve) => marks.push(resolve)));
  const runs = ['tls-a', 'tls-b', 'tls-c'].map((seed, i) => solve(seed, labs[i]!, 'netns', { started: marks[i] }));
  if (docker) runs.push(solve('tls-d', labs[3]!, 'docker', { after: Promise.all(started) }));
  await Promise.all(runs);
  await assertHostAsBefore(before, `tls-by-name on three seeds${docker ? ' and on Docker' : ''}, then down`);
});
