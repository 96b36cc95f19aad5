/** The commander program: the global options, and the commands given to it. */
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { setProgramLab, type Ctx } from './context.js';
import type { Register } from '../commands/index.js';

/** The installed package's version (dist/src/cli/program.js -> package.json). */
function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

export function buildProgram(ctx: Ctx, commands: Register[]): Command {
  const program = new Command('mystery')
    .description('tcpdump-mystery: learn tcpdump by solving network incidents in a lab on this machine')
    .version(packageVersion())
    .showHelpAfterError('(run with --help for usage)')
    .option('--name <lab>', 'the lab to work on, for every command (default mystery)')
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.io.out(s),
      writeErr: (s) => ctx.io.err(s),
    });
  program.hook('preAction', (root) => setProgramLab(root.opts<{ name?: string }>().name));
  for (const register of commands) register(program, ctx);
  return program;
}
