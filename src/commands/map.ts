import type { Command } from 'commander';
import { labFrom, withLabOption, type Ctx } from '../cli/context.js';
import { loadLab, requireRoot } from '../core/lab.js';
import { drawMap } from '../core/map.js';

export function registerMap(program: Command, ctx: Ctx): void {
  withLabOption(
    program
      .command('map')
      .description("draw the lab: its networks, the hosts on each, the routers that join them (the veths once the case is over)"),
  ).action(async (opts: { name?: string }) => {
    requireRoot('map');
    const { state } = await loadLab(labFrom(opts));
    ctx.io.out(drawMap(state.plan, { showVeths: !!state.solvedAt || !!state.gaveUp }));
  });
}
