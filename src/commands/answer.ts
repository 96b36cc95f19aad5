import type { Command } from 'commander';
import { labFrom, withLabOption, type Ctx } from '../cli/context.js';
import { cliPrefix, loadLab, requireRoot } from '../core/lab.js';
import { ExitCode, UserError } from '../core/errors.js';
import { recordRun } from '../core/progress.js';
import { updateState } from '../core/state.js';

export function registerAnswer(program: Command, ctx: Ctx): void {
  withLabOption(
    program
      .command('answer')
      .description('give the answer, for cases solved by a value (a leaked password, a port ...)')
      .argument('<value>', 'your answer'),
  ).action(async (value: string, opts: { name?: string }) => {
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
