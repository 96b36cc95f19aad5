/**
 * The one-way street: office machines (lan) reach the webserver (dmz) through three firewalls
 * in parallel, r1, r2 and r3, each the gateway of some of the machines, all the provider's
 * (nobody logs into them, nor into the hosting team's webserver). Every firewall runs the same
 * stateful rules: what belongs to a connection it saw begin passes, a connection may begin only
 * from lan, and what conntrack calls INVALID dies. The webserver sends each machine's answers
 * back through that machine's own gateway, but for one machine its route names another
 * firewall, which never saw the SYN: its conntrack calls the SYN-ACK INVALID (a SYN-ACK is
 * never the first packet of a connection, nf_conntrack_tcp_loose or not) and drops it. That
 * machine's users time out; everyone else is fine. The SYNs without an answer on lan name the
 * machine; on dmz, -e shows its SYNs coming in from one router's MAC and the SYN-ACKs leaving
 * for another's, and that router's own veths show the answers going in and never coming out.
 * Answered with the machine and the firewall, or repaired: the machine's own gateway set to the
 * firewall its answers come back through (one route, in a host the learner can log into), and
 * the check then loads the page from every office machine for real.
 */
import type { CaseDraw, CaseModule, Evidence, HostSpec, Observations, RuleSpec, RunView } from './case.js';
import type { Rng } from '../core/random.js';
import { addressOn, appName, caseStream, client, getJob, host, inHostNet, labCommands, network, officePageLoads, range, suspectNames, webserver } from './common.js';
import { routingLoop } from './routing-loop.js';

/** The three firewalls between lan and dmz, each with eth0 on lan and eth1 on dmz. */
export const firewalls = ['r1', 'r2', 'r3'] as const;

/**
 * Every firewall's rules, the same on each (so `iptables -S` of one would tell nothing): the
 * packets of a connection it tracks pass, INVALID ones die, a new connection may come only
 * from lan towards dmz, nothing else.
 */
export const firewallRules: RuleSpec[] = [
  { chain: 'FORWARD', args: ['-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'] },
  { chain: 'FORWARD', args: ['-m', 'conntrack', '--ctstate', 'INVALID', '-j', 'DROP'] },
  { chain: 'FORWARD', args: ['-i', '{dev:lan}', '-o', '{dev:dmz}', '-p', 'tcp', '--syn', '-m', 'conntrack', '--ctstate', 'NEW', '-j', 'ACCEPT'] },
  { chain: 'FORWARD', args: ['-j', 'DROP'] },
];

/** Each machine's gateway: the firewalls in turn, from a drawn start, so that every one carries machines. */
export function gatewayOf(index: number, rotation: number): (typeof firewalls)[number] {
  return firewalls[(index + rotation) % firewalls.length]!;
}

/** The drawn fault, for the hints and the debrief: the machine, its gateway, and the firewall its answers are sent to. */
export function fault(draw: CaseDraw): { victim: string; gateway: string; via: string } {
  const victim = draw.culprit;
  const via = draw.value!;
  const machine = draw.hosts.find((h) => h.name === victim);
  const gateway = machine?.routes?.find((r) => r.to === 'dmz')?.via ?? '?';
  return { victim, gateway, via };
}

/** The repair, in the machine's own namespace: its way to dmz through the firewall its answers come back through. */
export function repairCommand(view: RunView): string {
  const { victim, via } = fault(view.draw);
  return inHostNet(view, victim, `ip route replace ${network(view, 'dmz').subnet || 'DMZ'} via ${addressOn(view, via, 'lan') ?? 'ADDRESS'}`);
}

export const oneWayStreet: CaseModule = {
  id: 'one-way-street',
  title: 'The one-way street',
  difficulty: 'hard',
  skills: [
    'the return path: capturing on both sides (-i per side) and following the answers, not only the requests',
    'MAC addresses (-e): the next hop of a packet, the router it came from and the one it is sent to; ARP maps MACs to addresses',
    'a router\'s own veths and the direction (-Q in|out): what goes into it and never comes out',
    'a stateful firewall (conntrack) and an asymmetric route: an answer to a connection it never saw begin is INVALID',
  ],
  summary: 'One office machine cannot load the site through the firewalls; all the others can. Find the machine, and the firewall where its answers die.',
  symptom: 'Every page times out on one office machine; the others load the site as usual. Find the machine, and the router where its traffic is lost (answer \'HOST ROUTER\').',
  backends: ['netns', 'docker'],
  suspects: { min: 3, max: 8, default: 5 },

  draw(seedRng: Rng, suspects: number): CaseDraw {
    const rng = caseStream(seedRng, 13);
    const victimAt = rng.int(suspects);
    const rotation = rng.int(firewalls.length);
    const victim = appName(victimAt + 1);
    const gateway = gatewayOf(victimAt, rotation);
    const others = firewalls.filter((r) => r !== gateway);
    const via = others[rng.int(others.length)]!;
    const router = (name: string): HostSpec => ({
      name,
      role: 'router',
      program: 'idle',
      config: {},
      interfaces: [{ network: 'lan' }, { network: 'dmz' }],
      rules: firewallRules,
      infrastructure: true,
    });
    // the webserver's way back: lan via r1, and a host route for each machine of another
    // gateway; for the victim, the fault: a host route via a firewall that is not its gateway
    const back: NonNullable<HostSpec['routes']> = [{ to: 'lan', via: 'r1' }];
    const machines: HostSpec[] = [];
    for (let i = 0; i < suspects; i++) {
      const name = appName(i + 1);
      const gw = gatewayOf(i, rotation);
      const returns = name === victim ? via : gw;
      // (the victim's route is always a host route, the one left over from the move)
      if (returns !== 'r1' || name === victim) back.push({ to: `{ip:${name}}`, via: returns });
      // the same program and job everywhere: a user reloading the page, who gives up after 2.5 s
      const spec = client(name, [getJob(600 + rng.int(400), 1, { timeoutMs: 2500, readyWhen: 'sent' })]);
      machines.push({ ...spec, interfaces: [{ network: 'lan' }], routes: [{ to: 'dmz', via: gw }] });
    }
    const hosts: HostSpec[] = [
      // the hosting team's server: nobody here logs into it, nor reads its routes
      { ...webserver(), interfaces: [{ network: 'dmz' }], routes: back, infrastructure: true },
      ...firewalls.map(router),
      ...machines,
    ];
    return { networks: [{ name: 'lan' }, { name: 'dmz' }], hosts, culprit: victim, value: via };
  },

  briefing(view: RunView): string {
    const names = suspectNames(view);
    const lan = network(view, 'lan');
    const dmz = network(view, 'dmz');
    return [
      `The office machines (${range(names)}) sit on the network lan; our webserver sits on dmz, at the hosting`,
      `team's. Three firewalls stand side by side between the two, ${range([...firewalls])}: each office machine uses one`,
      'of them as its gateway to dmz. The firewalls are the provider\'s and the webserver is the hosting team\'s:',
      'nobody here can log into them, nor read their routes or rules (the provider swears all three have the same).',
      'Since the webserver was moved, one office machine cannot load the site (its users wait, then give up),',
      'while every other one is fine. Find that machine, and the firewall where its traffic dies. Answer with both:',
      ...labCommands(view, 'answer', "'app9 r9'").slice(0, -1),
      `Or repair it from the office side (the office machines are yours: ${view.cli} exec HOST ...), then \`${view.cli} check\`:`,
      'solved once every office machine loads the page again.',
      `The networks: lan on the bridge ${lan.bridge}, dmz on the bridge ${dmz.bridge} (\`ip link show master BRIDGE\` lists each one's veths).`,
    ].join('\n');
  },

  solvedBy: 'answer',
  // as the routing loop's: exactly one office machine and one router, in any order and words
  checkAnswer: routingLoop.checkAnswer!,
  // from each office machine, the page as its users ask for it: a stopped machine, or one whose
  // route now leads into a firewall that never saw its SYN, fails
  endToEnd: officePageLoads('dmz', { repairable: true }),


  hints(view: RunView): string[] {
    const lan = network(view, 'lan');
    const dmz = network(view, 'dmz');
    const { victim, gateway, via } = fault(view.draw);
    const ip = host(view, victim)?.ip ?? 'IP';
    const veth = (name: string, net: string): string | undefined => host(view, name)?.interfaces?.find((i) => i.network === net)?.veth;
    const viaDmzVeth = veth(via, 'dmz');
    const viaLanVeth = veth(via, 'lan');
    const viaLan = addressOn(view, via, 'lan') ?? 'ADDRESS';
    // a machine whose gateway is that firewall: its SYNs come onto dmz from the MAC the answers go to
    const carried = suspectNames(view).find((n) => n !== victim && view.draw.hosts.find((h) => h.name === n)?.routes?.some((r) => r.via === via));
    return [
      [
        'Two things to find: the machine in trouble, then where its traffic dies. The machine first. On lan, a machine whose connections never complete sends SYNs that get no SYN-ACK:',
        `  sudo timeout 5 tcpdump -nn -i ${lan.bridge} 'tcp port 3000 and tcp[tcpflags] & tcp-syn != 0'`,
        'Every machine opens connections; only one gets no [S.] back. Then look on dmz: does the webserver answer it there?',
      ].join('\n'),
      [
        `It does: on dmz (${dmz.bridge}) its SYNs arrive and the webserver answers every one. So the answers die on the way back, inside a firewall. But which? There are three, and the way back need not be the way in.`,
        'A router changes no address of the packets it forwards, only the MACs: -e prints them. On dmz, the source MAC of the machine\'s SYNs is the firewall they came through; the destination MAC of the webserver\'s SYN-ACKs is the firewall they are sent to:',
        `  sudo timeout 5 tcpdump -nn -e -i ${dmz.bridge} 'host IP'   # IP: that machine's address`,
        'Are they the same MAC?',
      ].join('\n'),
      [
        'They are not: the answers go back through another firewall, one that never saw the connection begin. A stateful firewall (conntrack) passes what belongs to a connection it saw begin; a SYN-ACK out of nowhere is INVALID to it, and dropped.',
        'Whose MAC is it? Every firewall forwards some machines\' SYNs onto dmz: their source MACs (-e) sort the machines by gateway. The machines whose SYNs come from the MAC the SYN-ACKs go to use that firewall as their gateway, and their own routes name its address:',
        `  ${inHostNet(view, 'MACHINE', 'ip route')}      # "... via ADDRESS"; ${view.cli} ps says whose address it is`,
        `Then see the answers die inside it. \`bridge fdb show br ${dmz.bridge} | grep MAC\` names its veth on dmz; on lan its MAC is the destination of those machines' SYNs (-e on ${lan.bridge}), and \`bridge fdb show br ${lan.bridge}\` its veth there. On the machine's end of a veth the direction is reversed: -Q out is what goes into the host behind it, -Q in what comes out of it. The SYN-ACKs go into it on dmz; do they ever come out on lan?`,
      ].join('\n'),
      [
        'The exact commands for this run:',
        `  sudo timeout 5 tcpdump -nn -i ${lan.bridge} 'tcp port 3000 and tcp[tcpflags] & tcp-syn != 0'   # ${victim} (${ip}): SYNs, no [S.]`,
        `  sudo timeout 5 tcpdump -nn -e -i ${dmz.bridge} 'tcp port 3000 and tcp[tcpflags] & tcp-syn != 0'   # ${victim}'s SYNs from ${gateway}'s MAC, its SYN-ACKs to ${via}'s`,
        ...(carried ? [`  ${inHostNet(view, carried, 'ip route')}   # ${carried}'s SYNs come from that MAC too: its gateway is ${viaLan} (${via})`] : []),
        ...(viaDmzVeth && viaLanVeth
          ? [
              `  sudo timeout 5 tcpdump -nn -Q out -i ${viaDmzVeth} 'tcp and host ${ip}' & sudo timeout 5 tcpdump -nn -Q in -i ${viaLanVeth} 'tcp and host ${ip}'; wait   # into ${via} on dmz: SYN-ACKs; out of it on lan: nothing`,
            ]
          : []),
        `  ${view.cli} answer '${victim} ${via}'`,
        `  or repair it: ${repairCommand(view)}   # ${victim}'s SYNs through ${via} too, the way its answers come back; then ${view.cli} check`,
      ].join('\n'),
    ];
  },

  situationalHint(view: RunView, seen: Observations): string | undefined {
    const lan = network(view, 'lan').bridge;
    const dmz = network(view, 'dmz').bridge;
    if (seen.tcpdumpOn.length === 0) return `No tcpdump is running yet. The networks' bridges: lan ${lan}, dmz ${dmz}.`;
    const onLan = seen.tcpdumpOn.includes(lan);
    const onDmz = seen.tcpdumpOn.includes(dmz);
    if (onLan && !onDmz && !seen.tcpdumpOn.includes('any')) return `You are listening on lan (${lan}) only: the answers that never arrive there may well be leaving the webserver on dmz (${dmz}). Listen there too.`;
    if (onDmz && !onLan && !seen.tcpdumpOn.includes('any')) return `You are listening on dmz (${dmz}): with -e, compare the MAC the requests come from with the MAC the answers go to.`;
    return undefined;
  },

  debrief(view: RunView, evidence: Evidence): string {
    const lan = network(view, 'lan');
    const dmz = network(view, 'dmz');
    const { victim, gateway, via } = fault(view.draw);
    const machine = host(view, victim)!;
    const web = addressOn(view, 'webserver', 'dmz') ?? '?';
    const on = (name: string, net: string): string => addressOn(view, name, net) ?? '?';
    const perSec = (name: string): number => Math.round((evidence.packets.get(name) ?? 0) / evidence.seconds);
    const vethOn = (name: string, net: string): string | undefined => host(view, name)?.interfaces?.find((i) => i.network === net)?.veth;
    return [
      `${victim} (${machine.ip}) got no answer: its gateway is ${gateway} (${on(gateway, 'lan')}), but the webserver's route back to it`,
      `was ${machine.ip}/32 via ${on(via, 'dmz')} (${via}), left over from the move. Every other machine's answers went back through its own gateway.`,
      '',
      'The two paths of one connection:',
      `  SYN      ${victim} ${machine.ip} --lan ${lan.bridge}-- ${on(gateway, 'lan')} [${gateway}] ${on(gateway, 'dmz')} --dmz ${dmz.bridge}--> ${web} webserver`,
      `  SYN-ACK  webserver ${web} --dmz ${dmz.bridge}--> ${on(via, 'dmz')} [${via}]   dropped: INVALID`,
      `  ${gateway} saw the SYN (its conntrack: a new connection, waiting for the answer that never came back through it);`,
      `  ${via} saw only the SYN-ACK. To conntrack a SYN-ACK is never the first packet of a connection (nf_conntrack_tcp_loose,`,
      `  1 by default, lets a firewall pick up a connection from its ACKs, never from a SYN-ACK): INVALID, and every firewall's`,
      '  rules say `-m conntrack --ctstate INVALID -j DROP`. The webserver sent it again and again; the machine its SYN again; its',
      `  users gave up after 2.5 s. On this machine's veths since the start: ${firewalls.map((r) => `${r} about ${perSec(r)} packets a second`).join(', ')}.`,
      '',
      'How to see it:',
      `  1. sudo timeout 5 tcpdump -nn -i ${lan.bridge} 'tcp port 3000 and tcp[tcpflags] & tcp-syn != 0'   # ${victim}'s SYNs get no [S.]`,
      `  2. sudo timeout 5 tcpdump -nn -e -i ${dmz.bridge} 'tcp port 3000 and tcp[tcpflags] & tcp-syn != 0'   # its SYNs from ${gateway}'s MAC, the SYN-ACKs to ${via}'s,`,
      `     the MAC that the SYNs of ${via}'s own machines come from (${inHostNet(view, 'MACHINE', 'ip route')}: via ${on(via, 'lan')}, ${via})`,
      `  3. ${via}'s veths: the SYN-ACKs go into it on dmz (-Q out on ${vethOn(via, 'dmz') ?? 'its veth there'}) and never come out on lan (-Q in on ${vethOn(via, 'lan') ?? 'its lan veth'})`,
      `  4. ${view.cli} answer '${victim} ${via}'`,
      `     or repair it from the office side: ${repairCommand(view)}`,
      `     (${victim}'s requests then go through ${via}, which sees the connection begin and passes its answers; the real fix is the`,
      `     webserver's stale route, ${machine.ip}/32 via ${on(via, 'dmz')}, which only the hosting team can remove)`,
      '',
      'Why it works: a router rewrites the MACs of what it forwards, never the addresses, so on a network with several',
      'routers the MACs alone say which one a packet came through and which one it is sent to. Requests and answers',
      'may take different routers; a stateful firewall on the way back that never saw the way in drops the answers.',
      'Capture the answers too, on both sides, and follow them by their MACs.',
    ].join('\n');
  },
};
