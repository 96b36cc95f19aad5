/**
 * Behind the NAT without root: its draw (seeded, the culprit spread over the machines, every
 * machine alike but for its own key and inside port, the stolen key the webserver's only),
 * its plan (the same whatever the culprit, no key, no port), its answers, hints and debrief;
 * the uploads' signature and the abuse report as pure functions; and the sync agent against
 * the partner's server on loopback: the report names the connection the stolen key came on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { request } from 'node:http';
import { join } from 'node:path';
import type { CaseDraw, RunView } from '../../src/cases/case.js';
import { findCase } from '../../src/cases/index.js';
import { behindTheNat, insidePortOf, insidePorts, natRule, syncJob, upload } from '../../src/cases/behind-the-nat.js';
import { hostInterfaces, networkOrder, planLab, resolveConfig, resolveRuleArgs, topologyProblems, type LabPlan } from '../../src/core/model.js';
import { seededRng } from '../../src/core/random.js';
import { compiledServicesDir } from '../../src/core/paths.js';
import { AbuseLog, abuseReport, signedBody, signedWith, tagBytes } from '../../src/services/uploads.js';
import type { ClientJob } from '../../src/services/client.js';
import { viewOf } from '../helpers/view.js';
import { hostConfig } from '../../src/cases/case.js';
import { clientJobs } from '../../src/cases/common.js';

const seeds = Array.from({ length: 40 }, (_, i) => `nat-seed-${i}`);
const draw = (seed: string, suspects = 5): CaseDraw => behindTheNat.draw(seededRng(seed), suspects);
const plan = (d: CaseDraw, seed = 's', rng = seededRng(`plan-${seed}`)): LabPlan =>
  planLab({ lab: 'nat', caseId: 'behind-the-nat', seed, suspects: 5, backend: 'netns', port: 3630, subnetBase: '10.200.1', moreSubnetBases: ['10.200.2'], draw: d, rng });

const view = (d: CaseDraw, p: LabPlan): RunView => viewOf(p, d);

const word = (w: string): RegExp => new RegExp(`(^|[^0-9A-Za-z-])${w.replace(/\./g, '\\.')}($|[^0-9A-Za-z-])`);
const jobsOf = (d: CaseDraw, name: string): ClientJob[] => clientJobs(d.hosts.find((h) => h.name === name)!);
const keyOf = (d: CaseDraw, name: string): string => jobsOf(d, name)[0]!.signKey!;

test('behind-the-nat: in the catalog, hard, on both backends, answered with a host', () => {
  assert.equal(findCase('behind-the-nat'), behindTheNat);
  assert.deepEqual(behindTheNat.backends, ['netns', 'docker']);
  assert.equal(behindTheNat.solvedBy, 'answer');
  assert.equal(behindTheNat.difficulty, 'hard');
});

test('behind-the-nat: the same seed draws the same run; the culprit varies across seeds and is always an office machine', () => {
  assert.deepEqual(draw('same'), draw('same'));
  const culprits = new Map<string, number>();
  for (const s of seeds) {
    const d = draw(s);
    assert.equal(d.hosts.find((h) => h.name === d.culprit)?.role, 'suspect');
    assert.equal(d.value, d.culprit);
    culprits.set(d.culprit, (culprits.get(d.culprit) ?? 0) + 1);
  }
  assert.equal(culprits.size, 5, `every machine is the culprit in some run: ${JSON.stringify([...culprits])}`);
  for (const n of culprits.values()) assert.ok(n < seeds.length / 2, 'no machine is drawn in half the runs');
  for (const n of [3, 8]) assert.equal(draw('size', n).hosts.filter((h) => h.role === 'suspect').length, n);
  assert.notDeepEqual(keyOf(draw('nat-seed-0'), 'app1'), keyOf(draw('nat-seed-1'), 'app1'), 'the keys are drawn per run');
});

test('behind-the-nat: lan and wan, gw masquerades lan with random ports; every machine alike but for its own key and port', () => {
  for (const s of seeds.slice(0, 10)) {
    for (const n of [3, 5, 8]) {
      const d = draw(s, n);
      assert.deepEqual(topologyProblems(d), []);
      assert.deepEqual(networkOrder(d).map((x) => x.name), ['wan', 'lan'], 'the site is published from wan, the partner\'s side');
      const gw = d.hosts.find((h) => h.name === 'gw')!;
      assert.equal(gw.role, 'router');
      assert.equal(gw.infrastructure, true);
      assert.deepEqual(gw.rules, [natRule]);
      assert.deepEqual(natRule, { table: 'nat', chain: 'POSTROUTING', args: ['-o', '{dev:wan}', '-j', 'MASQUERADE', '--random-fully'] });
      const web = d.hosts.find((h) => h.name === 'webserver')!;
      assert.deepEqual(web.interfaces, [{ network: 'wan' }]);
      assert.equal(web.routes, undefined, 'the partner has no route to our lan: it sees gw only');
      const apps = d.hosts.filter((h) => h.role === 'suspect');
      assert.equal(apps.length, n);
      // the same program, job, size, pace, path and headers everywhere
      const shapes = new Set(apps.map((h) => JSON.stringify({ program: h.program, target: hostConfig(h, 'client')!.target, jobs: jobsOf(d, h.name).map((j) => ({ ...j, signKey: undefined, localPort: undefined })), interfaces: h.interfaces, routes: h.routes })));
      assert.equal(shapes.size, 1, 'no machine differs but by its key and inside port');
      assert.deepEqual(jobsOf(d, apps[0]!.name), [syncJob(keyOf(d, apps[0]!.name), insidePortOf(d, apps[0]!.name)!)]);
      const keys = apps.map((h) => keyOf(d, h.name));
      const ports = apps.map((h) => insidePortOf(d, h.name)!);
      assert.equal(new Set(keys).size, n, 'a key of its own each');
      for (const k of keys) assert.match(k, /^[0-9a-f]{32}$/);
      assert.equal(new Set(ports).size, n, 'an inside port of its own each');
      for (const p of ports) assert.ok(p >= insidePorts.min && p <= insidePorts.max);
      // the partner knows the culprit's key, and only the partner
      assert.equal(hostConfig(web, 'webserver')!.flagKey, keyOf(d, d.culprit));
      assert.equal(hostConfig(web, 'webserver')!.reportPath, '/report');
      assert.ok(Number(hostConfig(web, 'webserver')!.keepAliveMs) > upload.everyMs * 10, 'the agents\' connections stay open');
    }
  }
});

test('behind-the-nat: the plan is the same whatever the culprit, and holds no key, no inside port, no culprit', () => {
  const a = draw('nat-seed-0');
  const b = seeds.map((s) => draw(s)).find((x) => x.culprit !== a.culprit)!;
  const pa = plan(a, 'x', seededRng('same'));
  const pb = plan(b, 'x', seededRng('same'));
  // ids, bridges and veths are crypto-random names; the rest is the same lab
  const shape = (p: LabPlan) => JSON.stringify(p.hosts.map((h) => ({ name: h.name, role: h.role, program: h.program, interfaces: hostInterfaces(p, h).map((i) => [i.ifname, i.network, i.ip]), infrastructure: h.infrastructure })));
  assert.equal(shape(pa), shape(pb), 'two runs of two culprits plan the same lab');
  for (const [d, p] of [[a, pa], [b, pb]] as const) {
    const text = JSON.stringify({ ...p, seed: undefined });
    assert.doesNotMatch(text, /culprit|value|flag|key|report|"rules"|"config"/i);
    for (const h of d.hosts.filter((x) => x.role === 'suspect')) {
      assert.ok(!text.includes(keyOf(d, h.name)), 'no key in the plan');
      assert.ok(!word(String(insidePortOf(d, h.name))).test(text), 'no inside port in the plan');
    }
    // the rule resolves to gw's wan interface, eth1
    const gw = p.hosts.find((h) => h.name === 'gw')!;
    assert.deepEqual(resolveRuleArgs(p, gw, natRule.args), ['-o', 'eth1', '-j', 'MASQUERADE', '--random-fully']);
    const v = view(d, p);
    const briefing = behindTheNat.briefing(v);
    assert.equal(briefing, behindTheNat.briefing({ ...v, draw: d === a ? b : a }), 'the briefing says nothing of the culprit');
    assert.match(briefing, /curl -s http:\/\/localhost:3630\/report/);
    for (const net of v.networks!) assert.ok(briefing.includes(net.bridge), `the briefing names ${net.name}'s bridge`);
    // the machines reach the partner at its wan address
    const web = p.hosts.find((h) => h.name === 'webserver')!;
    for (const h of d.hosts.filter((x) => x.role === 'suspect')) assert.equal(resolveConfig(hostConfig(h, 'client')!, p).target, `http://${web.ip}:3000/`);
  }
});

test('behind-the-nat: the answer is the one machine, in any words; another, two, or none is wrong', () => {
  for (const s of seeds.slice(0, 10)) {
    const d = draw(s);
    const ok = (v: string) => behindTheNat.checkAnswer!(v, d);
    const other = d.culprit === 'app1' ? 'app2' : 'app1';
    assert.equal(ok(d.culprit), true);
    assert.equal(ok(` ${d.culprit.toUpperCase()} `), true);
    assert.equal(ok(`it is ${d.culprit}, behind gw`), true, 'the gateway named along is fine');
    assert.equal(ok(`${d.culprit} ${d.culprit}`), true);
    assert.equal(ok(other), false);
    assert.equal(ok(`${d.culprit} ${other}`), false, 'two machines');
    assert.equal(ok('gw'), false);
    assert.equal(ok('webserver'), false);
    assert.equal(ok(''), false);
    assert.equal(ok(`${d.culprit}0`), false, 'a name that is not a host');
  }
});

test('behind-the-nat: the hints go from the idea to this run\'s commands; only the last names the culprit; the debrief gives the real values', () => {
  for (const s of seeds.slice(0, 10)) {
    const d = draw(s);
    const p = plan(d, s);
    const v = view(d, p);
    const hints = behindTheNat.hints(v);
    assert.ok(hints.length >= 3);
    const culpritIp = v.hosts.find((h) => h.name === d.culprit)!.ip;
    const inside = String(insidePortOf(d, d.culprit));
    for (const h of hints.slice(0, -1)) {
      assert.doesNotMatch(h, word(d.culprit));
      assert.ok(!word(culpritIp).test(h) && !word(inside).test(h), 'no early hint gives the culprit away');
    }
    const last = hints[hints.length - 1]!;
    const [lan, wan] = ['lan', 'wan'].map((n) => v.networks!.find((x) => x.name === n)!.bridge);
    for (const needed of ['http://localhost:3630/report', `-i ${lan}`, `-i ${wan}`, '-S', `mystery --name nat answer ${d.culprit}`, culpritIp, 'sudo']) {
      assert.ok(last.includes(needed), `the last hint has ${needed}`);
    }
    assert.ok(hints[1]!.includes('-S') && hints[2]!.includes('-X'), 'the -S way, then -X and -tt');
    const debrief = behindTheNat.debrief(v, { packets: new Map(d.hosts.map((h) => [h.name, 900])), bytes: new Map(), seconds: 100, interfaces: new Map() });
    for (const needed of [d.culprit, culpritIp, inside, 'MASQUERADE --random-fully', lan, wan]) assert.ok(debrief.includes(needed), `the debrief has ${needed}`);
    for (const h of d.hosts.filter((x) => x.role === 'suspect')) assert.ok(!debrief.includes(keyOf(d, h.name)), 'the debrief shows no key');
  }
  const d = draw('nat-seed-1');
  const v = view(d, plan(d));
  const [lan, wan] = ['lan', 'wan'].map((n) => v.networks!.find((x) => x.name === n)!.bridge);
  assert.match(behindTheNat.situationalHint!(v, { tcpdumpOn: [], wrongArrests: [] })!, /No tcpdump/);
  assert.match(behindTheNat.situationalHint!(v, { tcpdumpOn: [wan!], wrongArrests: [] })!, new RegExp(`wan \\(${wan}\\) only.*lan \\(${lan}\\)`));
  assert.match(behindTheNat.situationalHint!(v, { tcpdumpOn: [lan!], wrongArrests: [] })!, new RegExp(`lan \\(${lan}\\) only`));
  assert.equal(behindTheNat.situationalHint!(v, { tcpdumpOn: [lan!, wan!], wrongArrests: [] }), undefined);
});

test('uploads: a body is random, its last 16 bytes its signature; only its own key verifies it', () => {
  const key = 'a'.repeat(32);
  const other = 'b'.repeat(32);
  const body = signedBody(key, upload.bytes);
  assert.equal(body.length, upload.bytes);
  assert.equal(signedWith(key, body), true);
  assert.equal(signedWith(other, body), false);
  assert.equal(signedWith(key, signedBody(other, upload.bytes)), false);
  const tampered = Buffer.from(body);
  tampered[3]! ^= 1;
  assert.equal(signedWith(key, tampered), false);
  assert.equal(signedWith(key, body.subarray(0, tagBytes - 1)), false, 'too short to be signed');
  assert.notDeepEqual(signedBody(key, 64), signedBody(key, 64), 'every body is fresh');
  // deterministic for the same random bytes
  const fixed = (n: number) => Buffer.alloc(n, 7);
  assert.deepEqual(signedBody(key, 64, fixed), signedBody(key, 64, fixed));
  assert.ok(!body.includes(Buffer.from(key, 'hex')), 'the key itself is not in the body');
});

test('abuse report: the open flagged connections, by address and port, then the closed ones; nothing but what the partner sees', () => {
  const log = new AbuseLog();
  const t = (s: number) => new Date(Date.UTC(2026, 11, 3, 12, 3, s));
  assert.match(abuseReport(log.entries(), t(0)), /No flagged connection is open now\./);
  log.flag('10.200.2.3', 41234, t(4));
  log.flag('10.200.2.3', 41234, t(5));
  let r = abuseReport(log.entries(), t(6));
  assert.match(r, /this connection, still open:\n {2}from 10\.200\.2\.3 port 41234, since 12:03:04 UTC \(2 uploads, the last at 12:03:05\)/);
  assert.match(r, /^Abuse report of the partner's sync service, 2026-12-03 12:03:06 UTC/);
  log.closed('10.200.2.3', 41234, t(7));
  log.flag('10.200.2.3', 50000, t(8));
  r = abuseReport(log.entries(), t(9));
  assert.match(r, /still open:\n {2}from 10\.200\.2\.3 port 50000, since 12:03:08 UTC \(1 upload, the last at 12:03:08\)\n\nFlagged earlier, closed since:\n {2}from 10\.200\.2\.3 port 41234, since 12:03:04 UTC \(2 uploads, the last at 12:03:05; closed at 12:03:07\)/);
  assert.equal(r.match(/from [0-9.]* port [0-9]*/)![0], 'from 10.200.2.3 port 50000', 'the hint\'s grep finds the open one first');
  // the same address and port again after a close: a new flagged connection
  log.closed('10.200.2.3', 50000, t(10));
  log.flag('10.200.2.3', 41234, t(11));
  r = abuseReport(log.entries(), t(12));
  assert.match(r, /still open:\n {2}from 10\.200\.2\.3 port 41234, since 12:03:11 UTC \(1 upload/);
  assert.match(abuseReport(log.entries(), t(12)), /closed since:\n {2}from 10\.200\.2\.3 port 50000/);
  log.closed('10.200.2.3', 41234, t(13));
  assert.match(abuseReport(log.entries(), t(14)), /No flagged connection is open now\.\n\nFlagged earlier/);
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const q = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve(text));
    });
    q.on('error', reject);
    q.end();
  });
}

const service = (name: string, config: unknown): ChildProcess =>
  spawn(process.execPath, [join(compiledServicesDir, `${name}.js`)], { env: { ...process.env, MYSTERY_CONFIG: JSON.stringify(config) }, stdio: ['ignore', 'pipe', 'inherit'] });

test('the sync agent and the partner\'s server on loopback: the stolen key\'s connection is flagged by its port, the others are not', { timeout: 20_000 }, async () => {
  const port = await freePort();
  const [stolen, fine] = ['0123456789abcdef0123456789abcdef', 'fedcba9876543210fedcba9876543210'];
  const [badPort, goodPort] = [await freePort(), await freePort()];
  const ws = service('webserver', { port, workers: 1, holdMs: 10, maxQueue: 100, keepAliveMs: 120_000, flagKey: stolen, reportPath: '/report' });
  const agents: ChildProcess[] = [];
  try {
    await new Promise((r) => ws.stdout!.once('data', r));
    assert.match(await get(port, '/report'), /No flagged connection is open now/);
    const target = `http://127.0.0.1:${port}/`;
    agents.push(service('client', { target, jobs: [{ ...syncJob(stolen, badPort), sleepMs: 100 }] }));
    agents.push(service('client', { target, jobs: [{ ...syncJob(fine, goodPort), sleepMs: 100 }] }));
    let report = '';
    for (let i = 0; i < 40 && !/uploads?, the last/.test(report); i++) {
      await new Promise((r) => setTimeout(r, 100));
      report = await get(port, '/report');
    }
    await new Promise((r) => setTimeout(r, 600));
    report = await get(port, '/report');
    const flagged = [...report.matchAll(/from ([0-9.]+) port (\d+), since [0-9:]+ UTC \((\d+) uploads?/g)];
    assert.equal(flagged.length, 1, report);
    assert.equal(flagged[0]![1], '127.0.0.1');
    assert.equal(Number(flagged[0]![2]), badPort, 'the agent\'s one kept-open connection, from its own port');
    assert.ok(Number(flagged[0]![3]) >= 3, `several uploads on the one connection: ${report}`);
    assert.ok(!report.includes(String(goodPort)) && !report.includes(stolen));
    assert.equal((await get(port, '/')).includes('Thanks for loading'), true, 'the site is still the site');
    // the agent goes away: its connection is reported closed
    agents[0]!.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 400));
    assert.match(await get(port, '/report'), new RegExp(`No flagged connection is open now\\.\\n\\nFlagged earlier, closed since:\\n {2}from 127\\.0\\.0\\.1 port ${badPort},`));
  } finally {
    for (const a of agents) a.kill('SIGTERM');
    ws.kill('SIGTERM');
  }
});
