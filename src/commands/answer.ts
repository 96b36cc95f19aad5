import type { Command } from 'commander';
import { labFrom, withLabOption, type Ctx } from '../cli/context.js';
import { cliPrefix, loadLab, requireRoot } from '../core/lab.js';
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
      .argument('<value>', 'your answer')
      .option('--recording <dir>', 'answer a recorded incident (`mystery recording`) instead of a running lab: no root needed'),
  ).action(async (value: string, opts: { name?: string; recording?: string }) => {
    if (opts.recording !== undefined) return answerRecording(ctx, opts.recording, value);
    requireRoot('answer');
    const lab = labFrom(opts);
    const loaded = await loadLab(lab);
    const cli = cliPrefix(lab);
    if (loaded.case.solvedBy !== 'answer' || !loaded.case.checkAnswer) {
      throw new UserError(
        `The case ${loaded.case.id} is solved by an arrest, not by a value.`,
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
