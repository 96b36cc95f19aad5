/**
 * Intermittent burst: one client behaves like everyone else most of the time, and every
 * half a minute or so floods the webserver for a few seconds (a batch job with no rate
 * limit). Too short to catch by watching live: capture to a file (-w, with a duration or a
 * size limit), then read it back (-r) with a filter and find the second when it happened.
 */
import type { CaseDraw, CaseModule, Evidence, HostSpec, Observations, RunView } from './case.js';
import type { Rng } from '../core/random.js';
import { appName, jobsOf, client, getJob, host, labCommands, range, suspectNames, webserver, caseStream, packetsPerSec } from './common.js';

/** How long a burst lasts, and the range of the period between bursts (ms). */
export const burstMs = 4000;
export const periodRange = { min: 30_000, max: 45_000 } as const;

/** How often the culprit's bursts come (ms), from its configuration (for the hints and the debrief). */
export function periodOf(draw: CaseDraw): number {
  return jobsOf(draw, draw.culprit).find((j) => j.kind === 'burst')?.periodMs ?? periodRange.max;
}

export const intermittentBurst: CaseModule = {
  id: 'intermittent-burst',
  title: 'The intermittent burst',
  difficulty: 'hard',
  skills: ['writing a capture file: -w with -G/-W or -C', 'reading it back: -r with a filter', 'timestamps: -tttt, and finding the second it happened'],
  summary: 'Every half a minute the site stalls for a few seconds, then all is quiet again. Too short to catch live: record, then read.',
  symptom: 'Every half minute or so the site stalls for a few seconds, then is fine again.',
  backends: ['netns', 'docker'],
  suspects: { min: 3, max: 8, default: 5 },
  quietWindowMs: 2000,

  draw(seedRng: Rng, suspects: number): CaseDraw {
    const rng = caseStream(seedRng, 6);
    const culpritAt = rng.int(suspects);
    const periodMs = periodRange.min + rng.int(periodRange.max - periodRange.min);
    // never in the first 15 s: a learner (or a test starting three labs) who listens at once does not meet it
    const firstMs = 15_000 + rng.int(periodMs - 15_000);
    const hosts: HostSpec[] = [webserver()];
    for (let i = 0; i < suspects; i++) {
      const name = appName(i + 1);
      if (i === culpritAt) {
        // between bursts it is the quietest host: counting packets live accuses someone else
        hosts.push(client(name, [getJob(500), { kind: 'burst', loops: 120, sleepMs: 250, burstMs, periodMs, firstMs }]));
      } else {
        hosts.push(client(name, [getJob(200 + rng.int(250))]));
      }
    }
    return { hosts, culprit: appName(culpritAt + 1) };
  },

  briefing(view: RunView): string {
    const names = suspectNames(view);
    return [
      `Every now and then our webserver at http://localhost:${view.port} stalls for a few seconds; then it is`,
      `fast again. \`${view.cli} status\` shows the spikes in its history. ${names.length} app servers (${range(names)})`,
      'use it. Each time someone starts tcpdump to look, the stall is over. Find the host behind the',
      'stalls, and stop it:',
      ...labCommands(view, 'arrest'),
    ].join('\n');
  },

  solvedBy: 'arrest',

  hints(view: RunView): string[] {
    const culprit = host(view, view.draw.culprit);
    return [
      'Watching live, you will be looking at the wrong seconds. Record the traffic to a file for a minute or two, then read the file back as often as you like: `tcpdump -w FILE` writes, `tcpdump -r FILE` reads.',
      [
        'Keep the file small: capture only the SYNs (one per new connection), and let tcpdump stop by itself after a time (-G seconds with -W 1) or rotate by size (-C MB with -W files):',
        '  dir=$(mktemp -d)     # a folder of your own: a fixed name in /tmp could be a planted link',
        `  sudo tcpdump -nn -i ${view.bridge} -w "$dir/stalls.pcap" -Z root -G 70 -W 1 'tcp dst port 3000 and tcp[tcpflags] & tcp-syn != 0'`,
        '(-Z root: tcpdump otherwise writes as its own user, who cannot write in your folder)',
      ].join('\n'),
      [
        'Read it back, with timestamps as seconds, and count the new connections in each second:',
        '  tcpdump -nn -tt -r "$dir/stalls.pcap" | cut -d. -f1 | uniq -c | sort -n | tail -3',
        'Then read only the busiest second and see who opened them:',
        `  tcpdump -nn -tt -r "$dir/stalls.pcap" | grep '^SECOND' | awk '{print $3}' | cut -d. -f1-4 | sort | uniq -c`,
      ].join('\n'),
      [
        'The exact commands for this run:',
        '  dir=$(mktemp -d)',
        `  sudo tcpdump -nn -i ${view.bridge} -w "$dir/stalls.pcap" -Z root -G ${Math.ceil(periodOf(view.draw) / 1000) + 10} -W 1 'tcp dst port 3000 and tcp[tcpflags] & tcp-syn != 0'`,
        `  tcpdump -nn -tt -r "$dir/stalls.pcap" 'src host ${culprit?.ip ?? 'IP'}' | cut -d. -f1 | uniq -c   # hundreds in the same few seconds`,
        `  ${view.cli} stop ${view.draw.culprit}`,
      ].join('\n'),
    ];
  },

  situationalHint(view: RunView, seen: Observations): string | undefined {
    if (seen.wrongArrests.length) {
      return `You arrested ${seen.wrongArrests.join(', ')}: between stalls every host looks alike. Bring ${seen.wrongArrests.length > 1 ? 'them' : 'it'} back (\`${view.cli} restart HOST\`) and record a whole minute with -w.`;
    }
    if (seen.tcpdumpOn.length > 0) return 'Are you writing to a file (-w)? Leave it running for a minute or more: the stall comes back.';
    if (seen.tcpdumpOn.length === 0) return `No tcpdump is running yet. Record ${view.bridge} to a file with -w for a minute or two.`;
    return undefined;
  },

  debrief(view: RunView, evidence: Evidence): string {
    const culprit = host(view, view.draw.culprit)!;
    const rows = suspectNames(view)
      .map((n) => ({ n, p: packetsPerSec(evidence, n) }))
      .sort((a, b) => b.p - a.p)
      .map((r) => `  ${r.n.padEnd(8)} ${String(r.p).padStart(5)} packets/s${r.n === culprit.name ? '   <- the culprit' : ''}`);
    return [
      `The culprit was ${culprit.name} (${culprit.ip}): every ${(periodOf(view.draw) / 1000).toFixed(1)} s it opened about 120 connections at once`,
      `for ${burstMs / 1000} s, a batch job with no rate limit; in between it was as quiet as anyone.`,
      '',
      'Packets a second on each veth, averaged since the start: the bursts hardly show in an average.',
      ...rows,
      '',
      'How to see it:',
      '  0. dir=$(mktemp -d)',
      `  1. sudo tcpdump -nn -i ${view.bridge} -w "$dir/stalls.pcap" -Z root -G 70 -W 1 'tcp dst port 3000 and tcp[tcpflags] & tcp-syn != 0'`,
      '  2. tcpdump -nn -tt -r "$dir/stalls.pcap" | cut -d. -f1 | uniq -c | sort -n | tail -3     # the busy seconds',
      `  3. tcpdump -nn -tt -r "$dir/stalls.pcap" | grep '^SECOND' | awk '{print $3}' | cut -d. -f1-4 | sort | uniq -c   # ${culprit.ip}`,
      `  4. ${view.cli} stop ${culprit.name}`,
      '',
      'Why it works: a capture file keeps every packet with its timestamp, so the few seconds that',
      'matter can be found afterwards. -G N -W 1 stops after N seconds; -C MB -W K keeps a ring of K files.',
      'A capture filter (SYNs only) keeps the file small; a read filter (-r FILE EXPR) picks out one host.',
    ].join('\n');
  },
};
