/**
 * Is the case solved? One judgement, used by `mystery stop`, `check`, `status` and `debrief`
 * alike, so that they agree at every moment. Judged from the lab's real state, as SadServers'
 * check does:
 * - an arrest case is solved when the culprit's host is stopped (`mystery stop`, a `kill`
 *   (TERM) inside its namespace, `docker stop`: the backend reports it stopped), or, while it
 *   still runs, when its interface has gone quiet (the learner silenced it another way);
 * - an answer case is solved by a right answer only: stopping a host there solves nothing;
 * - a repairable case (\`endToEnd.repairable\`) is solved too once the lab works again end to end
 *   (core/end-to-end.ts): requests made for real from inside its hosts all go through, however
 *   the learner fixed it.
 * A stopped host's kernel may still send what it had begun (an ARP storm's retries, for
 * up to 3 s): the host's state, not its veth, decides then, so the judgement does not lag
 * the arrest.
 */
import type { LoadedLab } from './lab.js';
import { judgeEndToEnd, type EndToEndJudgement } from './end-to-end.js';

/** Fewer packets than this in the window is quiet (a stray ARP or IPv6 packet may pass). */
export const quietPackets = 5;

export interface CheckResult {
  solved: boolean;
  /** how: the culprit's host is stopped, or it runs but its veth is quiet (arrest cases); a right answer; the lab repaired */
  how?: 'stopped' | 'quiet' | 'answered' | 'repaired';
  /** repairable cases not answered yet: what their probes found now */
  endToEnd?: EndToEndJudgement;
  culpritQuiet: boolean;
  /** innocent suspects that are not running */
  innocentsDown: string[];
  packets: Map<string, number>;
}

export async function checkLab(loaded: LoadedLab, windowMs = 1000): Promise<CheckResult> {
  const { state, backend, draw } = loaded;
  if (loaded.case.solvedBy === 'answer') {
    if ((state.answers ?? []).some((a) => a.correct)) return { solved: true, how: 'answered', culpritQuiet: false, innocentsDown: [], packets: new Map() };
    // only a repairable case is judged by its probes here (status makes them for the others)
    const endToEnd = loaded.case.endToEnd?.repairable ? await judgeEndToEnd(loaded) : undefined;
    const repaired = !!endToEnd?.works;
    return { solved: repaired, ...(repaired ? { how: 'repaired' as const } : {}), ...(endToEnd ? { endToEnd } : {}), culpritQuiet: false, innocentsDown: [], packets: new Map() };
  }
  const runtime = await backend.hosts(state);
  const innocentsDown = state.plan.hosts
    .filter((h) => h.role === 'suspect' && h.name !== draw.culprit)
    .filter((h) => runtime.find((r) => r.name === h.name)?.state !== 'running')
    .map((h) => h.name);
  const culpritState = runtime.find((r) => r.name === draw.culprit)?.state;
  if (culpritState === 'stopped') {
    return { solved: true, how: 'stopped', culpritQuiet: true, innocentsDown, packets: new Map() };
  }
  const ifaces = await backend.interfaces(state);
  const packets = await backend.packetsSent(state, ifaces, Math.max(windowMs, loaded.case.quietWindowMs ?? 0));
  // a crashed culprit is being restarted (restart: always): quiet for a moment, not arrested
  const comingBack = culpritState === 'restarting' || culpritState === 'starting';
  const culpritQuiet = (packets.get(draw.culprit) ?? 0) < quietPackets;
  const solved = culpritQuiet && !comingBack;
  return { solved, how: solved ? 'quiet' : undefined, culpritQuiet, innocentsDown, packets };
}
