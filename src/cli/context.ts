import type { Command } from 'commander';
import { defaultLabName, validateLabName } from '../core/naming.js';

export { terminalIo, type Ctx, type Io } from './io.js';

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
