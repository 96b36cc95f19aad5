/**
 * The real `tcpdump -d` as a judge of filter expressions, for the differential tests: one
 * process a filter (tcpdump compiles one expression per run), a few at a time. Arguments
 * go as an array, never through a shell. `tcpdump -d` opens no interface and needs no root.
 */
import { execFile } from 'node:child_process';

export type TcpdumpVerdict = 'valid' | 'invalid' | 'rejects-all';

export interface TcpdumpJudgement {
  verdict: TcpdumpVerdict;
  /** tcpdump's last line on stderr when it refuses the filter */
  message?: string;
}

export interface Judged {
  expr: string;
  /** tcpdump's -y name; undefined = its default, Ethernet */
  dlt?: string;
}

/** `tcpdump [-y DLT] -d -- EXPR`: valid (exit 0), rejects-all (the optimizer's verdict) or invalid. */
export function judgeOne(item: Judged): Promise<TcpdumpJudgement> {
  const args = [...(item.dlt ? ['-y', item.dlt] : []), '-d', '--', item.expr];
  return new Promise((resolve, reject) => {
    execFile('tcpdump', args, { timeout: 20_000, maxBuffer: 16 * 1024 * 1024 }, (err, _stdout, stderr) => {
      if (!err) return resolve({ verdict: 'valid' });
      const e = err as NodeJS.ErrnoException & { code?: number | string; killed?: boolean };
      if (e.code === 'ENOENT') return reject(new Error('tcpdump is not installed: `apt-get install tcpdump`'));
      if (e.killed) return reject(new Error(`tcpdump -d did not finish in 20 s on: ${item.expr}`));
      const message = String(stderr)
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('Warning: '))
        .pop()
        ?.replace(/^tcpdump: /, '');
      resolve({ verdict: message === 'expression rejects all packets' ? 'rejects-all' : 'invalid', ...(message ? { message } : {}) });
    });
  });
}

/** Judges every item, `parallel` tcpdump processes at a time; results in the items' order. */
export async function judgeAll(items: Judged[], parallel = 3): Promise<TcpdumpJudgement[]> {
  const results: TcpdumpJudgement[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await judgeOne(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, worker));
  return results;
}
