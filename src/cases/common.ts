/**
 * What the catalog's cases share: the webserver they all keep, neutral host names, the
 * lines of a briefing that show the lab's commands, and small helpers for hints.
 */
import { configOf, hostConfig, type CaseDraw, type EndToEndSpec, type Evidence, type HostSpec, type RunView } from './case.js';
import type { Rng } from '../core/random.js';
import type { ClientJob } from '../services/client.js';
import type { WebserverConfig } from '../services/webserver.js';

/**
 * The sysctls a host's namespace (or container) gets: its own `sysctls`, and with `lowPorts`
 * net.ipv4.ip_unprivileged_port_start = 0 (per namespace since Linux 4.11), so its service
 * binds port 53 as `nobody` without CAP_NET_BIND_SERVICE, as Docker sets it in containers.
 */
export function hostSysctls(spec: Pick<HostSpec, 'lowPorts' | 'sysctls'>): Record<string, string> {
  return { ...(spec.lowPorts ? { 'net.ipv4.ip_unprivileged_port_start': '0' } : {}), ...(spec.sysctls ?? {}) };
}

/** The site every case publishes (noisy-neighbour's capacity: one worker, 10 ms a page). */
export const webTarget = 'http://webserver:3000/';

export function webserver(extra: Partial<WebserverConfig> = {}): HostSpec {
  return { name: 'webserver', role: 'server', program: 'webserver', config: { port: 3000, maxQueue: 2000, workers: 1, holdMs: 10, ...extra } };
}

/**
 * Suspects are app1 .. appN: neutral names, so that no name hints at a behaviour. All run
 * the same program (`client`), so nothing in `ps` or the state file tells them apart.
 */
export function appName(i: number): string {
  return `app${i}`;
}

export function client(name: string, jobs: ClientJob[]): HostSpec {
  return { name, role: 'suspect', program: 'client', config: { target: webTarget, jobs } };
}

/** The jobs of the draw's host `name` if it runs the client (none otherwise). */
export function jobsOf(draw: Pick<CaseDraw, 'hosts'>, name: string): ClientJob[] {
  return configOf(draw, name, 'client')?.jobs ?? [];
}

/** A host's client jobs (none if it runs another program). */
export function clientJobs(h: HostSpec): ClientJob[] {
  return hostConfig(h, 'client')?.jobs ?? [];
}

/** Picks the culprit's position among n suspects (0-based). */
export function culpritIndex(rng: Rng, n: number): number {
  return rng.int(n);
}

/** The suspects' names in name order: every host but the servers and routers. */
export function suspectNames(view: RunView): string[] {
  // servers (the webserver, a resolver) and routers are no suspects
  const servers = new Set(view.draw.hosts.filter((h) => h.role !== 'suspect').map((h) => h.name));
  return view.hosts
    .filter((h) => h.name !== 'webserver' && !servers.has(h.name))
    .map((h) => h.name)
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}

export function range(names: string[]): string {
  return names.length > 2 ? `${names[0]} .. ${names[names.length - 1]}` : names.join(' and ');
}

export function host(view: RunView, name: string): RunView['hosts'][number] | undefined {
  return view.hosts.find((h) => h.name === name);
}

/** The commands every briefing lists. */
export function labCommands(view: RunView, solvedBy: 'arrest' | 'answer', example?: string): string[] {
  return [
    `  ${view.cli} ps              the lab's hosts and their IPs (like docker ps)`,
    `  ${view.cli} exec HOST CMD   run a command inside a host (like docker exec)`,
    solvedBy === 'arrest' ? `  ${view.cli} stop HOST       arrest a host (like docker stop)` : `  ${view.cli} answer VALUE    give your answer${example ? `, e.g. ${view.cli} answer ${example}` : ''}`,
    `  ${view.cli} status          the site's response time, solved or not`,
    `  ${view.cli} hint            one more hint each time`,
    `Tip: every host hangs off one bridge on this machine (${view.bridge}); each has its own veth on it: \`ip link show master ${view.bridge}\`.`,
  ];
}

/** The line of a hint that names this run's bridge and the webserver's veth. */
/**
 * A command run in a host's network namespace, written for the lab's backend: the images
 * have no iproute2, so on Docker the host's tools run in the container's namespace (nsenter).
 */
export function inHostNet(view: RunView, name: string, command: string): string {
  if (view.backend === 'docker') {
    const id = host(view, name)?.id ?? name;
    return `sudo nsenter -n -t $(sudo docker inspect -f '{{.State.Pid}}' ${id}) ${command}`;
  }
  return `${view.cli} exec ${name} ${command}`;
}

export function whereToListen(view: RunView): string {
  const web = host(view, 'webserver');
  return `The bridge ${view.bridge} sees every host's traffic; the webserver's own veth is ${web?.veth ?? 'VETH'} (${web?.ip ?? 'its IP'}).`;
}

/** Innocent traffic of an HTTP client: `loops` loops of GET every ~sleepMs. */
export function getJob(sleepMs: number, loops = 1, extra: Partial<ClientJob> = {}): ClientJob {
  return { kind: 'get', loops, sleepMs, ...extra };
}

const words = [
  'amber', 'basil', 'cobalt', 'dune', 'ember', 'fjord', 'garnet', 'harbor', 'indigo', 'juniper', 'kestrel', 'lagoon',
  'maple', 'nectar', 'onyx', 'pepper', 'quartz', 'raven', 'saffron', 'tundra', 'umber', 'velvet', 'willow', 'zephyr',
  'otter', 'ladder', 'copper', 'meadow', 'falcon', 'glacier', 'lantern', 'marble', 'orchid', 'pebble', 'river', 'summit',
];

/** A password as people make them: two words and four digits, e.g. "otter-ladder-5813". */
export function drawPassword(rng: Rng): string {
  const a = rng.pick(words);
  let b = rng.pick(words);
  while (b === a) b = rng.pick(words);
  return `${a}-${b}-${String(1000 + rng.int(9000))}`;
}

export function hex(rng: Rng, chars: number): string {
  let s = '';
  for (let i = 0; i < chars; i++) s += '0123456789abcdef'[rng.int(16)];
  return s;
}

/**
 * Each case first skips its own number of draws, so that one seed does not put the culprit
 * at the same place in every case of the catalog: a new case passes its id (the number of
 * draws skipped comes from it; the older cases keep the numbers their seeds were drawn with).
 * A unit test holds every pair of the catalog's cases apart.
 */
export function caseStream(rng: Rng, offset: number | string): Rng {
  const n = typeof offset === 'number' ? offset : 17 + ([...offset].reduce((h, ch) => Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0, 2166136261) % 97);
  for (let i = 0; i < n; i++) rng.int(2);
  return rng;
}

/** A host's average packets a second on its veth since the lab started (the debriefs' tables). */
export function packetsPerSec(evidence: Evidence, name: string): number {
  return Math.round((evidence.packets.get(name) ?? 0) / evidence.seconds);
}

/** A host's average KB a second on its veth since the lab started. */
export function kbPerSec(evidence: Evidence, name: string): number {
  return Math.round((evidence.bytes.get(name) ?? 0) / evidence.seconds / 1024);
}

/** A network of the lab by its name, with its bridge and subnet (a lab of one network: its bridge). */
export function network(view: RunView, name: string): { bridge: string; subnet: string } {
  return view.networks?.find((n) => n.name === name) ?? { bridge: view.bridge, subnet: '' };
}

/** A host's address on one of its networks. */
export function addressOn(view: RunView, hostName: string, net: string): string | undefined {
  return host(view, hostName)?.interfaces?.find((i) => i.network === net)?.ip;
}

/**
 * The symptom of the cases where one office machine cannot load the site: from every office
 * machine (the suspects), the webserver's page on its network `net`, as the machine's users ask
 * for it and wait (4 s: long enough for a loaded lab, short enough for a check). Status counts
 * what goes through; where the learner may repair the lab, check judges the repair by it.
 */
export function officePageLoads(net: string, opts: { repairable?: boolean } = {}): EndToEndSpec {
  return {
    goal: 'every office machine loads the page',
    what: "office machines' page loads",
    ...(opts.repairable ? { repairable: true } : {}),
    probes(view: RunView) {
      const web = addressOn(view, 'webserver', net) ?? host(view, 'webserver')?.ip ?? '0.0.0.0';
      return suspectNames(view).map((from) => ({ from, url: `http://${web}:3000/`, timeoutMs: 4000 }));
    },
  };
}
