import type { Command } from 'commander';
import type { Ctx } from '../cli/context.js';
import { invocation } from '../core/invocation.js';
import { loadRecording, recordingBriefing, resolveRecording, shippedRecordings } from '../core/recording.js';
import { invokingUser } from '../core/userfs.js';

export function registerRecording(program: Command, ctx: Ctx): void {
  program
    .command('recording')
    .description('a recorded incident: its briefing, its capture files and how to answer (no root, no lab); without a folder, the recordings that come with the package')
    .argument('[dir]', 'a recording\'s folder (`mystery record`), or the case id of one that comes with the package')
    .action(async (dir: string | undefined) => {
      const cli = invocation().replace(/^sudo /, '');
      if (!dir) {
        const shipped = await shippedRecordings();
        ctx.io.out(['The recordings that come with the package (read them with tcpdump -r; no root, no lab):', ...shipped.map((s) => `  ${s.caseId.padEnd(20)} ${s.dir}`), `\`${cli} recording CASE\` shows one's briefing; \`${cli} answer --recording CASE VALUE\` answers it.`].join('\n'));
        return;
      }
      const rec = await loadRecording(await resolveRecording(dir), invokingUser());
      ctx.io.out(recordingBriefing(rec, cli));
    });
}
