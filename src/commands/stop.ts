import type { Command } from 'commander';
import { labFrom, withLabOption, type Ctx } from '../cli/context.js';
import { incidentHidden, incidentReveal } from '../core/incident.js';
import { cliPrefix, loadLab, requireHost, requireRoot } from '../core/lab.js';
import { ExitCode } from '../core/errors.js';
import { formatMs } from '../core/latency.js';
import { arrest } from '../core/verdict.js';
import { recordRun } from '../core/progress.js';
import { readState } from '../core/state.js';

export function registerStop(program: Command, ctx: Ctx): void {
  withLabOption(
    program
      .command('stop')
      .description('stop a host (like docker stop): an arrest, with a verdict')
      .argument('<host>', 'host name or id'),
  ).action(async (hostRef: string, opts: { name?: string }) => {
    requireRoot('stop');
    const lab = labFrom(opts);
    const loaded = await loadLab(lab);
    const host = requireHost(loaded.state, hostRef);
    const io = ctx.io;
    const cli = cliPrefix(lab);
    if (host.role !== 'suspect') {
      await loaded.backend.stopHost(loaded.state, host);
      const lost = host.name === 'webserver' ? 'the site is down now' : 'what it serves the lab is gone now';
      io.out(`Stopped ${host.name}. It is not a suspect: ${lost}. \`${cli} restart ${host.name}\` brings it back.`);
      return;
    }
    if (loaded.case.solvedBy === 'answer') {
      // no arrest: this case is solved by a value, and stopping a host judges nothing
      await loaded.backend.stopHost(loaded.state, host);
      io.out(
        [
          incidentHidden(loaded.state)
            ? `Stopped ${host.name}. Nothing was judged, and the incident is still open.`
            : `Stopped ${host.name}. This case is not solved by an arrest: nothing was judged, and the case is still open.`,
          `  when you know the answer: \`${cli} answer VALUE\`; \`${cli} restart ${host.name}\` brings ${host.name} back.`,
        ].join('\n'),
      );
      return;
    }
    io.err(`Stopping ${host.name} and measuring the site before and after ...`);
    const v = await arrest(loaded, host);
    const updated = await readState(lab);
    if (updated.kind === 'ok') await recordRun(updated.state, !!updated.state.solvedAt);
    if (v.correct && !v.solved) {
      // stopped, yet the lab's state does not say so (its traffic goes on): say what check says
      io.out(
        [
          `${host.name} was the culprit, but its traffic has not stopped: the case is not solved yet.`,
          `  \`${cli} check\` judges the lab's real state; \`${cli} status\` shows ${host.name}'s state.`,
        ].join('\n'),
      );
      ctx.exitCode = ExitCode.unsolved;
    } else if (v.correct) {
      const mins = Math.floor(v.elapsedMs / 60000);
      const secs = Math.round((v.elapsedMs % 60000) / 1000);
      io.out(
        [
          `CASE SOLVED: ${host.name} was the culprit.`,
          ...(updated.kind === 'ok' && updated.state.incident ? [`  ${incidentReveal(updated.state, loaded.case)}`] : []),
          `  site response time: ${formatMs(v.latencyBeforeMs)} before the arrest, ${formatMs(v.latencyAfterMs)} after`,
          `  time taken: ${mins} min ${secs} s, hints used: ${v.hintsUsed}`,
          slowMs(v.latencyBeforeMs)
            ? `\`${cli} status\` shows the site recovering; \`${cli} debrief\` how it could be found; \`${cli} down\` removes the lab.`
            : `\`${cli} debrief\` shows how it could be found, with this run's real values; \`${cli} down\` removes the lab.`,
        ].join('\n'),
      );
    } else {
      io.out(
        [
          `WRONG ARREST: ${host.name} is innocent.`,
          slowMs(v.latencyAfterMs)
            ? `  the site is still slow: ${formatMs(v.latencyAfterMs)} (it was ${formatMs(v.latencyBeforeMs)})`
            : `  the incident goes on (the site answers in ${formatMs(v.latencyAfterMs)}; it was ${formatMs(v.latencyBeforeMs)})`,
          `  the arrest is on your record. Bring ${host.name} back with \`${cli} restart ${host.name}\`, and look again.`,
        ].join('\n'),
      );
      ctx.exitCode = ExitCode.wrong;
    }
  });
}

/** Slow enough that a learner would call the site slow (or it did not answer at all). */
function slowMs(ms: number | null | undefined): boolean {
  return ms === null || ms === undefined || ms >= 300;
}
