/**
 * What a learner does in the seed's walkthrough, with real tools only: find the lab's
 * bridge and its veths, count packets with tcpdump, map ifindexes with iflink.
 */
import { countPackets, mystery, sh } from './cli.js';

export interface PsRow {
  name: string;
  id: string;
  state: string;
  ip: string;
}

export async function ps(lab: string): Promise<PsRow[]> {
  const r = await mystery(['ps', '--json', '--name', lab]);
  if (r.code !== 0) throw new Error(`mystery ps failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as PsRow[];
}

/** The lab's bridge: the one whose address is in the subnet of the hosts `mystery ps` shows. */
export async function findBridge(hostIp: string): Promise<string> {
  const prefix = hostIp.split('.').slice(0, 3).join('.');
  const addrs = JSON.parse((await sh('ip', ['-j', '-4', 'addr', 'show'])).stdout) as Array<{ ifname: string; addr_info: Array<{ local: string }> }>;
  const br = addrs.find((a) => a.addr_info.some((i) => i.local.startsWith(`${prefix}.`)));
  if (!br) throw new Error(`no interface in ${prefix}.0/24`);
  return br.ifname;
}

export async function vethsOf(bridge: string): Promise<Array<{ name: string; ifindex: number }>> {
  const links = JSON.parse((await sh('ip', ['-j', 'link', 'show', 'master', bridge])).stdout) as Array<{ ifname: string; ifindex: number }>;
  return links.filter((l) => l.ifname.startsWith('veth')).map((l) => ({ name: l.ifname, ifindex: l.ifindex }));
}

/** `ip link show | grep VETH`: the number before the colon is its ifindex. */
export async function ifindexFromIpLink(veth: string): Promise<number> {
  const line = (await sh('ip', ['link', 'show'])).stdout.split('\n').find((l) => l.includes(` ${veth}@`));
  const m = line && /^(\d+): /.exec(line);
  if (!m) throw new Error(`${veth} not in ip link show`);
  return Number(m[1]);
}

export async function countEach(veths: string[], filter: string, seconds: number): Promise<Map<string, { captured: number; dropped: number }>> {
  const out = new Map<string, { captured: number; dropped: number }>();
  for (const v of veths) out.set(v, await countPackets(v, filter, seconds));
  return out;
}

/** `for c in $(mystery ps -q); do mystery exec $c cat /sys/class/net/eth0/iflink; done` */
export async function iflinks(lab: string): Promise<Map<string, number>> {
  const ids = (await mystery(['ps', '-q', '--name', lab])).stdout.split('\n').filter(Boolean);
  const out = new Map<string, number>();
  for (const id of ids) {
    const r = await mystery(['exec', '--name', lab, id, 'cat', '/sys/class/net/eth0/iflink']);
    if (r.code !== 0) throw new Error(`exec failed: ${r.stderr}`);
    out.set(id, Number(r.stdout.trim()));
  }
  return out;
}
