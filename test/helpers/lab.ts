/**
 * What the end-to-end tests of one case share: lab names that no other lab on the host has,
 * a start that takes turns with the other starts by the start lock, `ps --json`, and a capture.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mystery, sh, type CliResult } from './cli.js';
import { netnsNames, runRoot } from './robust.js';

export interface PsJson {
  name: string;
  id: string;
  ip: string;
  interfaces: Array<{ name: string; network: string; ip: string }>;
}

/** `n` lab names of `prefix` + 2 random characters (a-z, 0-9), distinct, none of a lab on this host now. */
export function labNames(prefix: string, n: number): string[] {
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const names = new Set<string>();
  while (names.size < n) {
    const name = `${prefix}${chars[Math.floor(Math.random() * chars.length)]}${chars[Math.floor(Math.random() * chars.length)]}`;
    if (!existsSync(`${runRoot}/${name}`)) names.add(name);
  }
  return [...names];
}

export interface StartOptions {
  seed: string;
  lab: string;
  /** the ports this test may publish on; each start takes the first that `taken` does not hold */
  ports: readonly number[];
  taken: Set<number>;
  env: NodeJS.ProcessEnv;
  backend?: 'netns' | 'docker';
  timeoutMs?: number;
}

/**
 * `mystery start CASE -d` of one lab. Starts of several labs at once (and of other labs on the
 * host) take turns by the start lock, or meet a subnet or port just taken: those are retried.
 */
export async function startCase(caseId: string, o: StartOptions): Promise<{ r: CliResult; port: number }> {
  let r: CliResult | undefined;
  let port = 0;
  for (let attempt = 0; attempt < 10; attempt++) {
    // a new port only when the last was found in use (a start lock or a subnet just taken keeps it)
    if (!port || /already in use/.test(r?.stderr ?? '')) {
      port = o.ports.find((p) => !o.taken.has(p))!;
      assert.ok(port, `no port left of ${o.ports.join(', ')}`);
      o.taken.add(port);
    }
    const args = ['start', caseId, '-d', '--seed', o.seed, '--name', o.lab, '--port', String(port)];
    if (o.backend) args.push('--backend', o.backend);
    r = await mystery(args, { env: o.env, timeoutMs: o.timeoutMs ?? 60_000 });
    if (r.code === 0 || !/in progress|No free subnet|already in use/.test(r.stderr)) break;
    await new Promise((res) => setTimeout(res, 500 + Math.random() * 1000));
  }
  return { r: r!, port };
}

/** `mystery ps --json` of a lab: every host with its interfaces. */
export async function psJson(lab: string, env: NodeJS.ProcessEnv): Promise<PsJson[]> {
  const r = await mystery(['ps', '--json', '--name', lab], { env });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as PsJson[];
}

/** The address of `host` on `network`, from `ps --json`. */
export function addressOf(hosts: readonly PsJson[], host: string, network: string): string {
  const ip = hosts.find((h) => h.name === host)?.interfaces.find((i) => i.network === network)?.ip;
  assert.ok(ip, `${host} has an address on ${network}`);
  return ip;
}

/** tcpdump -nn -l on one interface for `seconds`: every line it printed. */
export async function capture(iface: string, args: string[], seconds: number): Promise<string[]> {
  const r = await sh('timeout', [String(seconds), 'tcpdump', '-nn', '-l', '-i', iface, ...args], (seconds + 10) * 1000);
  return r.stdout.split('\n').filter(Boolean);
}

/**
 * Nothing of these labs is left: no link, namespace, firewall rule or runtime folder of theirs
 * (by name, so that it holds on a shared host).
 */
export async function assertLabsGone(labs: readonly string[]): Promise<void> {
  const links = JSON.parse((await sh('ip', ['-j', 'link', 'show'])).stdout || '[]') as Array<{ ifname: string; ifalias?: string }>;
  const netns = await netnsNames();
  const rules = (await sh('iptables-save', [])).stdout;
  for (const lab of labs) {
    assert.ok(!rules.includes(`tcpdump-mystery:${lab}"`), `${lab}: no firewall rule left`);
    assert.deepEqual(links.filter((l) => l.ifalias === `tcpdump-mystery:${lab}`).map((l) => l.ifname), [], `${lab}: no link left`);
    assert.deepEqual(netns.filter((n) => n.startsWith(`tmys-${lab}-`)), [], `${lab}: no namespace left`);
    assert.ok(!existsSync(`${runRoot}/${lab}`), `${lab}: no runtime directory left`);
  }
}

/**
 * Whether a Docker engine answers here (in CI, where it must, a test fails when none does):
 * a test runs its Docker seed beside the others where it does, and says so where it does not.
 */
export async function dockerEngine(): Promise<boolean> {
  const engine = await sh('docker', ['info', '--format', '{{.ServerVersion}}'], 15_000).catch(() => undefined);
  if (engine?.code === 0) return true;
  assert.notEqual(process.env.CI, 'true', 'in CI the Docker engine must answer (bash .ci/docker-setup.sh)');
  console.log('no Docker engine answers here: the netns seeds only');
  return false;
}

/**
 * A command in a host's network namespace, as the learner runs it on each backend: `mystery
 * exec` on netns (root inside the namespace), the machine's own tools through nsenter on Docker
 * (the images have no iproute2, and `docker exec` runs as the container's unprivileged user).
 */
export async function inHost(lab: string, backend: 'netns' | 'docker', host: PsJson, argv: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  if (backend === 'netns') return mystery(['exec', '--name', lab, host.name, ...argv], { env });
  const pid = (await sh('docker', ['inspect', '-f', '{{.State.Pid}}', host.id])).stdout.trim();
  assert.match(pid, /^[1-9]\d*$/, `${host.name}'s container runs`);
  return sh('nsenter', ['-n', '-t', pid, ...argv]);
}
