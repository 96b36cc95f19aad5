/**
 * A lab of several networks on Docker: Compose makes the networks (each the plan's /24) and
 * attaches every container with the plan's addresses; what Compose cannot say is done here,
 * inside each container's network namespace with the machine's own tools (`nsenter -n`):
 * interfaces named as the plan names them (Docker attaches networks in an order of its own),
 * interface MTUs, routes through the routers, and the routers' rules. As on the netns backend,
 * all of it lives in the container's namespace and goes with it.
 */
import type { CaseDraw, HostSpec } from '../../cases/case.js';
import { ExitCode, UserError } from '../../core/errors.js';
import { hostInterfaces, hostWiring, networksOf, siteRoute, type LabPlan, type PlannedHost } from '../../core/model.js';
import { requireTools, runOk } from '../../core/run.js';
import { dockerEnv, isInterfaceSysctl } from './docker.js';
import { hostSysctls } from '../../cases/common.js';

/** Whether the draw needs several networks (and so this wiring). */
export function isTopology(draw: CaseDraw): boolean {
  return networksOf(draw).length > 1;
}

/** What the docker backend cannot build of a topology: impairments (netem), said before anything is made. */
export function topologyRefusal(draw: CaseDraw): string | undefined {
  const impaired = draw.hosts.find((h) => h.link || h.interfaces?.some((i) => i.impair));
  return impaired ? `${impaired.name}'s link is impaired (tc netem), which the docker backend does not do` : undefined;
}

export async function requireTopologyTools(): Promise<void> {
  await requireTools(['nsenter', 'ip', 'iptables', 'sysctl']);
}

/** The compose file's view of the plan: each network's subnet and MTU, each host's addresses. */
export function composeTopology(plan: LabPlan, draw: CaseDraw): { networks: Array<{ name: string; subnet: string; mtu?: number }>; interfaces: Map<string, Array<{ network: string; ip: string }>> } {
  const mtus = new Map(networksOf(draw).map((n) => [n.name, n.mtu]));
  return {
    networks: (plan.networks ?? []).map((n) => ({ name: n.name, subnet: n.subnet, ...(mtus.get(n.name) ? { mtu: mtus.get(n.name) } : {}) })),
    interfaces: new Map(plan.hosts.map((h) => [h.name, hostInterfaces(plan, h).map((i) => ({ network: i.network, ip: i.ip }))])),
  };
}

const inNetns = (pid: number, cmd: string, args: string[]): Promise<string> => runOk('nsenter', ['-t', String(pid), '-n', cmd, ...args], { env: dockerEnv(), timeoutMs: 20_000 });

/** The container's interfaces and their IPv4 addresses, as `ip -j addr` shows them inside it. */
async function addressesIn(pid: number): Promise<Array<{ ifname: string; ips: string[] }>> {
  const out = JSON.parse(await inNetns(pid, 'ip', ['-j', '-4', 'addr', 'show'])) as Array<{ ifname: string; addr_info?: Array<{ local: string }> }>;
  return out.map((l) => ({ ifname: l.ifname.split('@')[0]!, ips: (l.addr_info ?? []).map((a) => a.local) }));
}

/**
 * Renames the container's interfaces so that each carries the plan's name for its network
 * (found by its address): first every misnamed one to a name of its own, then to the plan's.
 */
async function nameInterfaces(pid: number, host: PlannedHost, plan: LabPlan): Promise<void> {
  const present = await addressesIn(pid);
  const moves: Array<{ from: string; to: string }> = [];
  for (const want of hostInterfaces(plan, host)) {
    const found = present.find((p) => p.ips.includes(want.ip));
    if (!found) throw new Error(`${host.name} has no interface with ${want.ip} (the plan's address on ${want.network})`);
    if (found.ifname !== want.ifname) moves.push({ from: found.ifname, to: want.ifname });
  }
  for (const [k, m] of moves.entries()) {
    await inNetns(pid, 'ip', ['link', 'set', 'dev', m.from, 'down']);
    await inNetns(pid, 'ip', ['link', 'set', 'dev', m.from, 'name', `tmys${k}`]);
  }
  for (const [k, m] of moves.entries()) {
    await inNetns(pid, 'ip', ['link', 'set', 'dev', `tmys${k}`, 'name', m.to]);
    await inNetns(pid, 'ip', ['link', 'set', 'dev', m.to, 'up']);
  }
}

/** Wires one host's container as its HostSpec asks: names, MTUs, routes, rules. */
export async function wireHost(plan: LabPlan, host: PlannedHost, spec: HostSpec, pid: number): Promise<void> {
  if (!pid) throw new UserError(`The container of ${host.name} is not running, so its routes cannot be set.`, 'Take the lab down and start it again.', ExitCode.noLab);
  await nameInterfaces(pid, host, plan);
  for (const [key, value] of Object.entries(hostSysctls(spec))) {
    if (isInterfaceSysctl(key)) await inNetns(pid, 'sysctl', ['-q', '-w', `${key}=${value}`]);
  }
  // the interfaces' MTUs and GSO limits, routes (replacing the container's default route,
  // its network's gateway: the machine) and rules, as the netns backend applies them
  for (const c of hostWiring(plan, host, spec)) await inNetns(pid, c.tool, c.args);
}

/**
 * Where the case publishes the site from another network (`CaseDraw.publish`): the machine's
 * route to the webserver's address through the router, on the machine (Docker's gateway
 * address on that network is the machine's). It goes with the network's bridge at down.
 */
export async function routeSite(plan: LabPlan, draw: CaseDraw): Promise<void> {
  const route = siteRoute(plan, draw);
  if (route) await runOk('ip', ['route', 'replace', route.to, 'via', route.via], { env: dockerEnv(), timeoutMs: 20_000 });
}
