/**
 * Is the case solved? Judged from the lab's real state, as SadServers' check does: the
 * culprit's interface has gone quiet, however it was stopped (`mystery stop`, `kill`
 * inside its namespace, `docker stop`).
 */
import type { LoadedLab } from './lab.js';
import { packetsSent } from './traffic.js';

/** Fewer packets than this in the window is quiet (a stray ARP or IPv6 packet may pass). */
export const quietPackets = 5;

export interface CheckResult {
  solved: boolean;
  culpritQuiet: boolean;
  /** innocent suspects that are not running */
  innocentsDown: string[];
  packets: Map<string, number>;
}

export async function checkLab(loaded: LoadedLab, windowMs = 1000): Promise<CheckResult> {
  const { state, backend, draw } = loaded;
  if (loaded.case.solvedBy === 'answer') {
    const answered = (state.answers ?? []).some((a) => a.correct);
    const ifaces = await backend.interfaces(state);
    const packets = await packetsSent(ifaces, Math.min(windowMs, 200));
    return { solved: answered, culpritQuiet: false, innocentsDown: [], packets };
  }
  const ifaces = await backend.interfaces(state);
  const packets = await packetsSent(ifaces, Math.max(windowMs, loaded.case.quietWindowMs ?? 0));
  const culpritQuiet = (packets.get(draw.culprit) ?? 0) < quietPackets;
  const runtime = await backend.hosts(state);
  const innocentsDown = state.plan.hosts
    .filter((h) => h.role === 'suspect' && h.name !== draw.culprit)
    .filter((h) => runtime.find((r) => r.name === h.name)?.state !== 'running')
    .map((h) => h.name);
  return { solved: culpritQuiet, culpritQuiet, innocentsDown, packets };
}
