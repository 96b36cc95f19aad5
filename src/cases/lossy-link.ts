/**
 * Lossy link: one host's cable drops a share of what is sent to it (tc netem loss on its
 * veth). Its traffic looks like everyone's in volume; what gives it away is the
 * retransmissions: the same sequence numbers sent twice to it, and its repeated SYNs.
 * Answered with the host's name.
 */
import type { CaseDraw, CaseModule, Evidence, HostSpec, Observations, RunView } from './case.js';
import type { Rng } from '../core/random.js';
import { appName, client, getJob, host, labCommands, range, suspectNames, webserver, whereToListen, caseStream, packetsPerSec } from './common.js';

export const lossyLink: CaseModule = {
  id: 'lossy-link',
  title: 'The lossy link',
  difficulty: 'medium',
  skills: ['absolute sequence numbers: -S', 'spotting retransmissions and repeated SYNs', 'verbose output: -v'],
  summary: "One app server's requests now and then take a second or more. Its link loses packets: find which host has the bad cable.",
  symptom: 'One host\'s users say the site is slow and flaky; for everyone else it is fine. Which host is it? (answer with its name)',
  backends: ['netns'],
  suspects: { min: 3, max: 8, default: 5 },

  draw(seedRng: Rng, suspects: number): CaseDraw {
    const rng = caseStream(seedRng, 4);
    const culpritAt = rng.int(suspects);
    const hosts: HostSpec[] = [webserver()];
    // one busy client, the others anything between; the lossy host's gap is at the slow end
    // (its retransmissions add packets), so that counting packets never points at it
    const gaps = rng.shuffle([150 + rng.int(50), ...Array.from({ length: Math.max(0, suspects - 2) }, () => 250 + rng.int(250))]);
    let k = 0;
    for (let i = 0; i < suspects; i++) {
      const name = appName(i + 1);
      const spec = client(name, [getJob(i === culpritAt ? 450 + rng.int(100) : gaps[k++]!)]);
      // every host's namespace gets the same kind of rule: the innocents' lose a few packets in a
      // hundred million (never, in a run), so reading the hosts' firewalls tells nothing at a glance
      spec.link = { lossPercent: i === culpritAt ? 10 + rng.int(6) : (1 + rng.int(9)) / 1e6 };
      hosts.push(spec);
    }
    const culprit = appName(culpritAt + 1);
    return { hosts, culprit, value: culprit };
  },

  briefing(view: RunView): string {
    const names = suspectNames(view);
    return [
      `The webserver at http://localhost:${view.port} is fast for us. But one of its ${names.length} clients`,
      `(${range(names)}) reports requests that now and then hang for a second or more, and the network`,
      'team says the usual thing: "the network is fine". It is not: one host\'s cable loses packets.',
      'Find which host has the bad link with tcpdump, and name it:',
      ...labCommands(view, 'answer', "app9"),
    ].join('\n');
  },

  solvedBy: 'answer',
  checkAnswer(value: string, draw: CaseDraw): boolean {
    return value.trim().toLowerCase() === draw.culprit;
  },

  hints(view: RunView): string[] {
    const culprit = host(view, view.draw.culprit);
    const web = host(view, 'webserver');
    return [
      'A lost packet is not seen again... except that TCP sends it again. A retransmission is a segment with the same sequence numbers as one already sent; a lost SYN-ACK makes the client send its SYN again.',
      [
        whereToListen(view),
        'tcpdump shows relative sequence numbers per connection; -S shows the absolute ones, which makes repeats easy to spot:',
        `  sudo timeout 8 tcpdump -nn -S -i ${view.bridge} 'tcp port 3000'`,
        'Look for two lines with the same source, destination and "seq A:B" (or two SYNs from the same port).',
      ].join('\n'),
      [
        'Let the machine find the repeats: print each segment without its timestamp, and count duplicates:',
        `  sudo timeout 8 tcpdump -nn -S -t -i ${view.bridge} 'tcp port 3000 and (tcp[tcpflags] & (tcp-syn|tcp-fin) != 0 or len > 66)' | sed -E 's/, (ack|win) .*//' | sort | uniq -d`,
        'The address that keeps appearing in the repeats, as sender or receiver, is on the bad link.',
      ].join('\n'),
      [
        'The exact commands for this run:',
        `  sudo timeout 8 tcpdump -nn -S -t -i ${view.bridge} 'tcp port 3000 and (tcp[tcpflags] & (tcp-syn|tcp-fin) != 0 or len > 66)' | sed -E 's/, (ack|win) .*//' | sort | uniq -d`,
        `  # repeats to or from ${culprit?.ip ?? 'IP'} (with ${web?.ip ?? 'the webserver'})`,
        `  ${view.cli} answer ${view.draw.culprit}`,
      ].join('\n'),
    ];
  },

  situationalHint(view: RunView, seen: Observations): string | undefined {
    if (seen.tcpdumpOn.length === 0) return `No tcpdump is running yet. Listen on ${view.bridge} with -S and look for sequence numbers that come twice.`;
    return undefined;
  },

  debrief(view: RunView, evidence: Evidence): string {
    const culprit = host(view, view.draw.culprit)!;
    const loss = view.draw.hosts.find((h) => h.name === culprit.name)?.link?.lossPercent;
    const rows = suspectNames(view).map((n) => `  ${n.padEnd(8)} ${String(packetsPerSec(evidence, n)).padStart(5)} packets/s${n === culprit.name ? '   <- the lossy link' : ''}`);
    return [
      `The bad link was ${culprit.name}'s (${culprit.ip}, veth ${culprit.veth ?? '?'}): it lost ${loss ?? '?'}% of the packets sent to it.`,
      '(Made with a DROP rule inside its namespace that a BPF program matches at random; every host had one,',
      "the innocents' matching a few packets in a hundred million: reading the rules needs decoding the BPF.)",
      '',
      'Packets a second on each veth since the start: no host stood out by volume.',
      ...rows,
      '',
      'How to see it:',
      `  1. sudo timeout 8 tcpdump -nn -S -t -i ${view.bridge} 'tcp port 3000 and (tcp[tcpflags] & (tcp-syn|tcp-fin) != 0 or len > 66)' | sed -E 's/, (ack|win) .*//' | sort | uniq -d`,
      `     every repeat involves ${culprit.ip}: the webserver sending a page again, or ${culprit.name} repeating a SYN`,
      `  2. ${view.cli} answer ${culprit.name}`,
      '',
      'Why it works: TCP hides loss by sending again what was not acknowledged, after a timeout (200 ms',
      'at least; a lost SYN or SYN-ACK costs a full second). The repeats carry the same sequence',
      'numbers; -S makes them absolute, so two copies print the same. That second is the hang users feel.',
    ].join('\n');
  },
};
