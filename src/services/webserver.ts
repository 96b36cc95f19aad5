/**
 * The victim: a small web page served with bounded capacity. A fixed number of workers
 * each hold a request for a few milliseconds (a timer, standing for real work), and the
 * rest wait in a bounded queue. Below capacity the page is quick; a flood past capacity
 * builds a real queue, so the site is slow *because of* the load, not a random sleep.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { envInt, readConfig, report } from './service-io.js';
import { AbuseLog, abuseReport, signedWith } from './uploads.js';
import { lanAddress, mdnsResponder } from './mdns.js';

export interface WebserverConfig {
  port: number;
  workers: number;
  holdMs: number;
  maxQueue: number;
  /** Optional (cases of the catalog): a worker also spends this long on each KB of a request's body. */
  bodyMsPerKB?: number;
  /**
   * Optional: at most this many connections are served at once, as a prefork server's
   * worker limit; the others wait, accepted but unread, until one closes.
   */
  maxConnections?: number;
  /** Optional, with maxConnections: a connection whose request headers are not complete by then gets a 408. */
  headersTimeoutMs?: number;
  /** Optional: a statsd-like UDP port whose datagrams are read and dropped. */
  statsdPort?: number;
  /**
   * Optional: GET /export streams a CSV export of this many bytes, as fast as the client
   * takes it (backpressure: a full socket waits for 'drain'), and its worker stays taken
   * until the whole body is handed to the kernel, or the client goes away.
   */
  exportBytes?: number;
  /**
   * Optional, with exportBytes: an export whose client takes nothing for this long is
   * closed and its worker freed, as a server's send timeout does (nginx's send_timeout).
   * Without it, a client that went away behind a black hole (its FIN came, its window
   * never will) would hold its worker until the kernel gives up, many minutes later.
   */
  sendTimeoutMs?: number;
  /**
   * Optional: this path (a load balancer's health check, e.g. /health) is answered at once by
   * the server's front, without a worker: it stays quick while every worker is taken.
   */
  healthPath?: string;
  /** Optional: how long an idle keep-alive connection is kept open (default 1000 ms). */
  keepAliveMs?: number;
  /**
   * Optional: a TCP port that streams log lines to whoever connects (a log tail), as fast
   * as each reader takes them (backpressure: a full socket waits for 'drain'), without a
   * worker: a slow reader of it holds nothing of the site's.
   */
  logTailPort?: number;
  /**
   * Optional (behind-the-nat): a licence key (hex) the partner watches for. A request whose
   * body is signed with it (see uploads.ts) flags its connection, by the address and port it
   * comes from, in the abuse report.
   */
  flagKey?: string;
  /** Optional, with flagKey: the path of the abuse report (e.g. /report), answered at once, without a worker. */
  reportPath?: string;
  /**
   * Optional: the page weighs about this many bytes, its pictures inlined (a heavy intranet
   * page): over a path of small segments it takes many packets, and so long, to arrive.
   */
  pageBytes?: number;
  /** Optional (rogue-responder): a name (e.g. intranet.local) the server answers for on multicast DNS, with its own address. */
  mdnsName?: string;
}


// the case model checks a host's config against this program's (type only: nothing is imported at run time)
declare module '../cases/case.js' {
  interface ServiceConfigs {
    webserver: WebserverConfig;
  }
}
const config = await readConfig<WebserverConfig>((env) => ({
  port: envInt(env, 'PORT', 3000),
  workers: envInt(env, 'WORKERS', 1),
  holdMs: envInt(env, 'HOLD_MS', 10),
  maxQueue: envInt(env, 'MAX_QUEUE', 2000),
}));

let busy = 0;
const queue: Array<() => void> = [];

function acquire(): Promise<void> | undefined {
  if (busy < config.workers) {
    busy++;
    return Promise.resolve();
  }
  if (queue.length >= config.maxQueue) return undefined;
  return new Promise((resolve) => queue.push(resolve));
}

function release(): void {
  const next = queue.shift();
  if (next) next();
  else busy--;
}

/** The inlined pictures of a heavy page (pageBytes): base64-like text, made once. */
const pictures = config.pageBytes
  ? `<img alt="" src="data:image/png;base64,${Buffer.from(Array.from({ length: Math.ceil((config.pageBytes * 3) / 4) }, (_, i) => (i * 2654435761) >>> 24)).toString('base64')}">\n`
  : '';

function page(): string {
  const now = new Date();
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Our nice shiny webserver</title>
<style>
body{font-family:system-ui,sans-serif;background:#0f172a;color:#e2e8f0;display:grid;place-items:center;min-height:100vh;margin:0}
main{background:#1e293b;padding:2.5rem 3rem;border-radius:1rem;box-shadow:0 10px 30px #0008;text-align:center}
h1{margin:0 0 .5rem;color:#38bdf8}p{margin:.25rem 0;color:#94a3b8}time{color:#f8fafc;font-weight:600}
</style></head>
<body><main><h1>Thanks for loading this page!</h1>
<p>the time is now <time datetime="${now.toISOString()}">${now.toUTCString()}</time></p>${pictures}</main></body></html>
`;
}

/** The bytes of the request's body, once it has all come (only when bodies cost work or are checked). */
function readBody(req: IncomingMessage, keep: number): Promise<{ length: number; head: Buffer }> {
  return new Promise((resolve) => {
    let n = 0;
    const kept: Buffer[] = [];
    req.on('data', (d: Buffer) => {
      if (n < keep) kept.push(d.subarray(0, keep - n));
      n += d.length;
    });
    const done = (): void => resolve({ length: n, head: Buffer.concat(kept) });
    req.on('end', done);
    req.on('error', done);
  });
}

/** Bodies longer than this are never checked for the key (an upload is under 2 KB). */
const maxChecked = 64 * 1024;
const abuse = new AbuseLog();
const watched = new WeakSet<object>();

/** Flags the request's connection when its body is signed with the watched key. */
function checkUpload(req: IncomingMessage, body: { length: number; head: Buffer }): void {
  const s = req.socket;
  if (!config.flagKey || body.length > maxChecked || !s.remoteAddress || !s.remotePort) return;
  if (!signedWith(config.flagKey, body.head)) return;
  const [address, port] = [s.remoteAddress.replace(/^::ffff:/, ''), s.remotePort];
  abuse.flag(address, port, new Date());
  if (!watched.has(s)) {
    watched.add(s);
    s.once('close', () => abuse.closed(address, port, new Date()));
  }
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (config.healthPath && req.method === 'GET' && req.url === config.healthPath) {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 3 });
    res.end('ok\n');
    return;
  }
  if (config.reportPath && req.method === 'GET' && req.url === config.reportPath) {
    req.resume();
    const text = abuseReport(abuse.entries(), new Date());
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
    return;
  }
  let bodyMs = 0;
  if (config.bodyMsPerKB || (config.flagKey && req.method === 'POST')) {
    const body = await readBody(req, config.flagKey ? maxChecked : 0);
    bodyMs = config.bodyMsPerKB ? (body.length / 1024) * config.bodyMsPerKB : 0;
    checkUpload(req, body);
  }
  req.resume();
  const slot = acquire();
  if (!slot) {
    res.writeHead(503, { 'content-type': 'text/plain', connection: 'close' });
    res.end('too busy\n');
    return;
  }
  await slot;
  if (config.exportBytes && req.method === 'GET' && req.url?.split('?')[0] === '/export') {
    // a client that left while it waited for a worker: its 'close' has come and gone
    if (res.destroyed || req.socket.destroyed) {
      release();
      return;
    }
    res.once('close', release); // finished, or the connection went away: the worker is free
    void streamExport(res, config.exportBytes);
    return;
  }
  setTimeout(() => {
    release();
    const body = page();
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }, config.holdMs + bodyMs);
}

/** A few KB of an export's rows, repeated: what a learner sees with -A. */
const exportRows = Buffer.from(
  Array.from({ length: 128 }, (_, i) => `${100000 + i},order-${(i * 7919) % 100000},customer-${(i * 104729) % 10000},${(i * 37) % 1000}.${String(i % 100).padStart(2, '0')},EUR\n`).join(''),
);

/** Writes `bytes` of export rows, waiting for 'drain' whenever the socket's buffer is full. */
async function streamExport(res: ServerResponse, bytes: number): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/csv', 'content-length': bytes });
  let sent = 0;
  while (sent < bytes && !res.destroyed) {
    const chunk = exportRows.subarray(0, Math.min(exportRows.length, bytes - sent));
    sent += chunk.length;
    if (!res.write(chunk)) {
      await new Promise<void>((resolve) => {
        const timer = config.sendTimeoutMs ? setTimeout(() => res.destroy(), config.sendTimeoutMs) : undefined;
        const done = (): void => {
          if (timer) clearTimeout(timer);
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    }
  }
  if (!res.destroyed) res.end();
}

const server = createServer((req, res) => void handle(req, res));
server.keepAliveTimeout = config.keepAliveMs ?? 1000;
if (config.maxConnections) {
  // A prefork server: the kernel completes every handshake, but only maxConnections are read.
  const max = config.maxConnections;
  const waiting: Socket[] = [];
  const answered = new WeakSet<Socket>();
  server.on('request', (req: IncomingMessage) => answered.add(req.socket as Socket));
  let serving = 0;
  const pump = (): void => {
    while (serving < max && waiting.length) {
      const s = waiting.shift()!;
      if (s.destroyed) continue;
      serving++;
      // a worker gives up on a request whose headers do not come: 408, and the next one
      const timer = config.headersTimeoutMs
        ? setTimeout(() => {
            if (answered.has(s)) return;
            s.end('HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
            setTimeout(() => s.destroy(), 200);
          }, config.headersTimeoutMs)
        : undefined;
      s.once('close', () => {
        if (timer) clearTimeout(timer);
        serving--;
        pump();
      });
      server.emit('connection', s);
      s.resume();
    }
  };
  const gate = createTcpServer({ pauseOnConnect: true }, (s) => {
    s.on('error', () => s.destroy());
    waiting.push(s);
    pump();
  });
  gate.listen({ port: config.port, host: '0.0.0.0', backlog: 4096 }, () => report('listening'));
} else {
  server.listen({ port: config.port, host: '0.0.0.0', backlog: 4096 }, () => report('listening'));
}
if (config.statsdPort) {
  const udp = createSocket('udp4');
  udp.on('message', () => {});
  udp.on('error', () => {});
  udp.bind(config.statsdPort, '0.0.0.0');
}
if (config.logTailPort) {
  const lines = Buffer.alloc(16 * 1024, 'GET / 200 10ms\n');
  const tail = createTcpServer((s) => {
    s.on('error', () => s.destroy());
    const pump = (): void => {
      while (!s.destroyed && s.write(lines));
    };
    s.on('drain', pump);
    pump();
  });
  tail.on('error', () => {});
  tail.listen({ port: config.logTailPort, host: '0.0.0.0' });
}
if (config.mdnsName) {
  const name = config.mdnsName.toLowerCase();
  const address = lanAddress();
  if (address) void mdnsResponder(address, (n) => n === name);
}
process.on('SIGTERM', () => process.exit(143));
