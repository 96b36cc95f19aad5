import type { Command } from 'commander';
import { labFrom, withLabOption, type Ctx } from '../cli/context.js';
import { defaultCaseId } from '../cases/index.js';
import { allLabs, checkPortFree, cliPrefix, downLab, loadLab, requireRoot, runView, startLab } from '../core/lab.js';
import { formatMs, measureLatency } from '../core/latency.js';
import { readState } from '../core/state.js';
import { ExitCode, UserError } from '../core/errors.js';
import { availableParallelism } from 'node:os';
import { choiceOption, cpusOption, intOption, sizeOption } from './options.js';
import { minCpus, minMemoryBytes } from '../core/model.js';
import type { Backend } from '../cases/case.js';
import { incidentBriefing, pickIncident } from '../core/incident.js';
import { invocation } from '../core/invocation.js';

interface StartOpts {
  detach?: boolean;
  seed?: string;
  suspects?: number;
  port?: number;
  backend: Backend;
  name?: string;
  random?: boolean;
  cpus?: number;
  memory?: number;
}

export function registerStart(program: Command, ctx: Ctx): void {
  withLabOption(
    program
      .command('start')
      .description('start a case (the default one if none is named), like `docker-compose up`')
      .argument('[case]', `the case to start (see \`mystery cases\`; default ${defaultCaseId})`)
      .option('-d, --detach', 'return once the lab is ready, instead of staying in the foreground')
      .option('--seed <seed>', 'draw the culprit from this seed (a reproducible run)')
      .option('--suspects <n>', 'how many suspects (2 to 12 for the default case)', intOption('--suspects', 1, 99))
      .option('--port <port>', `publish the site on this localhost port (default ${defaultPort()}, or the next free one)`, intOption('--port', 1, 65535))
      .option('--backend <backend>', 'netns (no Docker needed) or docker (Docker Compose)', choiceOption('--backend', ['netns', 'docker'] as const), 'netns')
      .option('--random', 'an unknown incident: a case drawn at random and not named; you triage it, name it (`mystery answer --incident ID`) and solve it')
      .option('--cpus <n>', 'cap the lab\'s services together at this many CPUs (netns: the lab\'s cgroup), e.g. 0.5', cpusOption('--cpus', minCpus, availableParallelism()))
      .option('--memory <size>', 'cap the lab\'s services together at this much memory (netns: the lab\'s cgroup), e.g. 256m', sizeOption('--memory', minMemoryBytes)),
  ).action(async (named: string | undefined, opts: StartOpts) => {
    requireRoot('start');
    if (opts.random && named !== undefined) {
      throw new UserError('`--random` draws the case itself: it takes no case name.', `Run \`${invocation()} start --random\`, or \`${invocation()} start ${named}\` for that case.`, ExitCode.usage);
    }
    if (opts.backend === 'docker' && (opts.cpus !== undefined || opts.memory !== undefined)) {
      throw new UserError(
        '`--cpus` and `--memory` cap a namespace lab (its cgroup); the Docker backend does not take them.',
        `Start it without them, or on the namespace backend (\`${invocation()} start ${named ?? ''}${named ? ' ' : ''}--cpus ${opts.cpus ?? 1}\`); a container's caps are Docker's (\`docker update --cpus N CONTAINER\`).`,
        ExitCode.usage,
      );
    }
    const caseId = opts.random ? pickIncident(opts.backend, opts.seed).id : (named ?? defaultCaseId);
    const lab = labFrom(opts);
    const io = ctx.io;
    const started = Date.now();
    const port = await choosePort(lab, opts.port, io);
    const state = await startLab(
      { caseId, lab, backend: opts.backend, seed: opts.seed, suspects: opts.suspects, port, incident: opts.random, limits: { cpus: opts.cpus, memoryBytes: opts.memory } },
      (msg) => io.err(`  ${msg} ...`),
    );
    const loaded = await loadLab(lab);
    if (opts.random) {
      io.out(`\nThe lab is ready (${((Date.now() - started) / 1000).toFixed(1)} s): an unknown incident\n`);
      io.out(`${incidentBriefing(loaded.case, runView(loaded))}\n`);
    } else {
      io.out(`\nThe lab is ready (${((Date.now() - started) / 1000).toFixed(1)} s): ${loaded.case.title}\n`);
      io.out(`${loaded.case.briefing(runView(loaded))}\n`);
    }
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

/** The site's port when --port is not given: 3000, as in the original (a test may move it). */
export function defaultPort(env: NodeJS.ProcessEnv = process.env): number {
  const p = Number(env.MYSTERY_TEST_DEFAULT_PORT);
  return Number.isInteger(p) && p >= 1024 && p <= 65000 ? p : 3000;
}

/** How many ports after the default are tried for a lab started without --port. */
export const portsTried = 100;

/** Free on 127.0.0.1 and [::1], as the start itself checks (checkPortFree). */
async function portFree(port: number): Promise<boolean> {
  try {
    await checkPortFree(port);
    return true;
  } catch (err) {
    if (err instanceof UserError) return false;
    throw err;
  }
}

/** The first port from `from` on (`count` of them) that `free` says is free. */
export async function firstFreePort(from: number, count: number, free: (port: number) => Promise<boolean>): Promise<number | undefined> {
  for (let p = from; p < from + count && p <= 65535; p++) if (await free(p)) return p;
  return undefined;
}

/**
 * The port of a new lab. Without --port: the default, or where another lab (or anything
 * else) holds it, the next free port, and the start says which. With --port P where P is
 * taken: the error names a free port and the way to run a second lab beside the first.
 * (A lab of that name already running is refused by startLab, with its own message.)
 */
async function choosePort(lab: string, asked: number | undefined, io: Ctx['io']): Promise<number> {
  const base = defaultPort();
  if ((await readState(lab)).kind !== 'missing') return asked ?? base; // startLab says what is wrong
  // a taken port may be held by this lab's own leftovers (found by their tags, which asks every
  // backend: only when the port is taken): then startLab says to take them down first
  const leftovers = async (): Promise<boolean> => (await allLabs()).includes(lab);
  if (asked !== undefined) {
    try {
      await checkPortFree(asked);
      return asked;
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      if (await leftovers()) return asked;
      const free = await firstFreePort(asked + 1, portsTried, portFree);
      throw new UserError(
        err.message,
        `Stop what listens on it (ss -ltnp 'sport = :${asked}'), or publish this lab on another port${free ? `: --name ${lab} --port ${free}` : ' with --port P'} (each lab has its own name and port, side by side).`,
        ExitCode.conflict,
      );
    }
  }
  if ((await portFree(base)) || (await leftovers())) return base;
  const free = await firstFreePort(base + 1, portsTried - 1, portFree);
  if (free === undefined) {
    throw new UserError(
      `Ports ${base} to ${base + portsTried - 1} on localhost are all in use, so the site cannot be published there.`,
      `Choose a free port: --name ${lab} --port P.`,
      ExitCode.conflict,
    );
  }
  io.err(`  port ${base} on localhost is taken (another lab?): this lab's site is published on port ${free} (--port P chooses) ...`);
  return free;
}
