import type { Command } from 'commander';
import { labFrom, withLabOption, type Ctx } from '../cli/context.js';
import { loadLab, requireRoot } from '../core/lab.js';
import { recordRun } from '../core/progress.js';
import { updateState } from '../core/state.js';
import { debriefText } from './debrief.js';

export function registerGiveUp(program: Command, ctx: Ctx): void {
  withLabOption(program.command('give-up').description('give up: shows the answer and how to find it (recorded as not solved)')).action(
    async (opts: { name?: string }) => {
      requireRoot('give-up');
      const lab = labFrom(opts);
      const loaded = await loadLab(lab);
      // a solved case stays solved: there is nothing left to give up
      if (loaded.state.solvedAt) {
        ctx.io.out(`The case is solved already: nothing to give up. Here is how it was found:\n\n${await debriefText(loaded)}`);
        return;
      }
      const updated = await updateState(loaded.state, (s) => (s.gaveUp = true));
      if (updated) await recordRun(updated, false);
      ctx.io.out(`You gave up. Here is how it could have been found:\n\n${await debriefText(loaded)}`);
    },
  );
}
