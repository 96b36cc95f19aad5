/**
 * The one-way street, built for real on three seeds at once and solved the learner's way, from
 * tcpdump's output only: on lan the machine whose SYNs get no SYN-ACK (the vanishing packet's
 * trick, which finds the machine and no more: the machine with its own gateway is judged
 * wrong); on dmz, with -e, its SYNs come from one firewall's MAC and the webserver's SYN-ACKs
 * leave for another's; the machines whose SYNs come from that MAC name it by their route; its
 * own veths (found in the bridges' fdb) show the SYN-ACKs going in on dmz and nothing coming
 * out on lan. Two seeds are answered; the third, and a fourth on Docker beside them, are
 * repaired from the office side (the machine's gateway set to the firewall its answers come
 * back through), judged by \`check\` loading the page from inside every machine. Then down, and
 * the host as before. Root, real kernel and tools. Labs w + 2
 * random characters, ports 3640-3649.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mystery, sh } from '../helpers/cli.js';
import { assertLabsGone, capture, dockerEngine, inHost, labNames, psJson, startCase, type PsJson } from '../helpers/lab.js';
import { takeSnapshot } from '../helpers/snapshot.js';
import { assertHostAsBefore, down } from '../helpers/robust.js';

const env = { XDG_STATE_HOME: mkdtempSync(join(tmpdir(), 'mystery-oneway-')) };
/** three seeds of three different machines whose answers die in three different firewalls */
const seeds = ['oneway-a', 'oneway-c', 'oneway-7'];
const ports = Array.from({ length: 10 }, (_, i) => 3640 + i);
const syns = 'tcp port 3000 and tcp[tcpflags] & tcp-syn != 0';

/** One SYN or SYN-ACK as `tcpdump -nn -e -l` prints it. */
interface Seen {
  from: string;
  to: string;
  src: string;
  dst: string;
  synAck: boolean;
}

function parse(lines: string[]): Seen[] {
  const out: Seen[] = [];
  for (const line of lines) {
    const m = /^\S+ ([0-9a-f:]{17}) > ([0-9a-f:]{17}), .*: (\d+\.\d+\.\d+\.\d+)\.\d+ > (\d+\.\d+\.\d+\.\d+)\.\d+: Flags \[(S\.?)\]/.exec(line);
    if (m) out.push({ from: m[1]!, to: m[2]!, src: m[3]!, dst: m[4]!, synAck: m[5] === 'S.' });
  }
  return out;
}

/** The veth a MAC was learnt on, from the bridge's forwarding database. */
async function vethOf(bridge: string, mac: string): Promise<string> {
  const fdb = (await sh('bridge', ['fdb', 'show', 'br', bridge])).stdout;
  const line = fdb.split('\n').find((l) => l.startsWith(`${mac} dev `));
  assert.ok(line, `${mac} is in the fdb of ${bridge}:\n${fdb}`);
  return line.split(' ')[2]!;
}

type Backend = 'netns' | 'docker';

/** The router a machine's route to dmz names, from inside the machine. */
async function gatewayOf(lab: string, backend: Backend, machine: string, hosts: readonly PsJson[]): Promise<string> {
  const r = await inHost(lab, backend, hosts.find((h) => h.name === machine)!, ['ip', 'route'], env);
  assert.equal(r.code, 0, r.stderr);
  const via = /^\d+\.\d+\.\d+\.\d+\/24 via (\d+\.\d+\.\d+\.\d+)/m.exec(r.stdout)?.[1]; // its route to dmz
  const router = hosts.find((h) => h.interfaces.some((i) => i.ip === via))?.name;
  assert.ok(router && /^r[1-3]$/.test(router), `${machine}'s route names a firewall: ${r.stdout}`);
  return router;
}

/** One seed, solved the learner's way, then down (while the other seeds go on). */
async function solve(seed: string, lab: string, taken: Set<number>, how: 'answer' | 'repair', backend: Backend = 'netns'): Promise<string> {
  try {
    return await solveLab(seed, lab, taken, how, backend);
  } finally {
    await down(lab);
  }
}

/**
 * The repair instead of the answer, from the office side: the check loads the page from every
 * machine for real. Not solved before; a wrong repair (another machine sent through the
 * victim's gateway) breaks that machine too; the victim's own way to dmz through the firewall
 * its answers come back through solves it, and the debrief follows.
 */
async function repairLab(lab: string, backend: Backend, victim: string, router: string, carried: string, gateway: string, hosts: readonly PsJson[]): Promise<string> {
  const lanIp = (name: string): string => hosts.find((h) => h.name === name)!.interfaces.find((i) => i.network === 'lan')!.ip;
  const host = (name: string): PsJson => hosts.find((h) => h.name === name)!;
  const route = await inHost(lab, backend, host(victim), ['ip', 'route'], env);
  const dmz = /^(\d+\.\d+\.\d+\.\d+\/24) via /m.exec(route.stdout)?.[1];
  assert.ok(dmz, `${victim}'s route to dmz: ${route.stdout}`);
  const check = () => mystery(['check', '--name', lab], { env, timeoutMs: 30_000 });
  const via = async (machine: string, router: string): Promise<void> => {
    const r = await inHost(lab, backend, host(machine), ['ip', 'route', 'replace', dmz, 'via', lanIp(router)], env);
    assert.equal(r.code, 0, r.stderr);
  };
  const machines = hosts.filter((h) => /^app\d+$/.test(h.name)).length;
  let c = await check();
  assert.equal(c.code, 9, c.stdout + c.stderr);
  assert.match(c.stdout, new RegExp(`1 of the ${machines} requests made now from inside the lab failed`));
  assert.doesNotMatch(c.stdout, new RegExp(`\\b${victim}\\b`), 'the check names no machine');
  // a wrong repair: another machine through the victim's gateway, whose answers still go back through its own
  await via(carried, gateway);
  c = await check();
  assert.equal(c.code, 9, c.stdout);
  assert.match(c.stdout, new RegExp(`2 of the ${machines} requests`), c.stdout);
  await via(carried, router);
  // the repair: the victim's way to dmz through the firewall its answers come back through
  await via(victim, router);
  c = await check();
  assert.equal(c.code, 0, c.stdout + c.stderr);
  assert.match(c.stdout, /Solved: you repaired the lab: every office machine loads the page/);
  const status = await mystery(['status', '--json', '--name', lab], { env });
  assert.equal((JSON.parse(status.stdout) as { solved: boolean }).solved, true);
  const debrief = await mystery(['debrief', '--name', lab], { env });
  assert.equal(debrief.code, 0, debrief.stderr);
  assert.ok(debrief.stdout.includes(`ip route replace ${dmz} via ${lanIp(router)}`), debrief.stdout);
  console.log(`# ${lab} (${backend}): repaired from ${victim} (${dmz} via ${lanIp(router)}, ${router}); a wrong repair through ${carried} failed two machines`);
  return `${victim} ${router}`;
}

async function solveLab(seed: string, lab: string, taken: Set<number>, how: 'answer' | 'repair', backend: Backend): Promise<string> {
  const { r: st } = await startCase('one-way-street', { seed, lab, ports, taken, env, backend, timeoutMs: backend === 'docker' ? 180_000 : 60_000 });
  assert.equal(st.code, 0, `start ${seed}: ${st.stderr}`);
  const m = /lan on the bridge (br-[0-9a-f]{12}), dmz on the bridge (br-[0-9a-f]{12})/.exec(st.stdout);
  assert.ok(m, `the briefing names the two bridges:\n${st.stdout}`);
  const [, lanBr, dmzBr] = m as unknown as [string, string, string];
  const hosts = await psJson(lab, env);
  // every machine asks at least once a second, the victim's SYN-ACKs come again every second
  const seconds = 3;
  const byAddress = (ip: string): string | undefined => hosts.find((h) => h.interfaces.some((i) => i.ip === ip))?.name;
  const machines = hosts.filter((h) => /^app\d+$/.test(h.name));

  // both sides at once, with the MACs
  const [lanLines, dmzLines] = await Promise.all([capture(lanBr, ['-e', syns], seconds), capture(dmzBr, ['-e', syns], seconds)]);
  const lan = parse(lanLines);
  const dmz = parse(dmzLines);

  // lan: the machine whose SYNs get no SYN-ACK (the vanishing packet's trick)
  const asked = new Set(lan.filter((p) => !p.synAck).map((p) => p.src));
  const answered = new Set(lan.filter((p) => p.synAck).map((p) => p.dst));
  const stuck = [...asked].filter((ip) => !answered.has(ip));
  assert.equal(stuck.length, 1, `one machine gets no SYN-ACK on lan: asked ${[...asked].join(' ')}, answered ${[...answered].join(' ')}`);
  assert.equal(asked.size, machines.length, 'every office machine opened connections');
  const victimIp = stuck[0]!;
  const victim = byAddress(victimIp)!;

  // dmz: the webserver does answer it; its SYNs come from one MAC, the SYN-ACKs go to another.
  // Every other machine's answers go back to the MAC its SYNs came from.
  const synFrom = new Map<string, Set<string>>();
  const ackTo = new Map<string, Set<string>>();
  for (const p of dmz) {
    const [map, ip, mac] = p.synAck ? [ackTo, p.dst, p.to] : [synFrom, p.src, p.from];
    map.set(ip, (map.get(ip) ?? new Set()).add(mac));
  }
  for (const h of machines) {
    const a = [...(synFrom.get(h.ip) ?? [])];
    const b = [...(ackTo.get(h.ip) ?? [])];
    assert.equal(a.length, 1, `${h.name}'s SYNs come onto dmz from one MAC: ${a.join(' ')}`);
    assert.equal(b.length, 1, `the webserver answers ${h.name} on dmz, to one MAC: ${b.join(' ')}`);
    if (h.name === victim) assert.notEqual(b[0], a[0], `${victim}'s answers leave for another MAC than its SYNs came from`);
    else assert.equal(b[0], a[0], `${h.name}'s answers go back the way its SYNs came`);
  }
  const inMac = [...synFrom.get(victimIp)!][0]!;
  const outMac = [...ackTo.get(victimIp)!][0]!;

  // whose MAC: the machines whose SYNs come from it have that firewall as their gateway
  const carried = machines.find((h) => h.name !== victim && synFrom.get(h.ip)?.has(outMac));
  assert.ok(carried, `some machine's SYNs come from ${outMac}`);
  const [router, gateway] = await Promise.all([gatewayOf(lab, backend, carried.name, hosts), gatewayOf(lab, backend, victim, hosts)]);
  assert.notEqual(router, gateway);

  // the firewall's two sides: its veths by the fdb (its lan MAC: where the carried machine's SYNs go on lan)
  const lanMac = lan.find((p) => !p.synAck && p.src === carried.ip)?.to;
  assert.ok(lanMac, `${carried.name}'s SYNs on lan`);
  const [dmzVeth, lanVeth] = await Promise.all([vethOf(dmzBr, outMac), vethOf(lanBr, lanMac)]);
  const [into, outOf] = await Promise.all([
    capture(dmzVeth, ['-e', '-Q', 'out', `tcp and host ${victimIp}`], seconds),
    capture(lanVeth, ['-e', '-Q', 'in', `tcp and host ${victimIp}`], seconds),
  ]);
  const synAcksIn = parse(into).filter((p) => p.synAck).length;
  assert.ok(synAcksIn >= 1, `the SYN-ACKs to ${victim} go into ${router} on dmz (${dmzVeth}):\n${into.join('\n')}`);
  assert.deepEqual(outOf, [], `nothing of ${victim}'s comes out of ${router} on lan (${lanVeth})`);
  console.log(`# ${seed}: ${victim} (${victimIp}) gets no [S.] on lan; on dmz its SYNs from ${inMac} (${gateway}), its SYN-ACKs to ${outMac}, the MAC of ${carried.name}'s gateway ${router}; ${synAcksIn} go into ${router} (${dmzVeth}), none comes out (${lanVeth})`);

  // nothing cheaper names it: the webserver and the firewalls refuse a login
  for (const ex of await Promise.all(['webserver', router].map((h) => mystery(['exec', '--name', lab, h, 'ip', 'route'], { env })))) {
    assert.equal(ex.code, 2, ex.stderr);
    assert.match(ex.stderr, /is infrastructure/);
  }

  if (how === 'repair') return repairLab(lab, backend, victim, router, carried.name, gateway, hosts);

  // the vanishing packet's answers find half: the machine with its own gateway, or a direction, is wrong
  for (const wrong of [`${victim} ${gateway}`, `${victim} answers`, `${victim} ${['r1', 'r2', 'r3'].find((r) => r !== router && r !== gateway)}`, `${carried.name} ${router}`]) {
    const w = await mystery(['answer', '--name', lab, wrong], { env });
    assert.equal(w.code, 8, `${wrong} is wrong: ${w.stdout}${w.stderr}`);
  }
  const right = await mystery(['answer', '--name', lab, `the answers to ${victim} die in ${router.toUpperCase()}`], { env });
  assert.equal(right.code, 0, right.stdout + right.stderr);
  assert.match(right.stdout, /CASE SOLVED/);
  const status = await mystery(['status', '--json', '--name', lab], { env });
  assert.equal(status.code, 0, status.stderr);
  assert.equal((JSON.parse(status.stdout) as { solved: boolean }).solved, true);
  const debrief = await mystery(['debrief', '--name', lab], { env });
  assert.equal(debrief.code, 0, debrief.stderr);
  const viaDmz = hosts.find((h) => h.name === router)!.interfaces.find((i) => i.network === 'dmz')!.ip;
  assert.ok(debrief.stdout.includes(`${victimIp}/32 via ${viaDmz} (${router})`), debrief.stdout);
  return `${victim} ${router}`;
}

test('the one-way street (seeds oneway-a, oneway-c, oneway-7 at once, and oneway-d on Docker beside them): the MACs on dmz and the firewall\'s two sides name the machine and the router; two answered, two repaired', { timeout: 180_000 }, async () => {
  const before = await takeSnapshot();
  const docker = await dockerEngine();
  const labs = labNames('w', seeds.length + 1);
  const taken = new Set<number>();
  const t0 = Date.now();
  // the last netns seed is repaired instead of answered, and so is the Docker one
  const runs = seeds.map((seed, i) => solve(seed, labs[i]!, taken, i === seeds.length - 1 ? 'repair' : 'answer'));
  if (docker) runs.push(solve('oneway-d', labs[seeds.length]!, taken, 'repair', 'docker'));
  const found = await Promise.all(runs);
  const netns = found.slice(0, seeds.length);
  assert.equal(new Set(netns.map((f) => f.split(' ')[0])).size, 3, `three machines: ${netns.join(', ')}`);
  assert.equal(new Set(netns.map((f) => f.split(' ')[1])).size, 3, `three routers: ${netns.join(', ')}`);
  console.log(`# ${found.length} seeds solved and down in ${((Date.now() - t0) / 1000).toFixed(1)} s${docker ? '' : ' (no Docker engine: the netns seeds only)'}`);
  await assertLabsGone(labs);
  await assertHostAsBefore(before, 'the one-way street on three seeds, then down');
});

