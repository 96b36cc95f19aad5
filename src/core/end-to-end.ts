/**
 * Does the lab work end to end? For a case with \`endToEnd\`: each of its probes is one request
 * made for real from inside a host (services/probe.ts), through whatever routes, rules and links
 * the lab has now, as the learner left them. It works when every probe is answered in time and
 * every host a probe is made from is running (a stopped machine loads nothing): status shows
 * the count, and check judges a repair by it. What failed is counted, never named: while the
 * case is open, the failing host is its answer.
 */
import type { ProbeResult } from '../backends/backend.js';
import type { EndToEndProbe } from '../cases/case.js';
import { runView, type LoadedLab } from './lab.js';

export const defaultProbeTimeoutMs = 2500;

export interface EndToEndJudgement {
  /** every probe went through */
  works: boolean;
  /** probes made, and how many went through */
  probes: number;
  passed: number;
}

/** The probe's one JSON line, or a failure that says why there is none. */
export function probeResultOf(stdout: string | undefined, ms: number): ProbeResult {
  const line = (stdout ?? '').trim().split('\n').pop() ?? '';
  try {
    const r = JSON.parse(line) as Partial<ProbeResult>;
    if (typeof r.ok === 'boolean') {
      return { ok: r.ok, ms: typeof r.ms === 'number' ? r.ms : ms, ...(typeof r.status === 'number' ? { status: r.status } : {}), ...(typeof r.error === 'string' ? { error: r.error } : {}) };
    }
  } catch {
    /* not the probe's line */
  }
  return { ok: false, error: 'the probe did not run', ms };
}

export async function judgeEndToEnd(loaded: LoadedLab): Promise<EndToEndJudgement | undefined> {
  const spec = loaded.case.endToEnd;
  if (!spec) return undefined;
  const { state, backend } = loaded;
  const probes: EndToEndProbe[] = spec.probes(runView(loaded));
  const runtime = await backend.hosts(state);
  const results = await Promise.all(
    probes.map(async (p): Promise<boolean> => {
      const host = state.plan.hosts.find((h) => h.name === p.from);
      if (!host || runtime.find((r) => r.name === p.from)?.state !== 'running') return false;
      return (await backend.probe(state, host, p.url, p.timeoutMs ?? defaultProbeTimeoutMs)).ok;
    }),
  );
  const passed = results.filter(Boolean).length;
  return { works: probes.length > 0 && passed === probes.length, probes: probes.length, passed };
}
