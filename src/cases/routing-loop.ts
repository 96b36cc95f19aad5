/**
 * The routing loop: office machines (lan) reach the webserver (dmz) across a core network
 * where five routers meet: r1 (lan-core), r2 (core-dmz) and three other sites' routers, all
 * the provider's, nobody logs into them. After a maintenance r2 keeps a stale host route for
 * one office machine via one of the other routers, whose own way back is r2 (its default
 * route): the webserver's answers to that machine go round between the two on core, one
 * router less of TTL each time, until the TTL runs out and the other router sends the
 * webserver an ICMP time exceeded. The machine's connections never complete; everyone else
 * is fine. SYNs without an answer name the machine; the TTL, the ICMP error (or the MACs
 * that alternate on core) name the router.
 */
import type { CaseDraw, CaseModule, Evidence, HostSpec, Observations, RunView } from './case.js';
import type { Rng } from '../core/random.js';
import { addressOn, appName, caseStream, client, getJob, host, labCommands, network, officePageLoads, range, suspectNames, webserver } from './common.js';

/** The other sites' routers, one leg on core each: the loop goes through one of them. */
export const otherRouters = ['r3', 'r4', 'r5'] as const;

/** The webserver's kernel sends with this TTL (net.ipv4.ip_default_ttl, the kernel's default in every namespace). */
export const initialTtl = 64;

/**
 * The routers' own sysctls, the same on every router so that none stands out: reverse-path
 * filtering off (r2 gets the looping answers back on core, while its way to their source,
 * the webserver, is dmz: a strict rp_filter would drop them after one round, and a
 * namespace may inherit the machine's value where net.core.devconf_inherit_init_net is set).
 * The kernel takes the larger of `all` and the interface's own value, so both are set.
 */
export function routerSysctls(legs: number): Record<string, string> {
  const out: Record<string, string> = { 'net.ipv4.conf.all.rp_filter': '0' };
  for (let i = 0; i < legs; i++) out[`net.ipv4.conf.eth${i}.rp_filter`] = '0';
  return out;
}

/**
 * The answer's words: exactly one office machine and exactly one router; separators, case and
 * order are free, and the other words are the learner's own ("app3 loops via r4").
 */
export function namedHosts(value: string, draw: CaseDraw): { machines: string[]; routers: string[] } {
  const words = value.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
  const role = new Map(draw.hosts.map((h) => [h.name, h.role]));
  const named = [...new Set(words.filter((w) => role.has(w)))];
  return { machines: named.filter((w) => role.get(w) === 'suspect'), routers: named.filter((w) => role.get(w) === 'router') };
}


export const routingLoop: CaseModule = {
  id: 'routing-loop',
  title: 'The routing loop',
  difficulty: 'hard',
  skills: [
    'the TTL of every packet (-v prints ttl) and what a falling TTL means',
    'ICMP errors: icmp[icmptype] = icmp-timxceed, "time exceeded in-transit" and the packet it quotes',
    'the same packet again and again on one segment, its MACs alternating between two routers (-e)',
  ],
  summary: 'One office machine cannot reach the site across the core network; all the others can. Find the machine, and the router its answers are sent round to.',
  symptom: 'One office machine cannot load the site at all; all the others can. Find the machine, and the router its answers go astray to (answer \'HOST ROUTER\').',
  backends: ['netns', 'docker'],
  suspects: { min: 3, max: 8, default: 5 },

  draw(seedRng: Rng, suspects: number): CaseDraw {
    const rng = caseStream(seedRng, 11);
    const victim = appName(rng.int(suspects) + 1);
    const loopVia = otherRouters[rng.int(otherRouters.length)]!;
    const router = (name: string, legs: string[], routes: HostSpec['routes']): HostSpec => ({
      name,
      role: 'router',
      program: 'idle',
      config: {},
      interfaces: legs.map((network) => ({ network })),
      routes,
      sysctls: routerSysctls(legs.length),
      infrastructure: true,
    });
    const hosts: HostSpec[] = [
      { ...webserver(), interfaces: [{ network: 'dmz' }], routes: [{ to: 'default', via: 'r2' }] },
      router('r1', ['lan', 'core'], [{ to: 'dmz', via: 'r2' }]),
      // the fault: a stale host route for one machine, through a router whose way back is r2
      router('r2', ['core', 'dmz'], [{ to: 'lan', via: 'r1' }, { to: `{ip:${victim}}`, via: loopVia }]),
      ...otherRouters.map((name) => router(name, ['core'], [{ to: 'default', via: 'r2' }])),
    ];
    for (let i = 0; i < suspects; i++) {
      // the same program and job everywhere: a user reloading the page, who gives up after 2.5 s
      const spec = client(appName(i + 1), [getJob(600 + rng.int(400), 1, { timeoutMs: 2500, readyWhen: 'sent' })]);
      hosts.push({ ...spec, interfaces: [{ network: 'lan' }], routes: [{ to: 'default', via: 'r1' }] });
    }
    return { networks: [{ name: 'lan' }, { name: 'core' }, { name: 'dmz' }], hosts, culprit: victim, value: loopVia };
  },

  briefing(view: RunView): string {
    const names = suspectNames(view);
    const lan = network(view, 'lan');
    const core = network(view, 'core');
    const dmz = network(view, 'dmz');
    return [
      `The office machines (${range(names)}) sit on the network lan, our webserver on dmz. Between them lies`,
      `core, where the routers meet: r1 joins lan to core, r2 joins core to dmz, and ${range([...otherRouters])}, our other`,
      'sites\' routers, hang on core too. They are the provider\'s: nobody here can log into them, nor read their routes.',
      'Since last night\'s maintenance one office machine cannot load the site (its users wait, then give',
      'up), while every other one is fine. Find that machine, and the router its answers are sent to by',
      'mistake. Answer with both:',
      ...labCommands(view, 'answer', "'app9 r9'").slice(0, -1),
      `The networks: lan on the bridge ${lan.bridge}, core on the bridge ${core.bridge}, dmz on the bridge ${dmz.bridge} (\`ip link show master BRIDGE\` lists each one's veths).`,
    ].join('\n');
  },

  solvedBy: 'answer',
  // the symptom in status: one office machine's page loads time out (the gateway is not the learner's to repair)
  endToEnd: officePageLoads('dmz'),
  checkAnswer(value: string, draw: CaseDraw): boolean {
    const { machines, routers } = namedHosts(value, draw);
    return machines.length === 1 && routers.length === 1 && machines[0] === draw.culprit && routers[0] === draw.value;
  },

  hints(view: RunView): string[] {
    const lan = network(view, 'lan');
    const core = network(view, 'core');
    const dmz = network(view, 'dmz');
    const victim = host(view, view.draw.culprit);
    const loopVia = view.draw.value!;
    const viaCore = addressOn(view, loopVia, 'core') ?? 'ADDRESS';
    const web = addressOn(view, 'webserver', 'dmz') ?? 'WEBSERVER';
    return [
      [
        'Two things to find: the machine in trouble, then where its traffic goes wrong. The machine first. On lan, a machine whose connections never complete sends SYNs that get no SYN-ACK:',
        `  sudo timeout 5 tcpdump -nn -i ${lan.bridge} 'tcp port 3000 and tcp[tcpflags] & tcp-syn != 0'`,
        'Every machine opens connections; only one gets no [S.] back.',
      ].join('\n'),
      [
        `Then follow the webserver's answers to it. On dmz (${dmz.bridge}) they leave the webserver for r2; on core (${core.bridge}) see where they go. -v prints every packet's IP header, its ttl among it: each router a packet crosses takes 1 off.`,
        `  sudo timeout 3 tcpdump -nn -v -i ${core.bridge} 'tcp[tcpflags] & tcp-syn != 0'`,
        'The same SYN-ACK (the same seq) again and again, its ttl one lower every time: that packet is going round in a loop between two routers.',
      ].join('\n'),
      [
        'A packet cannot loop for ever: the router that gets it with ttl 1 drops it and tells its sender, with an ICMP "time exceeded in-transit" whose source is the router\'s own address, and -v prints the packet it quotes. Catch those errors where the sender is, on dmz:',
        `  sudo timeout 5 tcpdump -nn -v -i ${dmz.bridge} 'icmp[icmptype] = icmp-timxceed'`,
        `\`${view.cli} ps\` lists every router's interfaces and addresses. Or with -e on core: the loop's copies alternate between two source MACs, r2's and the other router's (\`tcpdump -nn -e -i ${core.bridge} arp\` shows whose MAC is whose).`,
      ].join('\n'),
      [
        'The exact commands for this run:',
        `  sudo timeout 5 tcpdump -nn -i ${lan.bridge} 'tcp port 3000 and tcp[tcpflags] & tcp-syn != 0'   # ${view.draw.culprit} (${victim?.ip ?? 'IP'}): SYNs, no [S.]`,
        `  sudo timeout 3 tcpdump -nn -v -e -i ${core.bridge} 'host ${victim?.ip ?? 'IP'}'   # the webserver's (${web}) SYN-ACKs, ttl 63, 62, ... 1`,
        `  sudo timeout 5 tcpdump -nn -v -i ${dmz.bridge} 'icmp[icmptype] = icmp-timxceed'   # time exceeded from ${viaCore}`,
        `  ${view.cli} ps | grep -wF '${viaCore}'   # ${viaCore} is ${loopVia}'s`,
        `  ${view.cli} answer '${view.draw.culprit} ${loopVia}'`,
      ].join('\n'),
    ];
  },

  situationalHint(view: RunView, seen: Observations): string | undefined {
    const lan = network(view, 'lan').bridge;
    const core = network(view, 'core').bridge;
    const dmz = network(view, 'dmz').bridge;
    if (seen.tcpdumpOn.length === 0) return `No tcpdump is running yet. The networks' bridges: lan ${lan}, core ${core}, dmz ${dmz}.`;
    if (!seen.tcpdumpOn.includes(core) && !seen.tcpdumpOn.includes('any') && (seen.tcpdumpOn.includes(lan) || seen.tcpdumpOn.includes(dmz))) {
      return `You are listening on ${[lan, dmz].filter((b) => seen.tcpdumpOn.includes(b)).join(' and ')} only: between r2 and r1 the webserver's answers cross core (${core}). Listen there too.`;
    }
    return undefined;
  },

  debrief(view: RunView, evidence: Evidence): string {
    const lan = network(view, 'lan');
    const core = network(view, 'core');
    const dmz = network(view, 'dmz');
    const victim = host(view, view.draw.culprit)!;
    const loopVia = view.draw.value!;
    const r2Core = addressOn(view, 'r2', 'core') ?? '?';
    const r2Dmz = addressOn(view, 'r2', 'dmz') ?? '?';
    const r1Core = addressOn(view, 'r1', 'core') ?? '?';
    const viaCore = addressOn(view, loopVia, 'core') ?? '?';
    const web = addressOn(view, 'webserver', 'dmz') ?? '?';
    const onCore = initialTtl - 1; // the copies of one answer on core: ttl 63 down to 1
    const perSec = (name: string): string => `${Math.round((evidence.packets.get(name) ?? 0) / evidence.seconds)}`;
    const quiet = otherRouters.filter((r) => r !== loopVia);
    return [
      `${victim.name} (${victim.ip}) got no answer: r2 kept a stale host route for it, ${victim.ip}/32 via ${viaCore} (${loopVia}),`,
      `and ${loopVia}'s way back to lan is its default route, via ${r2Core} (r2). Every other machine's answers took r2's`,
      `route to lan, via ${r1Core} (r1).`,
      '',
      'The loop, for every answer the webserver sent it:',
      `  webserver ${web} --dmz ${dmz.bridge}-- ${r2Dmz} [r2] ${r2Core} --core ${core.bridge}--> ${viaCore} [${loopVia}] --core--> [r2] --core--> [${loopVia}] ...`,
      `  Each SYN-ACK left the webserver with ttl ${initialTtl} and crossed core ${onCore} times: r2 sent it on with ttl ${onCore}, ${onCore - 2}, ... 1,`,
      `  ${loopVia} with ${onCore - 1}, ${onCore - 3}, ... 2. ${loopVia} got it with ttl 1, dropped it and sent the webserver an ICMP time exceeded`,
      `  from ${viaCore}, quoting the SYN-ACK (ttl 1). The webserver dropped the half-open connection; ${victim.name}'s next SYN began`,
      `  another round. It never reached lan (${lan.bridge}).`,
      `  On this machine's veths since the start: ${loopVia} about ${perSec(loopVia)} packets a second, ${quiet.map((r) => `${r} ${perSec(r)}`).join(', ')}.`,
      '',
      'How to see it:',
      `  1. sudo timeout 5 tcpdump -nn -i ${lan.bridge} 'tcp port 3000 and tcp[tcpflags] & tcp-syn != 0'   # ${victim.name}'s SYNs get no [S.]`,
      `  2. sudo timeout 3 tcpdump -nn -v -e -i ${core.bridge} 'host ${victim.ip}'   # one SYN-ACK ${onCore} times, ttl ${onCore} .. 1, two source MACs taking turns`,
      `  3. sudo timeout 5 tcpdump -nn -v -i ${dmz.bridge} 'icmp[icmptype] = icmp-timxceed'   # ${viaCore} > ${web}: ICMP time exceeded in-transit`,
      `  4. ${view.cli} ps: ${viaCore} is ${loopVia}; ${view.cli} answer '${victim.name} ${loopVia}'`,
      '',
      'Why it works: a router that forwards a packet takes 1 off its TTL, so a packet in a loop shows',
      'again and again on the segment it loops on, one lower each time, until a router drops it and',
      'sends its source an ICMP time exceeded from its own address. The TTL says "loop"; the ICMP error,',
      'or the MACs taking turns, says between whom.',
    ].join('\n');
  },
};
