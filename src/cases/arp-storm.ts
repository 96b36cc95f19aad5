/**
 * ARP storm: a monitoring agent with a stale inventory polls, over SNMP, dozens of servers
 * that were switched off long ago. None answers ARP, so its kernel keeps asking "who-has"
 * in broadcasts that the bridge floods to every host: every veth is as loud as the next,
 * and an IP filter sees nothing (the polls never leave: they wait for an ARP reply). Only
 * link-level capture (`arp`, `broadcast`, -e) shows who asks.
 */
import type { CaseDraw, CaseModule, Evidence, HostSpec, Observations, RunView } from './case.js';
import type { Rng } from '../core/random.js';
import type { ClientJob } from '../services/client.js';
import { appName, caseStream, client, getJob, jobsOf, host, labCommands, range, suspectNames, webserver, packetsPerSec } from './common.js';

/** How many dead addresses the culprit polls, and how many polls a second. */
export const deadServers = 32;
export const pollsPerSec = 32;
/**
 * The neighbour settings of some innocents: 10 s between ARP tries instead of 1 s, per
 * network namespace (the machine's own are untouched), so that a dead entry stays
 * INCOMPLETE for 30 s (3 tries) on as few broadcasts.
 */
export const slowArpSysctls: Record<string, string> = { 'net.ipv4.neigh.eth0.retrans_time_ms': '10000' };

export const arpStorm: CaseModule = {
  id: 'arp-storm',
  title: 'The ARP storm',
  difficulty: 'medium',
  skills: ['link-level capture: arp, broadcast, ether host', 'link-level headers: -e (MAC addresses)', 'why an IP filter misses it'],
  summary: 'Every host sees a storm of broadcasts asking for addresses nobody has. Find the host that asks, and stop it.',
  symptom: 'Every host on the network receives a steady stream of frames that are not for it, and the network feels slow.',
  backends: ['netns', 'docker'],
  suspects: { min: 3, max: 8, default: 5 },
  quietWindowMs: 2000,

  draw(seedRng: Rng, suspects: number): CaseDraw {
    const rng = caseStream(seedRng, 7);
    const culpritAt = rng.int(suspects);
    // the dead servers: addresses of the lab's /24 that no host has (hosts are .1 .. .10)
    const pool = Array.from({ length: 140 }, (_, i) => 100 + i);
    const octets = rng.shuffle(pool).slice(0, deadServers).sort((a, b) => a - b);
    const hosts: HostSpec[] = [webserver()];
    // the site's users: one busy, the others anything between, the monitoring agent's host
    // at the slow end, so that counting port 3000 packets never points at it
    const gaps = rng.shuffle([150 + rng.int(100), ...Array.from({ length: Math.max(0, suspects - 2) }, () => 250 + rng.int(400))]);
    const innocents = Array.from({ length: suspects }, (_, i) => i).filter((i) => i !== culpritAt);
    const slowArp = new Set(rng.shuffle(innocents).slice(0, Math.max(1, Math.floor(innocents.length / 2))));
    let k = 0;
    for (let i = 0; i < suspects; i++) {
      const name = appName(i + 1);
      // everyone polls the webserver's SNMP agent now and then, and uses the site
      const jobs: ClientJob[] = [getJob(i === culpritAt ? 600 + rng.int(100) : gaps[k++]!), { kind: 'sweep', perSec: 1 + rng.int(3), port: 161 }];
      if (i === culpritAt) jobs.push({ kind: 'sweep', perSec: pollsPerSec, port: 161, octets });
      // every other agent's inventory is stale too, but it polls it at one address a second
      // (two where its kernel retries slowly, below): it asks ARP three times a second, six
      // at most, a tenth of the culprit's storm
      else jobs.push({ kind: 'sweep', perSec: slowArp.has(i) ? 2 : 1, port: 161, octets: rng.shuffle(pool).slice(0, deadServers).sort((a, b) => a - b) });
      const spec = client(name, jobs);
      // about half the innocents' kernels wait 10 s between ARP tries (the culprit's and the
      // rest's 1 s): each dead entry stays INCOMPLETE for 30 s, so within 16 s their tables
      // hold as many INCOMPLETE neighbours as the culprit's, for a few broadcasts a second;
      // and the setting sets them apart from the culprit, not it from everyone
      if (slowArp.has(i)) spec.sysctls = { ...slowArpSysctls };
      hosts.push(spec);
    }
    return { hosts, culprit: appName(culpritAt + 1) };
  },

  briefing(view: RunView): string {
    const names = suspectNames(view);
    return [
      `The network team sees a storm of broadcasts on our lab network: every host, the webserver at`,
      `http://localhost:${view.port} included, receives dozens a second. ${names.length} app servers (${range(names)}) live here;`,
      'one of them is to blame. Counting packets per veth shows every host equally loud. Find the host',
      'behind the storm with tcpdump, and stop it:',
      ...labCommands(view, 'arrest'),
    ].join('\n');
  },

  solvedBy: 'arrest',

  hints(view: RunView): string[] {
    const culprit = host(view, view.draw.culprit);
    return [
      'A broadcast goes to every port of the bridge, so every veth carries it: that is why they are all loud. Broadcasts are link-level frames, and not all of them are IP: tcpdump filters `ip`, `tcp` or `udp` never show ARP.',
      [
        `Listen on the bridge ${view.bridge} for broadcasts, with their link-level headers (-e shows the MAC addresses):`,
        `  sudo timeout 5 tcpdump -e -nn -i ${view.bridge} broadcast`,
        'What kind of frames are they? "ARP, Request who-has A tell B" means B is looking for the MAC address of A.',
      ].join('\n'),
      [
        'Count who asks:',
        `  sudo timeout 5 tcpdump -nn -i ${view.bridge} arp | grep -o 'tell [0-9.]*' | sort | uniq -c`,
        `Check it at the link level: the source MAC (the first address -e prints) is the asker's; inside a host, \`${view.cli} exec HOST cat /sys/class/net/eth0/address\` prints its MAC.`,
      ].join('\n'),
      [
        'The exact commands for this run:',
        `  sudo timeout 5 tcpdump -e -nn -i ${view.bridge} arp | grep -o 'tell [0-9.]*' | sort | uniq -c   # tell ${culprit?.ip ?? 'IP'}`,
        `  ${view.cli} ps | grep ${culprit?.ip ?? 'IP'}          # ${view.draw.culprit}`,
        `  ${view.cli} stop ${view.draw.culprit}`,
      ].join('\n'),
    ];
  },

  situationalHint(view: RunView, seen: Observations): string | undefined {
    if (seen.wrongArrests.length) {
      return `You arrested ${seen.wrongArrests.join(', ')}, and the storm goes on. Bring ${seen.wrongArrests.length > 1 ? 'them' : 'it'} back (\`${view.cli} restart HOST\`). Every veth carries a broadcast: look at who sends it, with -e.`;
    }
    if (seen.tcpdumpOn.length === 0) return `No tcpdump is running yet. Listen on ${view.bridge} for broadcasts.`;
    return undefined;
  },

  debrief(view: RunView, evidence: Evidence): string {
    const culprit = host(view, view.draw.culprit)!;
    const octets = jobsOf(view.draw, culprit.name).find((j) => j.octets)?.octets ?? [];
    const prefix = culprit.ip.split('.').slice(0, 3).join('.');
    const rows = view.hosts
      .map((h) => `  ${h.name.padEnd(10)} ${String(packetsPerSec(evidence, h.name)).padStart(5)} packets/s${h.name === culprit.name ? '   <- the culprit' : ''}`)
      .sort();
    return [
      `The culprit was ${culprit.name} (${culprit.ip}): its monitoring agent polled SNMP (UDP 161) on ${octets.length} servers`,
      `that no longer exist (${prefix}.${octets[0] ?? '?'} .. ${prefix}.${octets[octets.length - 1] ?? '?'}). Its kernel asked for each one's MAC`,
      'address, over and over, in broadcasts the bridge copied to every host.',
      '',
      'Packets a second on each veth since the start: the broadcasts made them all alike.',
      ...rows,
      '',
      'How to see it:',
      `  1. sudo timeout 5 tcpdump -e -nn -i ${view.bridge} broadcast        # ARP, Request who-has ${prefix}.${octets[0] ?? 'N'} tell ${culprit.ip}`,
      `  2. sudo timeout 5 tcpdump -nn -i ${view.bridge} arp | grep -o 'tell [0-9.]*' | sort | uniq -c`,
      `  3. ${view.cli} stop ${culprit.name}`,
      '',
      'Why it works: before a host sends an IP packet on a LAN it needs the MAC address of the next hop,',
      'and asks with an ARP broadcast. Nobody answers for a dead address, so it asks again. ARP is not IP:',
      "`udp port 161` shows no poll of the dead servers at all (they wait, unsent, for an answer), but",
      '`arp` or `broadcast` does, and -e shows the MAC addresses in each frame\'s Ethernet header.',
    ].join('\n');
  },
};
