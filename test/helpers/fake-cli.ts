/**
 * Running the CLI in-process on the fake backend: `mystery(...argv)` gives the exit code and
 * what was printed; a lab is started on a free loopback port. Import ./fake-env.js before this.
 */
import { createServer } from 'node:net';
import { main } from '../../src/cli/main.js';
import { findCase } from '../../src/cases/index.js';
import type { CaseDraw } from '../../src/cases/case.js';
import { seededRng } from '../../src/core/random.js';
import { readState, writeState, type LabState } from '../../src/core/state.js';
import { capturingIo } from './io.js';

export interface Run {
  code: number;
  out: string;
  err: string;
}

export async function mystery(...argv: string[]): Promise<Run> {
  const io = capturingIo();
  const code = await main(argv, io);
  return { code, out: io.stdout, err: io.stderr };
}

/** A port free on 127.0.0.1 now (the kernel's pick). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen({ host: '127.0.0.1', port: 0 }, () => {
      const a = srv.address();
      srv.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/** Starts CASE as lab NAME on a free port (`-d`), fails the test unless it starts. */
export async function startLab(name: string, caseId = 'noisy-neighbour', ...more: string[]): Promise<{ port: number; run: Run }> {
  const port = await freePort();
  const run = await mystery('start', caseId, '-d', '--name', name, '--port', String(port), ...more);
  if (run.code !== 0) throw new Error(`start ${caseId} --name ${name} exited ${run.code}: ${run.err}`);
  return { port, run };
}

export async function stateOf(lab: string): Promise<LabState> {
  const r = await readState(lab);
  if (r.kind !== 'ok') throw new Error(`no state for ${lab}: ${r.kind}`);
  return r.state;
}

/** The run's draw, made again from its state's seed, as loadLab does. */
export async function drawOf(lab: string): Promise<CaseDraw> {
  const s = await stateOf(lab);
  return findCase(s.plan.caseId).draw(seededRng(s.plan.seed), s.plan.suspects);
}

/** Moves the lab's start back by `ms` (a run that took that long, for the progress' times). */
export async function backdate(lab: string, ms: number): Promise<void> {
  const s = await stateOf(lab);
  s.readyAt = new Date(Date.now() - ms).toISOString();
  s.startedAt = new Date(Date.parse(s.startedAt) - ms).toISOString();
  await writeState(s);
}
