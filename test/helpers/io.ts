/** An Io that keeps what a command printed, for running the CLI in-process with main(argv, io). */
import type { Io } from '../../src/cli/context.js';

export function capturingIo(): Io & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    tty: false,
    out(t: string) {
      io.stdout += t.endsWith('\n') ? t : `${t}\n`;
    },
    err(t: string) {
      io.stderr += t.endsWith('\n') ? t : `${t}\n`;
    },
  };
  return io;
}
