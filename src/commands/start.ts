import type { Command } from 'commander';
import { labFrom, withLabOption, type Ctx } from '../cli/context.js';
import { defaultCaseId } from '../cases/index.js';
import { cliPrefix, downLab, loadLab, requireRoot, runView, startLab } from '../core/lab.js';
import { formatMs, measureLatency } from '../core/latency.js';
import { readState } from '../core/state.js';
import { choiceOption, intOption } from './options.js';
import type { Backend } from '../cases/case.js';

interface StartOpts {
  detach?: boolean;
  seed?: string;
  suspects?: number;
  port: number;
  backend: Backend;
  name?: string;
}

export function registerStart(program: Command, ctx: Ctx): void {
  withLabOption(
    program
      .command('start')
      .description('start a case (the default one if none is named), like `docker-compose up`')
      .argument('[case]', 'the case to start (see `mystery cases`)', defaultCaseId)
      .option('-d, --detach', 'return once the lab is ready, instead of staying in the foreground')
      .option('--seed <seed>', 'draw the culprit from this seed (a reproducible run)')
      .option('--suspects <n>', 'how many suspects (2 to 12 for the default case)', intOption('--suspects', 1, 99))
      .option('--port <port>', 'publish the site on this localhost port', intOption('--port', 1, 65535), 3000)
      .option('--backend <backend>', 'netns (no Docker needed) or docker (Docker Compose)', choiceOption('--backend', ['netns', 'docker'] as const), 'netns'),
  ).action(async (caseId: string, opts: StartOpts) => {
    requireRoot('start');
    const lab = labFrom(opts);
    const io = ctx.io;
    const started = Date.now();
    const state = await startLab(
      { caseId, lab, backend: opts.backend, seed: opts.seed, suspects: opts.suspects, port: opts.port },
      (msg) => io.err(`  ${msg} ...`),
    );
    const loaded = await loadLab(lab);
    io.out(`\nThe lab is ready (${((Date.now() - started) / 1000).toFixed(1)} s): ${loaded.case.title}\n`);
    io.out(`${loaded.case.briefing(runView(loaded))}\n`);
    const cli = cliPrefix(lab);
    if (opts.detach) {
      io.out(`\nThe lab runs in the background. \`${cli} status\` tells how the site is doing; \`${cli} down\` removes the lab.`);
      return;
    }
    io.out(`\nThe lab runs until you press Ctrl-C. In another terminal: \`${cli} ps\`.\n`);
    await foreground(ctx, lab, state.plan.port);
  });
}

/** Stays in the foreground with a live response-time line; Ctrl-C removes the lab. */
async function foreground(ctx: Ctx, lab: string, port: number): Promise<void> {
  let stopping = false;
  const stop = new Promise<void>((resolve) => {
    const onSignal = (): void => {
      stopping = true;
      resolve();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  while (!stopping) {
    if ((await readState(lab)).kind !== 'ok') {
      ctx.io.out('\nThe lab was taken down elsewhere.');
      return;
    }
    const ms = await Promise.race([measureLatency(port, 5000), stop.then(() => undefined)]);
    if (stopping) break;
    const line = `site response time: ${ms === null ? 'no answer in 5 s' : formatMs(ms)}`;
    if (ctx.io.tty) ctx.io.out(`\r\x1b[2K${line}  (Ctrl-C removes the lab)\r`);
    else ctx.io.out(line);
    await Promise.race([new Promise((r) => setTimeout(r, 1000)), stop]);
  }
  ctx.io.out('\nRemoving the lab ...');
  await downLab(lab);
  ctx.io.out('The lab is removed; this host is as it was.');
}
