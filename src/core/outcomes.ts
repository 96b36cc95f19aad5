/**
 * What the clients' requests came to, for `mystery status`: a service reports each request's
 * outcome as a line `outcome ok`, `outcome wrong` (an answer, but not the page asked for) or
 * `outcome failed` (no answer) on its stdout; the netns supervisor counts them, the Docker
 * backend reads them from the containers' logs. Only the sum over every host is shown: it is
 * the symptom, never a pointer to one host.
 */
export type OutcomeKind = 'ok' | 'wrong' | 'failed';

export interface Outcomes {
  windowMs: number;
  ok: number;
  wrong: number;
  failed: number;
}

/** The window counted: the last 30 s. */
export const outcomeWindowMs = 30_000;

export function parseOutcome(line: string): OutcomeKind | undefined {
  const m = /^outcome (ok|wrong|failed)$/.exec(line.trim());
  return m ? (m[1] as OutcomeKind) : undefined;
}

export function tallyOutcomes(kinds: Iterable<OutcomeKind>, windowMs = outcomeWindowMs): Outcomes {
  const out: Outcomes = { windowMs, ok: 0, wrong: 0, failed: 0 };
  for (const k of kinds) out[k]++;
  return out;
}

/** The status line, or undefined when no service reports outcomes (most cases). */
export function formatOutcomes(o: Outcomes | undefined): string | undefined {
  if (!o) return undefined;
  const total = o.ok + o.wrong + o.failed;
  if (total === 0) return undefined;
  const pct = (n: number): string => `${Math.round((100 * n) / total)}%`;
  return `${pct(o.wrong + o.failed)} of the clients' ${total} page loads in the last ${Math.round(o.windowMs / 1000)} s went wrong (${o.wrong} got the wrong page, ${o.failed} no answer)`;
}
