/**
 * The lab model: a pure description of what to build, made from a case's draw. It holds
 * names and addresses, never the run's secrets (those are re-drawn from the seed).
 */
import type { Backend, CaseDraw, HostSpec, NetworkSpec } from '../cases/case.js';
import { bridgeName, hostId, netnsName, vethName } from './naming.js';
import { cryptoRng, type Rng } from './random.js';

/** One interface of a host: `eth0` .. in the order the case declares them. */
export interface PlannedInterface {
  ifname: string;
  network: string;
  ip: string;
  /** netns backend: the host-side end of its veth pair */
  veth: string;
}

export interface PlannedNetwork {
  name: string;
  /** e.g. 10.200.7.0/24 */
  subnet: string;
  /** the machine's own address on it ('' where the machine has none: only the published network has one) */
  gateway: string;
  bridge: string;
  mtu?: number;
}

export interface PlannedHost {
  name: string;
  id: string;
  role: 'server' | 'suspect' | 'router';
  program: string;
  /** the first interface's address and host-side veth (the one every one-network case uses) */
  ip: string;
  /** netns backend: the namespace and the host-side veth. */
  netns: string;
  veth: string;
  /** every interface; absent in state files written before topologies (one interface, eth0) */
  interfaces?: PlannedInterface[];
  infrastructure?: boolean;
}

export interface LabPlan {
  lab: string;
  caseId: string;
  seed: string;
  suspects: number;
  backend: Backend;
  port: number;
  /** the published network's (the webserver's): e.g. 10.200.7.0/24 */
  subnet: string;
  gateway: string;
  bridge: string;
  /** In the order `ps` lists them: shuffled, never name order. */
  hosts: PlannedHost[];
  /** every network, the published one first; absent in state files written before topologies */
  networks?: PlannedNetwork[];
  /** caps of the whole lab (`start --cpus/--memory`); absent: none */
  limits?: LabLimits;
}

/** The least a lab may be capped to: below, its services cannot start. */
export const minCpus = 0.05;
export const minMemoryBytes = 64 * 1024 ** 2;

/** What `start --cpus N --memory M` caps: the lab's services together (netns: the lab's cgroup). */
export interface LabLimits {
  /** CPUs, e.g. 0.5 */
  cpus?: number;
  /** bytes */
  memoryBytes?: number;
}

export interface PlanInput {
  lab: string;
  caseId: string;
  seed: string;
  suspects: number;
  backend: Backend;
  port: number;
  subnetBase: string; // "10.200.7": the published network's
  /** the other networks' bases, in the order of `networksOf(draw)` after the published one */
  moreSubnetBases?: string[];
  draw: CaseDraw;
  rng?: Rng;
}

/** The case's networks; one, `lan`, where it names none. */
export function networksOf(draw: Pick<CaseDraw, 'networks'>): NetworkSpec[] {
  return draw.networks?.length ? draw.networks : [{ name: 'lan' }];
}

/** A host's interfaces as declared; one on the first network where it declares none. */
export function interfacesOf(spec: Pick<HostSpec, 'interfaces'>, draw: Pick<CaseDraw, 'networks'>): Array<{ network: string }> {
  return spec.interfaces?.length ? spec.interfaces : [{ network: networksOf(draw)[0]!.name }];
}

/**
 * The networks in the order they get subnets: the published one (the webserver's first
 * network, where the machine has an address for the forwarder) first, then the others as
 * declared.
 */
export function networkOrder(draw: CaseDraw): NetworkSpec[] {
  const nets = networksOf(draw);
  const web = draw.hosts.find((h) => h.name === 'webserver') ?? draw.hosts.find((h) => h.role === 'server');
  const published = draw.publish?.network ?? (web ? interfacesOf(web, draw)[0]!.network : nets[0]!.name);
  return [...nets.filter((n) => n.name === published), ...nets.filter((n) => n.name !== published)];
}

/** A route's destination that is one host's address (`{ip:HOST}` or `{ip:HOST@NET}`, see RouteSpec): the host and network. */
export function hostRouteTarget(to: string): { host: string; network?: string } | undefined {
  const m = /^\{ip:([a-z0-9-]+)(?:@([a-z0-9]+))?\}$/.exec(to);
  return m ? { host: m[1]!, ...(m[2] ? { network: m[2] } : {}) } : undefined;
}

/** The MTUs an interface may be given (those a network's may: see state.ts). */
export const minMtu = 576;
export const maxMtu = 9000;

/** What is wrong with a case's topology (a network nobody declared, a route through a stranger ...). */
export function topologyProblems(draw: CaseDraw): string[] {
  const problems: string[] = [];
  const nets = networksOf(draw).map((n) => n.name);
  if (new Set(nets).size !== nets.length) problems.push('two networks share a name');
  for (const n of nets) if (!/^[a-z][a-z0-9]{0,11}$/.test(n)) problems.push(`network name "${n}" is not 1-12 lower-case letters and digits`);
  const netsOf = new Map(draw.hosts.map((h) => [h.name, interfacesOf(h, draw).map((i) => i.network)]));
  if (draw.publish) {
    if (!nets.includes(draw.publish.network)) problems.push(`the site is published from "${draw.publish.network}", which is not a network of the case`);
    else if (!netsOf.get(draw.publish.via)?.includes(draw.publish.network)) problems.push(`the site is published through "${draw.publish.via}", which is not a host on ${draw.publish.network}`);
  }
  for (const h of draw.hosts) {
    const mine = netsOf.get(h.name)!;
    if (mine.length > 8) problems.push(`${h.name} has more than 8 interfaces`);
    for (const [k, nic] of (h.interfaces ?? []).entries()) {
      if (nic.mtu !== undefined && !(Number.isInteger(nic.mtu) && nic.mtu >= minMtu && nic.mtu <= maxMtu)) problems.push(`${h.name}'s eth${k} has an MTU of ${String(nic.mtu)}, not a whole number from ${minMtu} to ${maxMtu}`);
    }
    for (const n of mine) if (!nets.includes(n)) problems.push(`${h.name} is on "${n}", which is not a network of the case`);
    for (const r of h.routes ?? []) {
      const target = hostRouteTarget(r.to);
      if (target) {
        const theirs = netsOf.get(target.host);
        if (!theirs) problems.push(`${h.name} routes to the address of "${target.host}", which is not a host`);
        else if (target.network && !theirs.includes(target.network)) problems.push(`${h.name} routes to ${target.host} on ${target.network}, where it has no interface`);
        else if (target.host === h.name) problems.push(`${h.name} routes to its own address`);
      } else if (r.to !== 'default' && !nets.includes(r.to)) problems.push(`${h.name} routes to "${r.to}", which is not a network, default or a host's {ip:HOST}`);
      const via = netsOf.get(r.via);
      if (!via) problems.push(`${h.name} routes via "${r.via}", which is not a host`);
      else if (!via.some((n) => mine.includes(n))) problems.push(`${h.name} routes via ${r.via}, which shares no network with it`);
    }
    for (const rule of h.rules ?? []) {
      for (const arg of rule.args) {
        for (const m of arg.matchAll(/\{(ip|subnet|dev):([a-z0-9-]+)(?:@([a-z0-9]+))?\}/g)) {
          const [, kind, name, net] = m;
          if (kind === 'ip' && !netsOf.has(name!)) problems.push(`${h.name}'s rule names the address of "${name}", which is not a host`);
          if (kind === 'ip' && net && !netsOf.get(name!)?.includes(net)) problems.push(`${h.name}'s rule names ${name} on ${net}, where it has no interface`);
          if ((kind === 'subnet' || kind === 'dev') && !nets.includes(name!)) problems.push(`${h.name}'s rule names the network "${name}", which does not exist`);
          if (kind === 'dev' && !mine.includes(name!)) problems.push(`${h.name}'s rule names its interface on ${name}, where it has none`);
        }
      }
    }
  }
  return problems;
}

export function planLab(input: PlanInput): LabPlan {
  const rng = input.rng ?? cryptoRng;
  const problems = topologyProblems(input.draw);
  if (problems.length) throw new Error(`the case ${input.caseId} has a broken topology: ${problems.join('; ')}`);
  const order = rng.shuffle(input.draw.hosts);
  const nets = networkOrder(input.draw);
  const bases = [input.subnetBase, ...(input.moreSubnetBases ?? [])];
  if (bases.length < nets.length) throw new Error(`${nets.length} networks need ${nets.length} subnets, ${bases.length} given`);
  const networks: PlannedNetwork[] = nets.map((n, i) => ({
    name: n.name,
    subnet: `${bases[i]}.0/24`,
    // the machine has an address on the published network only (the forwarder reaches the site there)
    gateway: i === 0 ? `${bases[i]}.1` : '',
    bridge: bridgeName(),
    ...(n.mtu ? { mtu: n.mtu } : {}),
  }));
  // on each network, its hosts get .2, .3 ... in the order `ps` lists them
  const next = new Map(networks.map((n) => [n.name, 2]));
  const hosts: PlannedHost[] = order.map((h) => {
    const interfaces = interfacesOf(h, input.draw).map((spec, i) => {
      const net = networks.find((n) => n.name === spec.network)!;
      const octet = next.get(net.name)!;
      next.set(net.name, octet + 1);
      return { ifname: `eth${i}`, network: net.name, ip: `${net.subnet.slice(0, -'.0/24'.length)}.${octet}`, veth: vethName() };
    });
    return {
      name: h.name,
      id: hostId(),
      role: h.role,
      program: h.program,
      ip: interfaces[0]!.ip,
      netns: netnsName(input.lab),
      veth: interfaces[0]!.veth,
      interfaces,
      ...(h.infrastructure ? { infrastructure: true } : {}),
    };
  });
  const published = networks[0]!;
  return {
    lab: input.lab,
    caseId: input.caseId,
    seed: input.seed,
    suspects: input.suspects,
    backend: input.backend,
    port: input.port,
    subnet: published.subnet,
    gateway: published.gateway,
    bridge: published.bridge,
    hosts,
    networks,
  };
}

/** The lab's networks; a plan written before topologies has one, the published one. */
export function planNetworks(plan: LabPlan): PlannedNetwork[] {
  return plan.networks?.length ? plan.networks : [{ name: 'lan', subnet: plan.subnet, gateway: plan.gateway, bridge: plan.bridge }];
}

/** A host's interfaces; a host planned before topologies has one, eth0. */
export function hostInterfaces(plan: LabPlan, h: PlannedHost): PlannedInterface[] {
  return h.interfaces?.length ? h.interfaces : [{ ifname: 'eth0', network: planNetworks(plan)[0]!.name, ip: h.ip, veth: h.veth }];
}

/** A host's address on a network (its first interface's where none is named). */
export function addressOf(plan: LabPlan, name: string, network?: string): string | undefined {
  const h = plan.hosts.find((x) => x.name === name);
  if (!h) return undefined;
  const ifs = hostInterfaces(plan, h);
  return (network ? ifs.find((i) => i.network === network) : ifs[0])?.ip;
}

/** A rule's arguments with their placeholders resolved for `host` (see RuleSpec). */
export function resolveRuleArgs(plan: LabPlan, host: PlannedHost, args: readonly string[]): string[] {
  return args.map((a) =>
    a.replace(/\{(ip|subnet|dev):([a-z0-9-]+)(?:@([a-z0-9]+))?\}/g, (whole, kind: string, name: string, net?: string) => {
      if (kind === 'ip') return addressOf(plan, name, net) ?? whole;
      if (kind === 'subnet') return planNetworks(plan).find((n) => n.name === name)?.subnet ?? whole;
      return hostInterfaces(plan, host).find((i) => i.network === name)?.ifname ?? whole;
    }),
  );
}

/**
 * A host's routes as `ip route` arguments: the destination (a network's /24, a host's /32,
 * or default) and the router's address on the network they share.
 */
export function resolveRoutes(plan: LabPlan, host: PlannedHost, spec: Pick<HostSpec, 'routes'>): Array<{ to: string; via: string }> {
  const mine = hostInterfaces(plan, host).map((i) => i.network);
  return (spec.routes ?? []).map((r) => {
    const router = plan.hosts.find((h) => h.name === r.via);
    const shared = router && hostInterfaces(plan, router).find((i) => mine.includes(i.network));
    const target = hostRouteTarget(r.to);
    const address = target && addressOf(plan, target.host, target.network);
    const to = r.to === 'default' ? 'default' : target ? address && `${address}/32` : planNetworks(plan).find((n) => n.name === r.to)?.subnet;
    // the draw was checked by planLab; a plan of another version may lack a host or network
    if (!shared || !to) throw new Error(`the route of ${host.name} to ${r.to} via ${r.via} does not resolve in this lab's plan`);
    return { to, via: shared.ip };
  });
}

/**
 * The machine's route to the site where the case publishes it from another network
 * (`CaseDraw.publish`): the webserver's address, via the router's address on the published
 * network. Undefined where the machine reaches the webserver directly.
 */
export function siteRoute(plan: LabPlan, draw: Pick<CaseDraw, 'publish' | 'hosts'>): { to: string; via: string } | undefined {
  if (!draw.publish) return undefined;
  const web = draw.hosts.find((h) => h.name === 'webserver') ?? draw.hosts.find((h) => h.role === 'server');
  const to = web && addressOf(plan, web.name);
  const via = addressOf(plan, draw.publish.via, draw.publish.network);
  if (!to || !via) throw new Error(`the site's route via ${draw.publish.via} does not resolve in this lab's plan`);
  return { to: `${to}/32`, via };
}

/** The GSO limits of a host's interfaces inside its own namespace (`InterfaceSpec.gsoMaxSegs`), as `ethN` and a number. */
export function interfaceGsoLimits(spec: Pick<HostSpec, 'interfaces'>): Array<{ ifname: string; segs: number }> {
  return (spec.interfaces ?? []).flatMap((nic, k) => (nic.gsoMaxSegs ? [{ ifname: `eth${k}`, segs: nic.gsoMaxSegs }] : []));
}

/**
 * The MTUs a host's interfaces get inside its own namespace (`InterfaceSpec.mtu`), as
 * `ethN` and a number: never on the host-side veth or the bridge, which keep the network's.
 * Read from the draw (made again from the seed), never from the plan, which holds none.
 */
export function interfaceMtus(spec: Pick<HostSpec, 'interfaces'>): Array<{ ifname: string; mtu: number }> {
  return (spec.interfaces ?? []).flatMap((nic, k) => (nic.mtu ? [{ ifname: `eth${k}`, mtu: nic.mtu }] : []));
}

/** One command a backend runs inside a host's network namespace, its tool and arguments. */
export interface WiringCommand {
  tool: 'ip' | 'iptables';
  args: string[];
}

/**
 * What a host's own namespace needs beyond its interfaces and addresses, in the order to apply
 * it: its interfaces' MTUs and GSO limits, its routes (`replace`: a Docker container comes with
 * a default route of its own), its rules. One list for every backend, each with its own way in
 * (netns: `ip -n NS`, `ip netns exec NS`; Docker: `nsenter -t PID -n`). Read from the draw
 * (made again from the seed) and the plan; all of it goes away with the namespace.
 */
export function hostWiring(plan: LabPlan, host: PlannedHost, spec: Pick<HostSpec, 'interfaces' | 'routes' | 'rules'>): WiringCommand[] {
  return [
    ...interfaceMtus(spec).map(({ ifname, mtu }): WiringCommand => ({ tool: 'ip', args: ['link', 'set', 'dev', ifname, 'mtu', String(mtu)] })),
    ...interfaceGsoLimits(spec).map(({ ifname, segs }): WiringCommand => ({ tool: 'ip', args: ['link', 'set', 'dev', ifname, 'gso_max_segs', String(segs)] })),
    ...resolveRoutes(plan, host, spec).map((r): WiringCommand => ({ tool: 'ip', args: ['route', 'replace', r.to, 'via', r.via] })),
    ...(spec.rules ?? []).map((rule): WiringCommand => ({ tool: 'iptables', args: ['-w', '-t', rule.table ?? 'filter', '-A', rule.chain, ...resolveRuleArgs(plan, host, rule.args)] })),
  ];
}

/**
 * Replaces host names in the URLs of a service's configuration (`http://webserver:3000/`,
 * at any depth: a job's own target too) with their lab addresses.
 */
export function resolveConfig<T extends object>(config: T, plan: LabPlan): T {
  const names = plan.hosts.map((h) => ({ re: new RegExp(`//${h.name}(?=[:/])`, 'g'), ip: `//${h.ip}` }));
  const resolve = (v: unknown): unknown => {
    if (typeof v === 'string') return names.reduce((s, n) => s.replace(n.re, n.ip), v);
    if (Array.isArray(v)) return v.map(resolve);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(x)]));
    return v;
  };
  return resolve(config) as T;
}

/** Finds a host by name or id (or a unique id prefix, as docker does). */
export function findHost(plan: LabPlan, ref: string): PlannedHost | undefined {
  const exact = plan.hosts.find((h) => h.name === ref || h.id === ref);
  if (exact) return exact;
  if (/^[0-9a-f]{3,}$/.test(ref)) {
    const byPrefix = plan.hosts.filter((h) => h.id.startsWith(ref));
    if (byPrefix.length === 1) return byPrefix[0];
  }
  return undefined;
}
