/**
 * TLS by name: the webserver hosts several sites over HTTPS on one address and one port,
 * virtual hosts told apart by the server name (SNI) each client puts in its ClientHello,
 * each site with a small pool of workers of its own. One site is slow for everyone: one
 * client keeps a couple of dozen requests for it waiting at once, on keep-alive connections
 * it renews every few requests, and so holds its workers. Everyone runs the same client and
 * talks HTTPS to several sites; a busy innocent sends far more packets on port 443 than the
 * culprit, another opens more connections, another holds as many. Everything after the
 * handshake is encrypted: only the name in each ClientHello, in clear, says who asks for the
 * slow site, and how often.
 *
 * The certificate (lab-cert.pem, every site the case can draw as a subjectAltName) and its
 * key are data of this folder (made once by make-cert.sh), so that the draw is a function of
 * the seed alone; the build copies them into dist/ (scripts/postbuild.mjs).
 */
import { readFileSync } from 'node:fs';
import { configOf, type CaseDraw, type CaseModule, type Evidence, type HostSpec, type Observations, type RunView } from '../case.js';
import type { Rng } from '../../core/random.js';
import type { ClientJob } from '../../services/client.js';
import type { SiteConfig, VhostsConfig } from '../../services/vhosts.js';
import { appName, caseStream, host, jobsOf, labCommands, packetsPerSec, range, suspectNames } from '../common.js';

export const labCert = readFileSync(new URL('./lab-cert.pem', import.meta.url), 'utf8');
const labKey = readFileSync(new URL('./lab-key.pem', import.meta.url), 'utf8');

/** Every site the case can draw: the certificate names each one. */
export const siteNames = ['shop', 'blog', 'api', 'wiki', 'docs', 'forum', 'news', 'jobs'].map((n) => `${n}.example`);
/** Sites a run hosts. */
export const sitesPerRun = 4;
export const tlsPort = 443;
/** The workers of the slow site (the others have fastWorkers each). */
export const slowWorkers = 2;
export const fastWorkers = 4;
/** The filter of the packets that begin a TLS handshake record (type 0x16), sent to the sites: the ClientHellos. */
export const helloFilter = `tcp dst port ${tlsPort} and tcp[((tcp[12] & 0xf0) >> 2)] = 0x16`;

const target = `https://webserver:${tlsPort}/`;

export interface TlsRun {
  sites: string[];
  slow: string;
  slowHoldMs: number;
  /** requests the culprit keeps waiting at once for the slow site (one connection each) */
  culpritConns: number;
  /** requests on each of its connections before it opens another */
  culpritPerConn: number;
}

/** What this run hosts and which site is slow, from the draw (the webserver's configuration). */
export function tlsRun(draw: CaseDraw): TlsRun {
  const web = configOf(draw, 'webserver', 'vhosts')!;
  const slow = web.sites.find((s) => s.workers === slowWorkers)!;
  const culprit = jobsOf(draw, draw.culprit);
  const flood = culprit.find((j) => j.servername === slow.name && (j.loops ?? 1) > 1)!;
  return { sites: web.sites.map((s) => s.name), slow: slow.name, slowHoldMs: slow.holdMs, culpritConns: flood.loops ?? 1, culpritPerConn: flood.perConnection ?? 1 };
}

/** A loop of HTTPS requests for one site. */
function visit(site: string, sleepMs: number, loops: number, perConnection?: number, path?: string): ClientJob {
  return { kind: 'get', loops, sleepMs, keepAlive: true, servername: site, ...(perConnection ? { perConnection } : {}), ...(path ? { path } : {}) };
}

function suspect(name: string, jobs: ClientJob[]): HostSpec {
  return { name, role: 'suspect', program: 'client', config: { target, ca: labCert, jobs } };
}

const escapeRe = (s: string): string => s.replace(/\./g, '\\.');

export const tlsByName: CaseModule = {
  id: 'tls-by-name',
  title: 'The name in the hello',
  difficulty: 'medium',
  skills: [
    "reading the server name (SNI) of a TLS ClientHello: -A, -X",
    'filtering TLS handshake records by byte offset: tcp[((tcp[12] & 0xf0) >> 2)] = 0x16',
    'why payload search fails on TLS, and why counting packets fails',
  ],
  summary: 'Several HTTPS sites share one address and port; one is slow for everyone. The traffic is encrypted: only the server name in each ClientHello says who hammers it.',
  symptom: 'One of the websites we host is slow for every visitor, while the others on the same server answer at once.',
  backends: ['netns', 'docker'],
  suspects: { min: 4, max: 8, default: 5 },

  draw(seedRng: Rng, suspects: number): CaseDraw {
    const rng = caseStream(seedRng, 16);
    const culpritAt = rng.int(suspects);
    const sites = rng.shuffle(siteNames).slice(0, sitesPerRun);
    const slow = sites[rng.int(sites.length)]!;
    const fast = sites.filter((s) => s !== slow);
    const slowHoldMs = 100 + rng.int(31);
    // the slow site's page is small (its work is what costs), the others' pages a few KB
    const siteConfigs: SiteConfig[] = sites.map((name) =>
      name === slow
        ? { name, workers: slowWorkers, holdMs: slowHoldMs, pageBytes: 900 + rng.int(600) }
        : { name, workers: fastWorkers, holdMs: 3 + rng.int(6), pageBytes: 3000 + rng.int(5000), feedBytes: 20_000 + rng.int(10_000), feedPieces: 12 + rng.int(5) },
    );
    const webConfig: VhostsConfig = { port: 3000, tlsPort, cert: labCert, key: labKey, sites: siteConfigs, keepAliveMs: 10_000 };
    const hosts: HostSpec[] = [{ name: 'webserver', role: 'server', program: 'vhosts', config: webConfig, lowPorts: true }];

    // the culprit: a couple of dozen requests for the slow site waiting at once, each on a
    // keep-alive connection it closes after a few requests: its workers are never free
    const culpritConns = 22 + rng.int(7);
    const culpritPerConn = 4 + rng.int(2);
    // its handshakes a second: the slow site's capacity over the requests on a connection
    const culpritHellos = (slowWorkers * 1000) / slowHoldMs / culpritPerConn;
    // the innocents: one busy (a feed of many KB, often, on two connections: the most packets on 443),
    // one that opens a connection per request (more handshakes than the culprit), one pool
    // of about as many connections as the culprit, the rest everyday visitors
    const innocents = suspects - 1;
    const roles = rng.shuffle(['busy', 'twin', 'pool', ...Array.from({ length: innocents - 3 }, () => 'plain')]);
    let k = 0;
    for (let i = 0; i < suspects; i++) {
      const name = appName(i + 1);
      const mine = rng.shuffle(fast).slice(0, 2);
      // everyone visits the slow site now and then (a new connection each time) and two others
      const everyday: ClientJob[] = [visit(slow, 2500 + rng.int(2500), 1, 1), visit(mine[0]!, 300 + rng.int(500), 1), visit(mine[1]!, 500 + rng.int(700), 1)];
      if (i === culpritAt) {
        hosts.push(suspect(name, [...everyday, visit(slow, 20, culpritConns, culpritPerConn)]));
        continue;
      }
      const role = roles[k++]!;
      const extra: ClientJob[] =
        role === 'busy'
          ? // a feed reader: a feed of 20-30 KB in 12-16 pieces, two loops, 40-60 ms apart
            [visit(mine[0]!, 40 + rng.int(20), 2, undefined, '/feed')]
          : role === 'twin'
            ? // 1.8-2.2 times the culprit's handshakes, to the fast sites, two loops
              [visit(mine[1]!, Math.round((2 * 1000) / (culpritHellos * (1.8 + rng.int(5) / 10))) - 10, 2, 1)]
            : role === 'pool'
              ? [visit(mine[0]!, 2500 + rng.int(1500), culpritConns - 3 + rng.int(7))]
              : [visit(mine[1]!, 150 + rng.int(150), 1)];
      hosts.push(suspect(name, [...everyday, ...extra]));
    }
    return { hosts, culprit: appName(culpritAt + 1) };
  },

  briefing(view: RunView): string {
    const names = suspectNames(view);
    const run = tlsRun(view.draw);
    return [
      `Our webserver hosts ${run.sites.length} sites over HTTPS on one address and one port, ${tlsPort}: ${run.sites.join(', ')}.`,
      'It tells them apart by the name each visitor asks for (virtual hosts), and each site has a small',
      `pool of workers of its own. Its status page at http://localhost:${view.port} shows how fast each site answers:`,
      `${run.slow} takes a second or more, for everyone; the others answer at once. ${names.length} app servers`,
      `(${range(names)}) run the same client and visit several of the sites over HTTPS; everything they send`,
      `is encrypted. Someone is hogging ${run.slow}. Find who with tcpdump, and stop it:`,
      ...labCommands(view, 'arrest'),
    ].join('\n');
  },

  solvedBy: 'arrest',

  hints(view: RunView): string[] {
    const run = tlsRun(view.draw);
    const culprit = host(view, view.draw.culprit);
    const count = `sudo timeout 5 tcpdump -nn -A -l -i ${view.bridge} '${helloFilter}' | awk '/^[0-9:.]+ IP /{src=$3} /${escapeRe(run.slow)}/{print src}' | cut -d. -f1-4 | sort | uniq -c | sort -rn`;
    return [
      [
        `Counting will not do: one innocent sends far more packets on port ${tlsPort} than anyone, another opens more connections, another holds as many.`,
        `Reading the requests will not do either: over HTTPS everything after the handshake is encrypted, so \`tcpdump -A\` shows no "Host: ${run.slow}" and no path.`,
        `One thing goes in clear: the name of the site, which the client puts in the first message of its TLS handshake (the ClientHello's server name, SNI). Who asks for ${run.slow}, and how often?`,
      ].join('\n'),
      [
        'A TLS record begins with its type, and 0x16 is a handshake. The TCP header\'s length is the top 4 bits of its byte 12, in 4-byte words, so (tcp[12] & 0xf0) >> 2',
        `is where the payload begins, in bytes. This filter keeps the packets that begin a handshake record, and \`dst port ${tlsPort}\` the clients' ClientHellos:`,
        `  sudo timeout 5 tcpdump -nn -A -i ${view.bridge} '${helloFilter}'`,
        'In each, the site\'s name reads in clear among the dots. With -X instead of -A: the hex beside it, the server_name extension (type 00 00) and the name\'s bytes.',
      ].join('\n'),
      [
        `Everyone visits ${run.slow} now and then. Count its ClientHellos per source address for 5 s:`,
        `  ${count}`,
        `One address asks for it far more often than the rest. Its host: \`${view.cli} ps\`.`,
      ].join('\n'),
      [
        'The exact commands for this run:',
        `  sudo timeout 5 tcpdump -nn -A -i ${view.bridge} 'src host ${culprit?.ip ?? 'IP'} and ${helloFilter}'   # ${run.slow}, again and again`,
        `  ${view.cli} stop ${view.draw.culprit}`,
      ].join('\n'),
    ];
  },

  situationalHint(view: RunView, seen: Observations): string | undefined {
    const run = tlsRun(view.draw);
    if (seen.wrongArrests.length) {
      return `You arrested ${seen.wrongArrests.join(', ')}: loud is not guilty here. Bring ${seen.wrongArrests.length > 1 ? 'them' : 'it'} back (\`${view.cli} restart HOST\`) and read which site each ClientHello asks for.`;
    }
    if (seen.tcpdumpOn.length === 0) return `No tcpdump is running yet. Listen on ${view.bridge} for the TLS handshakes sent to port ${tlsPort}, with -A: which of them ask for ${run.slow}?`;
    return undefined;
  },

  debrief(view: RunView, evidence: Evidence): string {
    const run = tlsRun(view.draw);
    const culprit = host(view, view.draw.culprit)!;
    const conns = (name: string): number => jobsOf(view.draw, name).reduce((sum, j) => sum + (j.loops ?? 1), 0);
    // new connections a second, as drawn (a connection per perConnection requests)
    const rows = suspectNames(view)
      .map((n) => ({ n, p: packetsPerSec(evidence, n) }))
      .sort((a, b) => b.p - a.p)
      .map((r) => `  ${r.n.padEnd(8)} ${String(r.p).padStart(5)} packets/s ${String(conns(r.n)).padStart(3)} connections${r.n === culprit.name ? `   <- the culprit, ${run.culpritConns} of them for ${run.slow}` : ''}`);
    return [
      `The culprit was ${culprit.name} (${culprit.ip}): it kept ${run.culpritConns} requests for ${run.slow} waiting at once, each on a`,
      `keep-alive connection it renewed every ${run.culpritPerConn} requests. ${run.slow} has ${slowWorkers} workers and ${run.slowHoldMs} ms of work a page:`,
      `it serves about ${Math.round((slowWorkers * 1000) / run.slowHoldMs)} pages a second, so every other visitor waited behind the culprit's queue.`,
      '',
      'Packets a second on each veth since the start, and the connections each kept: the culprit was not the',
      'loudest, one innocent opened more connections than it did, and a pool held about as many.',
      ...rows,
      '',
      'How to see it:',
      `  1. sudo timeout 5 tcpdump -nn -A -i ${view.bridge} '${helloFilter}'   # every ClientHello, its server name in clear`,
      `  2. sudo timeout 5 tcpdump -nn -A -l -i ${view.bridge} '${helloFilter}' | awk '/^[0-9:.]+ IP /{src=$3} /${escapeRe(run.slow)}/{print src}' | cut -d. -f1-4 | sort | uniq -c | sort -rn`,
      `  3. ${view.cli} stop ${culprit.name}`,
      '',
      'Why it works: TLS encrypts the request (its path, its Host header), but the client must say which',
      'site it wants before any key is agreed, so that the server can pick the certificate: the server',
      'name extension of the ClientHello travels in clear (TLS 1.3 too, unless Encrypted Client Hello is',
      'used). A filter on the first payload byte (0x16, a handshake record) keeps just those packets.',
    ].join('\n');
  },
};
