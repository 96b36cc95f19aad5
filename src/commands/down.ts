import type { Command } from 'commander';
import { labFrom, withLabOption, type Ctx } from '../cli/context.js';
import { allLabs, downLab, requireRoot } from '../core/lab.js';

export function registerDown(program: Command, ctx: Ctx): void {
  withLabOption(
    program
      .command('down')
      .description('remove the lab: its hosts, links, rules and processes (safe to run twice)')
      .option('--all', "remove every lab of this tool on this host (and nothing that is not this tool's)"),
  ).action(async (opts: { all?: boolean; name?: string }) => {
    requireRoot('down');
    const labs = opts.all ? await allLabs() : [labFrom(opts)];
    let removed = 0;
    for (const lab of labs) if (await downLab(lab, (msg) => ctx.io.err(msg))) removed++;
    ctx.io.out(removed === 0 ? 'Nothing to remove: no lab is running.' : `Removed ${removed === 1 ? 'the lab' : `${removed} labs`}${opts.all ? '' : ` "${labs[0]}"`}.`);
  });
}
