/**
 * `mystery explain`'s time: the median of N runs of the built CLI, one after another, each a
 * new process as a learner's shell starts it (load, explain, tcpdump -d, print), beside the
 * median of a bare `node -e 0` on the same machine at the same time. No root needed.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { median } from '../src/core/latency.js';
import { timed } from './measure.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
export const EXPLAIN_COMMAND = "tcpdump -nn -c 100 -i eth0 'tcp port 3000 and not host 10.200.0.1'";

function node(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { timeout: 30_000 }, (err) => (err && (err as { code?: unknown }).code !== 0 ? reject(err) : resolve()));
  });
}

export async function benchExplain(runs = 15): Promise<Record<string, unknown>> {
  const explainMs: number[] = [];
  const nodeMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    explainMs.push((await timed(() => node([CLI, 'explain', EXPLAIN_COMMAND]))).ms);
    nodeMs.push((await timed(() => node(['-e', '0']))).ms);
  }
  return { command: `mystery explain "${EXPLAIN_COMMAND}"`, runs, explainMedianMs: median(explainMs), explainMs, nodeStartupMedianMs: median(nodeMs) };
}
