/**
 * `mystery explain`: a tcpdump command in plain words. Options, the filter (our parser for
 * the explanation, real `tcpdump -d` for the verdict) and the risks the seed warns about.
 */
import type { FilterNode } from './ast.js';
import { describeFilter, describeParts, precedenceNotes } from './english.js';
import { CommandLineError, parseCommand, shellSplit, type OptionUse } from './options.js';
import { parseFilter, type FilterError } from './parser.js';
import { checkWithTcpdump, type TcpdumpVerdict } from './system.js';
import { tokenize, type Token } from './tokens.js';
import { builtinLookups, type Lookups } from './validate.js';
import { warningsFor, type Warning } from './warnings.js';

export { CommandLineError } from './options.js';

export interface ExplainOptions {
  lookups?: Lookups;
  /** the real check; tests may replace it, `false` skips it */
  tcpdump?: ((expression: string) => Promise<TcpdumpVerdict>) | false;
  overSsh?: boolean;
}

export interface FilterReport {
  expression: string;
  /** our parser's verdict; `unsupported` = a part of pcap-filter it does not cover */
  parser: 'valid' | 'invalid' | 'unsupported';
  error?: FilterError;
  /** the whole filter in a sentence */
  english?: string;
  /** the syntax tree (null: no filter) when our parser accepts it */
  ast?: FilterNode | null;
  parts: { text: string; meaning: string }[];
  notes: string[];
  tcpdump: TcpdumpVerdict;
  /** does our parser agree with tcpdump? */
  agreement: 'agree' | 'disagree' | 'unchecked';
  /** the final word: tcpdump's when it ran, else ours */
  valid: boolean;
}

export interface ExplainReport {
  /** the command as tcpdump receives it, re-quoted for a shell */
  command: string;
  prefix: string[];
  options: OptionUse[];
  unknownOptions: string[];
  filter: FilterReport;
  /** shell plumbing after the command (`| grep x`), not part of tcpdump */
  shellTail?: string;
  notes: string[];
  warnings: Warning[];
}

/** Accepts the command as one string (split like a shell, never run by one) or as words. */
export async function explainCommand(input: string | string[], options: ExplainOptions = {}): Promise<ExplainReport> {
  const lookups = options.lookups ?? builtinLookups;
  let words: string[];
  let unquotedSpecials: string[] = [];
  let shellTail: string | undefined;
  if (typeof input === 'string' || input.length === 1) {
    const split = shellSplit(typeof input === 'string' ? input : input[0]!);
    words = split.words;
    unquotedSpecials = split.unquotedSpecials;
    shellTail = split.tail;
  } else words = input;
  if (words.length === 0) throw new CommandLineError('there is no tcpdump command to explain');

  const cmd = parseCommand(words);
  const filter = await explainFilter(cmd.filter, lookups, options.tcpdump ?? checkWithTcpdump);
  const notes = [...cmd.notes];
  if (cmd.timeout) notes.push(`\`timeout ${cmd.timeout}\` stops tcpdump after ${cmd.timeout}${/\d$/.test(cmd.timeout) ? ' seconds' : ''}; it then prints how many packets it captured.`);
  if (cmd.prefix.includes('sudo')) notes.push('sudo: capturing live needs root (reading a file with -r does not).');
  if (shellTail) notes.push(`\`${shellTail}\` is for your shell: tcpdump's output goes there${/^\|/.test(shellTail) ? '; add -l so each line arrives at once' : ''}.`);
  if (findName(cmd.options, 'F') && cmd.filter) notes.push('With -F, tcpdump ignores the expression on the command line.');
  const warnings = warningsFor(cmd, {
    // undefined: no sound tree to look at (invalid, or a part our parser does not cover)
    ast: filter.valid && filter.parser === 'valid' ? filter.ast ?? null : undefined,
    unquotedSpecials,
    overSsh: options.overSsh ?? false,
  });
  return {
    command: [...cmd.prefix, ...words.slice(cmd.prefix.length)].map(shellQuote).join(' '),
    prefix: cmd.prefix,
    options: cmd.options,
    unknownOptions: cmd.unknownOptions,
    filter,
    ...(shellTail ? { shellTail } : {}),
    notes,
    warnings,
  };
}

function findName(options: OptionUse[], name: string): OptionUse | undefined {
  return options.find((o) => o.name === name);
}

/** Explains one filter expression and checks it with tcpdump. */
export async function explainFilter(
  expression: string,
  lookups: Lookups = builtinLookups,
  tcpdump: ((expression: string) => Promise<TcpdumpVerdict>) | false = checkWithTcpdump,
): Promise<FilterReport> {
  const parsed = parseFilter(expression, lookups);
  const parser = parsed.ok ? 'valid' : parsed.error.kind === 'unsupported' ? 'unsupported' : 'invalid';
  // an empty filter needs no check: it is valid and matches everything
  const verdict: TcpdumpVerdict = expression.trim() === '' ? { ran: true, accepted: true } : tcpdump ? await tcpdump(expression) : { ran: false };
  const report: FilterReport = {
    expression,
    parser,
    parts: parsed.ok ? describeParts(parsed.ast, expression, { lookups }) : [],
    notes: parsed.ok ? [...precedenceNotes(parsed.ast, expression), ...parsed.notes] : [],
    tcpdump: verdict,
    agreement: !verdict.ran || parser === 'unsupported' ? 'unchecked' : (parser === 'valid') === verdict.accepted ? 'agree' : 'disagree',
    valid: verdict.ran ? verdict.accepted === true : parser !== 'invalid',
  };
  if (parsed.ok) {
    report.ast = parsed.ast;
    report.english = describeFilter(parsed.ast, { lookups });
  } else report.error = parsed.error;
  return report;
}

/** The message for an invalid filter: where, and what was expected. */
export function invalidFilterMessage(filter: FilterReport): { message: string; fix: string } {
  if (filter.error && filter.parser === 'invalid') {
    return {
      message: `the filter is invalid at column ${filter.error.column}: ${filter.error.message}${filter.tcpdump.message ? ` (tcpdump: ${filter.tcpdump.message})` : ''}`,
      fix: filter.error.hint ? `Hint: ${filter.error.hint}` : 'Fix the expression there; `man pcap-filter` has the grammar.',
    };
  }
  // tcpdump names the culprit ("unknown host 'x'"): find its token, to give a column all the same
  const culprit = /'([^']+)'/.exec(filter.tcpdump.message ?? '')?.[1];
  const token = culprit ? tokensOf(filter.expression).find((t) => t.text === culprit) : undefined;
  if (token) {
    return {
      message: `tcpdump rejects the filter at column ${token.start + 1}: ${filter.tcpdump.message}`,
      fix: /unknown host/.test(filter.tcpdump.message ?? '')
        ? `Our parser accepts the grammar there; tcpdump looks host names up (DNS, /etc/hosts) when it compiles the filter, and this machine does not know the lab's hosts by name: use the address \`mystery ps\` gives (e.g. \`host 10.200.X.Y\`).`
        : 'Our parser accepts the grammar there; tcpdump also looks names up (DNS, /etc/hosts) when it compiles the filter.',
    };
  }
  return {
    message: `tcpdump rejects the filter: ${filter.tcpdump.message ?? 'syntax error'}`,
    fix: 'Our parser found no error at a given column: tcpdump also looks up names (hosts, networks) and checks the compiled program.',
  };
}

function tokensOf(expression: string): Token[] {
  try {
    return tokenize(expression);
  } catch {
    return [];
  }
}

function shellQuote(word: string): string {
  return /^[-A-Za-z0-9_.,:/=@%+]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The report as text for a terminal. */
export function formatReport(report: ExplainReport): string {
  const lines: string[] = [report.command, ''];
  if (report.options.length || report.unknownOptions.length) {
    lines.push('Options');
    const width = Math.max(...report.options.map((o) => o.text.length), ...report.unknownOptions.map((o) => o.length));
    for (const o of report.options) lines.push(`  ${o.text.padEnd(width)}  ${o.meaning}`);
    for (const u of report.unknownOptions) lines.push(`  ${u.padEnd(width)}  unknown to tcpdump`);
    lines.push('');
  }
  const f = report.filter;
  if (f.expression.trim() === '') {
    lines.push('Filter', '  (none): every packet is captured', '');
  } else {
    lines.push('Filter', `  ${f.expression}`);
    if (f.error) {
      lines.push(`  ${' '.repeat(f.error.start)}${'^'.repeat(Math.max(1, f.error.end - f.error.start))} column ${f.error.column}`);
      lines.push(`  ${f.parser === 'unsupported' ? 'not covered' : 'error'}: ${f.error.message}`);
      if (f.error.hint) lines.push(`  hint: ${f.error.hint}`);
    } else {
      lines.push(`  means: ${f.english}`);
      const parts = f.parts.filter((p) => p.text !== f.expression);
      if (parts.length) {
        const width = Math.max(...parts.map((p) => p.text.length));
        for (const p of parts) lines.push(`    ${p.text.padEnd(width)}  ${p.meaning}`);
      }
      for (const n of f.notes) lines.push(`  note: ${n}`);
    }
    lines.push(`  tcpdump -d: ${tcpdumpLine(f)}`);
    lines.push('');
  }
  if (report.notes.length) {
    lines.push('Notes', ...report.notes.map((n) => `  ${n}`), '');
  }
  if (report.warnings.length) {
    lines.push('Warnings', ...report.warnings.map((w) => `  ! ${w.message}`), '');
  }
  return lines.join('\n').trimEnd();
}

function tcpdumpLine(f: FilterReport): string {
  const t = f.tcpdump;
  if (!t.ran) return `not checked (${t.message ?? 'tcpdump was not run'})`;
  const verdict = t.accepted ? `accepts it${t.instructions ? ` (${t.instructions} BPF instructions, for an Ethernet link)` : ''}` : `rejects it: ${t.message}`;
  if (!t.accepted && t.message?.includes('rejects all packets')) {
    return `${verdict}. Its optimizer proved that no packet can ever match (a comparison that is always false, or conditions that exclude each other, like \`tcp and udp\`).`;
  }
  if (f.agreement !== 'disagree') return verdict;
  return f.parser === 'valid'
    ? `${verdict}. Our parser found no error: tcpdump is the authority (it also resolves names and checks the compiled program).`
    : `${verdict}. Our parser disagrees: tcpdump is the authority, this explainer has a gap here.`;
}
