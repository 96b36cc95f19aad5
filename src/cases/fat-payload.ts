/**
 * Fat payload: one client uploads a huge body every couple of seconds, and the webserver's
 * only worker chews on each for over a second while everyone else waits. The culprit sends
 * *fewer* packets than the busy innocents: counting packets accuses the wrong host, counting
 * bytes (lengths, `greater`) finds it.
 */
import type { CaseDraw, CaseModule, Evidence, HostSpec, Observations, RunView } from './case.js';
import type { Rng } from '../core/random.js';
import { appName, client, getJob, host, jobsOf, labCommands, range, suspectNames, webserver, whereToListen, caseStream, packetsPerSec, kbPerSec } from './common.js';

/** The webserver parses what it is sent: 1 ms of its one worker per KB of body. */
export const bodyMsPerKB = 1;
const innocentGaps = [110, 150, 200, 300, 450] as const;

export const fatPayload: CaseModule = {
  id: 'fat-payload',
  title: 'The fat payload',
  difficulty: 'medium',
  skills: ['bytes, not packets: the length field', 'filtering on size: greater / less', 'verbose headers: -v'],
  summary: 'The site stalls, yet no host floods it. Someone sends few requests with huge bodies: weigh the traffic, do not count it.',
  symptom: 'The site stalls every second or two, yet nobody seems to send it many packets.',
  backends: ['netns', 'docker'],
  suspects: { min: 3, max: 8, default: 5 },
  quietWindowMs: 3000,

  draw(seedRng: Rng, suspects: number): CaseDraw {
    const rng = caseStream(seedRng, 3);
    const culpritAt = rng.int(suspects);
    const bytes = (1100 + rng.int(500)) * 1024;
    const pool = rng.shuffle(innocentGaps.slice(2));
    // the two busiest innocents always send more packets than the culprit does
    const gaps = rng.shuffle([innocentGaps[0], innocentGaps[1], ...Array.from({ length: Math.max(0, suspects - 3) }, (_, i) => pool[i % pool.length]!)]);
    const hosts: HostSpec[] = [webserver({ bodyMsPerKB })];
    let k = 0;
    for (let i = 0; i < suspects; i++) {
      const name = appName(i + 1);
      if (i === culpritAt) {
        hosts.push(client(name, [getJob(1500), { kind: 'post', loops: 1, sleepMs: 800 + rng.int(400), bytes, path: '/api/import', headers: { 'content-type': 'application/json' } }]));
      } else {
        // the busiest run several requests at once: a queue at the webserver slows each loop down
        const gap = gaps[k++ % gaps.length]!;
        hosts.push(client(name, [getJob(gap, gap === innocentGaps[0] ? 6 : gap === innocentGaps[1] ? 4 : 1)]));
      }
    }
    return { hosts, culprit: appName(culpritAt + 1) };
  },

  briefing(view: RunView): string {
    const names = suspectNames(view);
    return [
      `Our webserver at http://localhost:${view.port} stalls: pages take a second or more, then it is`,
      `fine, then it stalls again. ${names.length} app servers (${range(names)}) use it. The on-call engineer`,
      'counted packets on every veth and arrested the loudest host; it was innocent, and the site stayed slow.',
      'Find the real culprit with tcpdump, and stop it:',
      ...labCommands(view, 'arrest'),
    ].join('\n');
  },

  solvedBy: 'arrest',

  hints(view: RunView): string[] {
    const culprit = host(view, view.draw.culprit);
    return [
      'A webserver can be kept busy by a few big requests as well as by many small ones. Packets are not all the same size: look at how many *bytes* each host sends, not how many packets.',
      [
        whereToListen(view),
        `  sudo timeout 5 tcpdump -nn -q -i ${view.bridge} 'tcp dst port 3000'`,
        'The number at the end of each line is the payload length. Most requests are a hundred bytes or so; are some far bigger?',
      ].join('\n'),
      [
        'Filter on size: `greater N` keeps packets of at least N bytes on the wire. Big packets, by source address:',
        `  sudo timeout 5 tcpdump -nn -q -i ${view.bridge} 'tcp dst port 3000 and greater 1000' | awk '{print $3}' | cut -d. -f1-4 | sort | uniq -c`,
        '(-v shows each IP header\'s total length too.) Then map the address to its host with `mystery ps`.',
      ].join('\n'),
      [
        'The exact commands for this run:',
        `  sudo timeout 5 tcpdump -nn -q -i ${view.bridge} 'tcp dst port 3000 and greater 1000'   # from ${culprit?.ip ?? 'IP'}`,
        `  ${view.cli} ps | grep ${culprit?.ip ?? 'IP'}      # ${view.draw.culprit}`,
        `  ${view.cli} stop ${view.draw.culprit}`,
      ].join('\n'),
    ];
  },

  situationalHint(view: RunView, seen: Observations): string | undefined {
    if (seen.wrongArrests.length) {
      return `You arrested ${seen.wrongArrests.join(', ')}, and the site stayed slow. Bring ${seen.wrongArrests.length > 1 ? 'them' : 'it'} back (\`${view.cli} restart HOST\`). The most packets is not the most work: look at the lengths.`;
    }
    if (seen.tcpdumpOn.length === 0) return `No tcpdump is running yet. Listen on ${view.bridge} and read the length of each packet.`;
    return undefined;
  },

  debrief(view: RunView, evidence: Evidence): string {
    const culprit = host(view, view.draw.culprit)!;
    const rows = suspectNames(view)
      .map((n) => ({ n, p: packetsPerSec(evidence, n), b: kbPerSec(evidence, n) }))
      .sort((a, b) => b.p - a.p);
    return [
      `The culprit was ${culprit.name} (${culprit.ip}): it POSTed ${Math.round((jobsOf(view.draw, culprit.name).find((j) => j.kind === 'post')?.bytes ?? 0) / 1024)} KB to /api/import every`,
      `second or two, and the webserver's only worker spent ${bodyMsPerKB} ms on each KB while every page waited.`,
      '',
      'Each host since the start (its veth, both directions): packets a second, and KB a second',
      ...rows.map((r) => `  ${r.n.padEnd(8)} ${String(r.p).padStart(5)} packets/s ${String(r.b).padStart(7)} KB/s${r.n === culprit.name ? '   <- the culprit' : ''}`),
      '',
      'How to see it:',
      `  1. sudo timeout 5 tcpdump -nn -q -i ${view.bridge} 'tcp dst port 3000 and greater 1000'`,
      `     IP ${culprit.ip}.NNNNN > WEBSERVER.3000: tcp 65160   (huge segments, all from one address)`,
      `  2. ${view.cli} ps | grep ${culprit.ip}   # ${culprit.name}`,
      `  3. ${view.cli} stop ${culprit.name}`,
      '',
      "Why it works: tcpdump's length is the payload in bytes. On a veth, the kernel hands over segments",
      'of up to 64 KB at once (GSO), so a megabyte is a few dozen packets, while a page request is five.',
      '`greater N` (or `len > N`) filters on the packet length; the few big ones carry almost all the bytes.',
    ].join('\n');
  },
};
