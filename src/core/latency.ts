/** How long the site takes to answer a GET, as a learner's browser would see it. */
import { request } from 'node:http';

export function measureLatency(port: number, timeoutMs = 15_000, host = '127.0.0.1'): Promise<number | null> {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const req = request({ host, port, path: '/', agent: false, headers: { connection: 'close' }, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200 ? Number(process.hrtime.bigint() - started) / 1e6 : null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
    req.end();
  });
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Several samples spread over time, for a median that one slow request does not sway. */
export async function sampleLatency(port: number, samples: number, gapMs = 200, timeoutMs = 15_000): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    const ms = await measureLatency(port, timeoutMs);
    if (ms !== null) out.push(ms);
    if (i < samples - 1) await new Promise((r) => setTimeout(r, gapMs));
  }
  return out;
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return 'no answer';
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}
