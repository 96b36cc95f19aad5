import type { Command } from 'commander';
import { labFrom, withLabOption, type Ctx } from '../cli/context.js';
import { cliPrefix, loadLab, requireHost, requireRoot } from '../core/lab.js';
import { ExitCode, UserError } from '../core/errors.js';

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
    // `mystery exec HOST -- CMD`: the `--` ends mystery's options, it is not the command
    const command = argv[0] === '--' ? argv.slice(1) : argv;
    if (command.length === 0) {
      throw new UserError('`mystery exec` needs a command to run after the host.', `For example: ${cliPrefix(loaded.state.plan.lab)} exec ${host.name} cat /sys/class/net/eth0/iflink`, ExitCode.usage);
    }
    ctx.exitCode = await loaded.backend.exec(loaded.state, host, command);
  });
}
