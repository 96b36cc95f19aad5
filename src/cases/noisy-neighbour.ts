/**
 * The seed's mystery: one of several HTTP senders floods the webserver. The loudest veth
 * (after the webserver's own) is the culprit's; /sys/class/net/eth0/iflink maps it home.
 */
import { configOf, type CaseDraw, type CaseModule, type ComposeFileSpec, type Evidence, type HostSpec, type Observations, type Refusal, type RunView } from './case.js';
import { bars } from '../core/sparkline.js';
import { seededRng, type Rng } from '../core/random.js';

/**
 * The original shuffled loop counts 50, 50, 60, 80 and 400. Here the webserver serves about
 * 100 requests a second (one worker, 10 ms a request), so the profile is scaled to keep
 * the innocents well under that (about 20 loops, ~65 req/s) while the culprit's loops
 * alone need over twice the capacity: its queue makes every page take a second or more.
 */
export const innocentProfile = [4, 4, 5, 6] as const;
export const culpritLoops = 200;
/** All innocents together never run more loops than this, however many suspects there are. */
export const innocentBudget = 20;
export const webserverCapacity = { workers: 1, holdMs: 10 } as const;

export function loopCounts(suspects: number): number[] {
  const counts: number[] = [];
  for (let i = 0; i < suspects - 1; i++) counts.push(innocentProfile[i % innocentProfile.length]!);
  const total = counts.reduce((a, b) => a + b, 0);
  const scaled = total > innocentBudget ? counts.map((c) => Math.max(1, Math.floor((c * innocentBudget) / total))) : counts;
  return [...scaled, culpritLoops];
}

export function senderName(i: number): string {
  return `http-sender${i}`;
}

/** The senders the repository's docker-compose.yml defines (http-sender1..5). */
export const composeSenders = 5;
const senderPattern = /^http-sender(\d+)$/;
const composeShape: Refusal = {
  message: `This case cannot be built from docker-compose.yml (a webserver and up to ${composeSenders} http-senders).`,
  fix: `Use --backend netns, or --suspects ${composeSenders} or fewer.`,
};

/** A draw of the seed's file, from what its senders run (a lab of the file started by hand). */
function drawOfLoops(loops: Map<string, number>): CaseDraw {
  const hosts: HostSpec[] = [{ name: 'webserver', role: 'server', program: 'webserver', config: { port: 3000, maxQueue: 2000, ...webserverCapacity } }];
  let culprit = '';
  let most = -1;
  for (const [name, n] of [...loops].sort()) {
    hosts.push({ name, role: 'suspect', program: 'sender', config: { target: 'http://webserver:3000/', loops: n, sleepMs: 300 } });
    if (n > most) [culprit, most] = [name, n];
  }
  return { hosts, culprit };
}

/** A seed whose draw gives every sender the loops it runs, so that the rest of the tool draws the same again. */
function seedOfLoops(loops: Map<string, number>): { seed: string; draw: CaseDraw } | undefined {
  for (let i = 0; i < 20_000; i++) {
    const seed = `compose-${i}`;
    const draw = noisyNeighbour.draw(seededRng(seed), loops.size);
    const senders = draw.hosts.filter((h) => h.program === 'sender');
    if (senders.length === loops.size && senders.every((h) => configOf(draw, h.name, 'sender')?.loops === loops.get(h.name))) return { seed, draw };
  }
  return undefined;
}

/**
 * The seed's own compose file (docker-compose.yml, with randomize_suspects.sh): a webserver and
 * five senders, the draw in SUSPECT1..5 (each sender's loops) and the webserver's settings.
 */
export const seedComposeFile: ComposeFileSpec = {
  file: 'docker-compose.yml',
  // the five senders share one image: building it once is enough
  build: ['webserver', senderName(1)],
  env(draw) {
    const web = configOf(draw, 'webserver', 'webserver');
    const senders = draw.hosts.filter((h) => h.program === 'sender');
    const fits =
      !!web &&
      senders.length + 1 === draw.hosts.length &&
      senders.every((h) => {
        const m = senderPattern.exec(h.name);
        return !!m && Number(m[1]) >= 1 && Number(m[1]) <= composeSenders && !h.link;
      });
    if (!web || !fits) return { refusal: composeShape };
    const env: Record<string, string> = {
      MYSTERY_WORKERS: String(web.workers ?? 1),
      MYSTERY_HOLD_MS: String(web.holdMs ?? 10),
      MYSTERY_MAX_QUEUE: String(web.maxQueue ?? 2000),
    };
    for (let i = 1; i <= composeSenders; i++) env[`SUSPECT${i}`] = String(configOf(draw, senderName(i), 'sender')?.loops ?? 0);
    const sleepMs = senders.map((h) => configOf(draw, h.name, 'sender')?.sleepMs).find((x) => x !== undefined);
    if (sleepMs) env.MYSTERY_SLEEP_MS = String(sleepMs);
    return { env };
  },
  unused(draw) {
    return Array.from({ length: composeSenders }, (_, i) => senderName(i + 1)).filter((n) => !draw.hosts.some((h) => h.name === n));
  },
  adopt(services) {
    const senders = [...services.keys()].filter((n) => senderPattern.test(n));
    if (!services.has('webserver') || senders.length === 0) return undefined;
    const raw = senders.map((n) => [n, services.get(n)!('LOOPS') ?? ''] as const);
    if (raw.some(([, v]) => !/^\d+$/.test(v))) {
      // `docker-compose up` without a draw: its senders only say to run the script, and exit
      return {
        refusal: {
          message: 'The lab was started by docker-compose without a draw: its senders have no loops to run (LOOPS=undrawn).',
          fix: 'Take it down (docker-compose down), then run ./randomize_suspects.sh and docker-compose --env-file .env.suspects up --build.',
        },
      };
    }
    const loops = new Map(raw.map(([n, v]) => [n, Number(v)]));
    const found = seedOfLoops(loops);
    return found ?? { draw: drawOfLoops(loops), seed: '' };
  },
};

export const noisyNeighbour: CaseModule = {
  id: 'noisy-neighbour',
  title: 'The noisy neighbour',
  difficulty: 'easy',
  skills: ['choosing an interface (-i)', 'counting packets per interface', 'mapping a veth to its container (iflink)'],
  summary: 'The site is sluggish: one of the HTTP senders floods it. Find the loud veth and arrest its owner.',
  symptom: 'The site is sluggish: pages take a second or more to load.',
  backends: ['netns', 'docker'],
  suspects: { min: 2, max: 12, default: 5 },

  draw(rng: Rng, suspects: number): CaseDraw {
    const counts = rng.shuffle(loopCounts(suspects));
    const hosts: HostSpec[] = [
      { name: 'webserver', role: 'server', program: 'webserver', config: { port: 3000, maxQueue: 2000, ...webserverCapacity } },
    ];
    let culprit = '';
    counts.forEach((loops, i) => {
      const name = senderName(i + 1);
      if (loops === culpritLoops) culprit = name;
      hosts.push({ name, role: 'suspect', program: 'sender', config: { target: 'http://webserver:3000/', loops, sleepMs: 300 } });
    });
    return { hosts, culprit };
  },

  briefing(view: RunView): string {
    const suspects = view.hosts.filter((h) => h.name.startsWith('http-sender')).length;
    return [
      `Something is wrong with our nice shiny webserver at http://localhost:${view.port} ... it is really sluggish.`,
      `${suspects} services (http-sender1 .. http-sender${suspects}) call it all day long. One of them`,
      'has started to flood it. Find out which one with tcpdump, and stop it:',
      `  ${view.cli} ps          the lab's hosts (like docker ps)`,
      `  ${view.cli} exec HOST CMD   run a command inside a host (like docker exec)`,
      `  ${view.cli} stop HOST   arrest a host (like docker stop)`,
      `  ${view.cli} status      is the site still slow?`,
      'Tip: the interfaces are on this machine: `ip link show`.',
    ].join('\n');
  },

  solvedBy: 'arrest',
  composeFile: seedComposeFile,

  hints(view: RunView): string[] {
    const culprit = view.hosts.find((h) => h.name === view.draw.culprit);
    const web = view.hosts.find((h) => h.name === 'webserver');
    return [
      'A flood is a lot of packets. Each host is wired to the bridge by its own veth interface on this machine: `ip link show | grep veth`. Listen on each one for a few seconds and compare how many packets each captures.',
      [
        'Count packets on every veth, 3 seconds each:',
        `  for i in $(ip link show | grep veth | awk '{print $2}' | cut -d@ -f1); do echo $i; sudo timeout 3 tcpdump -nq -i $i "tcp port ${3000}" 2>&1 >/dev/null | grep captured; done`,
        "Two are loud: the webserver's own veth (it receives everything) and the culprit's. `ip link show | grep vethXXX` gives the loud veth's number (its ifindex): the number before the colon.",
      ].join('\n'),
      [
        "Inside each host, /sys/class/net/eth0/iflink holds the ifindex of its veth on this machine. Compare it with the loud veth's number:",
        `  for c in $(${view.cli} ps -q); do echo "$c $(${view.cli} exec $c cat /sys/class/net/eth0/iflink)"; done`,
        `The host whose iflink matches is the culprit (and the one that matches the other loud veth is the webserver at ${web?.ip ?? 'its IP'}).`,
      ].join('\n'),
      [
        'The exact commands for this run:',
        `  sudo timeout 3 tcpdump -nq -i ${culprit?.veth ?? 'VETH'} "tcp port 3000"     # the loud one${culprit?.ifindex ? ` (ifindex ${culprit.ifindex})` : ''}`,
        `  ${view.cli} exec ${view.draw.culprit} cat /sys/class/net/eth0/iflink${culprit?.ifindex ? `   # prints ${culprit.ifindex}` : ''}`,
        `  ${view.cli} stop ${view.draw.culprit}`,
      ].join('\n'),
    ];
  },

  situationalHint(view: RunView, seen: Observations): string | undefined {
    if (seen.tcpdumpOn.includes(view.bridge) || seen.tcpdumpOn.includes('any')) {
      return `You are capturing on ${seen.tcpdumpOn.includes('any') ? 'any interface' : `the bridge ${view.bridge}`}: it sees everyone's traffic, so it cannot tell you who is loud. Try the veths, one at a time.`;
    }
    const culprit = view.hosts.find((h) => h.name === view.draw.culprit);
    if (culprit?.veth && seen.tcpdumpOn.includes(culprit.veth)) {
      return `You are listening on ${culprit.veth}: compare its packet count with the other veths'. If it is one of the two loud ones, find whose it is with /sys/class/net/eth0/iflink.`;
    }
    if (seen.wrongArrests.length) {
      return `You arrested ${seen.wrongArrests.join(', ')}, and the site stayed slow. Bring ${seen.wrongArrests.length > 1 ? 'them' : 'it'} back with \`${view.cli} restart\`, then compare the packet counts of every veth again.`;
    }
    if (seen.tcpdumpOn.length === 0) return 'No tcpdump is running yet. Start with `ip link show` and pick an interface to listen on.';
    return undefined;
  },

  debrief(view: RunView, evidence: Evidence): string {
    const culprit = view.hosts.find((h) => h.name === view.draw.culprit)!;
    const ci = evidence.interfaces.get(culprit.name);
    const rows = view.hosts
      .map((h) => {
        const i = evidence.interfaces.get(h.name);
        const total = evidence.packets.get(h.name) ?? 0;
        return {
          label: `${(i?.veth ?? '(gone)').padEnd(12)} ${String(i?.ifindex ?? '-').padStart(4)}  ${h.name.padEnd(13)}`,
          value: total,
          note: `(${Math.round(total / evidence.seconds)}/s)${h.name === culprit.name ? ' <- the culprit' : h.name === 'webserver' ? ' <- the webserver answers everyone' : ''}`,
        };
      })
      .sort((a, b) => b.value - a.value);
    return [
      `The culprit was ${culprit.name} (id ${culprit.id}, ${culprit.ip}).`,
      '',
      `Packets seen on each veth since the lab started, ${Math.round(evidence.seconds)} s ago (veth, ifindex, host):`,
      bars(rows),
      '',
      'How to see it:',
      `  1. sudo timeout 3 tcpdump -nq -i ${ci?.veth ?? 'VETH'} "tcp port 3000"   # one of the two loud veths`,
      `  2. ip link show | grep ${ci?.veth ?? 'VETH'}                          # "${ci?.ifindex ?? 'N'}: ${ci?.veth ?? 'VETH'}@if..." : its ifindex is ${ci?.ifindex ?? 'N'}`,
      `  3. for c in $(${view.cli} ps -q); do ${view.cli} exec $c cat /sys/class/net/eth0/iflink; done   # ${culprit.name} prints ${ci?.ifindex ?? 'N'}`,
      `  4. ${view.cli} stop ${culprit.name}`,
      '',
      'Why it works: a veth pair is one cable with two ends. The end inside the host is eth0; its',
      "iflink is the ifindex of the other end, on this machine. tcpdump on a veth sees only that host's",
      "traffic, while the bridge sees everyone's. The webserver's veth is loud too: it answers everyone.",
    ].join('\n');
  },
};
