#!/usr/bin/env node
/**
 * `mystery`: the command line. Each command is one small file in src/commands; this file
 * only wires them up and turns errors into messages and exit codes.
 */
import { Command, CommanderError } from 'commander';
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ExitCode, Interrupted, UserError } from '../core/errors.js';
import { CommandFailed } from '../core/run.js';
import { setProgramLab, terminalIo, type Ctx, type Io } from './context.js';
import { commands } from '../commands/index.js';

/** The installed package's version (dist/src/cli/main.js -> package.json). */
function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

export function buildProgram(ctx: Ctx): Command {
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

/** Runs the CLI in-process and resolves with the exit code (the tests call this). */
export async function main(argv: string[], io: Io = terminalIo): Promise<number> {
  const ctx: Ctx = { io, exitCode: 0 };
  setProgramLab(undefined);
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    return report(err, io);
  }
}

export function report(err: unknown, io: Io): number {
  if (err instanceof CommanderError) {
    // commander already printed its message (unknown option, missing argument, --help)
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
    return ExitCode.usage;
  }
  if (err instanceof UserError) {
    io.err(`error: ${err.message}\n  ${err.fix}`);
    return err.exitCode;
  }
  if (err instanceof Interrupted) {
    io.err('interrupted: the lab was rolled back, nothing of it is left on this host.');
    return ExitCode.interrupted;
  }
  if (err instanceof CommandFailed) {
    io.err(`error: ${err.message}\n  This is unexpected: please report it, with the output of \`mystery status\`.`);
    return ExitCode.failure;
  }
  io.err(`bug: ${(err as Error)?.stack ?? String(err)}\n  Please report it.`);
  return ExitCode.failure;
}

function isEntryPoint(): boolean {
  try {
    return realpathSync(process.argv[1] ?? '') === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
}
