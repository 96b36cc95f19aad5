/**
 * A hosting box: several sites over HTTPS on one address and one port (443), told apart by
 * the server name each client asks for in its TLS ClientHello (SNI), as virtual hosts are;
 * each site has a small pool of workers of its own (a worker holds a request for the site's
 * `holdMs`, a timer standing for its real work; the rest wait in the site's queue). One
 * certificate names every site. On plain HTTP (`port`, published on localhost) the front
 * page shows how fast each site answers now: it asks each of them, as a client would, over
 * loopback, through the site's own pool, so a site whose workers are all held is slow
 * there too, because it is.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { readConfig, report } from './service-io.js';

export interface SiteConfig {
  /** the site's name: its SNI, and its Host */
  name: string;
  workers: number;
  /** how long a worker holds one request of this site */
  holdMs: number;
  /** the size of the site's page, about (default: a few hundred bytes) */
  pageBytes?: number;
  /** the size of its feed, `GET /feed` (default: the page's) */
  feedBytes?: number;
  /**
   * the feed is sent in this many pieces, one a turn of the event loop, as it is read from the
   * site's store (the worker is held until the last): each piece a TLS record and a segment
   * of its own (default 1)
   */
  feedPieces?: number;
}

export interface VhostsConfig {
  /** the front page, plain HTTP (the port every case publishes: 3000) */
  port: number;
  /** the sites, HTTPS (443) */
  tlsPort: number;
  /** the lab's certificate (PEM, every site's name a subjectAltName) and its key */
  cert: string;
  key: string;
  sites: SiteConfig[];
  /** how long an idle keep-alive connection is kept (default 10 s) */
  keepAliveMs?: number;
  /** requests a site's queue holds at most; past that, 503 (default 2000) */
  maxQueue?: number;
}


// the case model checks a host's config against this program's (type only: nothing is imported at run time)
declare module '../cases/case.js' {
  interface ServiceConfigs {
    vhosts: VhostsConfig;
  }
}
const config = await readConfig<VhostsConfig>(() => {
  throw new Error('vhosts takes its configuration as JSON (stdin or MYSTERY_CONFIG)');
});

/** One site's workers: at most `workers` requests at once, the others wait their turn. */
class Pool {
  private busy = 0;
  private readonly queue: Array<() => void> = [];
  constructor(
    readonly site: SiteConfig,
    private readonly maxQueue: number,
  ) {}

  acquire(): Promise<void> | undefined {
    if (this.busy < this.site.workers) {
      this.busy++;
      return Promise.resolve();
    }
    if (this.queue.length >= this.maxQueue) return undefined;
    return new Promise((resolve) => this.queue.push(resolve));
  }

  release(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.busy--;
  }
}

const pools = new Map(config.sites.map((s) => [s.name, new Pool(s, config.maxQueue ?? 2000)]));

/** Lines of a page's text, repeated up to its size. */
const filler = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt.\n';

function sitePage(site: SiteConfig, bytes = site.pageBytes ?? 0): string {
  const head = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${site.name}</title></head>
<body><main><h1>Welcome to ${site.name}</h1>
<p>served at ${new Date().toUTCString()}</p>
`;
  const tail = '</main></body></html>\n';
  const room = Math.max(0, bytes - head.length - tail.length);
  return `${head}${filler.repeat(Math.ceil(room / filler.length)).slice(0, room)}${tail}`;
}

async function serveSite(req: IncomingMessage, res: ServerResponse): Promise<void> {
  req.resume();
  // the site is the name the client asked for in its ClientHello
  const name = (req.socket as TLSSocket).servername;
  const pool = typeof name === 'string' ? pools.get(name) : undefined;
  if (!pool) {
    res.writeHead(421, { 'content-type': 'text/plain' });
    res.end('no such site here\n');
    return;
  }
  const slot = pool.acquire();
  if (!slot) {
    res.writeHead(503, { 'content-type': 'text/plain' });
    res.end('too busy\n');
    return;
  }
  await slot;
  await new Promise((resolve) => setTimeout(resolve, pool.site.holdMs));
  const site = pool.site;
  const feed = (req.url ?? '/').split('?')[0] === '/feed';
  const body = Buffer.from(sitePage(site, feed ? (site.feedBytes ?? site.pageBytes) : site.pageBytes));
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': body.length });
  const pieces = feed ? Math.max(1, site.feedPieces ?? 1) : 1;
  const size = Math.ceil(body.length / pieces);
  for (let at = 0; at < body.length && !res.destroyed; at += size) {
    if (at > 0) await new Promise((resolve) => setImmediate(resolve));
    res.write(body.subarray(at, at + size));
  }
  pool.release();
  res.end();
}

/** How long one site takes to answer a new visitor now (ms), asked over loopback; null: no answer. */
function probe(name: string): Promise<number | null> {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const req = httpsRequest(
      { host: '127.0.0.1', port: config.tlsPort, path: '/', servername: name, ca: config.cert, agent: false, timeout: 10_000, headers: { host: name, connection: 'close' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200 ? Number(process.hrtime.bigint() - started) / 1e6 : null));
        res.on('error', () => resolve(null));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
    req.end();
  });
}

const shown = (ms: number | null): string => (ms === null ? 'no answer' : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);

async function front(req: IncomingMessage, res: ServerResponse): Promise<void> {
  req.resume();
  if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== '/') {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
    return;
  }
  const times = await Promise.all(config.sites.map((s) => probe(s.name)));
  const rows = config.sites.map((s, i) => `<tr><td>https://${s.name}/</td><td>${shown(times[i]!)}</td></tr>`).join('\n');
  const body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Our sites, now</title>
<style>
body{font-family:system-ui,sans-serif;background:#0f172a;color:#e2e8f0;display:grid;place-items:center;min-height:100vh;margin:0}
main{background:#1e293b;padding:2.5rem 3rem;border-radius:1rem;box-shadow:0 10px 30px #0008}
h1{margin:0 0 1rem;color:#38bdf8}td{padding:.25rem 1rem}
</style></head>
<body><main><h1>Our sites, now</h1>
<p>how long each site takes to answer a new visitor (HTTPS, port ${config.tlsPort}), measured for this page at ${new Date().toUTCString()}</p>
<table>
${rows}
</table></main></body></html>
`;
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const sites = createHttpsServer({ cert: config.cert, key: config.key }, (req, res) => void serveSite(req, res));
sites.keepAliveTimeout = config.keepAliveMs ?? 10_000;
sites.on('tlsClientError', () => {});
const frontServer = createHttpServer((req, res) => void front(req, res));
frontServer.keepAliveTimeout = 1000;

let up = 0;
const listening = (): void => {
  if (++up === 2) report('listening');
};
sites.listen({ port: config.tlsPort, host: '0.0.0.0', backlog: 4096 }, listening);
frontServer.listen({ port: config.port, host: '0.0.0.0', backlog: 4096 }, listening);
process.on('SIGTERM', () => process.exit(143));
