/**
 * The MTU black hole, built for real and solved the learner's way, from tcpdump's output
 * only: captures on transit and dmz at once read r1's "need to frag (mtu N)" on transit and
 * no ICMP on dmz; `mystery answer N` solves it. The vanishing packet's trick (the machine
 * whose SYNs get no SYN-ACK) finds no victim, nothing on the machine or inside the hosts
 * the learner may enter gives N away, and the host is as before after down.
 * Root, real kernel and tools. Labs m + 2 random characters, ports 3610-3619.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mystery, sh } from '../helpers/cli.js';
import { addressOf, assertLabsGone, capture, labNames, psJson, startCase } from '../helpers/lab.js';
import { takeSnapshot } from '../helpers/snapshot.js';
import { assertHostAsBefore, down } from '../helpers/robust.js';

const env = { XDG_STATE_HOME: mkdtempSync(join(tmpdir(), 'mystery-mtu-')) };

const word = (n: string): RegExp => new RegExp(`(^|[^0-9A-Za-z])${n}($|[^0-9A-Za-z])`);

/** One seed, solved from the captures; the three seeds run at once. */
async function solve(seed: string, lab: string, port: number): Promise<void> {
  try {
    const { r: st } = await startCase('mtu-blackhole', { seed, lab, ports: [port], taken: new Set(), env });
    assert.equal(st.code, 0, st.stderr);
    const m = /lan on the bridge (br-[0-9a-f]{12}), transit on (br-[0-9a-f]{12}), dmz on (br-[0-9a-f]{12})/.exec(st.stdout);
    assert.ok(m, `the briefing names the three bridges:\n${st.stdout}`);
    const [, lanBr, transitBr, dmzBr] = m as unknown as [string, string, string, string];
    const hosts = await psJson(lab, env);
    const web = addressOf(hosts, 'webserver', 'dmz');
    const r1 = addressOf(hosts, 'r1', 'transit');
    const apps = hosts.filter((h) => h.name.startsWith('app'));

    // the learner, all at once for 5 s: ICMP on transit; ICMP and the webserver's big segments
    // on dmz; on lan, the SYNs and SYN-ACKs (the vanishing packet's trick)
    const [transit, dmz, lan] = await Promise.all([
      capture(transitBr, ['-v', 'icmp'], 5),
      capture(dmzBr, ['-v', 'icmp or (tcp src port 3000 and greater 1000)'], 5),
      capture(lanBr, ['tcp port 3000 and (tcp[tcpflags] & tcp-syn != 0 or greater 1000)'], 5),
    ]);

    // transit: r1 tells the webserver the MTU of its next link; that is the answer
    const frags = transit.join('\n').match(/(\d+\.\d+\.\d+\.\d+) > (\d+\.\d+\.\d+\.\d+): ICMP \S+ unreachable - need to frag \(mtu (\d+)\)/g) ?? [];
    assert.ok(frags.length >= 3, `r1's ICMP on transit:\n${transit.slice(0, 6).join('\n')}`);
    const mtus = new Set(frags.map((f) => /mtu (\d+)/.exec(f)![1]!));
    assert.equal(mtus.size, 1, `one MTU: ${[...mtus].join(', ')}`);
    const mtu = [...mtus][0]!;
    for (const f of frags) assert.ok(f.startsWith(`${r1} > ${web}:`), `sent by r1 (${r1}) to the webserver (${web}): ${f}`);
    // dmz: the ICMP never arrives; the webserver sends 1500-byte DF segments, again and again
    const dmzIcmp = dmz.filter((l) => /proto ICMP/.test(l));
    assert.deepEqual(dmzIcmp, [], 'no ICMP reaches dmz: r2 drops it');
    const big = dmz.filter((l) => /flags \[DF\], proto TCP \(6\), length 1500\)/.test(l)).length;
    assert.ok(big >= 3, `the webserver's 1500-byte DF segments on dmz: ${big}`);
    // lan: every handshake completes (no victim for the vanishing packet's trick), no big segment arrives
    const asked = new Map<string, number>();
    const answered = new Map<string, number>();
    let bigOnLan = 0;
    for (const line of lan) {
      const t = / (\d+\.\d+\.\d+\.\d+)\.\d+ > (\d+\.\d+\.\d+\.\d+)\.\d+: Flags \[(S\.?)\]/.exec(line);
      if (t?.[3] === 'S') asked.set(t[1]!, (asked.get(t[1]!) ?? 0) + 1);
      else if (t) answered.set(t[2]!, (answered.get(t[2]!) ?? 0) + 1);
      const len = / length (\d+)$/.exec(line);
      if (!t && len && Number(len[1]) > Number(mtu) - 40) bigOnLan++;
    }
    const stuck = [...asked.keys()].filter((ip) => !answered.has(ip));
    assert.deepEqual(stuck, [], `the vanishing packet's trick finds no victim: asked ${JSON.stringify([...asked])}, answered ${JSON.stringify([...answered])}`);
    assert.equal(asked.size, apps.length, 'every office machine opened connections in 5 s');
    assert.equal(bigOnLan, 0, 'no segment larger than the narrow link crosses to lan');
    console.log(`${seed} (${lab}): ${frags.length} "need to frag (mtu ${mtu})" from r1 on transit, 0 ICMP on dmz, ${big} DF segments of 1500 on dmz; on lan ${[...asked.values()].reduce((a, b) => a + b, 0)} SYNs from ${asked.size} machines, all answered`);

    // no spoiler: nothing on the machine, nothing inside the hosts one may enter
    const [links, qdiscs, rules] = await Promise.all([sh('ip', ['-d', 'link', 'show']), sh('tc', ['qdisc', 'show']), sh('iptables-save', [])]);
    assert.doesNotMatch(links.stdout, new RegExp(`mtu ${mtu}\\b`), 'ip link on the machine shows no such MTU');
    assert.doesNotMatch(qdiscs.stdout + rules.stdout, word(mtu));
    for (const name of ['webserver', apps[0]!.name]) {
      const peer = name === 'webserver' ? apps[0]!.ip : web;
      const route = await mystery(['exec', '--name', lab, name, 'ip', 'route', 'get', peer], { env });
      assert.equal(route.code, 0, route.stderr);
      assert.doesNotMatch(route.stdout, /mtu/, `${name} never learnt a path MTU: ${route.stdout}`);
      const link = await mystery(['exec', '--name', lab, name, 'ip', '-o', 'link', 'show', 'eth0'], { env });
      assert.match(link.stdout, /mtu 1500 /);
    }
    // the namespace's own counters (/proc/net is the reader's namespace's; nstat would share a history file)
    const snmp = (await mystery(['exec', '--name', lab, 'webserver', 'cat', '/proc/net/snmp'], { env })).stdout.split('\n').filter((l) => l.startsWith('Icmp: '));
    const icmpIn = Number(snmp[1]?.split(/\s+/)[snmp[0]!.split(/\s+/).indexOf('InMsgs')]);
    assert.equal(icmpIn, 0, `no ICMP ever reached the webserver: ${snmp.join(' / ')}`);
    for (const router of ['r1', 'r2']) {
      const ex = await mystery(['exec', '--name', lab, router, 'ip', 'link'], { env });
      assert.equal(ex.code, 2, `${router} is infrastructure: ${ex.stderr}`);
    }

    // from this machine, on dmz itself, the report downloads at once
    const t0 = Date.now();
    const report = await fetch(`http://127.0.0.1:${port}/export`, { signal: AbortSignal.timeout(5000) });
    assert.equal((await report.arrayBuffer()).byteLength, 2_000_000, 'the whole report, from the machine');
    const reportMs = Date.now() - t0;
    console.log(`${seed} (${lab}): the report from the machine in ${reportMs} ms`);

    const wrong = await mystery(['answer', '--name', lab, String(Number(mtu) + 1)], { env });
    assert.equal(wrong.code, 8, wrong.stdout);
    const right = await mystery(['answer', '--name', lab, mtu], { env });
    assert.equal(right.code, 0, right.stdout + right.stderr);
    assert.match(right.stdout, /CASE SOLVED/);
    const status = await mystery(['status', '--json', '--name', lab], { env });
    assert.equal(status.code, 0, status.stderr);
    assert.equal((JSON.parse(status.stdout) as { solved: boolean }).solved, true);
    const debrief = await mystery(['debrief', '--name', lab], { env });
    assert.match(debrief.stdout, new RegExp(`need to frag \\(mtu ${mtu}\\)`));
    assert.ok(debrief.stdout.includes(transitBr) && debrief.stdout.includes(dmzBr));
  } finally {
    await down(lab);
  }
  // the lab's own, as the shared-host snapshot leaves out labs not named r*: nothing left of it
  await assertLabsGone([lab]);
}

test('the MTU black hole (three seeds at once): r1\'s ICMP on transit names the MTU, none reaches dmz, every handshake completes', { timeout: 40_000 }, async () => {
  const before = await takeSnapshot();
  const labs = labNames('m', 3);
  await Promise.all(['m1', 'm2', 'm3'].map((seed, i) => solve(seed, labs[i]!, 3610 + i)));
  await assertHostAsBefore(before, 'the MTU black hole on three seeds, then down');
});
