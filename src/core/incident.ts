/**
 * The unknown incident (`mystery start --random`): a case drawn without naming it. The learner
 * is told only the symptom, triages from captures, names the incident (`mystery answer
 * --incident ID`), then solves it as the case asks. Until it is named, nothing the tool prints
 * names it: status, hints and verdicts speak of "the incident".
 */
import { allCases } from '../cases/index.js';
import type { Backend, CaseModule, RunView } from '../cases/case.js';
import type { LabState } from './state.js';
import { randomHex, seededRng } from './random.js';

/** A symptom for a case that has none of its own. */
export const genericSymptom = 'Something is wrong on the network: users complain, and nobody knows why.';

/** Whether the run is an unknown incident whose case the learner has not named (nor seen, by giving up). */
export function incidentHidden(state: LabState): boolean {
  return !!state.incident && !state.incident.namedAt && !state.gaveUp && !state.solvedAt;
}

/** The cases an unknown incident may be on this backend; with a seed, the same one each time. */
export function pickIncident(backend: Backend, seed?: string): CaseModule {
  const pool = allCases().filter((c) => c.backends.includes(backend));
  const rng = seededRng(`incident:${seed ?? randomHex(8)}`);
  return pool[rng.int(pool.length)]!;
}

export function incidentBriefing(c: CaseModule, view: RunView): string {
  return [
    'An unknown incident. What the on-call engineer was told:',
    `  ${c.symptom ?? genericSymptom}`,
    '',
    'Triage it with tcpdump: which incident is this? Name it (the ids are those of `mystery cases`),',
    'then solve it as the incident asks: arrest the host at fault, or answer what is asked.',
    `  ${view.cli} ps                      the lab's hosts and their IPs`,
    `  ${view.cli} map                     its networks and routers`,
    `  ${view.cli} answer --incident ID    name the incident (then \`${view.cli} hint\` speaks of it)`,
    `  ${view.cli} stop HOST | answer VALUE   solve it`,
    `  ${view.cli} status                  the site's response time, solved or not`,
    `The networks: ${(view.networks ?? [{ name: 'lan', bridge: view.bridge }]).map((n) => `${n.name} on the bridge ${n.bridge}`).join(', ')} (\`ip link show master BRIDGE\` lists each one's veths).`,
  ].join('\n');
}

/** Hints before the incident is named: how to triage, never which case it is. */
export function triageHints(view: RunView): string[] {
  const bridges = (view.networks ?? [{ name: 'lan', bridge: view.bridge }]).map((n) => n.bridge);
  return [
    `First look at everything, briefly: \`sudo timeout 5 tcpdump -nn -q -i ${bridges[0]}\`${bridges.length > 1 ? ` (and on ${bridges.slice(1).join(', ')})` : ''}. Who talks to whom, over which protocol and port? Is anything far louder, or oddly quiet?`,
    'Then ask the questions each incident of the catalog answers: a flood (packets per veth), resets (`tcp[tcpflags] & tcp-rst != 0`), big packets (`greater 1000`), ARP (`arp`, `-e`), DNS (`udp port 53`), payloads (`-A`), windows (`tcp[14:2] = 0`), retransmissions (`-S`), bursts (record with `-w`, read with `-r`), SYNs without an answer, and, across a router, both sides at once.',
    `\`mystery cases\` lists every incident with the skills it teaches: the one whose signs you saw is the one to name (\`${view.cli} answer --incident ID\`). Once it is named, \`${view.cli} hint\` gives that incident's own hints.`,
  ];
}

/** How the run's incident is told once it may be: named, or revealed by a solve or a give-up. */
export function incidentReveal(state: LabState, c: CaseModule): string | undefined {
  const inc = state.incident;
  if (!inc) return undefined;
  const ready = Date.parse(state.readyAt ?? state.startedAt);
  const named = inc.namedAt ? `you named it after ${Math.round((Date.parse(inc.namedAt) - ready) / 1000)} s (${inc.guesses.length} guess${inc.guesses.length === 1 ? '' : 'es'})` : 'you had not named it';
  return `The incident was ${c.title} (${c.id}): ${named}.`;
}
