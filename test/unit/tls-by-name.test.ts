/**
 * TLS by name, without root: the draw (seeded; the culprit, the sites and the slow one vary),
 * the lab certificate (every site a name of it, its key its own, trusted by every client),
 * the plan holding no configuration, the briefing and the early hints never naming the
 * culprit, the debrief with the run's values; and the services on loopback: the virtual
 * hosts served by the name in the ClientHello, each by its own pool, the status page asking
 * each one, and the client's TLS (the name it asks for, the connection it renews).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { request as httpRequest } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import type { CaseDraw, RunView } from '../../src/cases/case.js';
import { allCases, findCase } from '../../src/cases/index.js';
import { fastWorkers, helloFilter, labCert, siteNames, sitesPerRun, slowWorkers, tlsByName, tlsPort, tlsRun } from '../../src/cases/tls-by-name/index.js';
import { planLab, resolveConfig } from '../../src/core/model.js';
import { seededRng } from '../../src/core/random.js';
import { compiledServicesDir } from '../../src/core/paths.js';
import { caseCompose } from '../../src/backends/docker/docker.js';
import type { ClientJob } from '../../src/services/client.js';
import type { VhostsConfig } from '../../src/services/vhosts.js';
import { clientJobs } from '../../src/cases/common.js';
import { hostConfig } from '../../src/cases/case.js';

const seeds = Array.from({ length: 40 }, (_, i) => `tls-seed-${i}`);
const draw = (seed: string, suspects = tlsByName.suspects.default): CaseDraw => tlsByName.draw(seededRng(seed), suspects);
const plan = (d: CaseDraw, seed = 's', suspects = tlsByName.suspects.default) =>
  planLab({ lab: 'tunit', caseId: 'tls-by-name', seed, suspects, backend: 'netns', port: 3670, subnetBase: '10.200.7', draw: d });
const jobs = (d: CaseDraw, name: string): ClientJob[] => clientJobs(d.hosts.find((h) => h.name === name)!);
const web = (d: CaseDraw): VhostsConfig => d.hosts.find((h) => h.name === 'webserver')!.config as unknown as VhostsConfig;

function view(seed: string, suspects = tlsByName.suspects.default): RunView {
  const d = draw(seed, suspects);
  const p = plan(d, seed, suspects);
  return {
    lab: 'tunit',
    port: 3670,
    backend: 'netns',
    cli: 'mystery --name tunit',
    bridge: p.bridge,
    hosts: p.hosts.map((h, i) => ({ name: h.name, id: h.id, ip: h.ip, veth: h.veth, ifindex: 100 + i })),
    draw: d,
  };
}

test('tls-by-name is in the catalog, found as a folder, an arrest case on both backends', () => {
  assert.equal(findCase('tls-by-name'), tlsByName);
  assert.equal(allCases().filter((c) => c.id === 'tls-by-name').length, 1);
  assert.equal(tlsByName.solvedBy, 'arrest');
  assert.deepEqual(tlsByName.backends, ['netns', 'docker']);
  assert.ok(existsSync(join(compiledServicesDir, '..', 'cases', 'tls-by-name', 'lab-cert.pem')), 'the build carries the certificate into dist/');
});

test('tls-by-name: the same seed draws the same run; the culprit, the sites and the slow one vary over seeds', () => {
  assert.deepEqual(draw('same'), draw('same'));
  const culprits = new Map<string, number>();
  const slow = new Set<string>();
  const hosted = new Set<string>();
  for (const s of seeds) {
    const d = draw(s);
    culprits.set(d.culprit, (culprits.get(d.culprit) ?? 0) + 1);
    const run = tlsRun(d);
    slow.add(run.slow);
    for (const x of run.sites) hosted.add(x);
    assert.equal(run.sites.length, sitesPerRun);
    assert.equal(new Set(run.sites).size, sitesPerRun);
    assert.ok(run.sites.includes(run.slow));
  }
  assert.equal(culprits.size, tlsByName.suspects.default, `every suspect is the culprit in some run: ${JSON.stringify([...culprits])}`);
  for (const [, n] of culprits) assert.ok(n < seeds.length / 2);
  assert.ok(slow.size >= 6, `${slow.size} different slow sites`);
  assert.deepEqual([...hosted].sort(), [...siteNames].sort(), 'every site of the certificate is drawn in some run');
});

test('tls-by-name: one certificate names every site, its key is its own, valid for a century; the webserver on 3000 and 443', () => {
  const cert = new X509Certificate(labCert);
  for (const name of siteNames) assert.ok(cert.checkHost(name), `the certificate names ${name}`);
  assert.equal(cert.checkHost('webserver.example'), undefined);
  assert.ok(Date.parse(cert.validFrom) < Date.parse('2001-01-01') && Date.parse(cert.validTo) > Date.parse('2099-01-01'));
  for (const s of seeds.slice(0, 10)) {
    const d = draw(s);
    const w = d.hosts.find((h) => h.name === 'webserver')!;
    assert.equal(w.program, 'vhosts');
    assert.equal(w.lowPorts, true, 'port 443 as nobody');
    const c = web(d);
    assert.equal(c.port, 3000);
    assert.equal(c.tlsPort, tlsPort);
    assert.equal(c.cert, labCert);
    assert.ok(cert.checkPrivateKey(createPrivateKey(c.key)), 'the key is the certificate\'s');
    // one slow site of two workers, every other with more, each a few ms a page
    const run = tlsRun(d);
    for (const site of c.sites) {
      if (site.name === run.slow) assert.deepEqual([site.workers, site.holdMs >= 100 && site.holdMs <= 130], [slowWorkers, true]);
      else assert.deepEqual([site.workers, site.holdMs < 10, (site.feedPieces ?? 0) >= 12], [fastWorkers, true, true]);
    }
  }
});

test('tls-by-name: every suspect runs the same client over TLS, trusting the lab certificate alone, and visits the slow site and two others', () => {
  for (const s of seeds.slice(0, 10)) {
    for (const n of [tlsByName.suspects.min, tlsByName.suspects.default, tlsByName.suspects.max]) {
      const d = draw(s, n);
      const run = tlsRun(d);
      const suspects = d.hosts.filter((h) => h.role === 'suspect');
      assert.equal(suspects.length, n);
      assert.deepEqual(new Set(suspects.map((h) => h.program)), new Set(['client']));
      const p = plan(d, s, n);
      const webIp = p.hosts.find((h) => h.name === 'webserver')!.ip;
      for (const h of suspects) {
        assert.equal(hostConfig(h, 'client')!.ca, labCert);
        assert.equal(resolveConfig(hostConfig(h, 'client')!, p).target, `https://${webIp}:443/`);
        const js = clientJobs(h);
        assert.ok(js.every((j) => j.kind === 'get' && j.keepAlive && run.sites.includes(j.servername!)), 'every job an HTTPS visit of a hosted site');
        assert.ok(js.some((j) => j.servername === run.slow && j.loops === 1 && j.perConnection === 1), `${h.name} visits ${run.slow} now and then`);
        assert.ok(new Set(js.map((j) => j.servername)).size >= 3, `${h.name} visits three sites`);
      }
    }
  }
});

test('tls-by-name: the culprit holds the slow site\'s workers; a busy innocent, a twin of more handshakes and a pool of as many connections', () => {
  for (let k = 0; k < 100; k++) {
    for (const n of [tlsByName.suspects.min, tlsByName.suspects.default, tlsByName.suspects.max]) {
      const d = draw(`roles-${k}`, n);
      const run = tlsRun(d);
      const slowSite = web(d).sites.find((s) => s.name === run.slow)!;
      // its loops far outnumber the workers: a queue of a second or more behind them
      assert.ok((run.culpritConns * slowSite.holdMs) / slowWorkers >= 1000, `${run.culpritConns} loops for ${slowWorkers} workers of ${slowSite.holdMs} ms`);
      const flood = jobs(d, d.culprit).filter((j) => j.servername === run.slow && (j.loops ?? 1) > 1);
      assert.equal(flood.length, 1);
      const innocents = d.hosts.filter((h) => h.role === 'suspect' && h.name !== d.culprit).map((h) => h.name);
      // nobody else keeps more than one request for the slow site
      for (const name of innocents) assert.ok(jobs(d, name).filter((j) => j.servername === run.slow).every((j) => j.loops === 1));
      const feeds = innocents.filter((name) => jobs(d, name).some((j) => j.path === '/feed'));
      assert.equal(feeds.length, 1, 'one feed reader, the loudest');
      const feed = jobs(d, feeds[0]!).find((j) => j.path === '/feed')!;
      assert.ok((feed.loops! * 1000) / feed.sleepMs! >= 30, 'the feed reader asks 30 times a second or more');
      // handshakes a second: the culprit's are its site's capacity over its requests a connection
      const culpritHellos = (slowWorkers * 1000) / slowSite.holdMs / run.culpritPerConn;
      const twins = innocents.filter((name) => jobs(d, name).some((j) => j.perConnection === 1 && (j.loops ?? 1) > 1));
      assert.equal(twins.length, 1);
      const twin = jobs(d, twins[0]!).find((j) => j.perConnection === 1 && (j.loops ?? 1) > 1)!;
      const twinHellos = (twin.loops! * 1000) / (twin.sleepMs! + 10);
      assert.ok(twinHellos >= 1.7 * culpritHellos, `the twin's ${twinHellos.toFixed(1)} handshakes/s against the culprit's ${culpritHellos.toFixed(1)}`);
      const pools = innocents.filter((name) => jobs(d, name).some((j) => (j.loops ?? 1) > 10));
      assert.equal(pools.length, 1);
      const pool = jobs(d, pools[0]!).find((j) => (j.loops ?? 1) > 10)!;
      assert.ok(Math.abs(pool.loops! - run.culpritConns) <= 3, `the pool's ${pool.loops} connections against the culprit's ${run.culpritConns}`);
      assert.equal(new Set([...feeds, ...twins, ...pools]).size, 3);
    }
  }
});

test('tls-by-name: the plan holds no configuration; the briefing names the slow site, never the culprit', () => {
  for (const s of seeds.slice(0, 10)) {
    const v = view(s);
    const p = plan(v.draw, s);
    const planned = JSON.stringify({ ...p, seed: undefined });
    for (const secret of ['BEGIN', 'jobs', 'perConnection', 'servername', '.example']) assert.ok(!planned.includes(secret), `the plan holds ${secret}`);
    const briefing = tlsByName.briefing(v);
    const run = tlsRun(v.draw);
    for (const site of run.sites) assert.ok(briefing.includes(site));
    assert.match(briefing, new RegExp(`${run.slow.replace('.', '\\.')} takes a second or more`));
    assert.ok(!new RegExp(`\\b${v.draw.culprit}\\b`).test(briefing.replace(/app1 \.\. app\d+/, '')));
    assert.ok(!briefing.includes(v.hosts.find((h) => h.name === v.draw.culprit)!.ip));
    assert.match(briefing, /localhost:3670/);
  }
});

test('tls-by-name: the hints go from the idea to this run\'s commands; only the last names the culprit', () => {
  for (const s of seeds.slice(0, 10)) {
    const v = view(s);
    const run = tlsRun(v.draw);
    const culprit = v.hosts.find((h) => h.name === v.draw.culprit)!;
    const hints = tlsByName.hints(v);
    assert.ok(hints.length >= 4);
    const mentions = (h: string): boolean => new RegExp(`\\b${v.draw.culprit}\\b`).test(h) || h.includes(`${culprit.ip}`);
    for (const h of hints.slice(0, -1)) assert.ok(!mentions(h), `an early hint names the culprit: ${h}`);
    assert.match(hints[0]!, /SNI/);
    assert.match(hints[0]!, /encrypted/);
    assert.ok(!hints[0]!.includes(v.bridge), 'the first hint is the idea, no command');
    assert.ok(hints[1]!.includes(`sudo timeout 5 tcpdump -nn -A -i ${v.bridge} '${helloFilter}'`));
    assert.match(hints[1]!, /0x16/);
    assert.match(hints[1]!, /-X/);
    assert.ok(hints[2]!.includes(run.slow.replace('.', '\\.')), 'the count looks for this run\'s slow site');
    assert.match(hints[2]!, /uniq -c/);
    const last = hints[hints.length - 1]!;
    assert.ok(last.includes(`src host ${culprit.ip} and ${helloFilter}`));
    assert.ok(last.includes(`mystery --name tunit stop ${v.draw.culprit}`));
  }
});

test('tls-by-name: the situational hint, and the debrief with the run\'s values', () => {
  const v = view('debrief');
  const run = tlsRun(v.draw);
  assert.match(tlsByName.situationalHint!(v, { tcpdumpOn: [], wrongArrests: [] })!, /No tcpdump is running/);
  assert.equal(tlsByName.situationalHint!(v, { tcpdumpOn: [v.bridge], wrongArrests: [] }), undefined);
  const innocent = v.hosts.find((h) => h.name.startsWith('app') && h.name !== v.draw.culprit)!.name;
  assert.match(tlsByName.situationalHint!(v, { tcpdumpOn: [], wrongArrests: [innocent] })!, new RegExp(`You arrested ${innocent}: loud is not guilty`));
  const culprit = v.hosts.find((h) => h.name === v.draw.culprit)!;
  const packets = new Map(v.hosts.map((h, i) => [h.name, (i + 1) * 1000]));
  const debrief = tlsByName.debrief(v, { packets, bytes: new Map(), seconds: 10, interfaces: new Map() });
  assert.ok(debrief.includes(`The culprit was ${culprit.name} (${culprit.ip})`));
  assert.ok(debrief.includes(`kept ${run.culpritConns} requests for ${run.slow}`));
  assert.ok(debrief.includes(`every ${run.culpritPerConn} requests`));
  assert.ok(debrief.includes(`${run.slowHoldMs} ms`));
  assert.ok(debrief.includes(v.bridge));
  assert.match(debrief, new RegExp(`${culprit.name} +\\d+ packets/s +\\d+ connections +<- the culprit`));
  assert.ok(debrief.includes(`mystery --name tunit stop ${culprit.name}`));
});

test('tls-by-name: the handshake filter is one tcpdump compiles', { skip: spawnSync('tcpdump', ['--version']).error ? 'no tcpdump' : false }, () => {
  const r = spawnSync('tcpdump', ['-d', helloFilter], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /0x16|#22/);
});

test('tls-by-name on Docker: the compose file runs the vhosts program with port 443 allowed as nobody', () => {
  const d = draw('compose');
  const compose = caseCompose({ lab: 'tunit', port: 3670, hosts: d.hosts, baseImage: 'node:20-alpine' }) as { services: Record<string, { command: string[]; sysctls?: Record<string, string>; environment: Record<string, string> }> };
  const w = compose.services.webserver!;
  assert.deepEqual(w.command, ['node', 'vhosts.js']);
  assert.equal(w.sysctls?.['net.ipv4.ip_unprivileged_port_start'], '0');
  assert.equal((JSON.parse(w.environment.MYSTERY_CONFIG!) as VhostsConfig).cert, labCert);
});

// ---- the services, on loopback ----

async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

interface Got {
  status: number;
  body: string;
  ms: number;
}

function httpsGet(port: number, servername: string | undefined, path = '/', verify = true): Promise<Got> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const q = httpsRequest(
      { host: '127.0.0.1', port, path, agent: false, ca: labCert, rejectUnauthorized: verify, ...(servername !== undefined ? { servername } : {}), timeout: 10_000 },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: Date.now() - t0 }));
      },
    );
    q.on('error', reject);
    q.end();
  });
}

function httpGet(port: number): Promise<Got> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: Date.now() - t0 }));
    })
      .on('error', reject)
      .end();
  });
}

test('vhosts: each site by the name in the ClientHello, through its own pool; the status page asks each one', { timeout: 30_000 }, async () => {
  const key = web(draw('svc')).key;
  const config: VhostsConfig = {
    port: await freePort(),
    tlsPort: await freePort(),
    cert: labCert,
    key,
    sites: [
      { name: 'shop.example', workers: 1, holdMs: 300, pageBytes: 1000 },
      { name: 'blog.example', workers: 4, holdMs: 2, pageBytes: 4000, feedBytes: 20_000, feedPieces: 8 },
    ],
  };
  const ws = spawn(process.execPath, [join(compiledServicesDir, 'vhosts.js')], { env: { ...process.env, MYSTERY_CONFIG: JSON.stringify(config) }, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise((r) => ws.stdout!.once('data', r));
    const shop = await httpsGet(config.tlsPort, 'shop.example');
    assert.equal(shop.status, 200);
    assert.match(shop.body, /Welcome to shop\.example/);
    assert.ok(Math.abs(shop.body.length - 1000) < 10, `the page's size: ${shop.body.length}`);
    const blog = await httpsGet(config.tlsPort, 'blog.example', '/feed');
    assert.match(blog.body, /Welcome to blog\.example/);
    assert.ok(Math.abs(blog.body.length - 20_000) < 10);
    // no name, or a name the box does not host: no site
    assert.equal((await httpsGet(config.tlsPort, '', '/', false)).status, 421);
    await assert.rejects(httpsGet(config.tlsPort, 'nope.example'), /altnames|ERR_TLS_CERT_ALTNAME_INVALID/, 'a name the certificate does not hold is refused by the client');
    // three requests for shop's one worker: the third waits for two before it
    const three = await Promise.all([0, 1, 2].map(() => httpsGet(config.tlsPort, 'shop.example')));
    const times = three.map((g) => g.ms).sort((a, b) => a - b);
    assert.ok(times[2]! >= 850, `the last of three waited its turn: ${times.join(', ')} ms`);
    // ... while blog's pool is free: quick
    const during = httpsGet(config.tlsPort, 'shop.example');
    await new Promise((r) => setTimeout(r, 20));
    const quick = await httpsGet(config.tlsPort, 'blog.example');
    assert.ok(quick.ms < 250, `blog answers while shop's worker is held: ${quick.ms} ms`);
    await during;
    // the status page: each site, asked now; the page waits for the slowest
    const page = await httpGet(config.port);
    assert.equal(page.status, 200);
    assert.match(page.body, /https:\/\/shop\.example\/<\/td><td>\d+ ms/);
    assert.match(page.body, /https:\/\/blog\.example\/<\/td><td>\d+ ms/);
    assert.ok(page.ms >= 290, `the page waits for shop: ${page.ms} ms`);
  } finally {
    ws.kill('SIGTERM');
  }
});

test('client over TLS: it trusts the lab certificate, asks for its site by name, and renews its connection every perConnection requests', { timeout: 30_000 }, async () => {
  const key = web(draw('svc')).key;
  const seen: Array<{ servername: string | false | null; host?: string; conn: number }> = [];
  let conns = 0;
  const server = createHttpsServer({ cert: labCert, key }, (req, res) => {
    const s = req.socket as TLSSocket & { n?: number };
    seen.push({ servername: s.servername, host: req.headers.host, conn: s.n! });
    res.end('ok');
  });
  server.on('secureConnection', (s: TLSSocket & { n?: number }) => (s.n = ++conns));
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const jobs: ClientJob[] = [{ kind: 'get', loops: 1, sleepMs: 30, keepAlive: true, servername: 'wiki.example', perConnection: 3 }];
  const cl = spawn(process.execPath, [join(compiledServicesDir, 'client.js')], {
    env: { ...process.env, MYSTERY_CONFIG: JSON.stringify({ target: `https://127.0.0.1:${port}/`, ca: labCert, jobs }) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const deadline = Date.now() + 15_000;
    while (seen.length < 12 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(seen.length >= 12, `${seen.length} requests`);
    assert.ok(seen.every((x) => x.servername === 'wiki.example' && x.host === 'wiki.example'), 'the SNI and the Host are the site');
    const per = new Map<number, number>();
    for (const x of seen.slice(0, 12)) per.set(x.conn, (per.get(x.conn) ?? 0) + 1);
    // the first connection starts at a random place of its count, the next ones carry three
    const counts = [...per.values()];
    assert.ok(counts.slice(1, -1).every((c) => c === 3), `requests per connection: ${counts.join(', ')}`);
    assert.ok(counts[0]! >= 1 && counts[0]! <= 3);
  } finally {
    cl.kill('SIGTERM');
    server.close();
    server.closeAllConnections();
  }
});
