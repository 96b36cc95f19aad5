/**
 * Risks of a tcpdump command, after the seed's disclaimer: be specific, mind busy
 * interfaces and disks, and never capture your own terminal's traffic.
 */
import type { FilterNode, Value } from './ast.js';
import { findOption, type ParsedCommand } from './options.js';

export interface Warning {
  code:
    | 'no-limit'
    | 'no-filter'
    | 'write-unbounded'
    | 'rotate-unbounded'
    | 'own-terminal'
    | 'payload-unbounded'
    | 'any-interface'
    | 'default-interface'
    | 'shell-quoting'
    | 'unknown-option';
  message: string;
}

export interface WarningContext {
  /** the filter's syntax tree; null = no filter; undefined = the filter is invalid */
  ast: FilterNode | null | undefined;
  /** characters a shell would interpret, found unquoted in the command line */
  unquotedSpecials?: string[];
  /** the learner is logged in over ssh (SSH_CONNECTION is set) */
  overSsh?: boolean;
}

const NO_CAPTURE = ['D', 'L', 'J', 'h', 'version', 'd'];
const PAYLOAD = ['A', 'X', 'x'];

export function warningsFor(cmd: ParsedCommand, context: WarningContext): Warning[] {
  const warnings: Warning[] = [];
  const has = (name: string) => findOption(cmd, name) !== undefined;
  const value = (name: string) => findOption(cmd, name)?.value;

  if (cmd.unknownOptions.length) {
    warnings.push({ code: 'unknown-option', message: `tcpdump does not know ${cmd.unknownOptions.join(', ')}: it would print its usage and not start.` });
  }
  if (context.unquotedSpecials?.length && cmd.filterWords.length) {
    const chars = context.unquotedSpecials.map((c) => `\`${c}\``).join(', ');
    warnings.push({
      code: 'shell-quoting',
      message: `${chars} unquoted: your shell would interpret ${context.unquotedSpecials.length > 1 ? 'them' : 'it'} before tcpdump sees the filter (\`&\` runs a command in the background, \`(\` is a syntax error, \`!\` may expand history). Put the whole filter in single quotes: tcpdump ... '${cmd.filter}'.`,
    });
  }
  const readsFile = has('r') || has('V');
  const live = !readsFile && !NO_CAPTURE.some(has);
  if (!live) return warnings;

  const limited = has('c') || cmd.timeout !== undefined || (has('G') && has('W'));
  const writes = value('w');
  const prints = writes === undefined || has('print');
  const iface = value('i');

  if (!limited) {
    warnings.push({ code: 'no-limit', message: 'No -c and no time limit: on a busy interface this runs until you stop it (Ctrl-C). Consider -c N (e.g. -c 100), or `timeout 10 tcpdump ...`.' });
  }
  if (context.ast === null) {
    warnings.push({ code: 'no-filter', message: 'No filter: every packet on the interface is captured. Make the expression as specific as you can, e.g. `tcp port 3000`.' });
  }
  if (writes !== undefined && writes !== '-' && !has('c') && !has('C') && !has('G') && !has('W') && cmd.timeout === undefined) {
    warnings.push({ code: 'write-unbounded', message: `-w ${writes} without -c, -C, -G or -W: the file grows without limit until you stop tcpdump. Watch the free disk space, or limit it: -c 10000, or rotate with -C 100 -W 5.` });
  } else if (writes !== undefined && (has('C') || has('G')) && !has('W')) {
    warnings.push({ code: 'rotate-unbounded', message: `-${has('C') ? 'C' : 'G'} without -W: tcpdump keeps starting new files, without limit. Add -W N to keep at most N files.` });
  }
  if (prints && capturesOwnTerminal(iface) && context.ast !== undefined) {
    const port22 = context.ast ? port22Polarity(context.ast) : { included: false, excluded: false };
    const who = context.overSsh ? 'You are logged in over ssh (SSH_CONNECTION is set): each' : 'If you are logged in over ssh, each';
    const loop = `${who} line tcpdump prints travels back to you as ssh packets, which are captured and printed again: a feedback loop that grows without end.`;
    if (port22.included) {
      warnings.push({ code: 'own-terminal', message: `The filter matches port 22 (ssh), your terminal's own traffic. ${loop}` });
    } else if (!port22.excluded) {
      warnings.push({ code: 'own-terminal', message: `This capture can include your own terminal's traffic. ${loop} Exclude it with \`and not port 22\`, or capture on a lab interface.` });
    }
  }
  const payload = PAYLOAD.filter(has);
  if (payload.length && prints && (!has('s') || !limited)) {
    const flags = payload.map((p) => findOption(cmd, p)!.text).join(' ');
    warnings.push({
      code: 'payload-unbounded',
      message: `${flags} prints whole packets${has('s') ? '' : ' (no -s: up to 262144 bytes each)'}: on a busy interface that floods the terminal. Do a small test capture first (e.g. -s 96 -c 20) and judge whether the system copes, as the seed's disclaimer advises.`,
    });
  }
  if (iface === 'any') {
    warnings.push({
      code: 'any-interface',
      message: "-i any captures on every interface at once: a packet that crosses a bridge shows up once per interface, link headers are Linux 'cooked' ones (no real MAC header with -e), and you cannot tell which veth, hence which host, it came through. To find a loud host, capture on one veth at a time.",
    });
  }
  if (iface === undefined) {
    warnings.push({ code: 'default-interface', message: 'No -i: tcpdump picks the first interface it finds (often eth0), which may not be the one you mean. Name it with -i (tcpdump -D lists them).' });
  }
  return warnings;
}

/** The default interface, `any` and the machine's uplinks carry your ssh session; lab links do not. */
function capturesOwnTerminal(iface: string | undefined): boolean {
  if (iface === undefined || iface === 'any') return true;
  return /^(eth|en|wl|ww|bond|team)/.test(iface);
}

/** Whether port 22 appears in the filter, and whether negated (excluded) or not (included). */
function port22Polarity(ast: FilterNode): { included: boolean; excluded: boolean } {
  const result = { included: false, excluded: false };
  const visit = (node: FilterNode, negated: boolean): void => {
    switch (node.kind) {
      case 'and':
      case 'or':
        visit(node.left, negated);
        visit(node.right, negated);
        return;
      case 'not':
        visit(node.operand, !negated);
        return;
      case 'primitive':
        if (node.context !== 'none' && (node.context.type === 'port' || node.context.type === 'portrange') && coversSsh(node.value)) {
          if (negated) result.excluded = true;
          else result.included = true;
        }
        return;
      default:
        return;
    }
  };
  visit(ast, false);
  return result;
}

function coversSsh(value: Value): boolean {
  if (value.kind === 'number') return value.value === 22;
  if (value.kind !== 'name') return false;
  if (value.text === 'ssh') return true;
  const range = /^(\d+)-(\d+)$/.exec(value.text);
  if (!range) return false;
  const [low, high] = [Number(range[1]), Number(range[2])].sort((a, b) => a - b) as [number, number];
  return low <= 22 && 22 <= high;
}
