/**
 * Two kinds of failure, as wrangler separates them: a UserError is something the user
 * can fix (it says what happened and what to do, and carries a documented exit code);
 * anything else is a bug and is reported with its stack.
 */
export const ExitCode = {
  ok: 0,
  failure: 1, // a bug or an unexpected failure of a system tool
  usage: 2, // unknown command, option, case or host; a value out of range
  notRoot: 3, // the command needs root
  missingTool: 4, // tcpdump, ip, iptables, nsenter or docker is not installed
  conflict: 5, // a lab is already running, the lock is held, the port is taken
  noLab: 6, // the command needs a running lab and there is none
  resources: 7, // no free subnet, name too long for an interface
  wrong: 8, // a wrong arrest or a wrong answer
  unsolved: 9, // `mystery check`: the case is not solved yet
  interrupted: 130, // Ctrl-C
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class UserError extends Error {
  constructor(
    message: string,
    readonly fix: string,
    readonly exitCode: ExitCodeValue = ExitCode.usage,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** Thrown when the user pressed Ctrl-C during a step that rolls back. */
export class Interrupted extends Error {
  constructor() {
    super('interrupted');
    this.name = 'Interrupted';
  }
}

export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal) return `was killed by ${signal}`;
  if (code === null) return 'ended without an exit code';
  if (code === 137) return 'exited with code 137 (killed, SIGKILL)';
  if (code === 143) return 'exited with code 143 (terminated, SIGTERM)';
  if (code === 130) return 'exited with code 130 (interrupted, SIGINT)';
  if (code === 127) return 'exited with code 127 (command not found)';
  if (code === 126) return 'exited with code 126 (not executable)';
  return `exited with code ${code}`;
}
