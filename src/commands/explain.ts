import type { Command } from 'commander';
import type { Ctx } from '../cli/context.js';
import { ExitCode, UserError } from '../core/errors.js';
import { CommandLineError, explainCommand, formatReport, invalidFilterMessage } from '../explain/index.js';
import { systemLookups } from '../explain/system.js';

export function registerExplain(program: Command, ctx: Ctx): void {
  program
    .command('explain')
    .description("explain a tcpdump command in plain words: its options, its filter (checked with tcpdump -d) and its risks")
    .argument('<command...>', "the tcpdump command, quoted as one string (\"tcpdump -i eth0 'tcp port 80'\") or as the words after --")
    .option('--json', 'as JSON')
    // everything after the first word is tcpdump's, not ours: `mystery explain tcpdump -nn ...`
    .passThroughOptions()
    .allowUnknownOption()
    .addHelpText('after', "\nExamples:\n  mystery explain \"tcpdump -nn -i eth0 -c 100 'tcp port 3000'\"\n  mystery explain -- tcpdump -A -i any port 80")
    .action((args: string[], opts: { json?: boolean }) => runExplain(args, opts, ctx));
}

/**
 * `mystery explain WORDS...` without commander (main calls it first, to answer fast): the
 * plain forms only, `[--json] [--] WORD...`. Anything else (help, another option, no words)
 * returns false, and commander takes the command line as usual.
 */
export async function explainFastPath(argv: string[], ctx: Ctx): Promise<boolean> {
  let i = 0;
  let json = false;
  for (; argv[i] === '--json'; i++) json = true;
  if (argv[i] === '--') i++;
  const args = argv.slice(i);
  if (args.length === 0 || args[0]!.startsWith('-') || argv.slice(0, i + 1).some((a) => a === '-h' || a === '--help')) return false;
  await runExplain(args, { json }, ctx);
  return true;
}

async function runExplain(args: string[], opts: { json?: boolean }, ctx: Ctx): Promise<void> {
  // passed through with tcpdump's words, but tcpdump has no --json: it is ours
  const json = opts.json || (args.length > 1 && args.includes('--json'));
  const words = args.length > 1 ? args.filter((a) => a !== '--json') : args;
  let report;
  try {
    report = await explainCommand(words, { lookups: systemLookups(), overSsh: !!process.env.SSH_CONNECTION });
  } catch (err) {
    if (err instanceof CommandLineError) throw new UserError(`cannot read the command: ${err.message}`, 'Quote the whole tcpdump command once, e.g. mystery explain "tcpdump -i eth0 \'tcp port 80\'".');
    throw err;
  }
  ctx.io.out(json ? JSON.stringify(report, null, 2) : formatReport(report));
  // tcpdump refuses what is invalid or rejects every packet; where it could not be run, explain's word
  if (report.filter.final === 'invalid' || report.filter.final === 'rejects-all') {
    const { message, fix } = invalidFilterMessage(report.filter);
    throw new UserError(message, fix, ExitCode.usage);
  }
}
