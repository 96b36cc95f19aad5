/**
 * The shrinking segment: the office machines (lan) reach the webserver (dmz) through three
 * routers the learner cannot log into, r1 (lan, t1), r2 (t1, t2) and r3 (t2, dmz). Every
 * router carries one mangle rule of the same shape, which rewrites the MSS option of the
 * SYNs it forwards. On two of them it clamps to the path's MTU (1460 at 1500: nothing
 * changes); on one (drawn per run) it sets a tiny MSS (drawn per run), for both ends of every
 * connection: each side then sends segments of at most that many bytes, and the site's heavy
 * page comes in thousands of packets, each one costing every hop its work. Every handshake
 * completes, nothing is too big for any link, no ICMP is sent: the MSS option of the same SYN
 * on each network of the path says where it shrinks.
 */
import type { CaseDraw, CaseModule, Evidence, HostSpec, Observations, RuleSpec, RunView } from './case.js';
import type { Rng } from '../core/random.js';
import { addressOn, appName, caseStream, client, getJob, host, labCommands, network, range, suspectNames, webserver } from './common.js';

/** The routers, in path order from lan to dmz, and the networks of the path. */
export const routers = ['r1', 'r2', 'r3'] as const;
export const path = ['lan', 't1', 't2', 'dmz'] as const;

/** The MSS values the faulty rule may set: all far below 1460, none a value of the usual ones (536, 1220, 1380 ...). */
export const mssChoices = [88, 96, 104, 112, 120, 128, 136, 144];

/** The page's weight: heavy enough that tiny segments make it slow (about 600 KB). */
export const pageBytes = 600_000;

/** The mangle rule every router carries: as data, the same shape on each, only its end differs. */
export function mssRule(mss?: number): RuleSpec {
  return { table: 'mangle', chain: 'FORWARD', args: ['-p', 'tcp', '--tcp-flags', 'SYN,RST', 'SYN', '-j', 'TCPMSS', ...(mss ? ['--set-mss', String(mss)] : ['--clamp-mss-to-pmtu'])] };
}

/** The router and the MSS in an answer as a learner may write it: 'r2 136', '136 r2', 'r2 mss 136', 'r2: mss=136'. */
export function parseAnswer(value: string): { router: string; mss: number } | undefined {
  const words = value.toLowerCase().replace(/[,:=;]/g, ' ').split(/\s+/).filter((w) => w && !['mss', 'on', 'at', 'router', 'sets', 'set', 'to', 'of', 'is', 'bytes', 'byte', 'the'].includes(w));
  const names = words.filter((w) => /^r\d+$/.test(w));
  const numbers = words.filter((w) => /^\d{1,5}$/.test(w));
  if (names.length !== 1 || numbers.length !== 1 || words.length !== 2) return undefined;
  return { router: names[0]!, mss: Number(numbers[0]) };
}

export const shrinkingSegment: CaseModule = {
  id: 'shrinking-segment',
  title: 'The shrinking segment',
  difficulty: 'hard',
  skills: [
    'the TCP options of a SYN (-v prints mss, wscale, sackOK), filtering SYNs (tcp[tcpflags] & tcp-syn != 0)',
    'comparing the same packet on both sides of every hop to find where it changes',
    'segment sizes: the length of every data segment, and how many packets a page takes',
  ],
  summary: 'Since the provider\'s maintenance, every page of the intranet loads slowly in the office, the heavy ones worst; nothing is lost. Find the router that rewrites the handshake, and what it writes.',
  symptom: 'Since the provider\'s maintenance, pages from the intranet server load slowly on every office machine, the heavy ones most of all; nothing times out, nothing is lost, the server is idle. Find what changed on the way (answer with a router and a number).',
  backends: ['netns', 'docker'],
  suspects: { min: 3, max: 6, default: 3 },

  draw(seedRng: Rng, suspects: number): CaseDraw {
    const rng = caseStream(seedRng, 14);
    const culprit = rng.pick([...routers]);
    const mss = rng.pick(mssChoices);
    const rule = (name: string): RuleSpec => mssRule(name === culprit ? mss : undefined);
    const hosts: HostSpec[] = [
      {
        ...webserver({ workers: suspects + 4, pageBytes }),
        // every segment its own packet, as on a real wire (a veth passes 64 KB at once)
        interfaces: [{ network: 'dmz', gsoMaxSegs: 1 }],
        routes: [{ to: 'lan', via: 'r3' }],
      },
      { name: 'r1', role: 'router', program: 'idle', config: {}, interfaces: [{ network: 'lan' }, { network: 't1' }], routes: [{ to: 'dmz', via: 'r2' }], rules: [rule('r1')], infrastructure: true },
      {
        name: 'r2',
        role: 'router',
        program: 'idle',
        config: {},
        interfaces: [{ network: 't1' }, { network: 't2' }],
        routes: [{ to: 'lan', via: 'r1' }, { to: 'dmz', via: 'r3' }],
        rules: [rule('r2')],
        infrastructure: true,
      },
      { name: 'r3', role: 'router', program: 'idle', config: {}, interfaces: [{ network: 't2' }, { network: 'dmz' }], routes: [{ to: 'lan', via: 'r2' }], rules: [rule('r3')], infrastructure: true },
    ];
    for (let i = 0; i < suspects; i++) {
      // every office machine alike: someone opening the intranet's page every few seconds
      const spec = client(appName(i + 1), [getJob(4000 + rng.int(2000), 1, { timeoutMs: 30_000 })]);
      hosts.push({ ...spec, interfaces: [{ network: 'lan' }], routes: [{ to: 'dmz', via: 'r1' }] });
    }
    return {
      networks: path.map((name) => ({ name })),
      hosts,
      // this machine opens the site as an office machine does: from lan, through the routers
      publish: { network: 'lan', via: 'r1' },
      culprit,
      value: `${culprit} ${mss}`,
    };
  },

  briefing(view: RunView): string {
    const names = suspectNames(view);
    const bridges = path.map((n) => `${n} ${network(view, n).bridge}`).join(', ');
    return [
      `The office machines (${range(names)}) sit on lan; our intranet webserver sits on dmz. Between them,`,
      'three routers of the provider\'s, which nobody here can log into: r1 joins lan and t1, r2 joins t1',
      'and t2, r3 joins t2 and dmz. Since the provider\'s maintenance, every page loads slowly in the office,',
      `the heavy home page (about ${Math.round(pageBytes / 1e3)} KB) worst. Nothing times out, nothing is lost, the webserver is idle.`,
      `This machine opens the site the office's way, from lan: curl -o /dev/null -w '%{time_total}\\n' http://localhost:${view.port}/`,
      'Something on the way changed how the pages travel. Which router, and what does it do? Answer with',
      'the router and the number it puts there:',
      ...labCommands(view, 'answer', "'r9 1000'").slice(0, -1),
      `The networks, from lan to dmz: ${bridges} (\`ip link show master BRIDGE\` lists each one's veths).`,
    ].join('\n');
  },

  solvedBy: 'answer',
  checkAnswer(value: string, draw: CaseDraw): boolean {
    const got = parseAnswer(value);
    const [router, mss] = (draw.value ?? '').split(' ');
    return !!got && got.router === router && got.mss === Number(mss);
  },

  hints(view: RunView): string[] {
    const br = (n: string): string => network(view, n).bridge;
    const web = addressOn(view, 'webserver', 'dmz') ?? 'WEBSERVER';
    const syn = "'tcp[tcpflags] & tcp-syn != 0'";
    return [
      [
        'Slow, yet nothing is lost: count the packets a page takes, and look at their sizes. The length at the end of each line is the TCP payload of that segment:',
        `  sudo timeout 3 tcpdump -nn -i ${br('lan')} 'tcp src port 3000' | head -20`,
        `A page of ${Math.round(pageBytes / 1e3)} KB in segments of 1448 bytes is some ${Math.round(pageBytes / 1448)} packets; in small segments it is thousands, and every hop does its work for each one.`,
      ].join('\n'),
      [
        'How big a segment may be is agreed in the handshake: each side\'s SYN carries the MSS option (maximum segment size), the most it wants to receive in one segment. -v prints a SYN\'s options: options [mss 1460,sackOK,TS ...,nop,wscale 7]. Catch only the SYNs (and SYN-ACKs):',
        `  sudo timeout 5 tcpdump -nn -v -i ${br('lan')} ${syn}`,
        `  sudo timeout 5 tcpdump -nn -v -i ${br('dmz')} ${syn}`,
        'Flags [S] is the client\'s SYN, [S.] the server\'s SYN-ACK: each carries its own sender\'s MSS. A machine on Ethernet (MTU 1500) offers 1460. Does the webserver get what the office machine sent, and the office what the webserver sent?',
      ].join('\n'),
      [
        'A router may rewrite the MSS of the SYNs it forwards (MSS clamping, iptables TCPMSS): it is meant to lower it to what the next link can carry. Follow one handshake across every hop: capture the SYNs on all four networks at the same time, and compare the mss of the same SYN (Flags [S], same ports, same seq) from one network to the next. The router between the last network where it is unchanged and the first where it is changed is the one that writes it; the SYN-ACK ([S.]) coming back changes at the same router, the other way round.',
      ].join('\n'),
      [
        'The exact commands for this run:',
        `  for n in ${path.map((n) => `${n}:${br(n)}`).join(' ')}; do sudo timeout 5 tcpdump -nn -v -l -i \${n#*:} ${syn} > \${n%%:*}.txt 2>/dev/null & done; wait`,
        `  for n in ${path.join(' ')}; do echo "$n: $(grep 'Flags \\[S\\],' $n.txt | grep -o 'mss [0-9]*' | sort | uniq -c)"; done   # the SYNs' mss on each network`,
        `  sudo timeout 3 tcpdump -nn -i ${br('lan')} 'src host ${web} and tcp src port 3000 and greater 100' | head   # the segments' length`,
        `  ${view.cli} answer 'ROUTER MSS'     # the router just before the first network whose SYNs carry the small mss (r1 before t1, r2 before t2, r3 before dmz), and that number`,
      ].join('\n'),
    ];
  },

  situationalHint(view: RunView, seen: Observations): string | undefined {
    const bridges = path.map((n) => network(view, n).bridge);
    const on = bridges.filter((b) => seen.tcpdumpOn.includes(b));
    if (seen.tcpdumpOn.length === 0) return `No tcpdump is running yet. Four networks lie on the way, lan to dmz: ${bridges.join(', ')}.`;
    if (on.length === 1) return 'You are listening on one network of the path: a packet rewritten on the way shows only when you compare it with the same packet on the next network. Listen on the others too, at the same time.';
    return undefined;
  },

  debrief(view: RunView, _evidence: Evidence): string {
    const [culprit, mss] = (view.draw.value ?? '? ?').split(' ') as [string, string];
    const br = (n: string): string => network(view, n).bridge;
    const at = routers.indexOf(culprit as (typeof routers)[number]);
    const before = path[at]!;
    const after = path[at + 1]!;
    const first = suspectNames(view)[0] ?? 'app1';
    const app = host(view, first);
    const web = addressOn(view, 'webserver', 'dmz') ?? '?';
    const out = host(view, culprit)?.interfaces?.find((i) => i.network === after)?.ifname ?? 'eth1';
    const hops = path
      .map((n, i) => `${n} ${br(n)}` + (i < routers.length ? ` [${routers[i]}${routers[i] === culprit ? `, sets mss ${mss}` : ''}]` : ''))
      .join(' -- ');
    return [
      `${culprit} rewrites the MSS of every SYN it forwards to ${mss}: inside its own namespace,`,
      `  iptables -t mangle -A FORWARD ${mssRule(Number(mss)).args.join(' ')}`,
      'The other routers carry the same rule with --clamp-mss-to-pmtu, which at MTU 1500 everywhere leaves 1460 alone.',
      `An office machine's SYN leaves with mss 1460 and reaches the webserver with mss ${mss}; the webserver's SYN-ACK`,
      `(mss 1460) reaches the office with mss ${mss} too. So both ends send segments of at most ${mss} bytes: the home`,
      `page of ${Math.round(pageBytes / 1e3)} KB takes some ${Math.round(pageBytes / (Number(mss) - 12))} packets instead of ~${Math.round(pageBytes / 1448)}, and each costs every hop (and both ends) its work.`,
      'No link is too small, so no ICMP is sent and nothing is dropped: the black hole\'s trick finds nothing.',
      '',
      `The path: ${first} ${app?.ip ?? '?'} -- ${hops} -- webserver ${web}`,
      '',
      'How to see it:',
      `  1. sudo timeout 5 tcpdump -nn -v -i ${br(before)} 'tcp[tcpflags] & tcp-syn != 0'   # ${before}: Flags [S], mss 1460 in the office's SYNs`,
      `     sudo timeout 5 tcpdump -nn -v -i ${br(after)} 'tcp[tcpflags] & tcp-syn != 0'   # ${after}: the same SYNs (same ports, seq) with mss ${mss}; the SYN-ACKs [S.] the other way`,
      `     ${culprit} sits between ${before} and ${after} (its leg ${out} is on ${after}).`,
      `  2. sudo timeout 3 tcpdump -nn -i ${br('lan')} 'tcp src port 3000 and greater 100'   # length ${Number(mss) - 12}: ${mss} less 12 bytes of timestamps option`,
      `  3. ${view.cli} answer '${culprit} ${mss}'`,
      '',
      'Why it matters: MSS clamping is meant to lower the MSS to what a narrower link (a PPPoE line, a tunnel) can carry,',
      'so that no packet is too big. Set by hand to a tiny number, it makes every connection through the router crawl,',
      'and neither end is told: both just obey the option they read in the other\'s SYN. Only a capture on each hop shows',
      'where the option changes.',
    ].join('\n');
  },
};
