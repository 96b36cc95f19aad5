/**
 * `mystery map`: the lab drawn in the terminal, from its plan: each network with its subnet
 * and bridge, the hosts on it (in `ps` order, never name order) and the routers that join
 * networks. It never names the culprit, and shows the host-side veths only once the case is
 * over (finding a host's veth is a skill of the catalog).
 */
import { hostInterfaces, planNetworks, type LabPlan } from './model.js';

export function drawMap(plan: LabPlan, opts: { showVeths: boolean }): string {
  const networks = planNetworks(plan);
  const lines = [`Lab "${plan.lab}" (${plan.caseId}): ${networks.length} network${networks.length > 1 ? 's' : ''}, ${plan.hosts.length} hosts`, ''];
  const nameWidth = Math.max(...plan.hosts.map((h) => h.name.length));
  const web = plan.hosts.find((h) => h.name === 'webserver');
  const webNet = web && hostInterfaces(plan, web)[0]?.network;
  for (const [n, net] of networks.entries()) {
    // a case may publish the site from another network than the webserver's (CaseDraw.publish)
    const published = n === 0 ? (webNet && webNet !== net.name ? `   <- this machine: localhost:${plan.port} opens the site from here` : `   <- the site: localhost:${plan.port}`) : '';
    lines.push(`${net.name} ${net.subnet || '(Docker)'}${net.bridge ? ` on ${net.bridge}` : ''}${net.mtu ? `, MTU ${net.mtu}` : ''}${published}`);
    const members = plan.hosts.flatMap((h) => hostInterfaces(plan, h).filter((i) => i.network === net.name).map((i) => ({ h, i })));
    for (const [k, { h, i }] of members.entries()) {
      const branch = k === members.length - 1 ? '└─' : '├─';
      const others = hostInterfaces(plan, h).filter((x) => x.network !== net.name).map((x) => x.network);
      const role = h.role === 'router' ? `router${others.length ? ` to ${others.join(', ')}` : ''}${h.infrastructure ? ' (infrastructure: no login)' : ''}` : '';
      const veth = opts.showVeths && i.veth ? `  ${i.ifname} <-> ${i.veth}` : `  ${i.ifname}`;
      lines.push(`  ${branch} ${h.name.padEnd(nameWidth)}  ${i.ip.padEnd(15)}${veth}${role ? `   ${role}` : ''}`);
    }
    lines.push('');
  }
  if (!opts.showVeths) lines.push('Which veth on this machine belongs to which host is for you to find (tcpdump, iflink).');
  return lines.join('\n').trimEnd();
}
