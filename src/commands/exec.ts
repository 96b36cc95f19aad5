import type { Command } from 'commander';
import { labFrom, withLabOption, type Ctx } from '../cli/context.js';
import { loadLab, requireHost, requireRoot } from '../core/lab.js';

export function registerExec(program: Command, ctx: Ctx): void {
  withLabOption(
    program
      .command('exec')
      .description("run a command inside a host, with that host's own /sys (like docker exec)")
      .argument('<host>', 'host name or id (see `mystery ps`)')
      .argument('<command...>', 'the command and its arguments')
      .option('-i, --interactive', 'accepted for docker compatibility')
      .option('-t, --tty', 'accepted for docker compatibility')
      .passThroughOptions(),
  ).action(async (hostRef: string, argv: string[], opts: { name?: string }) => {
    requireRoot('exec');
    const loaded = await loadLab(labFrom(opts));
    const host = requireHost(loaded.state, hostRef);
    ctx.exitCode = await loaded.backend.exec(loaded.state, host, argv);
  });
}
