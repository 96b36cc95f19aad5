import type { Command } from 'commander';
import { labFrom, withLabOption, type Ctx } from '../cli/context.js';
import { cliPrefix, loadLab, requireRoot, runView, type LoadedLab } from '../core/lab.js';
import { allCases } from '../cases/index.js';
import { incidentHidden } from '../core/incident.js';
import { ExitCode, UserError } from '../core/errors.js';
import { recordRun } from '../core/progress.js';
import { updateState } from '../core/state.js';
import { invocation } from '../core/invocation.js';
import { judgeRecordingAnswer, loadRecording, resolveRecording } from '../core/recording.js';
import { invokingUser } from '../core/userfs.js';

export function registerAnswer(program: Command, ctx: Ctx): void {
  withLabOption(
    program
      .command('answer')
      .description('give the answer, for cases solved by a value (a leaked password, a port ...)')
      .argument('<value>', 'your answer (with --incident: the id of the incident, as `mystery cases` lists them)')
      .option('--incident', 'name the unknown incident (`mystery start --random`): VALUE is a case id')
      .option('--recording <dir>', 'answer a recorded incident (`mystery recording`) instead of a running lab: no root needed'),
  ).action(async (value: string, opts: { name?: string; recording?: string; incident?: boolean }) => {
    if (opts.recording !== undefined) return answerRecording(ctx, opts.recording, value);
    requireRoot('answer');
    const lab = labFrom(opts);
    const loaded = await loadLab(lab);
    const cli = cliPrefix(lab);
    if (opts.incident) return nameIncident(ctx, loaded, value.trim().toLowerCase(), cli);
    if (loaded.case.solvedBy !== 'answer' || !loaded.case.checkAnswer) {
      throw new UserError(
        incidentHidden(loaded.state) ? 'This incident is solved by an arrest, not by a value.' : `The case ${loaded.case.id} is solved by an arrest, not by a value.`,
        `Stop the culprit with \`${cli} stop HOST\`.`,
        ExitCode.usage,
      );
    }
    const correct = loaded.case.checkAnswer(value.trim(), loaded.draw);
    const at = new Date().toISOString();
    const updated = await updateState(loaded.state, (s) => {
      s.answers = [...(s.answers ?? []), { value: value.trim(), correct, at }];
      if (correct && !s.solvedAt) s.solvedAt = at;
    });
    if (updated) await recordRun(updated, correct);
    if (correct) {
      ctx.io.out(`CASE SOLVED: "${value.trim()}" is right.\n\`${cli} debrief\` shows how it could be found, with this run's real values.`);
    } else {
      ctx.io.out(`WRONG ANSWER: "${value.trim()}" is not it. Look again (\`${cli} hint\` helps).`);
      ctx.exitCode = ExitCode.wrong;
    }
  });
}

/** A recorded incident's answer, judged against the recording's own draw: no lab, no root. */
async function answerRecording(ctx: Ctx, ref: string, value: string): Promise<void> {
  const rec = await loadRecording(await resolveRecording(ref), invokingUser());
  const cli = invocation().replace(/^sudo /, '');
  if (judgeRecordingAnswer(rec, value)) {
    const how = rec.case.solvedBy === 'arrest' ? `${rec.draw.culprit} was the culprit` : `"${value.trim()}" is right`;
    ctx.io.out(`CASE SOLVED: ${how} (${rec.manifest.title}, recorded).\nTo see it live: \`sudo ${cli} start ${rec.case.id}\`; its debrief shows the reference solution.`);
  } else {
    ctx.io.out(`WRONG ANSWER: "${value.trim()}" is not it. Read the captures again (\`${cli} recording ${ref}\` lists them).`);
    ctx.exitCode = ExitCode.wrong;
  }
}

/** The learner names the unknown incident: right, and the case's own briefing follows; wrong, exit 8. */
async function nameIncident(ctx: Ctx, loaded: LoadedLab, id: string, cli: string): Promise<void> {
  const inc = loaded.state.incident;
  if (!inc) throw new UserError('This run is no unknown incident: its case is named already.', `\`${cli} status\` names it; \`${cli} start --random\` starts an unknown incident.`, ExitCode.usage);
  if (inc.namedAt) return ctx.io.out(`You named it already: ${loaded.case.title} (${loaded.case.id}).`);
  if (!allCases().some((c) => c.id === id)) {
    throw new UserError(`There is no incident called "${id}".`, `Name one of: ${allCases().map((c) => c.id).join(', ')} (see \`${cli.replace(/ --name \S+$/, '')} cases\`).`, ExitCode.usage);
  }
  const correct = id === loaded.case.id;
  const at = new Date().toISOString();
  const updated = await updateState(loaded.state, (s) => {
    if (!s.incident) return;
    s.incident.guesses = [...s.incident.guesses, { id, correct, at }].slice(-100);
    if (correct) s.incident.namedAt = at;
  });
  if (updated) await recordRun(updated, !!updated.solvedAt);
  if (!correct) {
    ctx.io.out(`NOT THIS ONE: the signs do not fit ${id}. Look again (\`${cli} hint\` helps you triage).`);
    ctx.exitCode = ExitCode.wrong;
    return;
  }
  const ready = Date.parse(loaded.state.readyAt ?? loaded.state.startedAt);
  const tries = updated?.incident?.guesses.length ?? 1;
  ctx.io.out(
    [
      `INCIDENT NAMED: ${loaded.case.title} (${loaded.case.id}), triaged in ${Math.round((Date.parse(at) - ready) / 1000)} s, ${tries === 1 ? 'at the first guess' : `at guess ${tries}`}. Now solve it:`,
      '',
      loaded.case.briefing(runView(loaded)),
    ].join('\n'),
  );
}
