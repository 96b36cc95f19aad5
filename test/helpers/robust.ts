/**
 * Shared by the robustness and bad-input end-to-end tests: snapshots compared around a
 * test, the CLI spawned so that a test can signal it, and a look at a lab's state file.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { cliPath, mystery, sh, type CliResult } from './cli.js';
import { diffSnapshots, takeSnapshot, type Snapshot } from './snapshot.js';

import { runRoot } from '../../src/core/paths.js';

/** where the tool keeps its labs' state: the source's own (MYSTERY_RUN_DIR, or /run/tcpdump-mystery) */
export { runRoot };

/**
 * Asserts the host is as `before`; a short retry lets a process that was just killed vanish.
 *
 * In CI the tests run alone and the comparison is strict. On a machine shared with other
 * developers' labs, MYSTERY_TEST_SHARED_HOST=1 leaves out differences that name their
 * resources (labs whose names do not start with `r`, Docker networks): a development aid,
 * never set in CI.
 */
export async function assertHostAsBefore(before: Snapshot, what: string): Promise<void> {
  let diff: string[] = [];
  for (let i = 0; i < 6; i++) {
    diff = diffSnapshots(before, await takeSnapshot());
    if (process.env.MYSTERY_TEST_SHARED_HOST === '1') diff = await withoutForeign(before, diff);
    if (diff.length === 0) return;
    await sleep(250);
  }
  assert.deepEqual(diff, [], `${what}: the host changed:\n  ${diff.join('\n  ')}`);
}

const foreign = new Set<string>();
const addForeign = (token: string | undefined): void => {
  if (token && token.length >= 4) foreign.add(token); // an empty token would match everything
};

async function learnForeign(): Promise<void> {
  const { readdir } = await import('node:fs/promises');
  for (const lab of await readdir(runRoot).catch(() => [] as string[])) {
    if ((lab.startsWith('r') && lab !== 'rsoak') || lab.includes('.lock')) continue; // rsoak: the endurance bench
    addForeign(`${runRoot}/${lab}`);
    addForeign(`tcpdump-mystery:${lab}`);
    addForeign(`tmys-${lab}-`);
    try {
      const st = JSON.parse(await readFile(`${runRoot}/${lab}/state.json`, 'utf8')) as Partial<StateLike>;
      addForeign(st.plan?.bridge);
      addForeign(st.plan?.subnet?.replace(/0\/24$/, ''));
      for (const h of st.plan?.hosts ?? []) {
        addForeign(h.veth);
        for (const i of h.interfaces ?? []) addForeign(i.veth);
      }
      // a lab of several networks: every bridge and /24 of it
      for (const n of st.plan?.networks ?? []) {
        addForeign(n.bridge);
        addForeign(n.subnet?.replace(/0\/24$/, ''));
      }
    } catch {
      /* docker lab, or gone */
    }
  }
  const links = JSON.parse((await sh('ip', ['-j', 'link', 'show'])).stdout || '[]') as Array<{ ifname: string; ifalias?: string; master?: string }>;
  const nets = (await sh('docker', ['network', 'ls', '-q']).catch(() => undefined))?.stdout.split('\n').filter(Boolean) ?? [];
  for (const id of nets) addForeign(`br-${id}`);
  for (const l of links) {
    const m = /^tcpdump-mystery:(.+)$/.exec(l.ifalias ?? '');
    if ((m && (!m[1]!.startsWith('r') || m[1] === 'rsoak')) || (l.master && (foreign.has(l.master) || l.master === 'docker0'))) addForeign(l.ifname);
  }
}

async function withoutForeign(before: Snapshot, diff: string[]): Promise<string[]> {
  await learnForeign();
  const keep: string[] = [];
  for (const line of diff) {
    const m = /^(\w+): added (\[.*\]), removed (\[.*\])$/.exec(line);
    if (!m) {
      keep.push(line);
      continue;
    }
    const key = m[1]!;
    const mine = (items: string[]): string[] =>
      items.filter((x) => {
        if (key.startsWith('docker')) return x.includes(' r'); // the other developers' Docker labs
        if (key === 'foreignNetnsProcesses' && !x.includes('/tcpdump-mystery/r') && !x.includes('sleep')) return false; // their containers
        if (x.includes('/start.lock')) return false; // their starts
        // (`dev if2853`: an interface that had no name here at that moment, one being moved into
        // another lab's namespace or container: a paired test's Docker seed left one in a snapshot)
        return ![...foreign].some((t) => x.includes(t)) && !/docker|DOCKER|172\.1[6-9]\.|172\.2\d\.|192\.168\.\d+\.|MASQUERADE|masquerade/.test(x) && !/@veth/.test(x) && !/ dev if\d+ /.test(x);
      });
    const added = mine(JSON.parse(m[2]!) as string[]);
    const removed = mine(JSON.parse(m[3]!) as string[]);
    if (added.length || removed.length) keep.push(`${m[1]}: added ${JSON.stringify(added)}, removed ${JSON.stringify(removed)}`);
  }
  void before;
  return keep;
}

/**
 * A snapshot of a host that has stopped changing by itself: just after a lab starts, the
 * kernel may still be finishing work on its new links (neighbours, namespaces' own addresses).
 */
export async function settledSnapshot(maxMs = 8000): Promise<Snapshot> {
  // settled = unchanged over two intervals in a row: one quiet interval can fall between
  // a link coming up and the kernel's late additions for it
  let prev = await takeSnapshot();
  let quiet = 0;
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    await sleep(700);
    const next = await takeSnapshot();
    quiet = diffSnapshots(prev, next).length === 0 ? quiet + 1 : 0;
    if (quiet === 2) return next;
    prev = next;
  }
  return prev;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  done: Promise<CliResult>;
  /** resolves when stderr contains `text` (rejects after timeoutMs) */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
}

/** Starts the CLI and returns at once, so that the test can signal it while it works. */
export function spawnMystery(args: string[], env: NodeJS.ProcessEnv = {}): Running {
  const child = spawn(process.execPath, [cliPath, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const done = new Promise<CliResult>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err })),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    done,
    async waitFor(text, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!err.includes(text)) {
        if (Date.now() > deadline) throw new Error(`no "${text}" from mystery ${args.join(' ')} in ${timeoutMs} ms; stderr:\n${err}`);
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`mystery ${args.join(' ')} ended before "${text}"; stderr:\n${err}`);
        await sleep(20);
      }
    },
  };
}

export interface StateLike {
  plan: {
    lab: string;
    port: number;
    subnet: string;
    bridge: string;
    hosts: Array<{ name: string; program: string; netns: string; veth: string; ip: string; interfaces?: Array<{ veth?: string }> }>;
    networks?: Array<{ bridge?: string; subnet?: string }>;
  };
  supervisorPid?: number;
  created: { rules: string[][] };
}

export async function readLabState(lab: string): Promise<StateLike> {
  return JSON.parse(await readFile(`${runRoot}/${lab}/state.json`, 'utf8')) as StateLike;
}

/** `mystery down --name LAB`, asserting it succeeds. */
export async function down(lab: string): Promise<CliResult> {
  const r = await mystery(['down', '--name', lab]);
  assert.equal(r.code, 0, `down --name ${lab} failed: ${r.stderr}`);
  return r;
}

/** A detached lab, asserting it started. */
export async function startLab(lab: string, port: number, extra: string[] = []): Promise<StateLike> {
  const r = await mystery(['start', '-d', '--name', lab, '--port', String(port), ...extra], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `start --name ${lab} failed (${r.code}): ${r.stderr}`);
  return readLabState(lab);
}

/** Names of the host's network namespaces. */
export async function netnsNames(): Promise<string[]> {
  const r = await sh('ip', ['-j', 'netns', 'list']);
  return r.stdout.trim() ? (JSON.parse(r.stdout) as Array<{ name: string }>).map((n) => n.name) : [];
}

/** GET / on localhost:port; the status code, or undefined when nothing answers in time. */
export async function httpStatus(port: number, timeoutMs = 15_000): Promise<number | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return undefined;
  }
}

// On a shared host, learn the other labs' resources at once (a lab that is there when a test
// takes its first snapshot may be gone a moment later), then keep learning while the tests run:
// a lab may come and go between two snapshots.
if (process.env.MYSTERY_TEST_SHARED_HOST === '1') {
  await learnForeign().catch(() => {});
  setInterval(() => void learnForeign().catch(() => {}), 300).unref();
}
