/**
 * `tcpdump -d`, the authority on every filter, in a module of its own: `mystery explain` starts
 * it first, and loads the rest of explain while tcpdump compiles.
 */
import { run } from '../core/run.js';
import { UserError } from '../core/errors.js';

export interface TcpdumpVerdict {
  /** false when tcpdump could not be run (not installed) */
  ran: boolean;
  accepted?: boolean;
  /** tcpdump's own message when it rejects the expression */
  message?: string;
  /** the number of BPF instructions it compiled to */
  instructions?: number;
}

/**
 * `tcpdump -d -- EXPR`: compiles the filter for an Ethernet link without opening an
 * interface (no root needed). `--` keeps an expression starting with `-` from being an option.
 */
export async function checkWithTcpdump(expression: string, linkType?: string): Promise<TcpdumpVerdict> {
  try {
    const r = await run('tcpdump', [...(linkType ? ['-y', linkType] : []), '-d', '--', expression], { timeoutMs: 15_000 });
    // killed by our timeout: most likely a host name that DNS never answers
    if (r.signal) return { ran: false, message: 'tcpdump -d did not finish in 15 s (a host name DNS does not answer?)' };
    if (r.code === 0) {
      const instructions = r.stdout.split('\n').filter((l) => /^\(\d+\)/.test(l)).length;
      return { ran: true, accepted: true, instructions };
    }
    const message = r.stderr
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('Warning: assuming Ethernet'))
      .pop()
      ?.replace(/^tcpdump: /, '');
    return { ran: true, accepted: false, message: message ?? `tcpdump exited with code ${r.code}` };
  } catch (err) {
    if (err instanceof UserError) return { ran: false, message: err.message };
    throw err;
  }
}

