/**
 * The seed's mystery: one of several HTTP senders floods the webserver. The loudest veth
 * (after the webserver's own) is the culprit's; /sys/class/net/eth0/iflink maps it home.
 */
import type { CaseDraw, CaseModule, HostSpec, RunView } from './case.js';
import type { Rng } from '../core/random.js';

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

export const noisyNeighbour: CaseModule = {
  id: 'noisy-neighbour',
  title: 'The noisy neighbour',
  difficulty: 'easy',
  skills: ['choosing an interface (-i)', 'counting packets per interface', 'mapping a veth to its container (iflink)'],
  summary: 'The site is sluggish: one of the HTTP senders floods it. Find the loud veth and arrest its owner.',
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
};
