import type { Command } from 'commander';
import { labFrom, withLabOption, type Ctx } from '../cli/context.js';
import { cliPrefix, loadLab, requireRoot } from '../core/lab.js';
import { incidentHidden } from '../core/incident.js';
import { checkLab } from '../core/check.js';
import { formatMs, measureLatency } from '../core/latency.js';
import { sparkline } from '../core/sparkline.js';
import { formatOutcomes } from '../core/outcomes.js';
import { judgeEndToEnd } from '../core/end-to-end.js';
import type { LabBackend } from '../backends/backend.js';
import type { LabState } from '../core/state.js';

export function registerStatus(program: Command, ctx: Ctx): void {
  withLabOption(
    program
      .command('status')
      .description("the case, each host's state, the site's response time now, solved or not")
      .option('--json', 'as JSON'),
  ).action(async (opts: { json?: boolean; name?: string }) => {
    requireRoot('status');
    const loaded = await loadLab(labFrom(opts));
    const { state, backend } = loaded;
    const [runtime, latencyMs, check, history, outcomes, probed] = await Promise.all([
      backend.hosts(state),
      measureLatency(state.plan.port, 15_000),
      checkLab(loaded),
      latencyHistory(backend, state),
      backend.outcomes ? backend.outcomes(state).catch(() => undefined) : Promise.resolve(undefined),
      // the requests a healthy lab answers, made now (the check makes them for a repairable case)
      loaded.case.endToEnd && !loaded.case.endToEnd.repairable ? judgeEndToEnd(loaded) : Promise.resolve(undefined),
    ]);
    const endToEnd = check.endToEnd ?? probed;
    const hidden = incidentHidden(state);
    const elapsedMs = Date.now() - Date.parse(state.readyAt ?? state.startedAt);
    const hosts = state.plan.hosts.map((h) => ({
      name: h.name,
      id: h.id,
      state: runtime.find((r) => r.name === h.name)?.state ?? 'missing',
      ip: h.ip,
    }));
    const report = {
      lab: state.plan.lab,
      // an unknown incident is not named until the learner names it
      case: hidden ? null : state.plan.caseId,
      ...(state.incident ? { incident: { named: !!state.incident.namedAt, guesses: state.incident.guesses.length } } : {}),
      backend: state.plan.backend,
      port: state.plan.port,
      elapsedMs,
      solved: check.solved,
      latencyMs: latencyMs === null ? null : Math.round(latencyMs),
      hosts,
      arrests: state.arrests.map((a) => ({ host: a.host, correct: a.correct })),
      hintsUsed: state.hintsUsed,
      latencyHistory: history,
      ...(outcomes && outcomes.ok + outcomes.wrong + outcomes.failed > 0 ? { requests: outcomes } : {}),
      // requests made now from inside the lab, where the case says what a healthy lab answers
      ...(endToEnd && !hidden ? { endToEnd: { probes: endToEnd.probes, passed: endToEnd.passed } } : {}),
    };
    if (opts.json) return ctx.io.out(JSON.stringify(report, null, 2));
    const mins = Math.floor(elapsedMs / 60000);
    const lines = [
      `case:     ${hidden ? `an unknown incident (name it: ${cliPrefix(state.plan.lab)} answer --incident ID)` : `${loaded.case.title} (${state.plan.caseId})`}, ${state.plan.backend} backend, running for ${mins} min ${Math.round((elapsedMs % 60000) / 1000)} s`,
      `site:     http://localhost:${state.plan.port} answers in ${formatMs(latencyMs)}`,
    ];
    const went = formatOutcomes(outcomes);
    if (went) lines.push(`clients:  ${went}`);
    if (endToEnd && !hidden) {
      lines.push(`inside:   ${endToEnd.passed} of ${endToEnd.probes} ${loaded.case.endToEnd?.what ?? 'requests'} went through just now (one request each, made for real from inside the lab)`);
    }
    const spark = sparkline(history.map((s) => s.ms));
    if (spark) lines.push(`history:  ${spark}  (every 2 s, oldest first)`);
    lines.push(`solved:   ${check.solved ? 'yes' : 'not yet'}`);
    if (state.arrests.length) lines.push(`arrests:  ${state.arrests.map((a) => `${a.host} (${a.correct ? 'right' : 'wrong'})`).join(', ')}`);
    lines.push(`hints:    ${state.hintsUsed} used`, '', 'hosts:');
    for (const h of hosts) lines.push(`  ${h.name.padEnd(14)} ${h.state.padEnd(10)} ${h.ip}`);
    ctx.io.out(lines.join('\n'));
  });
}

/** The last minute of the site's response time, as the backend's monitor sampled it (netns: the lab's supervisor). */
async function latencyHistory(backend: LabBackend, state: LabState): Promise<Array<{ at: number; ms: number | null }>> {
  if (!backend.liveStatus) return [];
  try {
    const reply = await backend.liveStatus(state);
    return (reply?.latency ?? []).slice(-30).map((s) => ({ at: s.at, ms: s.ms === null ? null : Math.round(s.ms) }));
  } catch {
    return [];
  }
}
