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

/** The most a command line may hold, and the deepest its parentheses may nest: beyond, no explaining. */
export const maxExplainChars = 16_384;
export const maxNesting = 200;

/**
 * Non-printing characters of the learner's input, shown as escapes (`\x1b`): a filter that
 * carries terminal escapes must not drive the terminal it is explained on.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function checkSize(words: string[]): void {
  const text = words.join(' ');
  if (text.length > maxExplainChars) {
    throw new UserError(`The command is too long to explain (${text.length} characters; at most ${maxExplainChars}).`, 'Explain its filter in parts: each `and` or `or` term alone.', ExitCode.usage);
  }
  let depth = 0;
  let deepest = 0;
  for (const ch of text) {
    if (ch === '(') deepest = Math.max(deepest, ++depth);
    else if (ch === ')') depth--;
  }
  if (deepest > maxNesting) {
    throw new UserError(`The filter nests its parentheses ${deepest} deep: too deep to explain (at most ${maxNesting}).`, 'Take out the parentheses that group a single term; they change nothing.', ExitCode.usage);
  }
}

async function runExplain(args: string[], opts: { json?: boolean }, ctx: Ctx): Promise<void> {
  // passed through with tcpdump's words, but tcpdump has no --json: it is ours
  const json = opts.json || (args.length > 1 && args.includes('--json'));
  const words = args.length > 1 ? args.filter((a) => a !== '--json') : args;
  checkSize(words);
  let report;
  try {
    report = await explainCommand(words, { lookups: systemLookups(), overSsh: !!process.env.SSH_CONNECTION });
  } catch (err) {
    if (err instanceof CommandLineError) throw new UserError(printable(`cannot read the command: ${err.message}`), 'Quote the whole tcpdump command once, e.g. mystery explain "tcpdump -i eth0 \'tcp port 80\'".');
    // thousands of `not`s or `and`s nest the parser's calls as deep as parentheses do
    if (err instanceof RangeError && /call stack/i.test(err.message)) {
      throw new UserError('The filter is too deeply nested to explain (its terms nest thousands deep).', 'Explain its filter in parts: each `and` or `or` term alone.', ExitCode.usage);
    }
    throw err;
  }
  ctx.io.out(json ? JSON.stringify(report, null, 2) : printable(formatReport(report)));
  // tcpdump refuses what is invalid or rejects every packet; where it could not be run, explain's word
  if (report.filter.final === 'invalid' || report.filter.final === 'rejects-all') {
    const { message, fix } = invalidFilterMessage(report.filter);
    throw new UserError(printable(message), printable(fix), ExitCode.usage);
  }
}

