/**
 * What every lab service shares. Services are small programs that use only Node's
 * built-ins, so that both backends run the very same files (the Docker images copy them).
 *
 * A service gets its configuration either as one JSON line on stdin (the namespace
 * backend: nothing about the run shows in `ps` or the environment) or from the
 * environment (the Docker backend: the original's variables, as its compose file set them,
 * or, for the catalog's cases, the whole configuration as JSON in MYSTERY_CONFIG).
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { createInterface } from 'node:readline';

export async function readConfig<T>(fromEnv: (env: NodeJS.ProcessEnv) => T): Promise<T> {
  // the docker backend's catalog cases: the whole configuration as JSON in one variable
  if (process.env.MYSTERY_CONFIG) return JSON.parse(process.env.MYSTERY_CONFIG) as T;
  if (process.env.MYSTERY_CONFIG_STDIN !== '1') return fromEnv(process.env);
  const rl = createInterface({ input: process.stdin });
  const line: string = await new Promise((resolve, reject) => {
    rl.once('line', resolve);
    rl.once('close', () => reject(new Error('no configuration on stdin')));
  });
  // Supervised: when the supervisor goes away (stdin closes), so do we.
  rl.on('close', () => process.exit(0));
  return JSON.parse(line) as T;
}

/** Tells the supervisor something happened ("listening", "sending"). */
export function report(event: string): void {
  process.stdout.write(`${event}\n`);
}

export function envInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got ${JSON.stringify(raw)}`);
  return n;
}

/** A time of about `ms`, 15% either way, so that hosts and loops do not beat in step. */
export function jitter(ms: number): number {
  return ms * (0.85 + Math.random() * 0.3);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A host's IPv4 address. The namespace backend hands out addresses; on Docker a host is
 * named (webserver), and Docker's DNS answers once that container is up: until then, retry.
 */
export async function ipv4Of(host: string): Promise<string> {
  for (;;) {
    if (isIP(host) === 4) return host;
    try {
      return (await lookup(host, { family: 4 })).address;
    } catch {
      await sleep(500);
    }
  }
}
