/**
 * How to run this tool again, as a command to paste: the way the learner ran it. Never a
 * bare npx of the name, which outside this checkout fetches and runs, as root, whatever
 * package of that name the registry holds: npx is always told `--no-install`.
 */
import { basename } from 'node:path';

export function invocation(env: NodeJS.ProcessEnv = process.env, argv1: string = process.argv[1] ?? ''): string {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const sudo = root && !env.SUDO_USER ? '' : 'sudo ';
  return `${sudo}${program(env, argv1)}`;
}

function program(env: NodeJS.ProcessEnv, argv1: string): string {
  // npx, `npm start` or `npm run mystery` in the checkout
  if (env.npm_command === 'exec' || env.npm_lifecycle_event) return 'npx --no-install mystery';
  const name = basename(argv1);
  // an installed bin (npm install -g, npm link): the command of that name
  if (name === 'mystery' || name === 'tcpdump-mystery') return name;
  return `node ${argv1}`;
}
