/**
 * The routing loop, built for real on three seeds at once and solved the learner's way, from
 * tcpdump's output only: on lan the machine whose SYNs get no SYN-ACK; on core the same
 * SYN-ACK again and again, its ttl one lower each time, two source MACs taking turns; on dmz
 * the ICMP time exceeded and its source, which `mystery ps --json` names. Then down, and the
 * host as it was. Root, real kernel and tools. Labs l + 2 random characters, ports 3620-3629.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mystery, sh } from '../helpers/cli.js';
import { assertLabsGone, labNames, psJson, startCase } from '../helpers/lab.js';
import { takeSnapshot } from '../helpers/snapshot.js';
import { assertHostAsBefore, down } from '../helpers/robust.js';

const env = { XDG_STATE_HOME: mkdtempSync(join(tmpdir(), 'mystery-loop-')) };
/** three seeds of three different machines and three different routers */
const seeds = ['loop-a', 'loop-b', 'loop-e'];
const ports = Array.from({ length: 10 }, (_, i) => 3620 + i);

/** One packet as `tcpdump -nn -v [-e] -l` prints it: the header line and the lines after it. */
interface Printed {
  mac?: string;
  ttl: number;
  text: string;
}

function packets(out: string): Printed[] {
  const list: Printed[] = [];
  for (const line of out.split('\n')) {
    if (/^\d\d:\d\d:\d\d\.\d+ /.test(line)) {
      const ttl = /ttl (\d+)/.exec(line);
      list.push({ mac: /^\S+ ([0-9a-f:]{17}) > /.exec(line)?.[1], ttl: ttl ? Number(ttl[1]) : NaN, text: line });
    } else if (list.length && line.trim()) list[list.length - 1]!.text += `\n${line}`;
  }
  return list;
}

/** One seed, solved the learner's way. */
async function solve(seed: string, lab: string, taken: Set<number>): Promise<string> {
  const { r: st } = await startCase('routing-loop', { seed, lab, ports, taken, env });
  assert.equal(st.code, 0, `start ${seed}: ${st.stderr}`);
  const m = /lan on the bridge (br-[0-9a-f]{12}), core on the bridge (br-[0-9a-f]{12}), dmz on the bridge (br-[0-9a-f]{12})/.exec(st.stdout);
  assert.ok(m, `the briefing names the three bridges:\n${st.stdout}`);
  const [, lanBr, coreBr, dmzBr] = m as unknown as [string, string, string, string];
  const hosts = await psJson(lab, env);
  const byAddress = (ip: string) => hosts.find((h) => h.interfaces.some((i) => i.ip === ip))?.name;
  const core = (name: string) => hosts.find((h) => h.name === name)!.interfaces.find((i) => i.network === 'core')!.ip;
  const web = hosts.find((h) => h.name === 'webserver')!.ip;

  // three captures at once, one a network, as the hints give them
  const cap = (br: string, args: string[], filter: string) => sh('timeout', ['5', 'tcpdump', '-nn', '-l', ...args, '-i', br, filter], 20_000);
  const [lan, onCore, dmz] = await Promise.all([
    cap(lanBr, [], 'tcp port 3000 and tcp[tcpflags] & tcp-syn != 0'),
    cap(coreBr, ['-v', '-e'], '(tcp port 3000 and tcp[tcpflags] & tcp-syn != 0) or icmp'),
    cap(dmzBr, ['-v'], 'icmp'),
  ]);

  // lan: the machine whose SYNs get no SYN-ACK
  const asked = new Map<string, number>();
  const answered = new Set<string>();
  for (const line of lan.stdout.split('\n')) {
    const t = / (\d+\.\d+\.\d+\.\d+)\.\d+ > (\d+\.\d+\.\d+\.\d+)\.\d+: Flags \[(S\.?)\]/.exec(line);
    if (!t) continue;
    if (t[3] === 'S') asked.set(t[1]!, (asked.get(t[1]!) ?? 0) + 1);
    else answered.add(t[2]!);
  }
  const stuck = [...asked.keys()].filter((ip) => !answered.has(ip));
  assert.equal(stuck.length, 1, `one machine gets no SYN-ACK on lan: asked ${JSON.stringify([...asked])}, answered ${[...answered].join(' ')}`);
  const victimIp = stuck[0]!;
  const victim = byAddress(victimIp)!;
  assert.match(victim, /^app\d+$/);

  // core: one SYN-ACK to it again and again, its ttl one lower each time, two MACs taking turns
  const all = packets(onCore.stdout);
  const loops = new Map<string, Printed[]>();
  for (const p of all) {
    const s = new RegExp(`${web.replace(/\./g, '\\.')}\\.3000 > ${victimIp.replace(/\./g, '\\.')}\\.\\d+: Flags \\[S\\.\\], .*seq (\\d+)`).exec(p.text);
    if (s && !/ICMP/.test(p.text)) loops.set(s[1]!, [...(loops.get(s[1]!) ?? []), p]);
  }
  const rounds = [...loops.values()].sort((a, b) => b.length - a.length);
  assert.ok(rounds.length > 0, `the webserver's SYN-ACKs to ${victim} reach core:\n${onCore.stdout.slice(0, 2000)}`);
  const longest = rounds[0]!;
  assert.ok(longest.length >= 30, `one SYN-ACK is seen ${longest.length} times on core`);
  longest.slice(1).forEach((p, i) => assert.equal(p.ttl, longest[i]!.ttl - 1, 'its ttl falls by one at every pass'));
  const macs = new Set(longest.map((p) => p.mac));
  assert.equal(macs.size, 2, `two source MACs on core: ${[...macs].join(' ')}`);
  longest.slice(1).forEach((p, i) => assert.notEqual(p.mac, longest[i]!.mac, 'the MACs take turns'));
  const complete = rounds.filter((r) => r[0]!.ttl === 63 && r[r.length - 1]!.ttl === 1);
  const ttls = complete[0] ? `${complete[0].length} copies, ttl ${complete[0][0]!.ttl} .. ${complete[0][complete[0].length - 1]!.ttl}` : `longest ${longest.length}`;

  // dmz: the time exceeded, its source, the SYN-ACK it quotes (ttl 1)
  const errors = packets(dmz.stdout).filter((p) => /ICMP time exceeded in-transit/.test(p.text));
  assert.ok(errors.length > 0, `time exceeded on dmz:\n${dmz.stdout.slice(0, 1500)}`);
  const sources = new Set(errors.map((p) => /\n\s*(\d+\.\d+\.\d+\.\d+) > (\d+\.\d+\.\d+\.\d+): ICMP time exceeded/.exec(p.text)?.[1]));
  assert.equal(sources.size, 1, `one router sends them: ${[...sources].join(' ')}`);
  const from = [...sources][0]!;
  for (const e of errors) {
    assert.match(e.text, new RegExp(`> ${web.replace(/\./g, '\\.')}: ICMP time exceeded`), 'to the webserver');
    assert.match(e.text, /ttl 1,/, 'quoting a packet that arrived with ttl 1');
    assert.match(e.text, new RegExp(`${web.replace(/\./g, '\\.')}\\.3000 > ${victimIp.replace(/\./g, '\\.')}\\.\\d+: Flags \\[S\\.\\]`), 'the SYN-ACK to the machine');
  }
  const router = byAddress(from)!;
  assert.match(router, /^r[3-5]$/, `${from} is one of the other sites' routers: ${router}`);
  // -e agrees: on core, the time exceeded leaves from one of the two MACs, and r2 is the other
  const icmpOnCore = all.filter((p) => new RegExp(`${from.replace(/\./g, '\\.')} > ${web.replace(/\./g, '\\.')}: ICMP time exceeded`).test(p.text));
  assert.ok(icmpOnCore.length > 0 && macs.has(icmpOnCore[0]!.mac), `the router's MAC is one of the two: ${icmpOnCore[0]?.mac} in ${[...macs].join(' ')}`);
  // no redirect gives it away, on either side
  assert.doesNotMatch(onCore.stdout + dmz.stdout, /redirect/i);
  console.log(`# ${seed}: ${victim} (${victimIp}) sent ${asked.get(victimIp)} SYNs, no [S.]; on core ${loops.size} SYN-ACKs went round (${ttls}); ${errors.length} time exceeded on dmz from ${from} = ${router} (core ${core(router)})`);

  // nothing cheaper names the router: the routers refuse a login; the machine and the webserver show no such route
  const ex = await mystery(['exec', '--name', lab, 'r2', 'ip', 'route'], { env });
  assert.equal(ex.code, 2, ex.stderr);
  assert.match(ex.stderr, /r2 is infrastructure/);
  const machine = (await sh('ip', ['route', 'show', 'table', 'all'])).stdout;
  assert.ok(!machine.includes(victimIp) && !machine.includes(from), 'no route of the lab on the machine');
  for (const cmd of [['ip', 'route'], ['ip', 'neigh'], ['ss', '-tan']]) {
    const r = await mystery(['exec', '--name', lab, 'webserver', ...cmd], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes(from), `the webserver's ${cmd.join(' ')} does not name ${from}`);
  }

  // the answer: the router of the stale route (r2) or another router is wrong
  const other = ['r3', 'r4', 'r5'].find((r) => r !== router)!;
  for (const wrong of [`${victim} r2`, `${victim} ${other}`, `${victim} r2 ${router}`]) {
    const w = await mystery(['answer', '--name', lab, wrong], { env });
    assert.equal(w.code, 8, `${wrong} is wrong: ${w.stdout}${w.stderr}`);
  }
  const right = await mystery(['answer', '--name', lab, `${victim} ${router}`], { env });
  assert.equal(right.code, 0, right.stdout + right.stderr);
  assert.match(right.stdout, /CASE SOLVED/);
  const status = await mystery(['status', '--json', '--name', lab], { env });
  assert.equal(status.code, 0, status.stderr);
  assert.equal((JSON.parse(status.stdout) as { solved: boolean }).solved, true);
  const debrief = await mystery(['debrief', '--name', lab], { env });
  assert.equal(debrief.code, 0, debrief.stderr);
  assert.ok(debrief.stdout.includes(`${victimIp}/32 via ${from} (${router})`), debrief.stdout);
  return `${victim} ${router}`;
}

test('the routing loop (seeds loop-a, loop-b, loop-e at once): the TTL, the time exceeded and the MACs name the machine and the router', { timeout: 60_000 }, async () => {
  const before = await takeSnapshot();
  const labs = labNames('l', seeds.length);
  const taken = new Set<number>();
  const t0 = Date.now();
  try {
    const found = await Promise.all(seeds.map((seed, i) => solve(seed, labs[i]!, taken)));
    assert.equal(new Set(found.map((f) => f.split(' ')[0])).size, 3, `three machines: ${found.join(', ')}`);
    assert.equal(new Set(found.map((f) => f.split(' ')[1])).size, 3, `three routers: ${found.join(', ')}`);
  } finally {
    for (const lab of labs) await down(lab);
  }
  await assertLabsGone(labs);
  console.log(`# three seeds solved and down in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  await assertHostAsBefore(before, 'the routing loop on three seeds, then down');
});
