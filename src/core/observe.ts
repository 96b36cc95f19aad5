/** What the machine shows of the learner's work: the tcpdumps running now, and on what. */
import { findProcesses, processArgs } from './procs.js';

/** tcpdump's short options that take a value (the rest of the word, or the next argument). */
const takesValue = new Set([...'BcCEFGjmMrsTVwWyzZQ']);

/** The interface a tcpdump command line captures on ('default' when it names none). */
export function captureInterface(args: readonly string[]): string {
  for (let i = 1; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-i' || a === '--interface') return args[i + 1] ?? 'default';
    if (a.startsWith('--interface=')) return a.slice('--interface='.length);
    // short options may be bundled (-nqi eth0) or take their value attached (-ieth0)
    if (/^-[^-]/.test(a)) {
      for (let j = 1; j < a.length; j++) {
        const flag = a[j]!;
        if (flag === 'i') return a.slice(j + 1) || (args[i + 1] ?? 'default');
        if (takesValue.has(flag)) {
          if (j === a.length - 1) i++; // its value is the next argument
          break;
        }
      }
    }
  }
  return 'default';
}

export async function runningCaptures(): Promise<string[]> {
  const pids = await findProcesses((args) => /(^|\/)tcpdump$/.test(args[0] ?? ''));
  const out = new Set<string>();
  for (const pid of pids) {
    const args = await processArgs(pid);
    if (args && !args.includes('-d') && !args.includes('-r')) out.add(captureInterface(args));
  }
  return [...out];
}
