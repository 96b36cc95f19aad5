import type { Command } from 'commander';
import { labFrom, withLabOption, type Ctx } from '../cli/context.js';
import { cliPrefix, loadLab, requireRoot } from '../core/lab.js';
import { checkLab } from '../core/check.js';
import { incidentHidden, incidentReveal } from '../core/incident.js';
import { ExitCode } from '../core/errors.js';
import { formatMs, measureLatency } from '../core/latency.js';
import { recordRun } from '../core/progress.js';
import { updateState } from '../core/state.js';

export function registerCheck(program: Command, ctx: Ctx): void {
  withLabOption(
    program
      .command('check')
      .description("check my solution: judges the lab's real state, however you made the arrest"),
  ).action(async (opts: { name?: string }) => {
    requireRoot('check');
    const lab = labFrom(opts);
    const loaded = await loadLab(lab);
    const [result, latency] = await Promise.all([checkLab(loaded), measureLatency(loaded.state.plan.port, 10_000)]);
    const cli = cliPrefix(lab);
    if (!result.solved) {
      ctx.io.out(
        incidentHidden(loaded.state)
          ? `Not solved yet: the incident goes on, and the site answers in ${formatMs(latency)}. \`${cli} hint\` helps you triage it.`
          : result.endToEnd && loaded.case.endToEnd?.repairable
          ? `Not solved yet: ${result.endToEnd.probes - result.endToEnd.passed} of the ${result.endToEnd.probes} requests made now from inside the lab failed (the goal: ${loaded.case.endToEnd.goal}). When you know the answer: \`${cli} answer VALUE\`; or repair the lab (\`${cli} exec HOST ...\`) and check again.`
          : loaded.case.solvedBy === 'answer'
          ? `Not solved yet. The site answers in ${formatMs(latency)}. When you know the answer: \`${cli} answer VALUE\`.`
          : `Not solved yet: the culprit is still at large, and the site answers in ${formatMs(latency)}. \`${cli} hint\` helps.`,
      );
      ctx.exitCode = ExitCode.unsolved;
      return;
    }
    const updated = await updateState(loaded.state, (s) => {
      if (!s.solvedAt) s.solvedAt = new Date().toISOString();
    });
    if (updated) await recordRun(updated, true);
    const how =
      result.how === 'repaired'
        ? `you repaired the lab: ${loaded.case.endToEnd?.goal ?? 'it works again'}`
        : loaded.case.solvedBy === 'answer'
        ? 'your answer is right'
        : result.how === 'stopped'
          ? 'the culprit is stopped'
          : "the culprit's traffic has stopped";
    const lines = [`Solved: ${how}, and the site answers in ${formatMs(latency)}.`];
    const reveal = updated && incidentReveal(updated, loaded.case);
    if (reveal) lines.push(reveal);
    if (result.innocentsDown.length) {
      lines.push(`But innocent hosts are down too: ${result.innocentsDown.join(', ')}. Bring them back with \`${cli} restart HOST\`.`);
    }
    lines.push(`\`${cli} debrief\` shows how it could be found, with this run's real values.`);
    ctx.io.out(lines.join('\n'));
  });
}
