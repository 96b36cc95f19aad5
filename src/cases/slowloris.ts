/**
 * Slowloris: the webserver serves a limited number of connections at once (a prefork
 * server's workers). One client holds nearly all of them open by sending a request's
 * headers a line at a time, one every few seconds, never finishing. It sends few packets
 * and no bytes to speak of, and connection pools hold as many connections as it does; what
 * gives it away is what its connections send: tiny segments, seconds apart, never answered.
 */
import { configOf, type CaseDraw, type CaseModule, type Evidence, type HostSpec, type Observations, type RunView } from './case.js';
import type { Rng } from '../core/random.js';
import { appName, client, getJob, host, jobsOf, labCommands, range, suspectNames, webserver, whereToListen, caseStream, packetsPerSec } from './common.js';

/**
 * The webserver serves a limited number of connections at once (drawn per run: what the
 * innocents' pools hold, plus room for all but two of the culprit's).
 */
export function maxConnectionsOf(draw: CaseDraw): number {
  return configOf(draw, 'webserver', 'webserver')?.maxConnections ?? 0;
}
/** A worker gives up on unfinished headers after this long (408): long, so the culprit reconnects seldom. */
export const headersTimeoutMs = 30_000;
/** The culprit opens its connections one by one over this long. */
export const rampMs = 15_000;
export const statsdPort = 8125;

export const slowloris: CaseModule = {
  id: 'slowloris',
  title: 'Slowloris',
  difficulty: 'hard',
  skills: ['reading payloads: -A', 'tiny segments and the length field', 'following connections by port and time: -ttt'],
  summary: "The site hangs, yet nobody sends much. Someone holds the webserver's connections open, a header line at a time.",
  symptom: 'For long stretches the site answers no new visitor, yet the webserver\'s CPU is idle and nobody floods it.',
  backends: ['netns', 'docker'],
  suspects: { min: 3, max: 8, default: 5 },
  quietWindowMs: 4000,

  draw(seedRng: Rng, suspects: number): CaseDraw {
    const rng = caseStream(seedRng, 5);
    const culpritAt = rng.int(suspects);
    const culpritConns = 16 + rng.int(6);
    // the innocents' clients keep their connections alive, so their requests go on through the
    // attack on the connections they hold: one busy (three loops), so that counting port 3000
    // packets never points at the culprit; one or two connection pools that hold about as many
    // connections as the culprit, a request on each every 5-6.5 s (within the server's 10 s
    // keep-alive), so that counting connections in `ss -tn` does not point at it either; the
    // others one connection each
    const innocents = suspects - 1;
    const pools = innocents >= 3 ? 2 : 1;
    const pages = rng.shuffle([
      { gap: 150 + rng.int(50), loops: 3 },
      ...Array.from({ length: pools }, () => ({ gap: 5000 + rng.int(1500), loops: culpritConns + rng.int(7) - 3 })),
      ...Array.from({ length: Math.max(0, innocents - 1 - pools) }, () => ({ gap: 400 + rng.int(400), loops: 1 })),
    ]);
    // the innocents' pooled connections all fit, and all but two of the culprit's: it holds
    // every slot left, and two of its connections wait, unread, in the webserver's `ss -tn`
    // (a page waits behind them: a second or more)
    const maxConnections = pages.reduce((sum, p) => sum + p.loops, 0) + culpritConns - 2;
    // a worker keeps an idle keep-alive connection for 10 s (as a prefork server's KeepAliveTimeout)
    const hosts: HostSpec[] = [webserver({ maxConnections, headersTimeoutMs, statsdPort, keepAliveMs: 10_000 })];
    let k = 0;
    for (let i = 0; i < suspects; i++) {
      const name = appName(i + 1);
      // everyone ships metrics to the webserver's statsd over UDP: the loud part of the traffic
      const metrics = { kind: 'statsd' as const, port: statsdPort, perSec: 35 + rng.int(15), metric: `${name}.requests` };
      if (i === culpritAt) {
        // a header line every 4-6 s on each connection: few packets, and the workers held
        hosts.push(client(name, [{ ...metrics, perSec: 4 + rng.int(3) }, { kind: 'slowloris', conns: culpritConns, dribbleMs: 4000 + rng.int(2000), rampMs }]));
      } else {
        const p = pages[k++]!;
        // and a cron job (one or two loops) that fetches a page on a new connection every
        // 1.5-3 s: while the culprit holds the slots they wait, unread, as its two spares do
        hosts.push(client(name, [metrics, getJob(p.gap, p.loops, { keepAlive: true }), getJob(1500 + rng.int(1500), 1 + rng.int(2))]));
      }
    }
    return { hosts, culprit: appName(culpritAt + 1) };
  },

  briefing(view: RunView): string {
    const names = suspectNames(view);
    const maxConnections = maxConnectionsOf(view.draw);
    return [
      `Our webserver at http://localhost:${view.port} crawls: every page takes a second or more. Yet its CPU`,
      `is idle and no host sends much. ${names.length} app servers (${range(names)}) use it, and all of them ship`,
      `metrics to its statsd on UDP port ${statsdPort}. The webserver serves ${maxConnections} connections at once;`,
      'someone is holding them (connection pools hold many too, and that is fine). Find who with tcpdump, and stop it:',
      ...labCommands(view, 'arrest'),
    ].join('\n');
  },

  solvedBy: 'arrest',

  hints(view: RunView): string[] {
    const culprit = host(view, view.draw.culprit);
    const maxConnections = maxConnectionsOf(view.draw);
    return [
      `Neither packets nor bytes will do: the loudest traffic is UDP metrics, and the culprit sends little. The webserver serves ${maxConnections} connections at a time: who keeps connections open without finishing a request?`,
      [
        whereToListen(view),
        `  sudo timeout 10 tcpdump -nn -A -i ${view.bridge} 'tcp dst port 3000 and tcp[tcpflags] & tcp-push != 0'`,
        'A normal request arrives whole: "GET / HTTP/1.1 ... " ending in an empty line. Do some connections send a header line now and then, and never the end?',
      ].join('\n'),
      [
        'Tiny segments tell them apart: a header line is a dozen bytes. Count the small pushes per source address:',
        `  sudo timeout 10 tcpdump -nn -q -i ${view.bridge} 'tcp dst port 3000 and tcp[tcpflags] & tcp-push != 0 and less 100' | awk '{print $3}' | cut -d. -f1-4 | sort | uniq -c`,
        "With -ttt, one connection's (one source port's) segments come seconds apart. Counting connections (`ss -tn` inside the webserver) will not do: the innocents' pools hold about as many as the culprit, and finish their requests.",
      ].join('\n'),
      [
        'The exact commands for this run:',
        `  sudo timeout 10 tcpdump -nn -A -i ${view.bridge} 'src host ${culprit?.ip ?? 'IP'} and tcp dst port 3000 and less 100'   # "X-1234: 5678" lines, seconds apart`,
        `  ${view.cli} stop ${view.draw.culprit}`,
      ].join('\n'),
    ];
  },

  situationalHint(view: RunView, seen: Observations): string | undefined {
    if (seen.wrongArrests.length) {
      return `You arrested ${seen.wrongArrests.join(', ')}: loud is not guilty here. Bring ${seen.wrongArrests.length > 1 ? 'them' : 'it'} back (\`${view.cli} restart HOST\`) and read the payloads sent to port 3000.`;
    }
    if (seen.tcpdumpOn.length === 0) return `No tcpdump is running yet. Listen on ${view.bridge} for what is sent to port 3000, with -A.`;
    return undefined;
  },

  debrief(view: RunView, evidence: Evidence): string {
    const culprit = host(view, view.draw.culprit)!;
    const maxConnections = maxConnectionsOf(view.draw);
    const conns = (name: string): number =>
      jobsOf(view.draw, name).reduce((sum, j) => sum + (j.kind === 'slowloris' ? (j.conns ?? 0) : j.kind === 'get' && j.keepAlive ? (j.loops ?? 1) : 0), 0);
    const rows = suspectNames(view)
      .map((n) => ({ n, p: packetsPerSec(evidence, n) }))
      .sort((a, b) => b.p - a.p)
      .map((r) => `  ${r.n.padEnd(8)} ${String(r.p).padStart(5)} packets/s ${String(conns(r.n)).padStart(3)} connections${r.n === culprit.name ? '   <- the culprit' : ''}`);
    return [
      `The culprit was ${culprit.name} (${culprit.ip}): it held ${conns(culprit.name)} connections open, each sending one`,
      `header line every few seconds and never the blank line that ends a request. The webserver serves`,
      `${maxConnections} at a time and gives up on headers after ${headersTimeoutMs / 1000} s; by then the culprit had reconnected.`,
      '',
      'Packets a second on each veth since the start, and the connections each held: the culprit was among',
      'the quiet ones, and connection pools held about as many connections as it did (`ss -tn` in the webserver).',
      ...rows,
      '',
      'How to see it:',
      `  1. sudo timeout 10 tcpdump -nn -q -i ${view.bridge} 'tcp dst port 3000 and tcp[tcpflags] & tcp-push != 0 and less 100' | awk '{print $3}' | cut -d. -f1-4 | sort | uniq -c`,
      `  2. sudo timeout 10 tcpdump -nn -A -ttt -i ${view.bridge} 'src host ${culprit.ip} and tcp dst port 3000'   # "X-NNNN: NNNN", seconds apart`,
      `  3. ${view.cli} stop ${culprit.name}`,
      '',
      'Why it works: a server with a fixed number of workers is full when every worker waits for a',
      'request that never completes. The attack costs almost no bandwidth, so volume never shows it;',
      'the payloads do: header lines of a dozen bytes, seconds apart, on many connections, never answered.',
    ].join('\n');
  },
};
