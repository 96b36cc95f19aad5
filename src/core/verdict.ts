/** Arrests: stop a host, measure the site before and after, and say whether it was the culprit. */
import type { LoadedLab } from './lab.js';
import { checkLab } from './check.js';
import { measureLatency, median, sampleLatency } from './latency.js';
import { updateState, type Arrest } from './state.js';
import type { PlannedHost } from './model.js';

export interface Verdict extends Arrest {
  elapsedMs: number;
  hintsUsed: number;
  /** the case is solved now, by the judgement `mystery check` and `status` use (src/core/check.ts) */
  solved: boolean;
}

/** Waits for the queue to drain after an arrest (up to `maxMs`), then takes a median. */
async function settledLatency(port: number, maxMs: number): Promise<number | null> {
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    const ms = await measureLatency(port, 5000);
    if (ms !== null && ms < 200) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  return median(await sampleLatency(port, 5, 100, 5000));
}

/** An arrest, in a case solved by one (an answer case's `stop` is no arrest: see commands/stop.ts). */
export async function arrest(loaded: LoadedLab, host: PlannedHost): Promise<Verdict> {
  const { state, backend, draw } = loaded;
  if (loaded.case.solvedBy !== 'arrest') throw new Error(`arrest() in ${loaded.case.id}, a case solved by an answer`);
  const port = state.plan.port;
  const before = await measureLatency(port, 10_000);
  await backend.stopHost(state, host);
  const correct = host.name === draw.culprit;
  const after = correct ? await settledLatency(port, 8000) : median(await sampleLatency(port, 3, 100, 10_000));
  // the same judgement as `mystery check`: a right arrest is a solve only when check would say so
  const solved = correct && (await checkLab(loaded)).solved;
  const record: Arrest = { host: host.name, correct, at: new Date().toISOString(), latencyBeforeMs: before, latencyAfterMs: after };
  const updated = await updateState(state, (s) => {
    s.arrests.push(record);
    if (solved && !s.solvedAt) s.solvedAt = record.at;
  });
  const startedAt = Date.parse(state.readyAt ?? state.startedAt);
  return { ...record, solved, elapsedMs: Date.now() - startedAt, hintsUsed: updated?.hintsUsed ?? state.hintsUsed };
}
