/**
 * Does a capture of the learner's prove this run's case? Judged from what `tcpdump -r` reads
 * in it: whose interface it was taken on (the one address in every packet), and how much of
 * the culprit's traffic it holds. Submitting proves, it does not solve: the case is solved by
 * the arrest or the answer, as ever.
 */
import type { CaseDraw, RunView } from '../cases/case.js';
import { captureOwner, type CaptureSummary } from './capture.js';

export interface EvidenceVerdict {
  proves: boolean;
  says: string;
}

/** At least this many of the culprit's packets make a capture evidence of it. */
export const enoughPackets = 20;

const secs = (s: number): string => `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;

export function judgeCapture(s: CaptureSummary, view: RunView, draw: CaseDraw): EvidenceVerdict {
  const role = (name: string): string => draw.hosts.find((h) => h.name === name)?.role ?? 'suspect';
  const hosts = view.hosts.map((h) => ({ name: h.name, ip: h.ip, role: role(h.name) }));
  const culprit = view.hosts.find((h) => h.name === draw.culprit);
  if (!culprit) return { proves: false, says: 'this case has no culprit to show in a capture.' };
  if (role(culprit.name) === 'router') {
    // a router forwards everyone's packets: no one capture's owner is it, and its own packets are few
    return { proves: false, says: `this case's fault is in a router, which forwards everyone's packets: no capture of one interface shows it. Capture on both sides of each router and compare (\`${view.cli} map\` shows which networks it joins), then answer.` };
  }
  if (s.ipPackets === 0) {
    return { proves: false, says: `it holds no IPv4 packet (${s.packets} packets in all). Capture a host's traffic, e.g. on its veth with 'tcp port 3000'.` };
  }
  const owner = captureOwner(s, hosts);
  const sent = s.from.get(culprit.ip) ?? 0;
  const requests = s.requestsTo(3000).get(culprit.ip) ?? 0;
  const span = `${s.ipPackets} IPv4 packets in ${secs(s.seconds)}`;
  if (owner === culprit.name) {
    if (sent >= enoughPackets) {
      return {
        proves: true,
        says: `${sent} packets from ${culprit.ip} in ${secs(s.seconds)} (${requests} with a payload to port 3000), captured on ${culprit.veth ?? 'its veth'}, ${culprit.name}'s.`,
      };
    }
    return { proves: false, says: `it holds ${culprit.name}'s traffic, but only ${sent} of its packets (${span}): capture for longer.` };
  }
  if (owner && role(owner) === 'suspect') {
    return { proves: false, says: `this capture holds only ${owner}'s traffic (${span}): it is innocent; the culprit's traffic is elsewhere.` };
  }
  if (owner) {
    return { proves: false, says: `this capture holds only traffic to and from ${owner} (${span}), as ${owner}'s own veth or the bridge carry it: everyone's traffic to it is there, so it shows what ${owner} gets, not who sends it. Capture on the suspects' own veths.` };
  }
  const talkers = [...s.from.keys()].filter((ip) => hosts.some((h) => h.ip === ip)).length;
  return {
    proves: false,
    says: `it holds the traffic of ${talkers} hosts (${span}), as a capture on a bridge or on \`any\` does: it shows what crosses the lab, not whose veth carries it. Capture on one host's own veth.`,
  };
}
