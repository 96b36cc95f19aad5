import type { Command } from 'commander';
import { labFrom, withLabOption, type Ctx } from '../cli/context.js';
import { loadLab, requireRoot } from '../core/lab.js';
import { hostInterfaces, planNetworks } from '../core/model.js';

export function registerPs(program: Command, ctx: Ctx): void {
  withLabOption(
    program
      .command('ps')
      .description("list the lab's hosts (like docker ps): name, id, state, IP")
      .option('-q, --quiet', 'only the ids, one a line')
      .option('-a, --all', 'accepted for docker compatibility: every host is always listed')
      .option('--json', 'as JSON'),
  ).action(async (opts: { quiet?: boolean; json?: boolean; name?: string }) => {
    requireRoot('ps');
    const loaded = await loadLab(labFrom(opts));
    const runtime = await loaded.backend.hosts(loaded.state);
    // In the plan's shuffled order: never name order, as the seed warns.
    const { plan } = loaded.state;
    const rows = plan.hosts.map((h) => ({
      name: h.name,
      id: h.id,
      state: runtime.find((r) => r.name === h.name)?.state ?? 'missing',
      ip: h.ip,
      interfaces: hostInterfaces(plan, h).map((i) => ({ name: i.ifname, network: i.network, ip: i.ip })),
    }));
    if (opts.json) return ctx.io.out(JSON.stringify(rows, null, 2));
    if (opts.quiet) return ctx.io.out(rows.map((r) => r.id).join('\n'));
    // one network: the IP alone, as docker ps would; several: each interface's network and IP
    const several = planNetworks(plan).length > 1;
    const ips = (r: (typeof rows)[number]): string => (several ? r.interfaces.map((i) => `${i.network} ${i.ip}`).join(', ') : r.ip);
    const table = [['HOST ID', 'NAME', 'STATE', several ? 'NETWORKS' : 'IP'], ...rows.map((r) => [r.id, r.name, r.state, ips(r)])];
    const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
    ctx.io.out(table.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('   ').trimEnd()).join('\n'));
  });
}
