/**
 * A snapshot of what a lab could leave on the host: links, namespaces, routes, firewall
 * rules, the sysctls the lab may touch, the tool's state directory, and processes in any
 * network namespace other than the host's. Every end-to-end test compares one taken
 * before with one taken after.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { sh } from './cli.js';
import { runRoot } from '../../src/core/paths.js';

export interface Snapshot {
  links: string[];
  netns: string[];
  routes: string[];
  iptables: string[];
  sysctls: Record<string, string>;
  stateDir: string[];
  foreignNetnsProcesses: string[];
  /** host addresses (interface and prefix), IPv6 routes, policy rules */
  addresses?: string[];
  routes6?: string[];
  ipRules?: string[];
  /** every iptables chain declared (user chains too), counters removed; ip6tables rules */
  iptablesChains?: string[];
  ip6tables?: string[];
  /** `nft -s list ruleset` (stateless: no counters), where nft exists */
  nft?: string[];
  /** processes of this tool on the host side (a lab's supervisor, its forwarder) */
  toolProcesses?: string[];
  /** Docker containers and networks labelled `tcpdump-mystery.lab`, where Docker runs */
  dockerContainers?: string[];
  dockerNetworks?: string[];
  /** the labs' cgroup folders (`memory tcpdump-mystery:LAB`), and ours when it is left empty */
  cgroups?: string[];
  /** Docker images labelled `tcpdump-mystery.lab` (the docker backend's builds), where Docker runs */
  dockerImages?: string[];
}

const sysctls = [
  'net/ipv4/ip_forward',
  'net/bridge/bridge-nf-call-iptables',
  'net/ipv4/conf/all/forwarding',
  'net/bridge/bridge-nf-call-ip6tables',
  'net/bridge/bridge-nf-call-arptables',
  'net/ipv6/conf/all/forwarding',
  'net/ipv4/conf/all/rp_filter',
  'net/ipv4/conf/all/route_localnet',
  'net/ipv4/ping_group_range',
  'net/ipv4/ip_unprivileged_port_start',
  'net/ipv4/tcp_rmem',
  'net/ipv4/tcp_wmem',
];

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
  // the test's own namespace is the host's (/proc/1/ns/net may be unreadable, as in a VM
  // sandbox: then every process looked foreign)
  const hostNs = await readlink('/proc/self/ns/net').catch(() => readlink('/proc/1/ns/net'));
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

/**
 * Docker's own default bridge gets an IPv6 link-local address (and its fe80::/64, local and
 * multicast routes) from the kernel the first time it carries a container after dockerd
 * starts, and keeps it: Docker's doing, once per engine (the lab in a box, on a fresh CI
 * machine, was the first container), not the tool's.
 */
function notDocker0LinkLocal(l: string): boolean {
  return !(/\bdocker0\b/.test(l) && /\b(fe80:|ff00::\/8)/.test(l));
}

export async function takeSnapshot(): Promise<Snapshot> {
  const sys: Record<string, string> = {};
  for (const s of sysctls) sys[s] = await readFile(`/proc/sys/${s}`, 'utf8').then((t) => t.trim(), () => 'absent');
  const ipt = await lines('iptables-save', []);
  return {
    // index and name, without counters or state that changes by itself
    links: (await lines('ip', ['-o', 'link', 'show'])).map((l) => l.split(':').slice(0, 2).join(':').trim()).sort(),
    netns: (await lines('ip', ['netns', 'list'])).sort(),
    routes: (await lines('ip', ['route', 'show', 'table', 'all'])).filter(notDocker0LinkLocal).sort(),
    iptables: ipt.filter((l) => !l.startsWith('#') && !/^:\S+ \S+ \[\d+:\d+\]$/.test(l) || /^:\S+ (ACCEPT|DROP)/.test(l)).map((l) => l.replace(/\[\d+:\d+\]/, '')).sort(),
    sysctls: sys,
    stateDir: await listDir(runRoot),
    foreignNetnsProcesses: await processesOutsideHostNetns(),
    cgroups: await cgroupFolders(),
    ...(await extraSnapshot()),
  };
}

/** The tool's cgroup folders under each hierarchy (v2: the root itself; v1: memory, cpu ...). */
async function cgroupFolders(): Promise<string[]> {
  const out: string[] = [];
  for (const h of ['', 'memory', 'cpu', 'cpuacct', 'pids']) {
    const parent = `/sys/fs/cgroup/${h}${h ? '/' : ''}tcpdump-mystery`;
    const labs = await readdir(parent, { withFileTypes: true }).then((es) => es.filter((e) => e.isDirectory()).map((e) => e.name), () => undefined);
    if (labs === undefined) continue;
    if (labs.length === 0) out.push(`${h || 'unified'} tcpdump-mystery (empty, left behind)`);
    for (const lab of labs) out.push(`${h || 'unified'} tcpdump-mystery:${lab}`);
  }
  return out.sort();
}

/** Lines of a tool's output, or [] when the tool is not installed or fails (within 10 s). */
async function optionalLines(cmd: string, args: string[]): Promise<string[]> {
  try {
    const r = await sh(cmd, args, 10_000);
    return r.code === 0 ? r.stdout.split('\n').map((l) => l.trimEnd()).filter((l) => l.trim()) : [];
  } catch {
    return []; // not installed
  }
}

async function hostAddresses(): Promise<string[]> {
  const r = await sh('ip', ['-j', 'addr', 'show']);
  if (r.code !== 0) return [];
  const links = JSON.parse(r.stdout || '[]') as Array<{ ifname: string; addr_info?: Array<{ local: string; prefixlen: number }> }>;
  return links.flatMap((l) => (l.addr_info ?? []).map((a) => `${l.ifname} ${a.local}/${a.prefixlen}`)).sort();
}

async function toolProcesses(): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const cmd = (await readFile(`/proc/${e}/cmdline`, 'utf8')).replace(/\0/g, ' ').trim();
      if (cmd.includes('/tcpdump-mystery/') && (cmd.includes('--lab-dir') || cmd.includes('/services/'))) out.push(`${e} ${cmd}`);
    } catch {
      /* gone */
    }
  }
  return out.sort();
}

async function dockerOfTheTool(): Promise<{ dockerContainers?: string[]; dockerNetworks?: string[]; dockerImages?: string[] }> {
  const info = await sh('docker', ['info', '--format', '{{.ID}}'], 10_000).catch(() => undefined);
  if (!info || info.code !== 0) return {}; // no docker, or no daemon running
  const label = 'label=tcpdump-mystery.lab';
  return {
    dockerContainers: (await optionalLines('docker', ['ps', '-a', '--filter', label, '--format', '{{.ID}} {{.Names}} {{.Label "tcpdump-mystery.lab"}}'])).sort(),
    dockerNetworks: (await optionalLines('docker', ['network', 'ls', '--filter', label, '--format', '{{.ID}} {{.Name}}'])).sort(),
    dockerImages: (await optionalLines('docker', ['image', 'ls', '--filter', label, '--format', '{{.ID}} {{.Repository}}:{{.Tag}}'])).sort(),
  };
}

/** Each line of the ruleset prefixed with its table and chain, so that sorting keeps where it is. */
function nftRules(ruleset: string[]): string[] {
  const path: string[] = [];
  const out: string[] = [];
  for (const raw of ruleset) {
    const l = raw.trim();
    if (l === '}') {
      path.pop();
      continue;
    }
    if (l.endsWith('{')) {
      path.push(l.slice(0, -1).trim());
      out.push(path.join(' / '));
      continue;
    }
    out.push(`${path.join(' / ')}: ${l}`);
  }
  return out.sort();
}

/** The parts added for the robustness tests: each is left out where its tool is absent. */
async function extraSnapshot(): Promise<Partial<Snapshot>> {
  const noCounters = (l: string): string => l.replace(/\[\d+:\d+\]/g, '').trimEnd();
  const ipt = await optionalLines('iptables-save', []);
  const ip6 = await optionalLines('ip6tables-save', []);
  const nftExists = await sh('nft', ['--version']).then((r) => r.code === 0, () => false);
  return {
    addresses: (await hostAddresses()).filter(notDocker0LinkLocal),
    // `expires` counts down by itself
    routes6: (await optionalLines('ip', ['-6', 'route', 'show', 'table', 'all'])).map((l) => l.replace(/ expires \d+sec/, '')).filter(notDocker0LinkLocal).sort(),
    ipRules: (await optionalLines('ip', ['rule', 'show'])).sort(),
    iptablesChains: ipt.filter((l) => l.startsWith(':') || l.startsWith('*')).map(noCounters).sort(),
    ip6tables: ip6.filter((l) => !l.startsWith('#')).map(noCounters).sort(),
    ...(nftExists ? { nft: nftRules(await optionalLines('nft', ['-s', 'list', 'ruleset'])) } : {}),
    toolProcesses: await toolProcesses(),
    ...(await dockerOfTheTool()),
  };
}

/** What differs, in words; empty when the host is as it was. */
export function diffSnapshots(before: Snapshot, after: Snapshot): string[] {
  const out: string[] = [];
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])] as Array<keyof Snapshot>;
  for (const key of keys) {
    const a = JSON.stringify(before[key]);
    const b = JSON.stringify(after[key]);
    if (a === b) continue;
    if (Array.isArray(before[key]) || Array.isArray(after[key])) {
      const x = (before[key] ?? []) as string[];
      const y = (after[key] ?? []) as string[];
      const added = y.filter((v) => !x.includes(v));
      const removed = x.filter((v) => !y.includes(v));
      out.push(`${key}: added ${JSON.stringify(added)}, removed ${JSON.stringify(removed)}`);
    } else out.push(`${key}: ${a} -> ${b}`);
  }
  return out;
}
