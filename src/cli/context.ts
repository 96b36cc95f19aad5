import type { Command } from 'commander';
import { defaultLabName, validateLabName } from '../core/naming.js';

/** Where a command writes: the terminal, or a buffer in the in-process tests. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** true when stdout is a terminal (live lines, colours) */
  tty: boolean;
}

export const terminalIo: Io = {
  out: (t) => process.stdout.write(t.endsWith('\n') || t.endsWith('\r') ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
  tty: !!process.stdout.isTTY,
};

export interface Ctx {
  io: Io;
  /** the exit code the command wants (commands that pass one through set it) */
  exitCode: number;
}

/** Every command takes --name: the lab it works on. */
export function withLabOption(cmd: Command): Command {
  return cmd.option('--name <lab>', `the lab to work on (several labs can run side by side; default ${defaultLabName})`);
}

/** `mystery --name X ps` works as well as `mystery ps --name X`: main.ts sets this from the program's option. */
let programLab: string | undefined;
export function setProgramLab(name: string | undefined): void {
  programLab = name;
}

export function labFrom(opts: { name?: string }): string {
  return validateLabName(opts.name ?? programLab ?? defaultLabName);
}
