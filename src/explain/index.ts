/**
 * `mystery explain`: a tcpdump command in plain words. Options, the filter (our parser for
 * the explanation, real `tcpdump -d` for the verdict) and the risks the seed warns about.
 */
import type { FilterNode } from './ast.js';
import { describeFilter, describeParts, precedenceNotes } from './english.js';
import { commandWords, parseCommand, type OptionUse } from './options.js';
import { parseFilter, type FilterError } from './parser.js';
import { checkWithTcpdump, resolveHosts, type TcpdumpVerdict } from './system.js';
import { tokenize, type Token } from './tokens.js';
import { builtinLookups, type Lookups } from './validate.js';
import { warningsFor, type Warning } from './warnings.js';
import { linkTypeCovered, ownVerdict, REJECTS_ALL_MESSAGE, type Resolver, type Verdict } from './verdict.js';

export { CommandLineError } from './options.js';

export interface ExplainOptions {
  lookups?: Lookups;
  /** the real check; tests may replace it, `false` skips it */
  tcpdump?: TcpdumpCheck | false;
  /** host name lookups (libpcap resolves names while it compiles); default: the system's */
  resolve?: Resolver;
  overSsh?: boolean;
}

export type TcpdumpCheck = (expression: string, dlt?: string) => Promise<TcpdumpVerdict>;

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
  /** the link type it was judged for (`-y`); undefined = Ethernet, tcpdump's default */
  linkType?: string;
  /** explain's own verdict, libpcap's rules without running tcpdump */
  verdict: Verdict;
  /** what libpcap says about it when the verdict is not `valid` */
  verdictMessage?: string;
  /** does explain's verdict agree with tcpdump's? */
  agreement: 'agree' | 'disagree' | 'unchecked';
  /** the final word: tcpdump's when it ran, else ours */
  final: 'valid' | 'invalid' | 'rejects-all' | 'unknown';
  /** final === 'valid': tcpdump would capture with it */
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
  const { words, unquotedSpecials, tail: shellTail } = commandWords(input);
  const cmd = parseCommand(words);
  const linkType = findName(cmd.options, 'y')?.value;
  const filter = await explainFilter(cmd.filter, lookups, options.tcpdump ?? checkWithTcpdump, { linkType, resolve: options.resolve ?? resolveHosts });
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

/** tcpdump's verdict in explain's words. */
function tcpdumpVerdictOf(t: TcpdumpVerdict): 'valid' | 'invalid' | 'rejects-all' | undefined {
  if (!t.ran) return undefined;
  if (t.accepted) return 'valid';
  return t.message === REJECTS_ALL_MESSAGE ? 'rejects-all' : 'invalid';
}

/** Explains one filter expression: explain's own verdict, then tcpdump's (the authority). */
export async function explainFilter(
  expression: string,
  lookups: Lookups = builtinLookups,
  tcpdump: TcpdumpCheck | false = checkWithTcpdump,
  options: { linkType?: string; resolve?: Resolver } = {},
): Promise<FilterReport> {
  // tcpdump -d runs while explain makes up its own mind
  const checked = expression.trim() === '' || !tcpdump ? undefined : tcpdump(expression, options.linkType);
  const own = await ownVerdict(expression, { dlt: options.linkType, lookups, resolve: options.resolve ?? resolveHosts });
  // not covered (another link type): the grammar alone, for the explanation
  const parsed = own.parsed ?? parseFilter(expression, lookups);
  const parser = parsed.ok ? 'valid' : parsed.error.kind === 'unsupported' ? 'unsupported' : 'invalid';
  // an empty filter needs no check: it is valid and matches everything
  const verdict: TcpdumpVerdict = expression.trim() === '' ? { ran: true, accepted: true } : checked ? await checked : { ran: false };
  const theirs = tcpdumpVerdictOf(verdict);
  const final = theirs ?? (own.verdict === 'not-covered' ? 'unknown' : own.verdict);
  const explained = parsed.ok && linkTypeCovered(options.linkType);
  const report: FilterReport = {
    expression,
    parser,
    parts: explained ? describeParts(parsed.ast, expression, { lookups }) : [],
    notes: explained ? [...precedenceNotes(parsed.ast, expression), ...parsed.notes] : [],
    tcpdump: verdict,
    ...(options.linkType ? { linkType: options.linkType } : {}),
    verdict: own.verdict,
    ...(own.message ? { verdictMessage: own.message } : {}),
    agreement: theirs === undefined || own.verdict === 'not-covered' ? 'unchecked' : theirs === own.verdict ? 'agree' : 'disagree',
    final,
    valid: final === 'valid',
  };
  if (parsed.ok) {
    report.ast = parsed.ast;
    if (explained) report.english = describeFilter(parsed.ast, { lookups });
  } else report.error = parsed.error;
  return report;
}

/** The message for an invalid filter: where, and what was expected. */
export function invalidFilterMessage(filter: FilterReport): { message: string; fix: string } {
  if (filter.final === 'rejects-all') {
    return {
      message: `tcpdump refuses the filter: it is valid, but it rejects every packet (tcpdump: ${REJECTS_ALL_MESSAGE})`,
      fix: 'Its conditions exclude each other (like `tcp and udp`, `ip and ip6`, or one field with two values joined by `and`): join them with `or`, or drop one.',
    };
  }
  if (/^invalid data link type/.test(filter.tcpdump.message ?? '')) {
    return {
      message: `tcpdump does not know the link type of -y ${filter.linkType ?? ''}: ${filter.tcpdump.message}`,
      fix: '`tcpdump -L -i IFACE` lists the link types an interface offers; -y takes their names without DLT_ (EN10MB, LINUX_SLL, RAW...).',
    };
  }
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
    if (f.error && f.verdict !== 'not-covered') {
      lines.push(`  ${' '.repeat(f.error.start)}${'^'.repeat(Math.max(1, f.error.end - f.error.start))} column ${f.error.column}`);
      lines.push(`  ${f.parser === 'unsupported' ? 'not covered' : 'error'}: ${f.error.message}`);
      if (f.error.hint) lines.push(`  hint: ${f.error.hint}`);
    } else if (f.english) {
      lines.push(`  means: ${f.english}`);
      const parts = f.parts.filter((p) => p.text !== f.expression);
      if (parts.length) {
        const width = Math.max(...parts.map((p) => p.text.length));
        for (const p of parts) lines.push(`    ${p.text.padEnd(width)}  ${p.meaning}`);
      }
      for (const n of f.notes) lines.push(`  note: ${n}`);
    }
    lines.push(`  verdict: ${verdictLine(f)}`);
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

/** explain's own verdict, in a line: libpcap's three answers, or why it cannot say. */
function verdictLine(f: FilterReport): string {
  switch (f.verdict) {
    case 'valid':
      return 'valid';
    case 'rejects-all':
      return "valid, but it rejects every packet: libpcap's optimizer proves that no packet can match (tcpdump then refuses it)";
    case 'not-covered':
      return `not covered: ${f.verdictMessage}`;
    default:
      return `invalid: ${f.verdictMessage ?? f.error?.message ?? 'syntax error'}`;
  }
}

function tcpdumpLine(f: FilterReport): string {
  const t = f.tcpdump;
  if (!t.ran) return `not checked (${t.message ?? 'tcpdump was not run'})`;
  const link = f.linkType ? `-y ${f.linkType}` : 'an Ethernet link';
  const verdict = t.accepted ? `accepts it${t.instructions ? ` (${t.instructions} BPF instructions, for ${link})` : ''}` : `rejects it: ${t.message}`;
  if (f.agreement !== 'disagree') return verdict;
  return `${verdict}. explain's verdict differs: tcpdump is the authority, this explainer has a gap here (please report it).`;
}
