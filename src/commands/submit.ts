import type { Command } from 'commander';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { labFrom, withLabOption, type Ctx } from '../cli/context.js';
import { cliPrefix, loadLab, requireRoot, runView } from '../core/lab.js';
import { ExitCode, UserError } from '../core/errors.js';
import { checkCaptureFile, readCapture, summarize } from '../core/capture.js';
import { judgeCapture } from '../core/evidence.js';
import { filterFeedback } from '../core/filter-feedback.js';
import { recordRun } from '../core/progress.js';
import { updateState } from '../core/state.js';
import { invokingUser } from '../core/userfs.js';
import { labDir } from '../core/paths.js';

export function registerSubmit(program: Command, ctx: Ctx): void {
  withLabOption(
    program
      .command('submit')
      .description('show your evidence: does a capture of yours (tcpdump -w FILE) prove this run\'s case? or, with --filter, what a filter catches of the lab\'s traffic')
      .argument('[file]', 'a capture file, pcap or pcapng')
      .option('--filter <expr>', "instead of a file: run this filter over the lab's traffic of the next 3 seconds and say what it caught and missed"),
  ).action(async (file: string | undefined, opts: { name?: string; filter?: string }) => {
    requireRoot('submit');
    const lab = labFrom(opts);
    const loaded = await loadLab(lab);
    const cli = cliPrefix(lab);
    if (opts.filter !== undefined) {
      if (file) throw new UserError('Give a capture file or --filter, not both.', `\`${cli} submit FILE\`, or \`${cli} submit --filter 'EXPR'\`.`, ExitCode.usage);
      const dir = await mkdtemp(join(labDir(lab), 'try-'));
      try {
        ctx.io.out(await filterFeedback(loaded, opts.filter, dir));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      return;
    }
    if (!file) throw new UserError('`mystery submit` needs a capture file (or --filter).', `Capture first, e.g. \`sudo timeout 5 tcpdump -i VETH -w mine.pcap\`, then \`${cli} submit mine.pcap\`.`, ExitCode.usage);
    await checkCaptureFile(file);
    const read = await readCapture(file, invokingUser());
    if (read.packets.length === 0) {
      throw new UserError(
        read.truncated ? `${file} is truncated before its first packet.` : `tcpdump cannot read a packet of ${file}${read.error ? `: ${read.error}` : '.'}`,
        'Capture again and let tcpdump stop by itself (`timeout 5 tcpdump ...` or -c N), so that it finishes the file.',
        ExitCode.usage,
      );
    }
    const view = runView(loaded, await loaded.backend.interfaces(loaded.state));
    const verdict = judgeCapture(summarize(read.packets), view, loaded.draw);
    const note = [read.truncated ? ' (the file is truncated: its last packet was cut off)' : '', read.cut ? ' (only its first packets were read)' : ''].join('');
    const at = new Date().toISOString();
    const updated = await updateState(loaded.state, (s) => {
      s.evidence = [...(s.evidence ?? []), { at, proves: verdict.proves, says: verdict.says }].slice(-20);
    });
    if (updated) await recordRun(updated, !!updated.solvedAt);
    if (verdict.proves) {
      ctx.io.out(`EVIDENCE: ${verdict.says}${note}\nIt proves the case; it does not close it: ${loaded.case.solvedBy === 'arrest' ? `arrest the culprit (\`${cli} stop HOST\`)` : `give the answer (\`${cli} answer VALUE\`)`}.`);
    } else {
      ctx.io.out(`NOT EVIDENCE YET: ${verdict.says}${note}`);
      ctx.exitCode = ExitCode.wrong;
    }
  });
}
