import type { Command } from 'commander';
import { labFrom, withLabOption, type Ctx } from '../cli/context.js';
import { cliPrefix, loadLab, requireRoot, runView, type LoadedLab } from '../core/lab.js';
import { checkLab } from '../core/check.js';
import { ExitCode, UserError } from '../core/errors.js';
import { incidentReveal } from '../core/incident.js';

export function registerDebrief(program: Command, ctx: Ctx): void {
  withLabOption(program.command('debrief').description("after solving: the reference solution, with this run's real values")).action(
    async (opts: { name?: string }) => {
      requireRoot('debrief');
      const lab = labFrom(opts);
      const loaded = await loadLab(lab);
      if (!loaded.state.solvedAt && !loaded.state.gaveUp && !(await checkLab(loaded, 500)).solved) {
        throw new UserError(
          'The case is not solved yet: the debrief would give the answer away.',
          `Keep going (\`${cliPrefix(lab)} hint\` helps), or give up with \`${cliPrefix(lab)} give-up\` to see it.`,
          ExitCode.unsolved,
        );
      }
      ctx.io.out(await debriefText(loaded));
    },
  );
}

export async function debriefText(loaded: LoadedLab): Promise<string> {
  const interfaces = await loaded.backend.interfaces(loaded.state);
  const { packets, bytes } = await loaded.backend.totals(loaded.state, interfaces);
  for (const [name, at] of Object.entries(loaded.state.countersAtStop ?? {})) {
    // a host whose veth went with it (a stopped container): the veth it had, and what it carried
    if (!interfaces.get(name) && at.veth && at.ifindex) interfaces.set(name, { veth: at.veth, ifindex: at.ifindex });
    if (!packets.has(name)) {
      packets.set(name, at.packets);
      bytes.set(name, at.bytes);
    }
  }
  const seconds = Math.max(1, (Date.now() - Date.parse(loaded.state.readyAt ?? loaded.state.startedAt)) / 1000);
  const text = loaded.case.debrief(runView(loaded, interfaces), { packets, bytes, seconds, interfaces });
  const reveal = incidentReveal(loaded.state, loaded.case);
  return reveal ? `${reveal}\n\n${text}` : text;
}
