/**
 * Where a command writes, and what it hands back: no imports, so that the fastest paths of the
 * CLI (`mystery explain`) load nothing they do not use.
 */
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
