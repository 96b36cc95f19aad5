import type { Command } from 'commander';
import { labFrom, withLabOption, type Ctx } from '../cli/context.js';
import { loadLab, requireHost, requireRoot } from '../core/lab.js';

export function registerRestart(program: Command, ctx: Ctx): void {
  withLabOption(
    program
      .command('restart')
      .description('restart a host (like docker restart): bring a wrongly arrested host back')
      .argument('<host>', 'host name or id'),
  ).action(async (hostRef: string, opts: { name?: string }) => {
    requireRoot('restart');
    const loaded = await loadLab(labFrom(opts));
    const host = requireHost(loaded.state, hostRef);
    await loaded.backend.stopHost(loaded.state, host);
    await loaded.backend.startHost(loaded.state, host);
    ctx.io.out(`Restarted ${host.name}.`);
  });
}
