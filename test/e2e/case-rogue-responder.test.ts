/**
 * The rogue responder, built for real on three seeds at once and solved the learner's way,
 * from tcpdump's output only: on the bridge, `udp port 5353` with -vv -e; the questions for
 * the intranet's name get two answers with one id, one from the webserver, one from another
 * address, whose source MAC is that host's own (/sys/class/net/eth0/address inside it);
 * `mystery stop HOST`, then `mystery check`. First the first case's trick (count `tcp port
 * 3000` per veth, arrest the loudest suspect) is shown wrong: the loudest is an innocent, at
 * twice the culprit's count at least, and every veth carries the questions. `mystery status`
 * counts the wrong pages. Then down, and the host as it was. One seed again on Docker, beside them.
 * Root, real kernel and tools. Labs j + 2 random characters, ports 3660-3669.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mystery, sh } from '../helpers/cli.js';
import { assertLabsGone, capture, dockerEngine, labNames, psJson, startCase } from '../helpers/lab.js';
import { takeSnapshot } from '../helpers/snapshot.js';
import { assertHostAsBefore, down } from '../helpers/robust.js';

const env = { XDG_STATE_HOME: mkdtempSync(join(tmpdir(), 'mystery-rogue-')) };
/** three seeds of three different culprits (app3, app4, app2) */
const seeds = ['rg-a', 'rg-c', 'rg-d'];
const ports = Array.from({ length: 10 }, (_, i) => 3660 + i);
const seconds = 4;

interface Answer {
  mac: string;
  src: string;
  dst: string;
  id: string;
  name: string;
  address: string;
}

/** The answers of a `tcpdump -e -vv` capture: its first line holds the MACs, the second the DNS. */
function answers(lines: string[]): Answer[] {
  const out: Answer[] = [];
  for (let i = 0; i + 1 < lines.length; i++) {
    const mac = /^\S+ ([0-9a-f:]{17}) > [0-9a-f:]{17}, ethertype IPv4/.exec(lines[i]!)?.[1];
    const dns = /^\s+(\d+\.\d+\.\d+\.\d+)\.5353 > (\d+\.\d+\.\d+\.\d+\.\d+): .*?(\d+)\*-? q: A \(QM\)\? (\S+)\. 1\/0\/0 \S+ A (\d+\.\d+\.\d+\.\d+) /.exec(lines[i + 1]!);
    if (mac && dns) out.push({ mac, src: dns[1]!, dst: dns[2]!, id: dns[3]!, name: dns[4]!, address: dns[5]! });
  }
  return out;
}

/** One seed, solved the learner's way; the first case's trick is counted and refuted first (on netns also arrested, wrongly). */
async function solve(seed: string, lab: string, taken: Set<number>, backend: 'netns' | 'docker' = 'netns'): Promise<string> {
  const { r: st } = await startCase('rogue-responder', { seed, lab, ports, taken, env, backend, timeoutMs: 120_000 });
  assert.equal(st.code, 0, `start ${seed}: ${st.stderr}`);
  const bridge = /one bridge on this machine \((br-[0-9a-f]{12})\)/.exec(st.stdout)?.[1];
  const intranet = /find the intranet, (\S+\.local) \(the host webserver/.exec(st.stdout)?.[1];
  assert.ok(bridge && intranet, `the briefing names the bridge and the intranet:\n${st.stdout}`);
  const hosts = await psJson(lab, env);
  const web = hosts.find((h) => h.name === 'webserver')!.ip;
  const machines = hosts.filter((h) => /^app\d+$/.test(h.name)).map((h) => h.name);

  // which veth is whose, the README's way (iflink), and the learner's captures, all at once
  // (and each one's MAC, inside it: /sys/class/net/eth0/address)
  const [inside, links] = await Promise.all([
    Promise.all(machines.map((h) => mystery(['exec', '--name', lab, h, 'cat', '/sys/class/net/eth0/iflink', '/sys/class/net/eth0/address'], { env }))),
    sh('ip', ['-j', 'link', 'show', 'master', bridge]).then((r) => JSON.parse(r.stdout) as Array<{ ifindex: number; ifname: string }>),
  ]);
  const [iflinks, macs] = [inside.map((r) => Number(r.stdout.split('\n')[0])), inside.map((r) => r.stdout.split('\n')[1]?.trim())];
  const vethOf = new Map(machines.map((h, i) => [h, links.find((l) => l.ifindex === iflinks[i])!.ifname]));
  const [mdns, ...perVeth] = await Promise.all([
    capture(bridge, ['-e', '-vv', 'udp port 5353'], seconds),
    ...machines.map((h) => capture(vethOf.get(h)!, ['-q', 'tcp port 3000'], seconds)),
    ...machines.map((h) => capture(vethOf.get(h)!, ['udp dst port 5353'], 2)),
  ]);
  const tcp = new Map(machines.map((h, i) => [h, perVeth[i]!.length]));
  // `mystery status`, meanwhile, counts what the machines' visits to the intranet got
  const statusRun = mystery(['status', '--json', '--name', lab], { env });
  const questions = perVeth.slice(machines.length);

  // two answers to one question: the same asker, the same id, two addresses
  const all = answers(mdns);
  assert.ok(all.length >= 10, `answers on the bridge in ${seconds} s:\n${mdns.slice(0, 12).join('\n')}`);
  const forIntranet = all.filter((a) => a.name === intranet);
  const byQuestion = new Map<string, Answer[]>();
  for (const a of forIntranet) byQuestion.set(`${a.dst} ${a.id}`, [...(byQuestion.get(`${a.dst} ${a.id}`) ?? []), a]);
  const twice = [...byQuestion.values()].filter((g) => new Set(g.map((a) => a.address)).size === 2);
  assert.ok(twice.length >= 3, `questions for ${intranet} answered twice: ${twice.length} of ${byQuestion.size}`);
  for (const g of twice) assert.ok(g.some((a) => a.address === web && a.src === web), 'one answer of each is the webserver\'s own');
  const liars = new Set(twice.flatMap((g) => g.filter((a) => a.address !== web)).map((a) => `${a.src} ${a.address} ${a.mac}`));
  assert.equal(liars.size, 1, `one other answerer: ${[...liars].join('; ')}`);
  const [liarSrc, liarAddress, liarMac] = [...liars][0]!.split(' ') as [string, string, string];
  assert.equal(liarSrc, liarAddress, 'it answers from the address it gives');
  // the questions for the other machines' names get one answer each, from their owners
  const others = all.filter((a) => a.name !== intranet);
  assert.ok(others.length > 0 && others.every((a) => a.src === a.address), 'a machine answers for its own name, from its own address');
  const culprit = hosts.find((h) => h.ip === liarAddress)?.name;
  assert.ok(culprit && machines.includes(culprit), `the address ${liarAddress} is a machine's (ps --json)`);
  // the MAC of its answers is its card's
  const byMac = machines.filter((_, i) => macs[i] === liarMac);
  assert.deepEqual(byMac, [culprit], `the source MAC ${liarMac} is ${culprit}'s own`);

  // every machine's veth carries the questions (multicast reaches them all)
  for (const [i, h] of machines.entries()) assert.ok(questions[i]!.some((l) => /> 224\.0\.0\.251\.5353: /.test(l)), `${h}'s veth carries questions`);
  // the first case's trick: the loudest suspect on tcp port 3000 is an innocent, at twice the culprit's count
  const ranked = [...tcp].sort((a, b) => b[1] - a[1]);
  const [loudest, most] = ranked[0]!;
  assert.notEqual(loudest, culprit, `the loudest veth is an innocent's: ${JSON.stringify(ranked)}`);
  assert.ok(most >= 2 * tcp.get(culprit)!, `the loudest innocent ${loudest} (${most}) at twice the culprit's ${tcp.get(culprit)}`);
  if (backend === 'netns') {
    const naive = await mystery(['stop', '--name', lab, loudest], { env, timeoutMs: 60_000 });
    assert.equal(naive.code, 8, `arresting the loudest (${loudest}) is wrong: ${naive.stdout}${naive.stderr}`);
    // the check judges the culprit's veth, whatever the innocent's state: both at once
    const [ch, back] = await Promise.all([mystery(['check', '--name', lab], { env }), mystery(['restart', '--name', lab, loudest], { env })]);
    assert.equal(ch.code, 9, 'not solved after the naive arrest');
    assert.equal(back.code, 0, back.stderr);
  }

  // the symptom: status counts wrong pages (the window holds the few seconds since the start: once more if none yet)
  type Status = { solved: boolean; requests?: { ok: number; wrong: number; failed: number } };
  let status = JSON.parse((await statusRun).stdout) as Status;
  if (!status.requests?.wrong) status = JSON.parse((await mystery(['status', '--json', '--name', lab], { env })).stdout) as Status;
  assert.equal(status.solved, false);
  assert.ok(status.requests && status.requests.wrong > 0, `status counts wrong pages: ${JSON.stringify(status.requests)}`);

  // the arrest, and the check
  const stop = await mystery(['stop', '--name', lab, culprit], { env, timeoutMs: 60_000 });
  assert.equal(stop.code, 0, stop.stdout + stop.stderr);
  assert.match(stop.stdout, /CASE SOLVED/);
  const check = await mystery(['check', '--name', lab], { env });
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const debrief = await mystery(['debrief', '--name', lab], { env });
  assert.equal(debrief.code, 0, debrief.stderr);
  assert.ok(debrief.stdout.includes(liarAddress), debrief.stdout);
  console.log(
    `# ${seed} (${backend}): ${twice.length} of ${byQuestion.size} questions for ${intranet} answered twice, by ${web} (webserver) and ${liarAddress} [${liarMac}] = ${culprit}; ` +
      `wrong pages ${status.requests!.wrong} of ${status.requests!.ok + status.requests!.wrong + status.requests!.failed}; tcp port 3000 per veth in ${seconds} s: ${ranked.map(([h, n]) => `${h}${h === culprit ? '*' : ''} ${n}`).join(', ')}`,
  );
  return culprit;
}

/**
 * Three seeds on netns and, where a Docker engine answers, one on Docker, all at once: the
 * Docker lab's start runs beside the others', so that it adds seconds to the file, not its own half minute.
 */
test('the rogue responder (seeds rg-a, rg-c, rg-d at once, and rg-c on Docker beside them): two answers to one question, the second from the culprit', { timeout: 150_000 }, async () => {
  const docker = await dockerEngine();
  const before = await takeSnapshot();
  const labs = labNames('j', seeds.length + 1);
  const taken = new Set<number>();
  const t0 = Date.now();
  try {
    const runs = seeds.map((seed, i) => solve(seed, labs[i]!, taken));
    // on Docker: the same questions and answers on Docker's bridge, solved the same way
    if (docker) runs.push(solve('rg-c', labs[seeds.length]!, taken, 'docker'));
    const found = await Promise.all(runs);
    assert.deepEqual(found, ['app3', 'app4', 'app2', ...(docker ? ['app4'] : [])]);
  } finally {
    for (const lab of labs) await down(lab);
  }
  await assertLabsGone(labs);
  console.log(`# ${docker ? 'four labs (one on Docker)' : 'three seeds'} solved and down in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  await assertHostAsBefore(before, 'the rogue responder on three seeds (and Docker), then down');
});
