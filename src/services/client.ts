/**
 * A suspect of the catalog's cases: a client of the webserver that runs a few jobs at once.
 * Every suspect of a case runs this same program, so nothing in `ps` tells them apart; the
 * secret configuration on stdin says how each behaves:
 *   get        loops of "sleep, GET (or POST) a path"; the everyday traffic of every host
 *   connect    TCP connection attempts to a port at a rate (a health check on a closed port;
 *              with `address` 127.0.0.1, a local sidecar that is not up: the resets stay on lo;
 *              with `octet`, a decommissioned server of the LAN: no ARP answer, no route to host)
 *   post       loops of "sleep, POST a body of N bytes" (an upload job); with `signKey`, every
 *              body is N random bytes signed with that licence key (a sync agent's uploads)
 *   slowloris  N connections held open, each dribbling a partial header every few seconds
 *   burst      like get with many loops, but only for a few seconds every period
 *   statsd     UDP datagrams of metrics to a port, at a rate
 *   sweep      SNMP-like UDP polls of a list of addresses in the lab's /24, at a rate (a
 *              monitoring agent with a stale inventory: the kernel ARPs for each)
 *   dns        DNS lookups (type A) to the `resolver` at a rate: of `names` in turn, or, with
 *              `tunnel`, names that carry a file's bytes in base32 under one domain
 *   download   `loops` downloads at once of a path (GET /export), each read at full speed or,
 *              with `readBytesPerSec`, slowly: the socket paused between reads, so the
 *              host's kernel advertises a zero window; `giveUpMs`: abandoned after that long
 *   stall      a local stream on 127.0.0.1:`port` (a log shipper and its sidecar), `loops` at once,
 *              read at `readBytesPerSec` and given up after `giveUpMs`: the host's kernel
 *              advertises zero windows on lo, which no veth carries; with `remote`, the target
 *              host's stream on that port instead (the webserver's log tail), over the LAN
 * Addresses come from the top-level `target` URL, and `resolver` (dns://HOST:PORT) for DNS
 * (host names there are resolved to lab addresses by the supervisor). An `https:` target is
 * asked over TLS, trusting the lab's certificate (`ca`) and no other; a get job's `servername`
 * is the site it asks for (its SNI and Host), as a client of one of several virtual hosts does.
 */
import { Agent, request } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { connect, createServer, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { ipv4Of, jitter, readConfig, report, sleep } from './service-io.js';
import { encodeQuery, tunnelName } from './dns.js';
import { signedBody } from './uploads.js';

export interface ClientJob {
  kind: 'get' | 'connect' | 'post' | 'slowloris' | 'burst' | 'statsd' | 'sweep' | 'dns' | 'download' | 'stall';
  loops?: number;
  sleepMs?: number;
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  /** post: bytes of the body */
  bytes?: number;
  /** connect, statsd: the port; connect, statsd, sweep, dns: attempts, datagrams or lookups a second */
  port?: number;
  perSec?: number;
  /** slowloris: connections held, and the gap between dribbles on each */
  conns?: number;
  dribbleMs?: number;
  /** slowloris: the connections are opened one by one over this long */
  rampMs?: number;
  /** burst: how long a burst lasts, how often, and when the first starts (download: when the first starts) */
  burstMs?: number;
  periodMs?: number;
  firstMs?: number;
  /** statsd: the metric's name */
  metric?: string;
  /** sweep: the last numbers of the addresses polled, in the target's /24 (default: the target host) */
  octets?: number[];
  /** dns: the names looked up, in turn */
  names?: string[];
  /** dns: a tunnel instead: `data` (text) sent 30 bytes a name, as base32, under `domain` */
  tunnel?: { domain: string; data: string };
  /** download: how fast the body is read (absent: as fast as it comes) */
  readBytesPerSec?: number;
  /** download: a download still running after this long is abandoned (the socket closed), and begun again */
  giveUpMs?: number;
  /** connect: the address knocked on (default: the target host; 127.0.0.1: a local sidecar that is not up) */
  address?: string;
  /**
   * connect: instead of `address`, the host of the target's /24 with this last number: a
   * server switched off long ago, so nobody answers ARP and each attempt fails after ~3 s
   * with "no route to host" (the host's TcpAttemptFails climb, its TcpOutRsts do not)
   */
  octet?: number;
  /** stall: read the target host's stream on `port` (none is started here), not a local sidecar */
  remote?: boolean;
  /** get: each loop keeps one connection open between its requests (HTTP keep-alive), as a pooled client does */
  keepAlive?: boolean;
  /** post: every body is `bytes` fresh random bytes, the last 16 an HMAC of the rest under this key (hex): see uploads.ts */
  signKey?: string;
  /** get, post: the local port the loop's connection is made from (with keepAlive, its one connection's) */
  localPort?: number;
  /** get, post: a request with no answer for this long is abandoned, as a browser's user gives up (default 30 s) */
  timeoutMs?: number;
  /**
   * get, post: when the host counts as sending, for the start's readiness: once a connection
   * is made (default), or once the first request leaves (a host whose packets are lost on
   * the way never connects, yet sends)
   */
  readyWhen?: 'connected' | 'sent';
  /** get, post to an https target: the site asked for (the TLS server name, SNI, and the Host header) */
  servername?: string;
  /** get with keepAlive: after this many requests on its connection the loop closes it, and opens another for the next */
  perConnection?: number;
}

export interface ClientConfig {
  target: string;
  /** dns://HOST:PORT of the lab's resolver, for dns jobs */
  resolver?: string;
  jobs: ClientJob[];
  /** the lab's certificate (PEM), the only one an https target is trusted with */
  ca?: string;
}


// the case model checks a host's config against this program's (type only: nothing is imported at run time)
declare module '../cases/case.js' {
  interface ServiceConfigs {
    client: ClientConfig;
  }
}
const config = await readConfig<ClientConfig>((env) => ({
  target: env.TARGET ?? 'http://webserver:3000/',
  resolver: env.RESOLVER,
  jobs: JSON.parse(env.JOBS ?? '[{"kind":"get","loops":1,"sleepMs":300}]') as ClientJob[],
}));

const target = new URL(config.target);
const host = target.hostname;
const secure = target.protocol === 'https:';
const webPort = Number(target.port || (secure ? 443 : 80));
const keepAliveAgent = (): Agent => (secure ? new HttpsAgent({ keepAlive: true, maxSockets: 1 }) : new Agent({ keepAlive: true, maxSockets: 1 }));
let tlsErrorSaid = false;
let announced = false;
const announce = (): void => {
  if (!announced) {
    announced = true;
    report('sending');
  }
};

function httpOnce(job: ClientJob, body?: Buffer, agent?: Agent): Promise<void> {
  if (job.signKey) body = signedBody(job.signKey, job.bytes ?? 1024);
  return new Promise((resolve) => {
    const headers: Record<string, string | number> = { ...(agent ? {} : { connection: 'close' }), ...(job.servername ? { host: job.servername } : {}), ...(job.headers ?? {}) };
    if (body) headers['content-length'] = body.length;
    const options = {
      host,
      port: webPort,
      path: job.path ?? '/',
      method: job.method ?? (body ? 'POST' : 'GET'),
      agent: agent ?? false,
      headers,
      timeout: job.timeoutMs ?? 30_000,
      ...(job.localPort ? { localPort: job.localPort } : {}),
      // TLS: the lab's certificate alone is trusted; the name asked for goes in the ClientHello
      ...(secure ? { ca: config.ca, ...(job.servername ? { servername: job.servername } : {}) } : {}),
    };
    const req = (secure ? httpsRequest : request)(
      options,
      (res) => {
        res.resume();
        res.on('end', resolve);
        res.on('error', () => resolve());
      },
    );
    req.on('socket', (s) => (job.readyWhen === 'sent' ? announce() : s.once('connect', announce)));
    req.on('timeout', () => req.destroy());
    req.on('error', (e: NodeJS.ErrnoException) => {
      // a certificate the client does not trust is the lab's fault: say it once, in the lab's log
      if (secure && !tlsErrorSaid && /CERT|SELF_SIGNED|ALTNAME|ERR_SSL|ERR_TLS/.test(e.code ?? '')) {
        tlsErrorSaid = true;
        console.error(`TLS: ${e.code}: ${e.message}`);
      }
      resolve();
    });
    req.end(body);
  });
}

async function getLoop(job: ClientJob, active: () => boolean = () => true): Promise<void> {
  // a signed body is drawn afresh for every request (httpOnce)
  const body = job.body !== undefined ? Buffer.from(job.body) : job.bytes && !job.signKey ? Buffer.alloc(job.bytes, 'x') : undefined;
  // keep-alive: one connection for this loop, reused from request to request
  let agent = job.keepAlive ? keepAliveAgent() : undefined;
  // the loops of one job do not renew their connections in step
  let used = job.perConnection ? Math.floor(Math.random() * job.perConnection) : 0;
  // the first request soon (the lab is ready once every host has sent), the next ones at the job's pace
  for (let first = true; ; first = false) {
    await sleep(first ? Math.random() * Math.min(200, job.sleepMs ?? 300) : jitter(job.sleepMs ?? 300));
    if (!active()) return;
    await httpOnce(job, body, agent);
    // perConnection: the loop closes its connection itself (its FIN first) and opens another
    if (agent && job.perConnection && ++used >= job.perConnection) {
      agent.destroy();
      agent = keepAliveAgent();
      used = 0;
    }
  }
}

async function connectLoop(job: ClientJob): Promise<void> {
  const gap = 1000 / (job.perSec ?? 10);
  const address = job.octet !== undefined ? `${(await ipv4Of(host)).split('.').slice(0, 3).join('.')}.${job.octet}` : (job.address ?? host);
  for (;;) {
    await sleep(jitter(gap));
    const s = connect({ host: address, port: job.port ?? 3001 });
    announce();
    s.on('error', () => s.destroy());
    s.on('connect', () => s.end());
  }
}

/** Holds `conns` connections open, each sending one header line every `dribbleMs`. */
function slowloris(job: ClientJob): void {
  const open = (): void => {
    const s: Socket = connect({ host, port: webPort });
    let timer: NodeJS.Timeout | undefined;
    const again = (): void => {
      if (timer) clearInterval(timer);
      timer = undefined;
      s.destroy();
      setTimeout(open, 200 + Math.random() * 300);
    };
    s.on('connect', () => {
      announce();
      s.write(`GET /?${Math.floor(Math.random() * 1e6)} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: Mozilla/5.0\r\n`);
      // spread the dribbles so the connections do not beat in step
      setTimeout(() => {
        if (s.destroyed) return;
        timer = setInterval(() => s.write(`X-${Math.floor(Math.random() * 1e4)}: ${Math.floor(Math.random() * 1e4)}\r\n`), job.dribbleMs ?? 5000);
      }, Math.random() * (job.dribbleMs ?? 5000));
    });
    s.on('data', () => {}); // a 408, if the server gives up on us
    s.on('error', again);
    s.on('close', again);
  };
  // opened over `rampMs`, so that the server's header timeouts do not all fall at once
  const conns = job.conns ?? 20;
  for (let i = 0; i < conns; i++) setTimeout(open, (i * (job.rampMs ?? 0)) / conns);
}

function burst(job: ClientJob): void {
  const period = job.periodMs ?? 60_000;
  const length = job.burstMs ?? 4000;
  let until = 0;
  const active = (): boolean => Date.now() < until;
  const start = (): void => {
    until = Date.now() + length;
    for (let i = 0; i < (job.loops ?? 100); i++) void getLoop({ ...job, sleepMs: job.sleepMs ?? 300 }, active);
  };
  setTimeout(() => {
    start();
    setInterval(start, period);
  }, job.firstMs ?? period);
}

function statsd(job: ClientJob): void {
  const sock = createSocket('udp4');
  sock.on('error', () => {});
  const gap = 1000 / (job.perSec ?? 10);
  const send = (): void => {
    const line = `${job.metric ?? 'app.requests'}:${Math.floor(Math.random() * 100)}|c`;
    sock.send(line, job.port ?? 8125, host, () => announce());
    setTimeout(send, jitter(gap));
  };
  send();
}

/** A bare SNMP GET request for sysDescr, community "public". */
const snmpGet = Buffer.from('302602010104067075626c6963a019020400000001020100020100300b300906052b06010201050500', 'hex');

async function sweep(job: ClientJob): Promise<void> {
  const sock = createSocket('udp4');
  sock.on('error', () => {});
  const address = await ipv4Of(host);
  const prefix = address.split('.').slice(0, 3).join('.');
  // without a list, the target host itself (the webserver's SNMP agent)
  const targets = job.octets ? job.octets.map((o) => `${prefix}.${o}`) : [address];
  if (targets.length === 0) return;
  const gap = 1000 / (job.perSec ?? 20);
  let i = 0;
  const send = (): void => {
    sock.send(snmpGet, job.port ?? 161, targets[i++ % targets.length]!, () => announce());
    setTimeout(send, jitter(gap));
  };
  send();
}

let dnsSocket: ReturnType<typeof createSocket> | undefined;

/**
 * Lookups at a rate, every dns job of the host through one socket (one source port, as
 * one stub resolver would); the replies are read and dropped.
 */
function dns(job: ClientJob): void {
  const resolver = new URL(config.resolver ?? 'dns://127.0.0.1:53');
  const port = Number(resolver.port || 53);
  if (!dnsSocket) {
    dnsSocket = createSocket('udp4');
    dnsSocket.on('error', () => {});
    dnsSocket.on('message', () => {});
  }
  const sock = dnsSocket;
  const names = job.names ?? [];
  const data = Buffer.from(job.tunnel?.data ?? '');
  const gap = 1000 / (job.perSec ?? 2);
  let n = 0;
  const send = (): void => {
    const name = job.tunnel ? tunnelName(data, n, job.tunnel.domain) : names[n % Math.max(1, names.length)];
    n++;
    if (name) sock.send(encodeQuery(randomInt(0x10000), name), port, resolver.hostname, () => announce());
    setTimeout(send, jitter(gap));
  };
  // the lookups of several hosts do not start in step
  setTimeout(send, Math.random() * gap);
}

/**
 * `loops` downloads at once, each begun again `sleepMs` after the last ended. A slow reader
 * pauses its socket after each chunk for as long as the chunk is worth at its rate: the
 * kernel's receive buffer fills, and it advertises a window of 0 until the next read.
 */
function download(job: ClientJob): void {
  const once = slowReader(
    () => connect({ host, port: webPort }),
    { rate: job.readBytesPerSec, giveUpMs: () => (job.giveUpMs ? jitter(job.giveUpMs) : 120_000), againMs: job.sleepMs ?? 1000 },
    (s) => {
      announce();
      s.write(`GET ${job.path ?? '/export'} HTTP/1.1\r\nHost: ${host}:${webPort}\r\nConnection: close\r\n\r\n`);
    },
  );
  // the downloads of one host do not start in step
  for (let i = 0; i < (job.loops ?? 1); i++) setTimeout(once, (job.firstMs ?? 0) + Math.random() * (job.sleepMs ?? 1000));
}

/**
 * One connection at a time, read at `rate` bytes a second (none: as fast as it comes): after
 * each chunk the socket pauses for as long as the chunk is worth at that rate. It is given up
 * after `giveUpMs`, or when it ends or fails, and begun again `againMs` (jittered) later.
 * Returns the function that begins it.
 */
function slowReader(open: () => Socket, opts: { rate?: number; giveUpMs: () => number; againMs: number }, onConnect?: (s: Socket) => void): () => void {
  const once = (): void => {
    const s = open();
    let ended = false;
    let timer: NodeJS.Timeout | undefined;
    const end = (): void => {
      if (ended) return;
      ended = true;
      if (timer) clearTimeout(timer);
      clearTimeout(giveUp);
      s.destroy();
      setTimeout(once, jitter(opts.againMs));
    };
    const giveUp = setTimeout(end, opts.giveUpMs());
    if (onConnect) s.on('connect', () => onConnect(s));
    s.on('data', (d: Buffer) => {
      if (!opts.rate) return;
      s.pause();
      timer = setTimeout(() => s.resume(), (d.length / opts.rate) * 1000);
    });
    s.on('end', end);
    s.on('error', end);
    s.on('close', end);
  };
  return once;
}

/** A sidecar on 127.0.0.1 that streams to whoever connects (backpressure: it waits for 'drain'). */
function stallServer(port: number): Promise<void> {
  const chunk = Buffer.alloc(16 * 1024, 'log line of the sidecar\n');
  const srv = createServer((s) => {
    s.on('error', () => s.destroy());
    const pump = (): void => {
      while (!s.destroyed && s.write(chunk));
    };
    s.on('drain', pump);
    pump();
  });
  return new Promise((resolve) => {
    srv.on('error', () => resolve());
    srv.listen({ host: '127.0.0.1', port }, () => resolve());
  });
}

/** `loops` slow readers of a stream (the local sidecar's, or the target's), each abandoning it after `giveUpMs`. */
async function stall(job: ClientJob): Promise<void> {
  const port = job.port ?? 9902;
  if (!job.remote) await stallServer(port);
  const address = job.remote ? host : '127.0.0.1';
  const once = slowReader(
    () => connect({ host: address, port }),
    { rate: job.readBytesPerSec ?? 4096, giveUpMs: () => jitter(job.giveUpMs ?? 10_000), againMs: job.sleepMs ?? 100 },
    // the local sidecar's stream never leaves the host: only a remote one says it is sending
    job.remote ? () => announce() : undefined,
  );
  for (let i = 0; i < (job.loops ?? 1); i++) setTimeout(once, Math.random() * 1000);
}

for (const job of config.jobs) {
  switch (job.kind) {
    case 'stall':
      void stall(job);
      break;
    case 'get':
    case 'post':
      for (let i = 0; i < (job.loops ?? 1); i++) void getLoop(job);
      break;
    case 'connect':
      void connectLoop(job);
      break;
    case 'slowloris':
      slowloris(job);
      break;
    case 'burst':
      burst(job);
      break;
    case 'statsd':
      statsd(job);
      break;
    case 'sweep':
      void sweep(job);
      break;
    case 'dns':
      dns(job);
      break;
    case 'download':
      download(job);
      break;
  }
}
process.on('SIGTERM', () => process.exit(143));
