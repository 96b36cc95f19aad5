/**
 * The office agent: what every office machine of the rogue responder runs, the same program
 * with the same arguments everywhere. It
 *   - answers multicast DNS questions (224.0.0.251 udp 5353) for its own name (`name`, e.g.
 *     app3.local), and for any name of `alsoAnswers` too, with its own address (a
 *     misconfigured or malicious machine's list: empty on the others);
 *   - serves its own small page on `port`;
 *   - visits pages: loops of "look a name up on the segment, load http://ADDRESS:port/",
 *     the intranet's among them. A visit to the intranet that gets a page without the
 *     intranet's `expect` text reports `outcome wrong`, one that gets no answer or no page
 *     `outcome failed`, the others `outcome ok` (the lab's supervisor counts them for
 *     `mystery status`).
 * Its configuration is secret (stdin, or MYSTERY_CONFIG on Docker), as every service's.
 */
import { createServer, request } from 'node:http';
import { MdnsQuerier, lanAddress, mdnsResponder } from './mdns.js';
import { jitter, readConfig, report, sleep } from './service-io.js';

export interface AgentVisit {
  /** the name looked up (e.g. intranet.local, app2.local) */
  name: string;
  /** a visit every ~everyMs on each loop */
  everyMs: number;
  loops?: number;
}

export interface AgentConfig {
  /** this machine's own multicast DNS name */
  name: string;
  /** the port of its own page, and of the pages it visits */
  port: number;
  /** further names it answers for, with its own address */
  alsoAnswers: string[];
  /** the intranet: its name, and a text of its page */
  intranet: { name: string; expect: string };
  visits: AgentVisit[];
}

/** How long a lookup waits for its first answer, and a page load for its page. */
export const lookupTimeoutMs = 1000;
export const pageTimeoutMs = 5000;


// the case model checks a host's config against this program's (type only: nothing is imported at run time)
declare module '../cases/case.js' {
  interface ServiceConfigs {
    agent: AgentConfig;
  }
}
const config = await readConfig<AgentConfig>((env) => JSON.parse(env.AGENT ?? '{}') as AgentConfig);

let address = lanAddress();
while (!address) {
  await sleep(200); // a container's interface may come a moment after its process
  address = lanAddress();
}
const own = new Set([config.name, ...config.alsoAnswers].map((n) => n.toLowerCase()));
const short = config.name.split('.')[0]!;

function page(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${short}</title></head>
<body><h1>${short}</h1><p>This machine's shared folder and printer queue: nothing waiting.</p></body></html>
`;
}

/** Loads http://ADDRESS:port/ as a browser would for `name`; the body, or undefined. */
function load(at: string, name: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: at, port: config.port, path: '/', agent: false, headers: { host: `${name}:${config.port}`, connection: 'close' }, timeout: pageTimeoutMs }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve(res.statusCode === 200 ? Buffer.concat(parts).toString('utf8') : undefined));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

let announced = false;
const sent = (): void => {
  if (!announced) {
    announced = true;
    report('sending');
  }
};

async function visitLoop(querier: MdnsQuerier, visit: AgentVisit): Promise<void> {
  const intranet = visit.name.toLowerCase() === config.intranet.name.toLowerCase();
  for (let first = true; ; first = false) {
    await sleep(first ? Math.random() * Math.min(500, visit.everyMs) : jitter(visit.everyMs));
    const at = await querier.lookup(visit.name, lookupTimeoutMs, sent);
    const body = at ? await load(at, visit.name) : undefined;
    if (intranet) report(`outcome ${body === undefined ? 'failed' : body.includes(config.intranet.expect) ? 'ok' : 'wrong'}`);
  }
}

const server = createServer((req, res) => {
  req.resume();
  const body = page();
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.keepAliveTimeout = 1000;
await new Promise<void>((resolve) => server.listen({ port: config.port, host: '0.0.0.0' }, resolve));
await mdnsResponder(address, (n) => own.has(n));
report('listening');
const querier = await MdnsQuerier.open(address);
for (const v of config.visits) for (let i = 0; i < (v.loops ?? 1); i++) void visitLoop(querier, v);
process.on('SIGTERM', () => process.exit(143));
