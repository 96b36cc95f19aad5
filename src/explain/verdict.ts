/**
 * explain's own verdict on a filter, the one libpcap would give: valid, invalid (with its
 * message), or valid but rejecting every packet (the optimizer's proof). It needs no
 * tcpdump: the differential tests hold it against the real `tcpdump -d`.
 */
import type { FilterNode } from './ast.js';
import { parseFilter, type FilterError, type ParseResult } from './parser.js';
import { rejectsEveryPacket } from './reach.js';
import type { Lookups } from './validate.js';

export type Verdict = 'valid' | 'invalid' | 'rejects-all' | 'not-covered';

export interface OwnVerdict {
  verdict: Verdict;
  /** what is wrong (invalid), or why explain cannot say (not-covered) */
  message?: string;
  error?: FilterError;
  parsed?: ParseResult;
}

/** Link types explain covers: tcpdump's default (`-d` without `-y`) is Ethernet. */
export const COVERED_LINK_TYPES = ['EN10MB'];

export function linkTypeCovered(dlt: string | undefined): boolean {
  return dlt === undefined || COVERED_LINK_TYPES.includes(dlt.toUpperCase().replace(/^DLT_/, ''));
}

export const REJECTS_ALL_MESSAGE = 'expression rejects all packets';

/** Host names the filter asks libpcap to resolve (`host NAME`, `src NAME`, `ip6 host NAME`). */
export function hostNamesIn(ast: FilterNode | null): string[] {
  const names = new Set<string>();
  const visit = (node: FilterNode): void => {
    if (node.kind === 'and' || node.kind === 'or') {
      visit(node.left);
      visit(node.right);
    } else if (node.kind === 'not') visit(node.operand);
    else if (node.kind === 'primitive' && node.context !== 'none' && node.value.kind === 'name') {
      const q = node.context;
      if ((q.type === undefined || q.type === 'host') && q.proto !== 'link' && q.proto !== 'decnet') names.add(node.value.text);
    }
  };
  if (ast) visit(ast);
  return [...names];
}

export type Resolver = (names: string[]) => Promise<Map<string, { ipv4: boolean; ipv6: boolean } | undefined>>;

/** Parses, resolves the host names it needs (as libpcap does while compiling), checks. */
export async function parseAndResolve(expression: string, lookups: Lookups, resolve?: Resolver): Promise<{ parsed: ParseResult; lookups: Lookups }> {
  if (!resolve) return { parsed: parseFilter(expression, lookups), lookups };
  // first with every name resolvable, to find the names the grammar puts in a host's place
  const sketch = parseFilter(expression, { ...lookups, host: () => ({ ipv4: true, ipv6: true }) });
  const names = sketch.ok ? hostNamesIn(sketch.ast) : [];
  if (!names.length) return { parsed: parseFilter(expression, lookups), lookups };
  const found = await resolve(names);
  const resolved: Lookups = { ...lookups, host: (name) => found.get(name) };
  return { parsed: parseFilter(expression, resolved), lookups: resolved };
}

export async function ownVerdict(expression: string, options: { dlt?: string; lookups: Lookups; resolve?: Resolver }): Promise<OwnVerdict> {
  if (!linkTypeCovered(options.dlt)) {
    return { verdict: 'not-covered', message: `explain covers Ethernet (EN10MB) only, not -y ${options.dlt}: there tcpdump's own verdict (tcpdump -y ${options.dlt} -d) is the only one` };
  }
  if (expression.trim() === '') return { verdict: 'valid' };
  const { parsed, lookups } = await parseAndResolve(expression, options.lookups, options.resolve);
  if (!parsed.ok) return { verdict: parsed.error.kind === 'unsupported' ? 'not-covered' : 'invalid', message: parsed.error.message, error: parsed.error, parsed };
  if (rejectsEveryPacket(parsed.ast, lookups)) return { verdict: 'rejects-all', message: REJECTS_ALL_MESSAGE, parsed };
  return { verdict: 'valid', parsed };
}
