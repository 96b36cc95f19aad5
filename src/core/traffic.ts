/** Packet counters of the hosts' interfaces, read from /sys: how the lab sees who is loud. */
import { readFile } from 'node:fs/promises';
import type { HostInterface } from '../backends/backend.js';

async function counter(iface: string, name: string): Promise<number | undefined> {
  try {
    return Number((await readFile(`/sys/class/net/${iface}/statistics/${name}`, 'utf8')).trim());
  } catch {
    return undefined;
  }
}

/**
 * Packets each host sent during `windowMs` (the host-side veth *receives* what the host
 * sends). A host with no interface now (a stopped container) sent nothing.
 */
export async function packetsSent(ifaces: Map<string, HostInterface | undefined>, windowMs: number): Promise<Map<string, number>> {
  const before = new Map<string, number | undefined>();
  for (const [name, i] of ifaces) before.set(name, i ? await counter(i.veth, 'rx_packets') : undefined);
  await new Promise((r) => setTimeout(r, windowMs));
  const out = new Map<string, number>();
  for (const [name, i] of ifaces) {
    const a = before.get(name);
    const b = i ? await counter(i.veth, 'rx_packets') : undefined;
    out.set(name, a === undefined || b === undefined ? 0 : Math.max(0, b - a));
  }
  return out;
}

/** Packets and bytes seen on each host's veth, both directions, since it was created. */
export async function totals(ifaces: Map<string, HostInterface | undefined>): Promise<{ packets: Map<string, number>; bytes: Map<string, number> }> {
  const packets = new Map<string, number>();
  const bytes = new Map<string, number>();
  for (const [name, i] of ifaces) {
    if (!i) continue;
    const [rp, tp, rb, tb] = await Promise.all(['rx_packets', 'tx_packets', 'rx_bytes', 'tx_bytes'].map((c) => counter(i.veth, c)));
    if (rp === undefined || tp === undefined) continue;
    packets.set(name, rp + tp);
    bytes.set(name, (rb ?? 0) + (tb ?? 0));
  }
  return { packets, bytes };
}
