#!/usr/bin/env node
/**
 * `mystery`: the command line. Each command is one small file in src/commands; this file
 * only wires them up and turns errors into messages and exit codes.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ExitCode, Interrupted, UserError } from '../core/errors.js';
import { terminalIo, type Ctx, type Io } from './io.js';

/** Runs the CLI in-process and resolves with the exit code (the tests call this). */
export async function main(argv: string[], io: Io = terminalIo): Promise<number> {
  const ctx: Ctx = { io, exitCode: 0 };
  try {
    // `mystery explain "..."` must answer fast: it runs without loading commander or the labs
    if (argv[0] === 'explain') {
      const { explainFastPath } = await loadExplain();
      if (await explainFastPath(argv.slice(1), ctx)) return ctx.exitCode;
    }
    // only the command that runs is loaded (all of them for --help or an unknown verb)
    const [{ buildProgram }, { loadCommands }, { setProgramLab }] = await Promise.all([import('./program.js'), import('../commands/index.js'), import('./context.js')]);
    setProgramLab(undefined);
    const program = buildProgram(ctx, await loadCommands(commandName(argv)));
    await program.parseAsync(argv, { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    return report(err, io);
  }
}

/** explain's fast path: one bundled file (scripts/postbuild.mjs), or its modules where there is no bundle. */
async function loadExplain(): Promise<typeof import('../commands/explain.js')> {
  try {
    return (await import(new URL('../commands/explain.bundle.js', import.meta.url).href)) as typeof import('../commands/explain.js');
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    return import('../commands/explain.js');
  }
}

/** The verb in argv: the first word that is not a global option (`--name LAB` takes a value). */
function commandName(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--name') i++;
    else if (!a.startsWith('-')) return a;
    else if (a === '--') return argv[i + 1];
  }
  return undefined;
}

export function report(err: unknown, io: Io): number {
  // commander's errors (CommanderError and its kin), known by their code: commander is loaded lazily
  const code = (err as { code?: unknown } | undefined)?.code;
  if (err instanceof Error && typeof code === 'string' && code.startsWith('commander.')) {
    // commander already printed its message (unknown option, missing argument, --help)
    if (code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help') return 0;
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
  // a system tool failed unexpectedly (core/run.js's CommandFailed, known by name: not loaded here)
  if (err instanceof Error && err.name === 'CommandFailed') {
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
