/**
 * The MTU black hole: the office machines (lan) reach the webserver (dmz) through two
 * routers the learner cannot log into, r1 (lan and transit) and r2 (transit and dmz). r1's
 * leg on lan is narrower than the rest of the path (an MTU drawn per run, set inside r1's
 * namespace only). The webserver's full-size segments (1500 bytes, DF) reach r1, which
 * cannot forward them and says so: ICMP "fragmentation needed, mtu N" back to the
 * webserver. r2's firewall drops every ICMP on its way into dmz, so the webserver never
 * learns the path's MTU: handshakes and small pages pass, every download hangs. Only
 * captures on several hops show where the ICMP is sent, and where it dies.
 */
import type { CaseDraw, CaseModule, Evidence, HostSpec, Observations, RuleSpec, RunView } from './case.js';
import type { Rng } from '../core/random.js';
import type { ClientJob } from '../services/client.js';
import { addressOn, appName, caseStream, client, getJob, host, labCommands, network, range, suspectNames, webserver } from './common.js';

/** The MTUs r1's lan leg may get: 1281 .. 1479, never a round number (1300, 1400, 1450 ...). */
export const mtuRange = { min: 1281, max: 1479 };

/** Draws the narrow link's MTU: not a multiple of 10, so that no guess of a usual value is right. */
export function drawMtu(rng: Rng): number {
  for (;;) {
    const n = mtuRange.min + rng.int(mtuRange.max - mtuRange.min + 1);
    if (n % 10 !== 0) return n;
  }
}

/** r2's over-zealous rule: no ICMP forwarded into dmz ("nobody pings our servers"), the errors that PMTU discovery needs included. */
export const icmpRule: RuleSpec = { chain: 'FORWARD', args: ['-o', '{dev:dmz}', '-p', 'icmp', '-j', 'DROP'] };

/** The export the office downloads: about 2 MB, far more than one segment. */
export const exportBytes = 2_000_000;

/**
 * What PMTU discovery depends on, set in each namespace rather than trusted to the
 * machine's defaults: the webserver sends DF and never probes the path by itself (so only
 * an ICMP could teach it the MTU), r1 answers too-big packets with the ICMP at the usual
 * rate (one a second to one destination, after a burst of a few).
 */
export const webSysctls = { 'net.ipv4.ip_no_pmtu_disc': '0', 'net.ipv4.tcp_mtu_probing': '0' };
export const routerSysctls = { 'net.ipv4.icmp_ratelimit': '1000', 'net.ipv4.icmp_ratemask': '6168' };
export const clientSysctls = { 'net.ipv4.tcp_mtu_probing': '0' };


/** A value as a learner may write it: `1372`, `mtu 1372`, `1372 bytes`. */
function numberOf(value: string): string | undefined {
  return /^(?:mtu[\s=:]*)?(\d{2,5})(?:\s*(?:bytes?|b))?$/i.exec(value.trim())?.[1];
}

export const mtuBlackhole: CaseModule = {
  id: 'mtu-blackhole',
  title: 'The MTU black hole',
  difficulty: 'hard',
  skills: [
    'packet sizes: greater/less, -v for the IP length and the DF flag',
    'ICMP errors (icmp, "need to frag (mtu N)") and path-MTU discovery',
    'capturing on several hops to see where an ICMP dies',
  ],
  summary: 'The office can log in and open pages, but every download of the report hangs. Find the MTU of the link the big packets cannot cross.',
  symptom: 'Since the provider\'s maintenance, office users can log in and open small pages, but every download of the report hangs, on every machine; from this machine it downloads at once. Find the limit of the link the downloads cannot cross (answer with a number).',
  backends: ['netns', 'docker'],
  suspects: { min: 3, max: 8, default: 5 },

  draw(seedRng: Rng, suspects: number): CaseDraw {
    const rng = caseStream(seedRng, 11);
    const mtu = drawMtu(rng);
    const hosts: HostSpec[] = [
      {
        // workers for every machine's hung download and the pages besides
        ...webserver({ workers: suspects * 2 + 4, exportBytes, sendTimeoutMs: 6000 }),
        interfaces: [{ network: 'dmz' }],
        routes: [{ to: 'lan', via: 'r2' }],
        sysctls: webSysctls,
      },
      {
        name: 'r1',
        role: 'router',
        program: 'idle',
        config: {},
        // its first interface on transit: its own packets (the ICMP) come from that address
        interfaces: [{ network: 'transit' }, { network: 'lan', mtu }],
        routes: [{ to: 'dmz', via: 'r2' }],
        sysctls: routerSysctls,
        infrastructure: true,
      },
      {
        name: 'r2',
        role: 'router',
        program: 'idle',
        config: {},
        interfaces: [{ network: 'transit' }, { network: 'dmz' }],
        routes: [{ to: 'lan', via: 'r1' }],
        rules: [icmpRule],
        sysctls: routerSysctls,
        infrastructure: true,
      },
    ];
    for (let i = 0; i < suspects; i++) {
      // every machine alike: a user opening small pages (each fits in one segment) and the
      // report downloaded now and then, given up on after a few seconds and asked again
      const download: ClientJob = { kind: 'download', loops: 1, path: '/export', giveUpMs: 4000 + rng.int(2000), sleepMs: 1000 + rng.int(1000) };
      const spec = client(appName(i + 1), [getJob(700 + rng.int(400), 1, { timeoutMs: 2500 }), download]);
      hosts.push({ ...spec, interfaces: [{ network: 'lan' }], routes: [{ to: 'dmz', via: 'r1' }], sysctls: clientSysctls });
    }
    return { networks: [{ name: 'lan' }, { name: 'transit' }, { name: 'dmz' }], hosts, culprit: 'r1', value: String(mtu) };
  },

  briefing(view: RunView): string {
    const names = suspectNames(view);
    const lan = network(view, 'lan');
    const transit = network(view, 'transit');
    const dmz = network(view, 'dmz');
    return [
      `The office machines (${range(names)}) sit on lan; our webserver sits on dmz. Between them, two`,
      'routers of the provider\'s, which nobody here can log into: r1 joins lan and transit, r2 joins',
      'transit and dmz. Since the provider\'s maintenance, office users can log in and open small pages,',
      `but every download of the report (GET /export, ${Math.round(exportBytes / 1e6)} MB) hangs, on every machine. From this machine`,
      `the site is fine, report included: curl -o /dev/null http://localhost:${view.port}/export`,
      'Somewhere on the way, a link cannot carry the big packets. What is its MTU? Answer with the number:',
      ...labCommands(view, 'answer', '1400').slice(0, -1),
      `The networks: lan on the bridge ${lan.bridge}, transit on ${transit.bridge}, dmz on ${dmz.bridge} (\`ip link show master BRIDGE\` lists each one's veths).`,
    ].join('\n');
  },

  solvedBy: 'answer',
  checkAnswer(value: string, draw: CaseDraw): boolean {
    const n = numberOf(value);
    return n !== undefined && Number(n) === Number(draw.value);
  },

  hints(view: RunView): string[] {
    const lan = network(view, 'lan');
    const transit = network(view, 'transit');
    const dmz = network(view, 'dmz');
    const web = addressOn(view, 'webserver', 'dmz') ?? 'WEBSERVER';
    return [
      [
        'Small things work, big things do not: think about packet sizes. Compare what the webserver sends on dmz with what reaches the office on lan (-v prints each packet\'s IP length and its flags; greater N keeps the packets of N bytes or more):',
        `  sudo timeout 5 tcpdump -nn -v -i ${dmz.bridge} 'tcp src port 3000 and greater 1000'`,
        `  sudo timeout 5 tcpdump -nn -v -i ${lan.bridge} 'tcp src port 3000 and greater 1000'`,
        'On dmz: segments of length 1500, flags [DF] (don\'t fragment), the same sequence numbers sent again and again. On lan: none of them.',
      ].join('\n'),
      [
        'A router that gets a packet too big for its next link, with DF set, may not fragment it: it drops it and tells the sender, with an ICMP error "fragmentation needed" (type 3, code 4) that carries the MTU of that link. The sender should then send smaller segments (path-MTU discovery).',
        'The webserver keeps sending 1500 bytes: it never heard. Was the ICMP never sent, or lost on the way? Look for ICMP on each network between the routers (tcpdump names it "need to frag (mtu N)"):',
        `  sudo timeout 5 tcpdump -nn -v -i BRIDGE icmp      # lan ${lan.bridge}, transit ${transit.bridge}, dmz ${dmz.bridge}`,
      ].join('\n'),
      [
        'Capture on transit and on dmz at the same time: the ICMP is sent by the router whose next link is narrower, toward the webserver; where it is seen, and where it is not, says which router lets it through and which does not.',
        'The MTU it names is the answer. Note that the packet it quotes may be longer than 1500: the kernel hands big segments around in one piece (GSO) until they must be cut.',
      ].join('\n'),
      [
        'The exact commands for this run:',
        `  sudo timeout 6 tcpdump -nn -v -i ${transit.bridge} icmp > transit.txt & sudo timeout 6 tcpdump -nn -v -i ${dmz.bridge} icmp > dmz.txt; wait`,
        `  grep -o 'need to frag (mtu [0-9]*)' transit.txt | sort | uniq -c    # sent by r1 to the webserver (${web})`,
        `  grep -c 'need to frag' dmz.txt                                       # 0: r2 never forwards it`,
        `  ${view.cli} answer NUMBER     # the number after "mtu", for r1's link to lan`,
      ].join('\n'),
    ];
  },

  situationalHint(view: RunView, seen: Observations): string | undefined {
    const lan = network(view, 'lan').bridge;
    const transit = network(view, 'transit').bridge;
    const dmz = network(view, 'dmz').bridge;
    if (seen.tcpdumpOn.length === 0) return `No tcpdump is running yet. Three networks lie on the way: lan ${lan}, transit ${transit}, dmz ${dmz}.`;
    if (seen.tcpdumpOn.includes(dmz) && !seen.tcpdumpOn.includes(transit)) {
      return 'You are listening on dmz: what a router says back to the webserver, if it ever gets there, comes in from transit. Listen there too.';
    }
    if (seen.tcpdumpOn.includes(lan) && !seen.tcpdumpOn.includes(transit)) {
      return 'You are listening on lan: the office machines see only what got through. The packets that do not get through die further in, and what is said about them travels toward the webserver.';
    }
    return undefined;
  },

  debrief(view: RunView, _evidence: Evidence): string {
    const lan = network(view, 'lan');
    const transit = network(view, 'transit');
    const dmz = network(view, 'dmz');
    const mtu = view.draw.value!;
    const r1Transit = addressOn(view, 'r1', 'transit') ?? '?';
    const r1Lan = addressOn(view, 'r1', 'lan') ?? '?';
    const r2Transit = addressOn(view, 'r2', 'transit') ?? '?';
    const r2Dmz = addressOn(view, 'r2', 'dmz') ?? '?';
    const web = addressOn(view, 'webserver', 'dmz') ?? '?';
    const r2Out = host(view, 'r2')?.interfaces?.find((i) => i.network === 'dmz')?.ifname ?? 'eth1';
    const rule = icmpRule.args.join(' ').replace('{dev:dmz}', r2Out);
    const first = suspectNames(view)[0] ?? 'app1';
    const app = host(view, first);
    return [
      `The narrow link is r1's leg on lan: MTU ${mtu} (every other link, the office machines' included, has 1500).`,
      `The webserver's segments of 1500 bytes, DF set, reach r1, which cannot forward them onto lan and sends`,
      `"fragmentation needed, mtu ${mtu}" back to the webserver from its transit address ${r1Transit}. r2 drops it: its firewall`,
      `forwards no ICMP into dmz, inside r2's own namespace: iptables -A ${icmpRule.chain} ${rule}.`,
      'So the webserver never learns the path MTU and sends the same 1500-byte segments again and again: handshakes and',
      'small pages (one segment under the limit) pass, every download hangs. From this machine, on dmz itself, nothing is too big.',
      '',
      'The path:',
      `  ${first} ${app?.ip ?? '?'} --lan ${lan.bridge}-- ${r1Lan} [r1, MTU ${mtu} on lan] ${r1Transit} --transit ${transit.bridge}-- ${r2Transit} [r2, drops ICMP] ${r2Dmz} --dmz ${dmz.bridge}-- ${web} webserver`,
      '',
      'How to see it:',
      `  1. sudo timeout 5 tcpdump -nn -v -i ${dmz.bridge} 'tcp src port 3000 and greater 1000'   # length 1500, [DF], retransmitted`,
      `     sudo timeout 5 tcpdump -nn -v -i ${lan.bridge} 'tcp src port 3000 and greater 1000'   # none of them gets through r1`,
      `  2. sudo timeout 6 tcpdump -nn -v -i ${transit.bridge} icmp > transit.txt & sudo timeout 6 tcpdump -nn -v -i ${dmz.bridge} icmp > dmz.txt; wait`,
      `     transit.txt: ${r1Transit} > ${web}: ICMP ... unreachable - need to frag (mtu ${mtu}); dmz.txt: nothing. It dies inside r2.`,
      `  3. ${view.cli} answer ${mtu}`,
      '',
      'Why it works: path-MTU discovery rests on one ICMP error. A firewall that drops "all ICMP" makes a black hole:',
      'the connection opens, small packets pass, big ones vanish, and neither end is told. A capture on each hop shows',
      'who sends the ICMP and where it stops. The fixes: let ICMP type 3 code 4 through (iptables -A FORWARD -p icmp',
      '--icmp-type fragmentation-needed -j ACCEPT before the DROP), or clamp the MSS on the routers',
      '(iptables -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu), or let the hosts',
      'probe the path themselves (net.ipv4.tcp_mtu_probing = 1), which does without the ICMP.',
    ].join('\n');
  },
};
