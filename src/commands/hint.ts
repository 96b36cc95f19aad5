import type { Command } from 'commander';
import { labFrom, withLabOption, type Ctx } from '../cli/context.js';
import { loadLab, requireRoot, runView } from '../core/lab.js';
import { recordRun } from '../core/progress.js';
import { updateState } from '../core/state.js';
import { incidentHidden, triageHints } from '../core/incident.js';

export function registerHint(program: Command, ctx: Ctx): void {
  withLabOption(
    program
      .command('hint')
      .description('the next hint: each one adds to the last, the last gives the exact commands')
      .option('--again', 'show the hints you already have, without taking a new one'),
  ).action(async (opts: { again?: boolean; name?: string }) => {
    requireRoot('hint');
    const loaded = await loadLab(labFrom(opts));
    const view = runView(loaded, await loaded.backend.interfaces(loaded.state));
    // an unknown incident not named yet: how to triage, never the case's own hints
    const hidden = incidentHidden(loaded.state);
    const hints = hidden ? triageHints(view) : loaded.case.hints(view);
    const used = hidden ? (loaded.state.incident?.triageHints ?? 0) : loaded.state.hintsUsed;
    const shown = opts.again ? Math.max(1, used) : Math.min(hints.length, used + 1);
    if (!opts.again && used < hints.length) {
      const updated = await updateState(loaded.state, (s) => {
        if (hidden && s.incident) s.incident.triageHints = Math.max(s.incident.triageHints ?? 0, shown);
        else s.hintsUsed = Math.max(s.hintsUsed, shown);
      });
      if (updated) await recordRun(updated, !!updated.solvedAt);
    }
    const lines: string[] = [];
    const from = opts.again ? 1 : shown;
    for (let i = from; i <= shown; i++) lines.push(`Hint ${i} of ${hints.length}:\n${indent(hints[i - 1]!)}`);
    if (!opts.again && used >= hints.length) lines.unshift('That was the last hint: it gives the exact commands for this run.');
    // only captures that concern this lab: its bridge, its veths, or every interface
    const ours = new Set([view.bridge, 'any', ...view.hosts.map((h) => h.veth).filter((v): v is string => !!v)]);
    const captures = (await loaded.backend.captures()).filter((i) => ours.has(i));
    const seen = { tcpdumpOn: captures, wrongArrests: loaded.state.arrests.filter((a) => !a.correct).map((a) => a.host) };
    const situational = hidden ? undefined : loaded.case.situationalHint?.(view, seen);
    if (situational) lines.push(`\nWhat you are doing now:\n${indent(situational)}`);
    ctx.io.out(lines.join('\n'));
  });
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}
