/**
 * Behind the NAT, built for real on three seeds at once and solved the learner's way, from
 * tcpdump's output only: the partner's report (curl on localhost) names gw's address and the
 * outside port; on wan, that port's uploads with absolute sequence numbers (-S); on lan, at
 * the same time, the same sequence numbers from one machine's address and another port;
 * `mystery ps --json` names it. Counting tcp packets per lan veth singles out nobody; gw's
 * translation table is out of reach. Then down, and the host as it was. Root, real kernel and
 * tools. Labs n + 2 random characters, ports 3630-3639.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mystery, sh } from '../helpers/cli.js';
import { assertLabsGone, dockerEngine, inHost, labNames, psJson, startCase } from '../helpers/lab.js';
import { takeSnapshot } from '../helpers/snapshot.js';
import { assertHostAsBefore, down, sleep } from '../helpers/robust.js';

const env = { XDG_STATE_HOME: mkdtempSync(join(tmpdir(), 'mystery-nat-')) };
/** three seeds of three different culprits (app4, app5, app3) */
const seeds = ['nat-a', 'nat-c', 'nat-d'];
const ports = Array.from({ length: 10 }, (_, i) => 3630 + i);
const seconds = 4;

const esc = (s: string): string => s.replace(/\./g, '\\.');

/** One seed, solved the learner's way. */
async function solve(seed: string, lab: string, taken: Set<number>, backend: 'netns' | 'docker' = 'netns'): Promise<string> {
  const { r: st, port } = await startCase('behind-the-nat', { seed, lab, ports, taken, env, backend, timeoutMs: backend === 'docker' ? 180_000 : 60_000 });
  assert.equal(st.code, 0, `start ${seed}: ${st.stderr}`);
  const m = /lan on the bridge (br-[0-9a-f]{12}), wan on the bridge (br-[0-9a-f]{12})/.exec(st.stdout);
  assert.ok(m, `the briefing names both bridges:\n${st.stdout}`);
  const [, lanBr, wanBr] = m as unknown as [string, string, string];
  const url = /curl -s (http:\/\/localhost:\d+\/report)/.exec(st.stdout)?.[1];
  assert.equal(url, `http://localhost:${port}/report`, 'the briefing gives the report\'s address');

  // the report: gw's address and the outside port of the flagged connection, open now
  let report = '';
  for (let i = 0; i < 30 && !/still open:\n\s+from /.test(report); i++) {
    if (i) await sleep(200);
    report = (await sh('curl', ['-s', '--max-time', '3', url])).stdout;
  }
  const flagged = /still open:\n\s+from (\d+\.\d+\.\d+\.\d+) port (\d+),/.exec(report);
  assert.ok(flagged, `the report names an open connection:\n${report}`);
  const [, outsideIp, outsidePort] = flagged as unknown as [string, string, string];
  const hosts = await psJson(lab, env);
  const byAddress = (ip: string) => hosts.find((h) => h.interfaces.some((i) => i.ip === ip))?.name;
  assert.equal(byAddress(outsideIp), 'gw', 'the partner sees gw\'s address only');
  const web = hosts.find((h) => h.name === 'webserver')!.ip;

  // both sides at once with -S, and every lan veth for the count
  const lanVeths = (await sh('ip', ['-o', 'link', 'show', 'master', lanBr])).stdout.split('\n').map((l) => /^\d+: ([^@:]+)/.exec(l)?.[1]).filter((v): v is string => !!v);
  const cap = (iface: string, args: string[], filter: string) => sh('timeout', [String(seconds), 'tcpdump', '-nn', '-l', ...args, '-i', iface, filter], 20_000);
  const [wan, lan, ...perVeth] = await Promise.all([
    cap(wanBr, ['-S'], `tcp port ${outsidePort}`),
    cap(lanBr, ['-S'], 'tcp port 3000'),
    ...lanVeths.map((v) => cap(v, ['-q', '-tt'], 'tcp')),
  ]);

  // the outside uploads' sequence numbers, found on lan: one machine's address, another port
  const uploads = (out: string, from: string) =>
    [...out.matchAll(new RegExp(`IP (${from})\\.(\\d+) > ${esc(web)}\\.3000: Flags \\[P\\.\\], seq (\\d+):(\\d+)`, 'g'))].map((x) => ({ ip: x[1]!, port: x[2]!, seq: `${x[3]}:${x[4]}` }));
  const outside = uploads(wan.stdout, esc(outsideIp)).filter((u) => u.port === outsidePort);
  assert.ok(outside.length >= 5, `uploads on the flagged connection in ${seconds} s:\n${wan.stdout.slice(0, 1500)}`);
  const inside = new Map(uploads(lan.stdout, '\\d+\\.\\d+\\.\\d+\\.\\d+').map((u) => [u.seq, u]));
  const matched = outside.map((u) => inside.get(u.seq)).filter((u) => u !== undefined);
  assert.ok(matched.length >= outside.length - 2, `${matched.length} of ${outside.length} outside uploads are on lan with the same seq`);
  const pairs = new Set(matched.map((u) => `${u.ip}.${u.port}`));
  assert.equal(pairs.size, 1, `one inside connection carries them: ${[...pairs].join(' ')}`);
  const { ip: insideIp, port: insidePort } = matched[0]!;
  assert.notEqual(insideIp, outsideIp);
  assert.notEqual(insidePort, outsidePort, 'gw gave the connection another port outside (--random-fully)');
  assert.doesNotMatch(lan.stdout, new RegExp(`\\.${outsidePort} > ${esc(web)}\\.3000`), 'the outside port is not on lan');
  const culprit = byAddress(insideIp)!;
  assert.match(culprit, /^app\d+$/);

  // counting tcp packets per lan veth singles out nobody: over the window every capture covers
  const stamps = perVeth.map((c) => c.stdout.split('\n').map((l) => Number(/^(\d+\.\d+) /.exec(l)?.[1])).filter((t) => t > 0));
  assert.ok(stamps.every((s) => s.length > 0), 'every lan veth carries tcp');
  const from = Math.max(...stamps.map((s) => s[0]!));
  const to = Math.min(...stamps.map((s) => s[s.length - 1]!));
  assert.ok(to - from >= seconds / 2, `a common window of ${(to - from).toFixed(2)} s`);
  const counts = new Map(lanVeths.map((v, i) => [v, stamps[i]!.filter((t) => t >= from && t <= to).length]));
  // which veth is whose, the README's way (iflink); gw refuses a login, so the one left is gw's
  const machines = hosts.filter((h) => /^app\d+$/.test(h.name)).map((h) => h.name);
  const iflinks = await Promise.all(machines.map((h) => mystery(['exec', '--name', lab, h, 'cat', '/sys/class/net/eth0/iflink'], { env })));
  const links = JSON.parse((await sh('ip', ['-j', 'link', 'show', 'master', lanBr])).stdout) as Array<{ ifindex: number; ifname: string }>;
  const vethOf = new Map(machines.map((h, i) => [h, links.find((l) => l.ifindex === Number(iflinks[i]!.stdout.trim()))!.ifname]));
  const perMachine = machines.map((h) => [h, counts.get(vethOf.get(h)!)!] as const).sort((a, b) => b[1] - a[1]);
  const gwVeth = lanVeths.find((v) => ![...vethOf.values()].includes(v))!;
  const values = perMachine.map(([, n]) => n).sort((a, b) => a - b);
  const median = values[Math.floor(values.length / 2)]!;
  const mine = counts.get(vethOf.get(culprit)!)!;
  const innocents = perMachine.filter(([h]) => h !== culprit).map(([, n]) => n);
  // an upload is 3 packets (the POST, the answer, the ACK): a window's edges move a count by one or two of them
  assert.ok(Math.max(...values) - Math.min(...values) <= Math.max(9, median * 0.25), `every machine's veth about as busy: ${JSON.stringify(perMachine)}`);
  const slack = Math.max(4, median * 0.1);
  assert.ok(mine >= Math.min(...innocents) - slack && mine <= Math.max(...innocents) + slack, `the culprit's ${mine} packets stand out of the innocents' ${innocents.join(', ')}`);
  assert.ok(counts.get(gwVeth)! > Math.max(...values), 'the loudest lan veth is gw\'s, everyone\'s traffic');

  // nothing cheaper names it: gw refuses a login; inside, the machine knows only its inside port;
  // the machine's own conntrack (bridged flows, where br_netfilter is loaded) holds no entry of both halves
  const ex = await mystery(['exec', '--name', lab, 'gw', 'cat', '/proc/net/nf_conntrack'], { env });
  assert.equal(ex.code, 2, ex.stderr);
  assert.match(ex.stderr, /gw is infrastructure/);
  const ss = await inHost(lab, backend, hosts.find((h) => h.name === culprit)!, ['ss', '-tn'], env);
  assert.equal(ss.code, 0, ss.stderr);
  assert.ok(ss.stdout.includes(`${insideIp}:${insidePort}`) && !new RegExp(`:${outsidePort}\\b`).test(ss.stdout), `ss inside ${culprit}: ${ss.stdout}`);
  if (existsSync('/proc/net/nf_conntrack')) {
    const lines = readFileSync('/proc/net/nf_conntrack', 'utf8').split('\n');
    const both = lines.filter((l) => l.includes(`src=${insideIp} `) && new RegExp(`port=${outsidePort}\\b`).test(l));
    assert.deepEqual(both, [], 'no conntrack entry on the machine pairs the inside address with the outside port');
  }

  // the answer: another machine is wrong, this one right
  const other = machines.find((h) => h !== culprit)!;
  const w = await mystery(['answer', '--name', lab, other], { env });
  assert.equal(w.code, 8, `${other} is wrong: ${w.stdout}${w.stderr}`);
  const right = await mystery(['answer', '--name', lab, culprit], { env });
  assert.equal(right.code, 0, right.stdout + right.stderr);
  assert.match(right.stdout, /CASE SOLVED/);
  const status = await mystery(['status', '--json', '--name', lab], { env });
  assert.equal(status.code, 0, status.stderr);
  assert.equal((JSON.parse(status.stdout) as { solved: boolean }).solved, true);
  const debrief = await mystery(['debrief', '--name', lab], { env });
  assert.equal(debrief.code, 0, debrief.stderr);
  assert.ok(debrief.stdout.includes(`${insideIp}.${insidePort} > ${web}.3000`), debrief.stdout);
  console.log(
    `# ${seed} (${backend}): report ${outsideIp} port ${outsidePort}; ${matched.length}/${outside.length} uploads matched by seq on lan (e.g. ${matched[0]!.seq}) from ${insideIp}.${insidePort} = ${culprit}; tcp packets per lan veth in ${(to - from).toFixed(1)} s: ${perMachine.map(([h, n]) => `${h}${h === culprit ? '*' : ''} ${n}`).join(', ')}, gw ${counts.get(gwVeth)}`,
  );
  return culprit;
}

test('behind the NAT (seeds nat-a, nat-c, nat-d at once, and nat-a on Docker beside them): the sequence numbers match the reported outside port to one machine inside', { timeout: 180_000 }, async () => {
  const before = await takeSnapshot();
  const docker = await dockerEngine();
  const labs = labNames('n', seeds.length + (docker ? 1 : 0));
  const taken = new Set<number>();
  const t0 = Date.now();
  try {
    const runs = seeds.map((seed, i) => solve(seed, labs[i]!, taken));
    if (docker) runs.push(solve('nat-a', labs[seeds.length]!, taken, 'docker'));
    const found = await Promise.all(runs);
    assert.equal(new Set(found.slice(0, seeds.length)).size, 3, `three machines: ${found.join(', ')}`);
    if (docker) assert.equal(found[seeds.length], found[0], 'the same seed names the same machine on Docker');
  } finally {
    for (const lab of labs) await down(lab);
  }
  await assertLabsGone(labs);
  console.log(`# ${labs.length} seeds solved and down in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  await assertHostAsBefore(before, 'behind the NAT on three seeds, then down');
});
