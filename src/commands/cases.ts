import type { Command } from 'commander';
import type { Ctx } from '../cli/context.js';
import { allCases } from '../cases/index.js';
import type { CaseModule } from '../cases/case.js';
import { networksOf } from '../core/model.js';
import { seededRng } from '../core/random.js';
import { readProgress } from '../core/progress.js';
import { formatMs } from '../core/latency.js';
import { invocation } from '../core/invocation.js';

/** A case's networks and routers, from a draw of its default size (the same on every run). */
function topology(c: CaseModule): { networks: string[]; routers: string[] } {
  const draw = c.draw(seededRng('catalog'), c.suspects.default);
  return { networks: networksOf(draw).map((n) => n.name), routers: draw.hosts.filter((h) => h.role === 'router').map((h) => h.name) };
}

export function registerCases(program: Command, ctx: Ctx): void {
  program
    .command('cases')
    .description('the catalog of cases: difficulty, the tcpdump skills each teaches, your progress')
    .option('--json', 'as JSON')
    .action(async (opts: { json?: boolean }) => {
      const { cases: progress, incidents, problem } = await readProgress();
      if (problem) ctx.io.err(problem);
      const rows = allCases().map((c) => {
        const p = progress.get(c.id);
        return {
          id: c.id,
          title: c.title,
          difficulty: c.difficulty,
          skills: c.skills,
          backends: c.backends,
          ...topology(c),
          summary: c.summary,
          solved: p?.solved ?? 0,
          runs: p?.runs ?? 0,
          bestTimeMs: p?.bestTimeMs ?? null,
          hintsUsed: p?.hintsUsed ?? 0,
          wrongArrests: p?.wrongArrests ?? 0,
          evidence: p?.evidence ?? 0,
        };
      });
      if (opts.json) return ctx.io.out(JSON.stringify(rows, null, 2));
      const lines: string[] = [];
      for (const r of rows) {
        const status = r.solved ? `solved ${r.solved}x, best ${formatMs(r.bestTimeMs)}` : r.runs ? 'tried, not solved yet' : 'not tried';
        const backends = r.backends.length === 2 ? '' : `  (needs the ${r.backends[0]} backend)`;
        lines.push(`${r.id.padEnd(22)} ${r.difficulty.padEnd(7)} ${status}${backends}`);
        lines.push(`  ${r.title}: ${r.summary}`);
        lines.push(`  skills: ${r.skills.join('; ')}`);
        if (r.runs) lines.push(`  hints used: ${r.hintsUsed}, wrong arrests: ${r.wrongArrests}${r.evidence ? `, evidence shown in ${r.evidence} run${r.evidence > 1 ? 's' : ''}` : ''}`);
        lines.push('');
      }
      if (incidents.runs) lines.push(`unknown incidents: ${incidents.named} named of ${incidents.runs}${incidents.bestTriageMs !== undefined ? `, fastest triage ${formatMs(incidents.bestTriageMs)}` : ''}`, '');
      lines.push(`Start one with: ${invocation()} start CASE (or an unknown incident: ${invocation()} start --random)`);
      ctx.io.out(lines.join('\n'));
    });
}
