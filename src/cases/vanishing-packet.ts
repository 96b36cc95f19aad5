/**
 * The vanishing packet: office machines on one network (lan) reach the webserver on another
 * (dmz) through a gateway the learner cannot log into. For one machine, the gateway drops
 * either its requests on the way in or the answers on the way back: that machine's users see
 * timeouts, everyone else is fine. Only captures on both sides of the gateway tell where the
 * packets die, and in which direction.
 */
import type { CaseDraw, CaseModule, Evidence, HostSpec, Observations, RunView } from './case.js';
import type { Rng } from '../core/random.js';
import { addressOn, appName, caseStream, client, getJob, host, labCommands, network, officePageLoads, range, suspectNames, webserver } from './common.js';

export type LostDirection = 'requests' | 'answers';

const requestWords = ['request', 'requests', 'syn', 'syns', 'inbound', 'in', 'upstream', 'there'];
const answerWords = ['answer', 'answers', 'reply', 'replies', 'response', 'responses', 'synack', 'syn-ack', 'return', 'outbound', 'out', 'back'];

/** The drawn fault as the gateway's rule: dropped when it comes in from lan from the machine, or from dmz to it. */
export function faultRule(victim: string, lost: LostDirection): { chain: string; args: string[] } {
  return lost === 'requests'
    ? { chain: 'FORWARD', args: ['-i', '{dev:lan}', '-s', `{ip:${victim}}`, '-j', 'DROP'] }
    : { chain: 'FORWARD', args: ['-i', '{dev:dmz}', '-d', `{ip:${victim}}`, '-j', 'DROP'] };
}


export const vanishingPacket: CaseModule = {
  id: 'vanishing-packet',
  title: 'The vanishing packet',
  difficulty: 'medium',
  skills: [
    'capturing on both sides of a router (-i per side, at the same time)',
    'the direction of a packet (-Q in|out) and which side it dies on',
    'MAC addresses rewritten at every hop (-e)',
  ],
  summary: 'One office machine cannot load the site through the gateway; all the others can. Find where its packets die, and which way.',
  symptom: 'One office machine cannot load the site at all; all the others can. Find which, and where its traffic is lost (answer \'HOST requests\' or \'HOST answers\').',
  backends: ['netns', 'docker'],
  suspects: { min: 3, max: 8, default: 5 },

  draw(seedRng: Rng, suspects: number): CaseDraw {
    const rng = caseStream(seedRng, 10);
    const victimAt = rng.int(suspects);
    const lost: LostDirection = rng.int(2) === 0 ? 'requests' : 'answers';
    const victim = appName(victimAt + 1);
    const hosts: HostSpec[] = [
      { ...webserver(), interfaces: [{ network: 'dmz' }], routes: [{ to: 'lan', via: 'gw' }] },
      {
        name: 'gw',
        role: 'router',
        program: 'idle',
        config: {},
        interfaces: [{ network: 'lan' }, { network: 'dmz' }],
        rules: [faultRule(victim, lost)],
        infrastructure: true,
      },
    ];
    for (let i = 0; i < suspects; i++) {
      // every machine the same program and the same kind of job: a user reloading the page,
      // who gives up after 2.5 s (the victim's users give up every time)
      const spec = client(appName(i + 1), [getJob(600 + rng.int(400), 1, { timeoutMs: 2500, readyWhen: 'sent' })]);
      hosts.push({ ...spec, interfaces: [{ network: 'lan' }], routes: [{ to: 'dmz', via: 'gw' }] });
    }
    return { networks: [{ name: 'lan' }, { name: 'dmz' }], hosts, culprit: victim, value: lost };
  },

  briefing(view: RunView): string {
    const names = suspectNames(view);
    const lan = network(view, 'lan');
    const dmz = network(view, 'dmz');
    return [
      `The office machines (${range(names)}) sit on the network lan; our webserver sits on dmz. The`,
      `gateway gw joins them: it is the provider's, and nobody here can log into it. One office machine`,
      'cannot load the site at all (its users wait, then give up), while every other one is fine.',
      'Find that machine, and where its traffic dies: do its requests never get through the gateway, or',
      'do the answers never come back? Answer with the machine and the direction that is lost:',
      ...labCommands(view, 'answer', "'app9 requests'").slice(0, -1),
      `The networks: lan on the bridge ${lan.bridge}, dmz on the bridge ${dmz.bridge} (\`ip link show master BRIDGE\` lists each one's veths).`,
    ].join('\n');
  },

  solvedBy: 'answer',
  // the symptom in status: one office machine's page loads time out (the gateway is not the learner's to repair)
  endToEnd: officePageLoads('dmz'),
  checkAnswer(value: string, draw: CaseDraw): boolean {
    const words = value.toLowerCase().split(/[^a-z0-9-]+/).filter(Boolean);
    const hosts = draw.hosts.map((h) => h.name);
    const named = words.filter((w) => hosts.includes(w));
    const saysRequests = words.some((w) => requestWords.includes(w));
    const saysAnswers = words.some((w) => answerWords.includes(w));
    if (named.length !== 1 || named[0] !== draw.culprit || saysRequests === saysAnswers) return false;
    return (saysRequests ? 'requests' : 'answers') === draw.value;
  },

  hints(view: RunView): string[] {
    const lan = network(view, 'lan');
    const dmz = network(view, 'dmz');
    const victim = host(view, view.draw.culprit);
    const web = addressOn(view, 'webserver', 'dmz') ?? 'WEBSERVER';
    return [
      `A packet that dies inside the gateway is seen on one side of it and not on the other. gw has one leg on lan (${lan.bridge}) and one on dmz (${dmz.bridge}): capture on both at the same time, and compare.`,
      [
        'First, the machine in trouble. On lan, a machine whose connections never complete sends SYNs that get no SYN-ACK. List the SYNs and the SYN-ACKs for a few seconds:',
        `  sudo timeout 5 tcpdump -nn -i ${lan.bridge} 'tcp port 3000 and tcp[tcpflags] & tcp-syn != 0'`,
        'Every machine opens connections; only one gets no [S.] back.',
      ].join('\n'),
      [
        'Then follow that machine\'s packets across the gateway: two captures at once, one per side (-e prints the MACs: on dmz, the source MAC of its packets is the gateway\'s, for routers rewrite MACs at every hop, not addresses):',
        `  sudo timeout 5 tcpdump -nn -e -i ${lan.bridge} host IP > lan.txt & sudo timeout 5 tcpdump -nn -e -i ${dmz.bridge} host IP > dmz.txt; wait`,
        'Its SYNs reach lan. Do they come out on dmz? If they do, does the webserver answer, and does the answer come back out on lan? Where the trail stops is where the packets die.',
        'One direction at a time: -Q in or -Q out. On the machine\'s end of a veth it is reversed: `-Q out` is what goes into the host behind it (`ip link show master BRIDGE` lists the veths of each side).',
      ].join('\n'),
      [
        'The exact commands for this run:',
        `  sudo timeout 5 tcpdump -nn -e -i ${lan.bridge} host ${victim?.ip ?? 'IP'} > lan.txt & sudo timeout 5 tcpdump -nn -e -i ${dmz.bridge} host ${victim?.ip ?? 'IP'} > dmz.txt; wait`,
        `  grep -c 'Flags \\[S\\]' lan.txt dmz.txt      # ${view.draw.culprit}'s SYNs on each side`,
        `  grep -c 'Flags \\[S.\\]' lan.txt dmz.txt     # the webserver's (${web}) answers on each side`,
        `  ${view.cli} answer '${view.draw.culprit} ${view.draw.value}'`,
      ].join('\n'),
    ];
  },

  situationalHint(view: RunView, seen: Observations): string | undefined {
    const sides = [network(view, 'lan').bridge, network(view, 'dmz').bridge];
    const on = sides.filter((b) => seen.tcpdumpOn.includes(b));
    if (seen.tcpdumpOn.length === 0) return `No tcpdump is running yet. The gateway has two sides: ${sides.join(' and ')}.`;
    if (on.length === 1) return `You are listening on one side of the gateway (${on[0]}) only: a packet that dies inside it shows only when you compare with the other side.`;
    return undefined;
  },

  debrief(view: RunView, _evidence: Evidence): string {
    const lan = network(view, 'lan');
    const dmz = network(view, 'dmz');
    const victim = host(view, view.draw.culprit)!;
    const gwLan = addressOn(view, 'gw', 'lan');
    const gwDmz = addressOn(view, 'gw', 'dmz');
    const web = addressOn(view, 'webserver', 'dmz');
    const lost = view.draw.value as LostDirection;
    const rule = faultRule(view.draw.culprit, lost);
    const shown = rule.args.join(' ').replace('{dev:lan}', 'eth0').replace('{dev:dmz}', 'eth1').replace(`{ip:${victim.name}}`, victim.ip);
    return [
      `${victim.name} (${victim.ip}) lost its ${lost}: the gateway gw dropped ${lost === 'requests' ? 'every packet from it on the way in from lan' : 'every packet to it on the way back from dmz'}.`,
      `Its rule, inside gw's own namespace: iptables -A FORWARD ${shown}`,
      '',
      'The path:',
      `  ${victim.name} ${victim.ip} --lan ${lan.bridge}-- ${gwLan ?? '?'} [gw] ${gwDmz ?? '?'} --dmz ${dmz.bridge}-- ${web ?? '?'} webserver`,
      '',
      'How to see it:',
      `  1. sudo timeout 5 tcpdump -nn -i ${lan.bridge} 'tcp port 3000 and tcp[tcpflags] & tcp-syn != 0'   # ${victim.name}'s SYNs get no [S.]`,
      `  2. sudo timeout 5 tcpdump -nn -e -i ${lan.bridge} host ${victim.ip} > lan.txt & sudo timeout 5 tcpdump -nn -e -i ${dmz.bridge} host ${victim.ip} > dmz.txt; wait`,
      lost === 'requests'
        ? `     lan.txt: its SYNs, again and again; dmz.txt: nothing. They die inside gw, on the way in.`
        : `     lan.txt: its SYNs; dmz.txt: the same SYNs (source MAC now gw's) and the webserver's SYN-ACKs. The answers reach gw and never leave it on lan.`,
      `  3. ${view.cli} answer '${victim.name} ${lost}'`,
      '',
      'Why it works: a router is a place where packets can die without a trace on either end. A',
      'capture on each side of it, at the same time, shows which side a packet reached and which it',
      'never did; the direction that is missing is the one the router drops.',
    ].join('\n');
  },
};
