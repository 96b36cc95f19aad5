/**
 * A suspect: `loops` concurrent loops of "sleep about 300 ms, open a new TCP connection,
 * GET /", as the original's http-sender did. One of them runs far more loops than the rest.
 */
import { request } from 'node:http';
import { envInt, readConfig, report, sleep } from './service-io.js';

export interface SenderConfig {
  target: string;
  loops: number;
  sleepMs: number;
}


// the case model checks a host's config against this program's (type only: nothing is imported at run time)
declare module '../cases/case.js' {
  interface ServiceConfigs {
    sender: SenderConfig;
  }
}
const config = await readConfig<SenderConfig>((env) => ({
  target: env.TARGET ?? 'http://webserver:3000/',
  loops: envInt(env, 'LOOPS', envInt(env, 'NUM_LOOPS', 1)),
  sleepMs: envInt(env, 'SLEEP_MS', 300),
}));

let announced = false;

function getOnce(url: URL): Promise<void> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, headers: { connection: 'close' }, timeout: 30_000 }, (res) => {
      res.resume();
      res.on('end', resolve);
      res.on('error', () => resolve());
    });
    req.on('socket', (socket) =>
      socket.once('connect', () => {
        if (!announced) {
          announced = true;
          report('sending');
        }
      }),
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve());
    req.end();
  });
}

async function loop(url: URL): Promise<void> {
  for (;;) {
    // a little jitter, so the loops do not march in lockstep
    await sleep(config.sleepMs * (0.85 + Math.random() * 0.3));
    await getOnce(url);
  }
}

const url = new URL(config.target);
for (let i = 0; i < config.loops; i++) void loop(url);
process.on('SIGTERM', () => process.exit(143));
