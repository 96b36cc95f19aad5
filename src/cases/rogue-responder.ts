/**
 * The rogue responder: name poisoning on the local segment. The office machines find the
 * intranet server, and each other, by multicast DNS (224.0.0.251 udp 5353): a question to
 * the group, heard by every machine, answered by whoever owns the name. Every machine runs
 * the same office agent: it answers for its own name, serves its own small page, and
 * browses. One agent (drawn per run) also answers for the intranet's name, with its own
 * address, as fast as it can: every question for the intranet gets two answers, and the
 * asker takes the first, so its visits land on the impostor's page as often as the impostor
 * wins the race (a real one: two processes on two namespaces answering one datagram). The
 * busiest innocent browses and is browsed more than the culprit serves, and multicast
 * reaches every veth: counting port 3000 or packets per veth accuses an innocent. Reading
 * the answers (-vv: the id, the name, the address; -e: the MAC) finds the culprit.
 */
import { configOf, type CaseDraw, type CaseModule, type Evidence, type HostSpec, type Observations, type RunView } from './case.js';
import type { Rng } from '../core/random.js';
import type { AgentConfig, AgentVisit } from '../services/agent.js';
import { appName, caseStream, host, labCommands, packetsPerSec, range, suspectNames, webserver } from './common.js';

/** The text every page of the intranet holds (the webserver's page), by which an agent knows it got the intranet's. */
export const intranetMark = 'Thanks for loading this page!';
/** The port of every page, the intranet's and the machines'. */
export const pagePort = 3000;
const intranetNames = ['intranet', 'portal', 'wiki', 'staff', 'hub', 'office'] as const;

/** A machine's own multicast DNS name. */
export function mdnsNameOf(name: string): string {
  return `${name}.local`;
}

/** The run's name of the intranet, e.g. "portal.local". */
export function intranetOf(draw: CaseDraw): string {
  return configOf(draw, 'webserver', 'webserver')?.mdnsName ?? 'intranet.local';
}


/** Page loads a second a machine makes, by the names it visits. */
export function visitsPerSec(config: Pick<AgentConfig, 'visits'>, filter: (name: string) => boolean = () => true): number {
  return config.visits.filter((v) => filter(v.name)).reduce((sum, v) => sum + (v.loops ?? 1) * (1000 / v.everyMs), 0);
}

/**
 * Page loads a second on each machine's veth (port 3000), at worst for the argument: its own
 * visits, the visits to its page, and, for the culprit, every other machine's visit to the
 * intranet (as if it won every race).
 */
export function pageLoadsPerSec(draw: CaseDraw): Map<string, number> {
  const agents = draw.hosts.flatMap((h) => (h.program === 'agent' ? [{ name: h.name, c: h.config }] : []));
  const intranet = intranetOf(draw);
  const out = new Map<string, number>();
  for (const a of agents) {
    let n = visitsPerSec(a.c);
    for (const b of agents) if (b !== a) n += visitsPerSec(b.c, (v) => v === a.c.name);
    if (a.name === draw.culprit) for (const b of agents) if (b !== a) n += visitsPerSec(b.c, (v) => v === intranet);
    out.set(a.name, n);
  }
  return out;
}

export const rogueResponder: CaseModule = {
  id: 'rogue-responder',
  title: 'The rogue responder',
  difficulty: 'medium',
  skills: [
    'filtering multicast DNS: udp port 5353 (the group 224.0.0.251)',
    'reading questions and answers with -vv: the query id, the name, the address',
    'spotting two answers to one question; the source address and MAC of an answer (-e)',
    'mapping an address or a MAC to its host (/sys/class/net/eth0/address)',
  ],
  summary: 'The office finds its intranet by asking the local network for its name. Someone else answers too, and often first: find the machine that claims the name, and stop it.',
  symptom: 'Staff say the intranet often shows them some other machine\'s page instead of its own, at random, from every desk. From here the site looks fine.',
  backends: ['netns', 'docker'],
  suspects: { min: 3, max: 8, default: 5 },
  // the culprit's own visits come every 1.5-4 s, its answers as the others ask: a running
  // culprit sends a dozen packets in 3 s at least, while a second may pass without one
  quietWindowMs: 3000,

  draw(seedRng: Rng, suspects: number): CaseDraw {
    const rng = caseStream(seedRng, 15);
    const culpritAt = rng.int(suspects);
    const intranet = `${rng.pick(intranetNames)}.local`;
    // the busy one: an innocent whose page is everyone's (the team's shared desk), and who browses most
    const innocents = Array.from({ length: suspects }, (_, i) => i).filter((i) => i !== culpritAt);
    const busyAt = rng.pick(innocents);
    const names = Array.from({ length: suspects }, (_, i) => mdnsNameOf(appName(i + 1)));
    const hosts: HostSpec[] = [webserver({ mdnsName: intranet })];
    for (let i = 0; i < suspects; i++) {
      const peers = names.filter((_, j) => j !== i);
      // everyone's visits to the intranet: one every 1.5-2.5 s
      const visits: AgentVisit[] = [{ name: intranet, everyMs: 1500 + rng.int(1000) }];
      if (i === busyAt) {
        // it browses three of its peers' pages (the team's: the culprit is none of them), each every
        // 0.4-0.6 s, or as many loops on fewer
        const team = rng.shuffle(peers.filter((p) => p !== names[culpritAt])).slice(0, 3);
        for (const p of team) visits.push({ name: p, everyMs: 400 + rng.int(200), loops: Math.ceil(3 / team.length) });
      } else {
        // the shared desk's page every 0.6-0.9 s (the culprit has no business there), and one peer now and then
        if (i !== culpritAt) visits.push({ name: names[busyAt]!, everyMs: 600 + rng.int(300) });
        visits.push({ name: rng.pick(peers.filter((p) => p !== names[busyAt])), everyMs: 2500 + rng.int(1500) });
      }
      const config: AgentConfig = {
        name: names[i]!,
        port: pagePort,
        // the misconfigured agent's list holds the intranet's name; every other's is empty
        alsoAnswers: i === culpritAt ? [intranet] : [],
        intranet: { name: intranet, expect: intranetMark },
        visits: rng.shuffle(visits),
      };
      hosts.push({ name: appName(i + 1), role: 'suspect', program: 'agent', config });
    }
    return { hosts, culprit: appName(culpritAt + 1) };
  },

  briefing(view: RunView): string {
    const names = suspectNames(view);
    const intranet = intranetOf(view.draw);
    const web = host(view, 'webserver');
    return [
      `The office machines (${range(names)}) find the intranet, ${intranet} (the host webserver, ${web?.ip ?? 'its IP'}), the way they find`,
      'each other: by asking the local network for the name (multicast DNS), then loading its page over HTTP (port 3000).',
      'Each machine runs the same office agent: it answers for its own name, serves its own small page, and browses.',
      `Since this morning staff complain: the intranet often shows them some other machine's page instead, from every desk,`,
      `at random. The site itself, http://localhost:${view.port}, looks fine from here; \`${view.cli} status\` counts what the machines got.`,
      'Find the machine responsible with tcpdump, and stop it:',
      ...labCommands(view, 'arrest'),
    ].join('\n');
  },

  solvedBy: 'arrest',

  hints(view: RunView): string[] {
    const intranet = intranetOf(view.draw);
    const web = host(view, 'webserver');
    const culprit = host(view, view.draw.culprit);
    const answers = `sudo timeout 3 tcpdump -i ${view.bridge} -nn -vv -l 'udp src port 5353' | grep -o '${intranet}. A [0-9.]*' | sort | uniq -c`;
    return [
      [
        'A machine that finds a name by asking the whole segment believes whoever answers first. Multicast DNS is a question to the group 224.0.0.251, udp port 5353, that every machine hears (the bridge floods it to every veth), and an answer from the one that owns the name.',
        'Counting port 3000 will not find the fault: a busy machine browses, and is browsed, more than any other. Listen to the questions and their answers instead: `udp port 5353`.',
      ].join('\n'),
      [
        `Every question crosses the bridge ${view.bridge}; so does every answer, sent back to the machine that asked (from port 5353 to the asker's port):`,
        `  sudo timeout 3 tcpdump -i ${view.bridge} -nn -vv -l udp port 5353`,
        `A question reads "SRC.PORT > 224.0.0.251.5353: ID A (QM)? NAME. (LEN)"; with -vv an answer repeats the question: "SRC.5353 > ASKER.PORT: ID* q: A (QM)? NAME. 1/0/0 NAME. A ADDRESS (LEN)". The ID ties an answer to its question. (-vv also prints "bad udp cksum": harmless, the veth leaves checksums to nobody.)`,
        `How many answers does one question for ${intranet} get, and from whom?`,
      ].join('\n'),
      [
        `Count the addresses given for ${intranet}: the intranet's own is the webserver's (${web?.ip ?? 'its IP'}, in \`${view.cli} ps\`); any other is an impostor's:`,
        `  ${answers}`,
        'An answer\'s source can say anything; its source MAC is the impostor\'s card: -e prints it, and inside each host /sys/class/net/eth0/address holds its own:',
        `  sudo timeout 3 tcpdump -i ${view.bridge} -nn -e -vv -l 'udp src port 5353' | grep -B1 '${intranet}. A'     # the line above each answer: SRC-MAC > DST-MAC`,
        `  for h in $(${view.cli} ps -q); do echo "$h $(${view.cli} exec $h cat /sys/class/net/eth0/address)"; done`,
      ].join('\n'),
      [
        'The exact commands for this run:',
        `  ${answers}`,
        `  #   N ${intranet}. A ${web?.ip ?? 'WEBSERVER'}      (the intranet's own answer)`,
        `  #   N ${intranet}. A ${culprit?.ip ?? 'IP'}      (the second answer to the same questions)`,
        `  sudo timeout 3 tcpdump -i ${view.bridge} -nn -e -vv -l 'udp src port 5353 and src host ${culprit?.ip ?? 'IP'}' | grep -B1 '${intranet}. A'   # its MAC`,
        `  ${view.cli} exec ${view.draw.culprit} cat /sys/class/net/eth0/address     # the same MAC`,
        `  ${view.cli} ps | grep -wF '${culprit?.ip ?? 'IP'}'     # ${view.draw.culprit}`,
        `  ${view.cli} stop ${view.draw.culprit}`,
      ].join('\n'),
    ];
  },

  situationalHint(view: RunView, seen: Observations): string | undefined {
    if (seen.wrongArrests.length) {
      return `You arrested ${seen.wrongArrests.join(', ')}, and the wrong pages go on. Bring ${seen.wrongArrests.length > 1 ? 'them' : 'it'} back (\`${view.cli} restart HOST\`): a machine that browses a lot is not one that lies. Read who answers for the intranet's name: udp port 5353, -vv.`;
    }
    if (seen.tcpdumpOn.length === 0) return `No tcpdump is running yet. Listen on ${view.bridge} for multicast DNS: udp port 5353, with -nn -vv.`;
    const web = host(view, 'webserver');
    if (web?.veth && seen.tcpdumpOn.every((i) => i === web.veth)) {
      return `You are listening on the webserver's veth (${web.veth}): every question reaches it (multicast goes to every veth), but only its own answers leave there; the others go straight to the machine that asked. Listen on the bridge ${view.bridge}.`;
    }
    return undefined;
  },

  debrief(view: RunView, evidence: Evidence): string {
    const culprit = host(view, view.draw.culprit)!;
    const web = host(view, 'webserver');
    const intranet = intranetOf(view.draw);
    const iface = evidence.interfaces.get(culprit.name) ?? (culprit.veth ? { veth: culprit.veth, ifindex: culprit.ifindex ?? 0 } : undefined);
    const loads = pageLoadsPerSec(view.draw);
    const rows = suspectNames(view)
      .map((n) => ({ n, p: packetsPerSec(evidence, n), own: visitsPerSec(configOf(view.draw, n, 'agent') ?? { visits: [] }) }))
      .sort((a, b) => b.p - a.p)
      .map((r) => `  ${r.n.padEnd(8)} ${String(r.p).padStart(5)} packets/s, ${r.own.toFixed(1).padStart(4)} page loads/s of its own${r.n === culprit.name ? `   <- the culprit (and up to ${(loads.get(r.n)! - r.own).toFixed(1)} a second of others' visits to the intranet)` : ''}`);
    return [
      `The culprit was ${culprit.name} (${culprit.ip}, its veth ${iface?.veth ?? '?'}, ifindex ${iface?.ifindex ?? '?'}): its office agent answered every question`,
      `for ${intranet} with its own address, as the webserver (${web?.ip ?? '?'}) did with its own. Every such question got two answers with`,
      'one id; the asker took the first to arrive, and when that was the culprit\'s, it loaded the culprit\'s page.',
      '',
      "Packets a second on each veth since the start, and each machine's own page loads a second: the culprit was not",
      'the loudest (the shared desk browses and is browsed more), and multicast questions reach every veth alike.',
      ...rows,
      '',
      'How to see it:',
      `  1. sudo timeout 3 tcpdump -i ${view.bridge} -nn -vv -l 'udp src port 5353' | grep -o '${intranet}. A [0-9.]*' | sort | uniq -c`,
      `     two addresses for one name: ${web?.ip ?? '?'} (the webserver) and ${culprit.ip}, each question answered twice, with the same id`,
      `  2. sudo timeout 3 tcpdump -i ${view.bridge} -nn -e -l 'udp src port 5353 and src host ${culprit.ip}'   # its source MAC`,
      `  3. ${view.cli} exec ${culprit.name} cat /sys/class/net/eth0/address   # the same MAC; ${view.cli} ps: ${culprit.ip} is ${culprit.name}`,
      `  4. ${view.cli} stop ${culprit.name}`,
      '',
      'Why it works: multicast DNS (like LLMNR and NetBIOS name service, which tools such as Responder poison) has no',
      'authority: any machine on the segment may answer any question, and the asker believes the first answer. One',
      'question, two answers, two addresses: the one that is not the name\'s owner is the liar. Its MAC, printed with -e,',
      'is its network card\'s, which a forged source address does not change.',
    ].join('\n');
  },
};
