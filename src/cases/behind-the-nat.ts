/**
 * Behind the NAT: the office machines (lan) reach a partner's server (wan) through the
 * gateway gw, which masquerades them all behind its own wan address, each connection on a
 * port it picks at random (MASQUERADE --random-fully). Every machine runs the same sync
 * agent: one keep-alive connection, four uploads a second of random-looking bytes, signed
 * with the machine's own licence key. One machine's key is a stolen one: the partner's
 * server flags its connection and publishes an abuse report (GET /report on the site) that
 * names what the partner sees, gw's address and the outside port. Inside, nothing (rate,
 * size, path, headers) tells the machines apart, and gw's translation table is out of reach
 * (infrastructure). NAT rewrites addresses and ports, not the TCP sequence numbers nor the
 * payload: capture both sides at once with -S (or -X) and match the connection.
 */
import type { CaseDraw, CaseModule, Evidence, HostSpec, Observations, RunView } from './case.js';
import type { Rng } from '../core/random.js';
import type { ClientJob } from '../services/client.js';
import { addressOn, appName, caseStream, client, hex, host, jobsOf, labCommands, network, packetsPerSec, range, suspectNames, webserver } from './common.js';

/**
 * Every machine's upload: its size, its path and its pace, the same everywhere. Four a second:
 * in a capture of a few seconds every machine's veth carries the same count of packets, give or
 * take one upload's three (the POST, the answer, the ACK), so counting tells nothing.
 */
export const upload = { bytes: 768, path: '/sync', everyMs: 250 } as const;
/** The partner's abuse report, on the published site. */
export const reportPath = '/report';
/** The inside ports the agents' connections are made from (drawn per machine, all different). */
export const insidePorts = { min: 40000, max: 59999 } as const;

/** gw's NAT: everything leaving on wan takes gw's address there, on a port drawn at random for each connection. */
export const natRule = { table: 'nat' as const, chain: 'POSTROUTING', args: ['-o', '{dev:wan}', '-j', 'MASQUERADE', '--random-fully'] };

/** A machine's sync job, as its configuration holds it (the key and port are the machine's own). */
export function syncJob(key: string, localPort: number): ClientJob {
  return {
    kind: 'post',
    loops: 1,
    keepAlive: true,
    sleepMs: upload.everyMs,
    bytes: upload.bytes,
    path: upload.path,
    signKey: key,
    localPort,
    headers: { 'content-type': 'application/octet-stream', 'user-agent': 'sync-agent/2.4' },
  };
}

/** The answer: exactly one office machine named (any other words, routers or the webserver along, are free). */
export function namedMachines(value: string, draw: CaseDraw): string[] {
  const words = value.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
  const role = new Map(draw.hosts.map((h) => [h.name, h.role]));
  return [...new Set(words.filter((w) => role.get(w) === 'suspect'))];
}

/** A machine's inside port, from the draw (its sync job's). */
export function insidePortOf(draw: CaseDraw, name: string): number | undefined {
  return jobsOf(draw, name).find((j) => j.signKey)?.localPort;
}


/** The shell line that reads the outside port off the report. */
function portFromReport(view: RunView): string {
  return `P=$(curl -s http://localhost:${view.port}${reportPath} | grep -o 'from [0-9.]* port [0-9]*' | head -1 | awk '{print $4}'); echo $P`;
}

export const behindTheNat: CaseModule = {
  id: 'behind-the-nat',
  title: 'Behind the NAT',
  difficulty: 'hard',
  skills: [
    'capturing on both sides of a NAT at the same time (-i per side)',
    'absolute sequence numbers (-S): what NAT leaves alone, to follow one connection across it',
    'matching packets by payload bytes (-X) and by time (-tt)',
  ],
  summary: 'The partner flags one connection from our public address, by its port. Every office machine sends the same kind of uploads through the NAT gateway: find which one it is.',
  symptom: 'A partner\'s abuse desk has flagged a connection from our office\'s address and will block the whole office unless we stop the machine behind it. Their report is on the site, at /report. Which office machine is it? (answer with its name)',
  backends: ['netns', 'docker'],
  suspects: { min: 3, max: 8, default: 5 },

  draw(seedRng: Rng, suspects: number): CaseDraw {
    const rng = caseStream(seedRng, 12);
    const culpritAt = rng.int(suspects);
    const keys = Array.from({ length: suspects }, () => hex(rng, 32));
    const ports: number[] = [];
    while (ports.length < suspects) {
      const p = insidePorts.min + rng.int(insidePorts.max - insidePorts.min + 1);
      if (!ports.includes(p)) ports.push(p);
    }
    const hosts: HostSpec[] = [
      // the partner's server: it knows the stolen key, and keeps the agents' connections open
      { ...webserver({ keepAliveMs: 120_000, flagKey: keys[culpritAt], reportPath }), interfaces: [{ network: 'wan' }] },
      {
        name: 'gw',
        role: 'router',
        program: 'idle',
        config: {},
        interfaces: [{ network: 'lan' }, { network: 'wan' }],
        rules: [natRule],
        infrastructure: true,
      },
    ];
    for (let i = 0; i < suspects; i++) {
      // the same program and the same job everywhere: the sync agent, its own key and inside port
      const spec = client(appName(i + 1), [syncJob(keys[i]!, ports[i]!)]);
      hosts.push({ ...spec, interfaces: [{ network: 'lan' }], routes: [{ to: 'default', via: 'gw' }] });
    }
    const culprit = appName(culpritAt + 1);
    return { networks: [{ name: 'lan' }, { name: 'wan' }], hosts, culprit, value: culprit };
  },

  briefing(view: RunView): string {
    const names = suspectNames(view);
    const lan = network(view, 'lan');
    const wan = network(view, 'wan');
    return [
      `The office machines (${range(names)}) sit on the network lan, behind the gateway gw: it hides them all`,
      'behind one public address, its own on wan (NAT). gw is the provider\'s: nobody here can log into it, nor',
      'read its table of translations.',
      'On wan sits our partner\'s server (webserver). Every office machine runs its sync agent: one connection',
      'to the partner, kept open, and uploads of encrypted data, four a second.',
      'This morning the partner\'s abuse desk wrote: one of our connections uploads with a stolen licence key,',
      'and they will block our address unless we stop the machine that sends it. Their report names what they see:',
      `  curl -s http://localhost:${view.port}${reportPath}`,
      'Which office machine is it? Answer with its name:',
      ...labCommands(view, 'answer', 'app9').slice(0, -1),
      `The networks: lan on the bridge ${lan.bridge}, wan on the bridge ${wan.bridge} (\`ip link show master BRIDGE\` lists each one's veths).`,
    ].join('\n');
  },

  solvedBy: 'answer',
  checkAnswer(value: string, draw: CaseDraw): boolean {
    const named = namedMachines(value, draw);
    return named.length === 1 && named[0] === draw.culprit;
  },

  hints(view: RunView): string[] {
    const lan = network(view, 'lan');
    const wan = network(view, 'wan');
    const culprit = host(view, view.draw.culprit);
    const gwWan = addressOn(view, 'gw', 'wan') ?? 'GW';
    const web = addressOn(view, 'webserver', 'wan') ?? 'WEBSERVER';
    const inside = insidePortOf(view.draw, view.draw.culprit);
    return [
      [
        `The report names the connection as the partner sees it: from gw's wan address (${gwWan}) and a port gw chose. Inside, on lan, the same connection has another source address (the machine's) and another port: gw rewrote both, and keeps the table of its rewrites to itself.`,
        `What NAT rewrites: addresses and ports. What it leaves alone: the TCP sequence numbers, the payload, and the time a packet passes. Capture on both sides of gw at once: wan (${wan.bridge}) and lan (${lan.bridge}).`,
      ].join('\n'),
      [
        'Capture the reported connection on wan and everything to the partner on lan, at the same time, with -S: tcpdump prints sequence numbers relative to the first packet it sees of each connection, so the two sides\' numbers differ; -S prints them as they are on the wire, the same on both sides.',
        `  ${portFromReport(view)}`,
        `  sudo timeout 4 tcpdump -nn -S -l -i ${wan.bridge} "tcp port $P" > wan.txt & sudo timeout 4 tcpdump -nn -S -l -i ${lan.bridge} 'tcp port 3000' > lan.txt; wait`,
        'An upload on wan (length > 0, seq A:B) is on lan too, with the same seq A:B, from the machine\'s own address.',
      ].join('\n'),
      [
        `Other ways to match: -X prints every packet's bytes, and an upload's bytes are the same on both sides (its IP and TCP headers differ, its payload does not); -tt prints the time, and a packet crosses gw in microseconds. Then \`${view.cli} ps\` names the address you found on lan.`,
        'The report\'s port changes if the connection is opened again: read it just before you capture.',
      ].join('\n'),
      [
        'The exact commands for this run:',
        `  ${portFromReport(view)}     # gw's (${gwWan}) port for the flagged connection`,
        `  sudo timeout 4 tcpdump -nn -S -l -i ${wan.bridge} "tcp src port $P and tcp[tcpflags] & tcp-push != 0" > wan.txt & sudo timeout 4 tcpdump -nn -S -l -i ${lan.bridge} 'tcp dst port 3000 and tcp[tcpflags] & tcp-push != 0' > lan.txt; wait`,
        `  for s in $(grep -o ' seq [0-9]*:' wan.txt | tr -dc '0-9\\n'); do grep " seq $s:" lan.txt; done     # ${culprit?.ip ?? 'IP'}.${inside ?? 'PORT'} > ${web}.3000`,
        `  ${view.cli} ps | grep -wF '${culprit?.ip ?? 'IP'}'`,
        `  ${view.cli} answer ${view.draw.culprit}`,
      ].join('\n'),
    ];
  },

  situationalHint(view: RunView, seen: Observations): string | undefined {
    const lan = network(view, 'lan').bridge;
    const wan = network(view, 'wan').bridge;
    if (seen.tcpdumpOn.length === 0) return `No tcpdump is running yet. The report: curl -s http://localhost:${view.port}${reportPath}; gw's two sides: lan ${lan}, wan ${wan}.`;
    if (seen.tcpdumpOn.includes(wan) && !seen.tcpdumpOn.includes(lan) && !seen.tcpdumpOn.includes('any')) {
      return `You are listening on wan (${wan}) only: every packet there comes from gw's address. The machine's own address is on lan (${lan}): capture there at the same time, with -S on both.`;
    }
    if (seen.tcpdumpOn.includes(lan) && !seen.tcpdumpOn.includes(wan) && !seen.tcpdumpOn.includes('any')) {
      return `You are listening on lan (${lan}) only: there, no port is the report's. The report's port is on wan (${wan}): capture there at the same time, with -S on both.`;
    }
    return undefined;
  },

  debrief(view: RunView, evidence: Evidence): string {
    const lan = network(view, 'lan');
    const wan = network(view, 'wan');
    const culprit = host(view, view.draw.culprit)!;
    const gwLan = addressOn(view, 'gw', 'lan') ?? '?';
    const gwWan = addressOn(view, 'gw', 'wan') ?? '?';
    const web = addressOn(view, 'webserver', 'wan') ?? '?';
    const inside = insidePortOf(view.draw, culprit.name);
    const names = suspectNames(view);
    const rates = names.map((n) => `${n} ${packetsPerSec(evidence, n)}`).join(', ');
    return [
      `${culprit.name} (${culprit.ip}) sent the uploads signed with the stolen key: its sync agent's connection, from`,
      `port ${inside ?? '?'} inside, left gw from ${gwWan} on the port the report named. Every machine's agent uploads ${upload.bytes} bytes`,
      `of random-looking data to ${upload.path} four times a second on one kept-open connection, each signed with the machine's own key`,
      '(an HMAC in its last 16 bytes): only the partner, who knows the stolen key, can tell one machine\'s uploads from another\'s.',
      `Packets a second on each machine's veth since the start: ${rates}: nothing to tell them apart.`,
      '',
      'The path, and what gw rewrote:',
      `  inside  (lan ${lan.bridge}):  ${culprit.ip}.${inside ?? '?'} > ${web}.3000    ${culprit.name} --lan-- ${gwLan} [gw]`,
      `  outside (wan ${wan.bridge}):  ${gwWan}.PORT > ${web}.3000    [gw] ${gwWan} --wan-- ${web} webserver`,
      '  gw\'s rule, inside its own namespace: iptables -t nat -A POSTROUTING -o eth1 -j MASQUERADE --random-fully',
      '  (--random-fully: a port drawn at random for every connection; without it, the kernel keeps the inside port where it can,',
      '  and the port alone would name the machine). gw\'s conntrack table holds the pair; it is in gw\'s namespace, out of reach.',
      '  The TCP sequence numbers, the timestamps option, the payload and the timing cross gw unchanged.',
      '',
      'How to see it:',
      `  1. ${portFromReport(view)}   # PORT, gw's port for the flagged connection`,
      `  2. sudo timeout 4 tcpdump -nn -S -l -i ${wan.bridge} "tcp src port $P and tcp[tcpflags] & tcp-push != 0" > wan.txt & sudo timeout 4 tcpdump -nn -S -l -i ${lan.bridge} 'tcp dst port 3000 and tcp[tcpflags] & tcp-push != 0' > lan.txt; wait`,
      `  3. every "seq A:B" of wan.txt is in lan.txt, from ${culprit.ip}.${inside ?? '?'}: for s in $(grep -o ' seq [0-9]*:' wan.txt | tr -dc '0-9\\n'); do grep " seq $s:" lan.txt; done`,
      `     (or -X: the same bytes after the headers on both sides; or -tt: the same upload a few microseconds apart)`,
      `  4. ${view.cli} ps: ${culprit.ip} is ${culprit.name}; ${view.cli} answer ${culprit.name}`,
      '',
      'Why it works: NAT rewrites the addresses and ports of a connection, and keeps the mapping in its own table.',
      'Everything else of each packet crosses it as it came: the sequence numbers (absolute, with -S), the bytes',
      'of the payload, the moment it passes. Two captures at once, one a side, match the two halves of one connection.',
    ].join('\n');
  },
};
