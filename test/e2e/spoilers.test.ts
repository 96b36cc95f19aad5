/**
 * Issue #17, point 5: no case may be easier to solve without tcpdump than with it. For four
 * cases whose culprit a single command inside a host used to single out, one lab each (all
 * four at once): once the fault is on, the learner's command (`mystery exec HOST ...`, the
 * real CLI) must show at least one innocent as the culprit shows, or the culprit not on top.
 * The figures compared are printed. Then the labs go, and the host is as before.
 *
 * Labs: s<tag><case> (e.g. sk3sl) on free ports of 3590-3599.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mystery, type CliResult } from '../helpers/cli.js';
import { ps, type PsRow } from '../helpers/learner.js';
import { assertHostAsBefore, sleep } from '../helpers/robust.js';
import { takeSnapshot } from '../helpers/snapshot.js';
import { findCase } from '../../src/cases/index.js';
import { seededRng } from '../../src/core/random.js';
import type { CaseDraw } from '../../src/cases/case.js';
import { clientJobs } from '../../src/cases/common.js';

const tag = Math.random().toString(36).slice(2, 4).padEnd(2, '0');
let stateHome = '';
const env = (): NodeJS.ProcessEnv => ({ XDG_STATE_HOME: stateHome });
const started: string[] = [];

after(async () => {
  for (const lab of started) await mystery(['down', '--name', lab]);
  if (stateHome) await rm(stateHome, { recursive: true, force: true });
});

interface Lab {
  lab: string;
  caseId: string;
  draw: CaseDraw;
  culprit: string;
  hosts: PsRow[];
  t0: number;
  /** the suspects' names, culprit first */
  suspects: string[];
}

const portsTried = new Set<number>();
function freePort(): number {
  for (;;) {
    const p = 3590 + Math.floor(Math.random() * 10);
    if (!portsTried.has(p) || portsTried.size >= 10) {
      portsTried.add(p);
      return p;
    }
  }
}

async function start(caseId: string, short: string, seed: string): Promise<Lab> {
  const lab = `s${tag}${short}`;
  started.push(lab);
  let r: CliResult | undefined;
  // other labs may be starting (the start lock) or hold the port for a moment
  for (let attempt = 0; attempt < 8; attempt++) {
    r = await mystery(['start', caseId, '-d', '--seed', seed, '--name', lab, '--port', String(freePort())], { env: env(), timeoutMs: 120_000 });
    if (r.code === 0 || !/in progress|No free subnet|already in use/.test(r.stderr)) break;
    await sleep(500 + Math.random() * 1500);
  }
  assert.equal(r!.code, 0, `start ${caseId}: ${r!.stderr}`);
  const c = findCase(caseId);
  const draw = c.draw(seededRng(seed), c.suspects.default);
  const culprit = draw.culprit;
  const hosts = await ps(lab);
  const suspects = [culprit, ...hosts.map((h) => h.name).filter((n) => n !== culprit && n !== 'webserver')];
  return { lab, caseId, draw, culprit, hosts, t0: Date.now(), suspects };
}

/** `mystery exec HOST CMD...`: its output. */
async function exec(lab: Lab, host: string, ...cmd: string[]): Promise<string> {
  const r = await mystery(['exec', '--name', lab.lab, host, ...cmd], { env: env() });
  assert.equal(r.code, 0, `exec ${host} ${cmd.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const nameOf = (lab: Lab, ip: string): string => lab.hosts.find((h) => h.ip === ip)?.name ?? ip;

/** `ss -tn` rows: local port, peer's host, Recv-Q, Send-Q. */
async function sockets(lab: Lab, host: string): Promise<Array<{ port: number; peer: string; recvQ: number; sendQ: number }>> {
  return (await exec(lab, host, 'ss', '-tn'))
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 5)
    .map((f) => ({ port: Number(f[3]!.split(':').pop()), peer: nameOf(lab, f[4]!.split(':')[0]!), recvQ: Number(f[1]), sendQ: Number(f[2]) }));
}

/** `nstat -az NAME...` inside a host: each counter's value (absolute, since the namespace began). */
async function nstat(lab: Lab, host: string, ...names: string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const line of (await exec(lab, host, 'nstat', '-az', ...names)).split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && !k.startsWith('#') && v) out[k] = Number(v);
  }
  return out;
}

function per<T>(names: string[], f: (n: string) => T): Map<string, T> {
  return new Map(names.map((n) => [n, f(n)]));
}

/** "app3* 18, app1 21, ...": the culprit starred. */
function shown(lab: Lab, m: Map<string, number | string>): string {
  return [...m].map(([n, v]) => `${n}${n === lab.culprit ? '*' : ''} ${v}`).join(', ');
}

/** The innocent whose figure comes nearest the culprit's, and how near (its figure over the culprit's). */
function nearest(lab: Lab, m: Map<string, number>): { name: string; ratio: number } {
  const c = m.get(lab.culprit) ?? 0;
  const best = [...m].filter(([n]) => n !== lab.culprit).sort((a, b) => Math.abs(a[1] - c) - Math.abs(b[1] - c))[0]!;
  return { name: best[0], ratio: c === 0 ? (best[1] === 0 ? 1 : Infinity) : best[1] / c };
}

/** Polls until `ready` says the fault is on, for at most `ms` after the lab's start. */
async function until(lab: Lab, ms: number, ready: () => Promise<boolean>): Promise<void> {
  while (!(await ready())) {
    assert.ok(Date.now() - lab.t0 < ms, `${lab.caseId}: the fault is not on after ${ms / 1000} s`);
    await sleep(1000);
  }
}

async function slowloris(lab: Lab): Promise<void> {
  // the culprit opens its connections over 15 s: wait until it holds nearly all
  const jobs = clientJobs(lab.draw.hosts.find((h) => h.name === lab.culprit)!);
  const want = jobs.find((j) => j.kind === 'slowloris')!.conns! - 2;
  let rows: Awaited<ReturnType<typeof sockets>> = [];
  await until(lab, 40_000, async () => {
    rows = (await sockets(lab, 'webserver')).filter((r) => r.port === 3000);
    return rows.filter((r) => r.peer === lab.culprit).length >= want;
  });
  const held = per(lab.suspects, (n) => rows.filter((r) => r.peer === n).length);
  const waiting = per(lab.suspects, (n) => rows.filter((r) => r.peer === n && r.recvQ > 0).length);
  const near = nearest(lab, held);
  console.log(`# slowloris (${lab.lab}): connections to the webserver's port 3000 per host (ss -tn in the webserver): ${shown(lab, held)}; with an unread Recv-Q: ${shown(lab, waiting)}`);
  assert.ok(near.ratio >= 0.75, `an innocent holds as many connections as the culprit, within 25%: ${near.name} ${(near.ratio * 100).toFixed(0)}%`);
}

async function zeroWindow(lab: Lab): Promise<void> {
  // the culprit's slow downloads begin after 1.5 s: wait until the webserver's sockets to it are full
  let rows: Awaited<ReturnType<typeof sockets>> = [];
  await until(lab, 30_000, async () => {
    rows = await sockets(lab, 'webserver');
    return rows.filter((r) => r.peer === lab.culprit && r.port === 3000 && r.sendQ > 0).length >= 2;
  });
  const full = per(lab.suspects, (n) => rows.filter((r) => r.peer === n && r.sendQ > 0).length);
  const bytes = per(lab.suspects, (n) => rows.filter((r) => r.peer === n).reduce((sum, r) => sum + r.sendQ, 0));
  const zeroAdv = new Map<string, number>();
  for (const n of lab.suspects) zeroAdv.set(n, (await nstat(lab, n, 'TcpExtTCPToZeroWindowAdv')).TcpExtTCPToZeroWindowAdv ?? 0);
  console.log(`# zero-window (${lab.lab}): the webserver's sockets with a Send-Q per host: ${shown(lab, full)}; their bytes: ${shown(lab, bytes)}; TCPToZeroWindowAdv in each host (nstat -az): ${shown(lab, zeroAdv)}`);
  const culpritFull = full.get(lab.culprit)!;
  assert.ok([...full].some(([n, v]) => n !== lab.culprit && v >= culpritFull - 1), `an innocent has as many full sockets on the webserver, within one: ${shown(lab, full)}`);
  assert.ok(nearest(lab, bytes).ratio >= 0.5, `an innocent's Send-Q holds half the culprit's bytes at least: ${shown(lab, bytes)}`);
  assert.ok(nearest(lab, zeroAdv).ratio >= 0.6, `an innocent counts zero-window advertisements as the culprit does: ${shown(lab, zeroAdv)}`);
}

async function arpStorm(lab: Lab): Promise<void> {
  // the innocents that retry slowly fill their tables in about 16 s (two dead addresses a second)
  const states = new Map<string, number>();
  await until(lab, 40_000, async () => {
    for (const n of lab.suspects) states.set(n, (await exec(lab, n, 'ip', 'neigh')).split('\n').filter((l) => /\b(INCOMPLETE|FAILED)$/.test(l.trim())).length);
    return Date.now() - lab.t0 >= 17_000 && states.get(lab.culprit)! >= 25;
  });
  const incomplete = new Map<string, number>();
  for (const n of lab.suspects) incomplete.set(n, (await exec(lab, n, 'ip', 'neigh')).split('\n').filter((l) => /\bINCOMPLETE$/.test(l.trim())).length);
  console.log(`# arp-storm (${lab.lab}): INCOMPLETE neighbours in each host (ip neigh): ${shown(lab, incomplete)}; INCOMPLETE or FAILED: ${shown(lab, states)}`);
  // what `ip neigh` lists at a glance: unresolved neighbours (the culprit's turn FAILED and back
  // to INCOMPLETE within seconds, the slow innocents' stay INCOMPLETE: the states alone vary)
  const culpritN = states.get(lab.culprit)!;
  const rival = Math.max(...lab.suspects.filter((n) => n !== lab.culprit).map((n) => states.get(n) ?? 0));
  assert.ok(rival >= 0.75 * culpritN, `an innocent has as many unresolved neighbours (INCOMPLETE or FAILED), 75% at least: ${shown(lab, states)}`);
}

async function resetStorm(lab: Lab): Promise<void> {
  // the counters climb from the start: let them reach a few hundred
  await until(lab, 30_000, async () => Date.now() - lab.t0 >= 12_000);
  const fails = new Map<string, number>();
  const gap = new Map<string, number>();
  for (const n of lab.suspects) {
    const c = await nstat(lab, n, 'TcpAttemptFails', 'TcpOutRsts');
    fails.set(n, c.TcpAttemptFails ?? 0);
    gap.set(n, (c.TcpAttemptFails ?? 0) - (c.TcpOutRsts ?? 0));
  }
  const webRsts = (await nstat(lab, 'webserver', 'TcpOutRsts')).TcpOutRsts ?? 0;
  console.log(`# reset-storm (${lab.lab}): TcpAttemptFails in each host: ${shown(lab, fails)}; TcpAttemptFails - TcpOutRsts: ${shown(lab, gap)}; the webserver's TcpOutRsts: ${webRsts}`);
  assert.ok(nearest(lab, fails).ratio >= 0.8 && nearest(lab, fails).ratio <= 1.25, `an innocent fails as many attempts, within 20-25%: ${shown(lab, fails)}`);
  const g = nearest(lab, gap);
  assert.ok(g.ratio >= 0.8 && g.ratio <= 1.25, `an innocent's attempts outrun its resets as the culprit's do: ${g.name} ${(g.ratio * 100).toFixed(0)}%`);
  // the webserver's resets match more than one host's gap
  const matching = [...gap].filter(([, v]) => webRsts > 0 && v / webRsts >= 0.75 && v / webRsts <= 1.33).map(([n]) => n);
  assert.ok(matching.length >= 2, `the webserver's ${webRsts} resets match the gap of two hosts at least: ${matching.join(', ')}`);
}

test('the one-command spoilers of slowloris, zero-window, arp-storm and reset-storm single no culprit out', { timeout: 120_000 }, async () => {
  stateHome = await mkdtemp(join(tmpdir(), 'mystery-spoilers-'));
  const before = await takeSnapshot();
  const t0 = Date.now();
  const labs = await Promise.all([
    start('slowloris', 'sl', 'spoil-sl'),
    start('zero-window', 'zw', 'spoil-zw'),
    start('arp-storm', 'as', 'spoil-as'),
    start('reset-storm', 'rs', 'spoil-rs'),
  ]);
  try {
    const [sl, zw, as, rs] = labs as [Lab, Lab, Lab, Lab];
    const checks = await Promise.allSettled([slowloris(sl), zeroWindow(zw), arpStorm(as), resetStorm(rs)]);
    const failed = checks.filter((c): c is PromiseRejectedResult => c.status === 'rejected');
    assert.equal(failed.length, 0, failed.map((f) => String(f.reason?.message ?? f.reason)).join('\n'));
  } finally {
    for (const lab of labs) {
      const r = await mystery(['down', '--name', lab.lab]);
      assert.equal(r.code, 0, `down ${lab.lab}: ${r.stderr}`);
    }
  }
  await assertHostAsBefore(before, 'after the four labs');
  console.log(`# spoilers: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});
