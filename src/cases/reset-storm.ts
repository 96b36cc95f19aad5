/**
 * Reset storm: a health check deployed with the wrong port knocks on a closed port of the
 * webserver many times a second, and the webserver's kernel answers every SYN with a RST.
 * The culprit is not the loudest host; the resets (tcp[tcpflags] & tcp-rst) find it.
 */
import type { CaseDraw, CaseModule, Evidence, HostSpec, Observations, RunView } from './case.js';
import type { Rng } from '../core/random.js';
import type { ClientJob } from '../services/client.js';
import { appName, client, getJob, host, inHostNet, jobsOf, labCommands, range, suspectNames, webserver, whereToListen, caseStream, packetsPerSec } from './common.js';

/** Ports a mistyped health check might aim at: never the site's 3000. */
export const badPorts = [3001, 3030, 3300, 4000, 5000, 8000, 8080, 8081, 8443, 8888, 9000, 9090] as const;
/** The local sidecar every host's agent knocks on, on 127.0.0.1, that is not up. */
export const sidecarPort = 9901;
/** Addresses of the LAN's /24 that no host has (hosts are .1 .. .10): servers switched off long ago. */
const deadOctets = Array.from({ length: 140 }, (_, i) => 100 + i);
/** Innocents' everyday GET gaps (ms): the first is always louder than the culprit. */
const innocentGaps = [160, 220, 300, 450, 650, 900] as const;

/** The webserver port the culprit's broken check knocks on, from its configuration (for the hints and the debrief). */
export function deadPortOf(draw: CaseDraw): number | undefined {
  return jobsOf(draw, draw.culprit).find((j) => j.kind === 'connect' && !j.address && j.octet === undefined)?.port;
}

export const resetStorm: CaseModule = {
  id: 'reset-storm',
  title: 'The reset storm',
  difficulty: 'easy',
  skills: ['filtering on TCP flags: tcp[tcpflags] & tcp-rst != 0', 'reading the ports of a refused connection', 'mapping an IP to its host'],
  summary: "The webserver's kernel sends resets all day long. Someone knocks on a closed port: find who, and stop it.",
  symptom: 'The webserver\'s kernel sends TCP resets all day long, yet the site loads fine for whoever asks for it.',
  backends: ['netns', 'docker'],
  suspects: { min: 3, max: 8, default: 5 },
  quietWindowMs: 2000,

  draw(seedRng: Rng, suspects: number): CaseDraw {
    const rng = caseStream(seedRng, 1);
    const culpritAt = rng.int(suspects);
    const port = rng.pick(badPorts);
    // the loudest innocent always sends more packets than the culprit does
    const pool = rng.shuffle(innocentGaps.slice(1));
    const ordered = rng.shuffle([innocentGaps[0], ...Array.from({ length: suspects - 2 }, (_, i) => pool[i % pool.length]!)]);
    const hosts: HostSpec[] = [webserver()];
    // the innocents' local knocks a second
    const local = Array.from({ length: suspects - 1 }, () => 6 + rng.int(10));
    // the broken check: 5 to 8 attempts a second (two packets each), so that the culprit stays
    // well below the loudest innocent even when the innocents' request loops are slowed
    // (three labs at once on two cores)
    const remote = 5 + rng.int(4);
    // about half the innocents' agents also try a server switched off long ago: no ARP
    // answer, so each attempt fails with "no route to host" and nothing leaves but ARP. Their
    // TcpAttemptFails outrun their TcpOutRsts as the culprit's do (its refusals come from the
    // webserver), the first of them by exactly the culprit's rate: its twin in every counter
    const decoys = rng.shuffle(Array.from({ length: suspects - 1 }, (_, i) => i)).slice(0, Math.max(1, Math.floor((suspects - 1) / 2)));
    const dead = new Map(decoys.map((k, j) => [k, { perSec: j === 0 ? remote : Math.max(3, remote + rng.pick([-2, -1, 1, 2])), octet: deadOctets[rng.int(deadOctets.length)]! }]));
    const twin = decoys[0]!;
    let k = 0;
    for (let i = 0; i < suspects; i++) {
      const name = appName(i + 1);
      // every host's agent also knocks on a local sidecar (127.0.0.1) that is not up: its own
      // kernel refuses it on lo, which no veth carries, so every host's TcpAttemptFails (and
      // TcpOutRsts) climb alike
      if (i === culpritAt) {
        // its everyday work, the broken check, and as many local knocks as its twin makes
        hosts.push(client(name, [getJob(700), { kind: 'connect', port, perSec: remote }, { kind: 'connect', address: '127.0.0.1', port: sidecarPort, perSec: local[twin]! }]));
      } else {
        const jobs: ClientJob[] = [getJob(ordered[k % ordered.length]!), { kind: 'connect', address: '127.0.0.1', port: sidecarPort, perSec: local[k]! }];
        const d = dead.get(k);
        if (d) jobs.push({ kind: 'connect', octet: d.octet, port: 5432, perSec: d.perSec });
        hosts.push(client(name, jobs));
        k++;
      }
    }
    return { hosts, culprit: appName(culpritAt + 1) };
  },

  briefing(view: RunView): string {
    const names = suspectNames(view);
    return [
      `The webserver at http://localhost:${view.port} works, but its monitoring is red: the kernel counter of`,
      'resets it sends (TcpOutRsts) climbs by hundreds a minute, and security calls it "a port scan from inside".',
      `${names.length} app servers (${range(names)}) talk to it. One of them was given a broken health check`,
      'last week. Find it with tcpdump, and stop it:',
      ...labCommands(view, 'arrest'),
      `See the counter yourself: ${inHostNet(view, 'webserver', 'nstat -az TcpOutRsts')}`,
    ].join('\n');
  },

  solvedBy: 'arrest',

  hints(view: RunView): string[] {
    const culprit = host(view, view.draw.culprit);
    const web = host(view, 'webserver');
    return [
      'Counting packets will not do here: the culprit is not the loudest host. A reset is a TCP segment with the RST flag set, and tcpdump can filter on flags: `tcp[tcpflags] & tcp-rst != 0`.',
      [
        whereToListen(view),
        `  sudo timeout 5 tcpdump -nn -i ${view.bridge} 'tcp[tcpflags] & tcp-rst != 0'`,
        'Each line is "IP SRC.PORT > DST.PORT: Flags [R.]": the webserver resets a connection attempt. Which port does it refuse, and to which address does it send the resets?',
      ].join('\n'),
      [
        `A RST with flags [R.] answers a SYN to a port where nothing listens. The destination of the resets is the culprit's IP; \`${view.cli} ps\` maps an IP to its host.`,
        `Check it from the other side: sudo timeout 5 tcpdump -nn -i ${view.bridge} 'tcp[tcpflags] & tcp-syn != 0 and not dst port 3000'`,
      ].join('\n'),
      [
        'The exact commands for this run:',
        `  sudo timeout 5 tcpdump -nn -i ${view.bridge} 'tcp[tcpflags] & tcp-rst != 0'   # ${web?.ip ?? 'webserver'}.${deadPortOf(view.draw)} > ${culprit?.ip ?? 'IP'}.NNNNN: Flags [R.]`,
        `  ${view.cli} ps | grep ${culprit?.ip ?? 'IP'}                          # ${view.draw.culprit}`,
        `  ${view.cli} stop ${view.draw.culprit}`,
      ].join('\n'),
    ];
  },

  situationalHint(view: RunView, seen: Observations): string | undefined {
    if (seen.wrongArrests.length) {
      return `You arrested ${seen.wrongArrests.join(', ')}: a loud host is not a broken one. Bring ${seen.wrongArrests.length > 1 ? 'them' : 'it'} back with \`${view.cli} restart HOST\`, and filter on the RST flag instead of counting.`;
    }
    if (seen.tcpdumpOn.length === 0) return `No tcpdump is running yet. Listen on the bridge ${view.bridge}, with a filter on TCP flags.`;
    return undefined;
  },

  debrief(view: RunView, evidence: Evidence): string {
    const culprit = host(view, view.draw.culprit)!;
    const web = host(view, 'webserver');
    const rates = suspectNames(view)
      .map((n) => ({ n, rate: packetsPerSec(evidence, n) }))
      .sort((a, b) => b.rate - a.rate);
    return [
      `The culprit was ${culprit.name} (${culprit.ip}): its health check knocked on port ${deadPortOf(view.draw)} of the webserver, where nothing listens.`,
      '',
      'Packets a second on each host\'s veth since the start: the culprit was not the loudest.',
      ...rates.map((r) => `  ${r.n.padEnd(8)} ${String(r.rate).padStart(5)}/s${r.n === culprit.name ? '   <- the culprit' : ''}`),
      '',
      'How to see it:',
      `  1. sudo timeout 5 tcpdump -nn -i ${view.bridge} 'tcp[tcpflags] & tcp-rst != 0'`,
      `     IP ${web?.ip}.${deadPortOf(view.draw)} > ${culprit.ip}.NNNNN: Flags [R.], seq 0, ack 1, win 0, length 0`,
      `  2. ${view.cli} ps | grep ${culprit.ip}   # ${culprit.name}`,
      `  3. ${view.cli} stop ${culprit.name}`,
      '',
      'Why it works: a SYN to a closed port is answered by the kernel with RST+ACK. tcp[tcpflags] is',
      'the 14th byte of the TCP header; & tcp-rst keeps the segments whose RST bit is set. A storm of them',
      'from one server port to one client is a client aiming at the wrong port, not a flood.',
    ].join('\n');
  },
};
