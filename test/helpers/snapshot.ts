/**
 * A snapshot of what a lab could leave on the host: links, namespaces, routes, firewall
 * rules, the sysctls the lab may touch, the tool's state directory, and processes in any
 * network namespace other than the host's. Every end-to-end test compares one taken
 * before with one taken after.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { sh } from './cli.js';

export interface Snapshot {
  links: string[];
  netns: string[];
  routes: string[];
  iptables: string[];
  sysctls: Record<string, string>;
  stateDir: string[];
  foreignNetnsProcesses: string[];
}

const sysctls = ['net/ipv4/ip_forward', 'net/bridge/bridge-nf-call-iptables', 'net/ipv4/conf/all/forwarding'];

async function lines(cmd: string, args: string[]): Promise<string[]> {
  const r = await sh(cmd, args);
  return r.code === 0 ? r.stdout.split('\n').filter(Boolean) : [];
}

async function listDir(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      out.push(`${dir}/${e.name}`);
      if (e.isDirectory()) out.push(...(await listDir(`${dir}/${e.name}`)));
    }
  } catch {
    /* absent */
  }
  return out;
}

async function processesOutsideHostNetns(): Promise<string[]> {
  const hostNs = await readlink('/proc/1/ns/net').catch(() => '');
  const out: string[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const ns = await readlink(`/proc/${e}/ns/net`);
      if (ns === hostNs) continue;
      const cmd = (await readFile(`/proc/${e}/cmdline`, 'utf8')).replace(/\0/g, ' ').trim();
      out.push(`${e} ${cmd}`);
    } catch {
      /* gone */
    }
  }
  return out.sort();
}

export async function takeSnapshot(): Promise<Snapshot> {
  const sys: Record<string, string> = {};
  for (const s of sysctls) sys[s] = await readFile(`/proc/sys/${s}`, 'utf8').then((t) => t.trim(), () => 'absent');
  const ipt = await lines('iptables-save', []);
  return {
    // index and name, without counters or state that changes by itself
    links: (await lines('ip', ['-o', 'link', 'show'])).map((l) => l.split(':').slice(0, 2).join(':').trim()).sort(),
    netns: (await lines('ip', ['netns', 'list'])).sort(),
    routes: (await lines('ip', ['route', 'show', 'table', 'all'])).sort(),
    iptables: ipt.filter((l) => !l.startsWith('#') && !/^:\S+ \S+ \[\d+:\d+\]$/.test(l) || /^:\S+ (ACCEPT|DROP)/.test(l)).map((l) => l.replace(/\[\d+:\d+\]/, '')).sort(),
    sysctls: sys,
    stateDir: await listDir('/run/tcpdump-mystery'),
    foreignNetnsProcesses: await processesOutsideHostNetns(),
  };
}

/** What differs, in words; empty when the host is as it was. */
export function diffSnapshots(before: Snapshot, after: Snapshot): string[] {
  const out: string[] = [];
  for (const key of Object.keys(before) as Array<keyof Snapshot>) {
    const a = JSON.stringify(before[key]);
    const b = JSON.stringify(after[key]);
    if (a === b) continue;
    if (Array.isArray(before[key])) {
      const x = before[key] as string[];
      const y = after[key] as string[];
      const added = y.filter((v) => !x.includes(v));
      const removed = x.filter((v) => !y.includes(v));
      out.push(`${key}: added ${JSON.stringify(added)}, removed ${JSON.stringify(removed)}`);
    } else out.push(`${key}: ${a} -> ${b}`);
  }
  return out;
}
