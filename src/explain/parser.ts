/**
 * A recursive-descent parser for the pcap-filter language, written after libpcap's grammar
 * (grammar.y, 1.10). Bison resolves that grammar with one token of lookahead; where the
 * grammar is ambiguous for a hand-written parser (`and (443)`, `(tcp[13]) & 2 != 0`) we try
 * the alternatives in turn and report the failure that got furthest, as a parser
 * generator would.
 *
 * libpcap also passes qualifiers along: in `host a or b` the `b` borrows `host` from the
 * primitive before it. The borrowed qualifiers (the "context") follow the grammar exactly:
 * a parenthesised group hands on what was in force before its `(`, and a bare protocol, a
 * comparison or `less N` hand on nothing, so `tcp or 80` is an error.
 */
import type { AddressType, Arith, Context, Direction, FilterNode, Qualifiers, Span, Value } from './ast.js';
import { EXOTIC_KEYWORDS, KEYWORDS, LexError, PROTOCOL_KEYWORDS, tokenize, type Token } from './tokens.js';
import { validate, type Lookups } from './validate.js';

export type FilterErrorKind = 'lexical' | 'syntax' | 'semantic' | 'unsupported';

export interface FilterError {
  kind: FilterErrorKind;
  message: string;
  /** 1-based column of the offending token in the expression */
  column: number;
  start: number;
  end: number;
  /** what the parser would have accepted there (syntax errors) */
  expected?: string[];
  hint?: string;
}

export type ParseResult =
  | { ok: true; ast: FilterNode | null; notes: string[] }
  | { ok: false; error: FilterError };

/** A failed alternative: thrown often while parsing, so one object, made once (a new Error each time would capture a stack each time). */
class Backtrack extends Error {}
const backtrack = new Backtrack('backtrack');

class Unsupported extends Error {
  constructor(readonly token: Token) {
    super(`\`${token.text}\` belongs to a part of pcap-filter this explainer does not cover (ATM, SS7, pf, 802.11, LLC)`);
  }
}

const EXOTIC_DIRECTIONS: Record<string, Direction> = {
  addr1: 'addr1', address1: 'addr1', addr2: 'addr2', address2: 'addr2', addr3: 'addr3', address3: 'addr3',
  addr4: 'addr4', address4: 'addr4', ra: 'ra', ta: 'ta',
};
const ATM_TYPES = new Set(['lane', 'metac', 'bcc', 'oamf4ec', 'oamf4sc', 'sc', 'ilmic', 'oam', 'oamf4', 'connectmsg', 'metaconnect']);
const MTP2_TYPES = new Set(['fisu', 'lssu', 'msu', 'hfisu', 'hlssu', 'hmsu']);
const MTP3_FIELDS = new Set(['sio', 'opc', 'dpc', 'sls', 'hsio', 'hopc', 'hdpc', 'hsls']);
/** pfvar: the pflog header's fields, with what each takes (`on eth0`, `rnr 3`, `reason match`) */
const PF_FIELDS: Record<string, { name: string; takes: Token['kind'][] }> = {
  on: { name: 'ifname', takes: ['name'] }, ifname: { name: 'ifname', takes: ['name'] },
  rset: { name: 'ruleset', takes: ['name'] }, ruleset: { name: 'ruleset', takes: ['name'] },
  rnr: { name: 'rnr', takes: ['num'] }, rulenum: { name: 'rnr', takes: ['num'] },
  srnr: { name: 'srnr', takes: ['num'] }, subrulenum: { name: 'srnr', takes: ['num'] },
  reason: { name: 'reason', takes: ['num', 'name'] }, action: { name: 'action', takes: ['name'] },
};
const ADDRESS_TYPES = new Set(['host', 'net', 'port', 'portrange']);
const RELOPS = new Set(['>', '>=', '=', '==', '<=', '<', '!=']);
const BINARY_PRECEDENCE: Record<string, number> = { '|': 1, '&': 2, '<<': 3, '>>': 3, '+': 4, '-': 4, '*': 5, '/': 5 };

const EXPECT = {
  primitive: 'a primitive (like `host 10.0.0.1`, `port 80`, `tcp`, `tcp[13] & 2 != 0`)',
  andOrEnd: '`and`, `or` or the end of the expression',
  value: 'a value (a host, network, port or number)',
  comparison: 'a comparison (`=`, `!=`, `<`, `>`, `<=` or `>=`)',
  operand: 'a number, `len` or a packet field like `tcp[13]`',
  number: 'a number',
  qualifier: '`host`, `net`, `port`, `portrange`, `src`, `dst` or `proto`',
};

class Parser {
  private pos = 0;
  private furthest = { pos: -1, expected: new Set<string>() };

  constructor(private readonly tokens: Token[]) {}

  parseProgram(): FilterNode | null {
    if (this.peek().kind === 'eof') return null;
    const { node } = this.parseExpr('none');
    if (this.peek().kind !== 'eof') this.fail(EXPECT.andOrEnd);
    return node;
  }

  /** The failure that got furthest, as the error to report. */
  furthestError(): { token: Token; expected: string[] } {
    const token = this.tokens[Math.max(0, Math.min(this.furthest.pos, this.tokens.length - 1))]!;
    return { token, expected: [...this.furthest.expected] };
  }

  // expr: term | expr and term | expr and id | expr or term | expr or id
  private parseExpr(context: Context): { node: FilterNode; context: Context } {
    let { node, context: current } = this.parseTerm(context);
    while (this.isKeyword(this.peek(), 'and', 'or', '&&', '||')) {
      const op = this.isKeyword(this.next(), 'and', '&&') ? 'and' : 'or';
      const right = this.attempt(() => this.parseTerm(current)) ?? this.attempt(() => this.parseId(current));
      if (!right) throw backtrack;
      node = { kind: op, left: node, right: right.node, span: join(node.span, right.node.span) };
      current = right.context;
    }
    return { node, context: current };
  }

  // term: rterm | not term
  private parseTerm(context: Context): { node: FilterNode; context: Context } {
    const t = this.peek();
    if (this.isNot(t)) {
      this.next();
      const inner = this.parseTerm(context);
      return { node: { kind: 'not', operand: inner.node, span: join(t, inner.node.span) }, context: inner.context };
    }
    return this.parseRterm(context);
  }

  private parseRterm(context: Context): { node: FilterNode; context: Context } {
    const t = this.peek();
    if (this.isOp(t, '(')) {
      const group = this.attempt(() => {
        this.next();
        const inner = this.parseExpr(context);
        const close = this.expectOp(')');
        return { node: { ...inner.node, span: join(t, close) }, context };
      });
      return group ?? { node: this.parseRelation(), context: 'none' };
    }
    if (t.kind === 'num' || this.isOp(t, '-') || this.isKeyword(t, 'len')) return { node: this.parseRelation(), context: 'none' };
    if (t.kind !== 'keyword') this.fail(EXPECT.primitive);
    const proto = PROTOCOL_KEYWORDS[t.text];
    if (proto) {
      const after = this.peek(1);
      if (this.isOp(after, '[')) return { node: this.parseRelation(), context: 'none' };
      if (this.isKeyword(after, 'broadcast', 'multicast')) {
        this.next();
        const cast = this.next();
        return { node: { kind: 'cast', cast: cast.text as 'broadcast' | 'multicast', proto, protoText: t.text, span: join(t, cast) }, context: 'none' };
      }
      if (this.startsHead(after)) return this.parseHeadId();
      if (this.isKeyword(after, 'type', 'subtype', 'dir', 'direction')) {
        this.next();
        return { node: this.parse80211(this.peek()), context: 'none' };
      }
      this.next();
      return { node: { kind: 'protocol', proto, protoText: t.text, span: t }, context: 'none' };
    }
    if (this.startsHead(t)) return this.parseHeadId();
    const other = this.parseOther(t);
    if (other) return { node: other, context: 'none' };
    const foreign = this.parseForeign(t);
    if (foreign) return { node: foreign, context: 'none' };
    return this.fail(EXPECT.primitive);
  }

  // p80211: TYPE type SUBTYPE subtype | TYPE type | SUBTYPE type_subtype | DIR dir
  private parse80211(t: Token): FilterNode {
    this.next();
    const kw = KEYWORDS[t.text] ?? t.text;
    const value = () => {
      const v = this.peek();
      if (kw === 'subtype' ? v.kind !== 'name' : v.kind !== 'num' && v.kind !== 'name') this.fail(kw === 'subtype' ? 'an 802.11 subtype name (like `beacon`)' : 'a number or a name');
      return this.next();
    };
    let last = value();
    if (kw === 'type' && this.isKeyword(this.peek(), 'subtype')) {
      this.next();
      last = value();
    }
    const message = kw === 'dir' || kw === 'direction' ? 'frame direction supported only with 802.11 headers' : '802.11 link-layer types supported only on 802.11';
    return { kind: 'foreign', family: 'ieee80211', keyword: t.text, message, span: join(t, last) };
  }

  /** ATM, SS7 (MTP2/MTP3) and pf primitives: the grammar's shape, refused on Ethernet. */
  private parseForeign(t: Token): FilterNode | undefined {
    if (t.kind !== 'keyword') return undefined;
    const kw = t.text;
    if (kw === 'type' || kw === 'subtype' || kw === 'dir' || kw === 'direction') return this.parse80211(t);
    if (ATM_TYPES.has(kw)) {
      this.next();
      return { kind: 'foreign', family: 'atm', keyword: kw, message: `'${kw}' supported only on raw ATM`, span: t };
    }
    if (MTP2_TYPES.has(kw)) {
      this.next();
      return { kind: 'foreign', family: 'mtp2', keyword: kw, message: `'${kw}' supported only on ${kw.startsWith('h') ? 'MTP2_HSL' : 'MTP2'}`, span: t };
    }
    if (kw === 'vpi' || kw === 'vci' || MTP3_FIELDS.has(kw)) {
      this.next();
      // field relop NUM | field irelop NUM | NUM [or [relop] NUM]...
      let last: Token = t;
      const value = () => {
        if (this.isOp(this.peek(), ...RELOPS)) this.next();
        last = this.expectNum();
      };
      value();
      while (this.isKeyword(this.peek(), 'or', '||') && (this.peek(1).kind === 'num' || this.isOp(this.peek(1), ...RELOPS))) {
        this.next();
        value();
      }
      const family = kw === 'vpi' || kw === 'vci' ? 'atm' : 'mtp3';
      return { kind: 'foreign', family, keyword: kw, message: family === 'atm' ? `'${kw}' supported only on raw ATM` : `'${kw}' supported only on SS7`, span: join(t, last) };
    }
    const pf = PF_FIELDS[kw];
    if (pf) {
      this.next();
      const v = this.peek();
      if (!pf.takes.includes(v.kind)) this.fail(pf.takes.includes('num') ? EXPECT.number : 'a name');
      this.next();
      return { kind: 'foreign', family: 'pf', keyword: kw, message: `${pf.name} supported only on PF linktype`, span: join(t, v) };
    }
    return undefined;
  }

  private startsHead(t: Token): boolean {
    return this.isKeyword(t, 'src', 'dst', 'host', 'net', 'port', 'portrange', 'proto', 'protochain', 'gateway') || (t.kind === 'keyword' && t.text in EXOTIC_DIRECTIONS);
  }

  // other: broadcast, multicast, less N, greater N, byte, inbound, outbound, ifindex, vlan, mpls, pppoe*, geneve
  private parseOther(t: Token): FilterNode | undefined {
    if (t.kind !== 'keyword') return undefined;
    switch (t.text) {
      case 'broadcast':
      case 'multicast':
        this.next();
        return { kind: 'cast', cast: t.text, span: t };
      case 'less':
      case 'greater': {
        this.next();
        const n = this.expectNum();
        return { kind: 'length', op: t.text, value: n.value!, span: join(t, n) };
      }
      case 'byte': {
        this.next();
        const offset = this.expectNum();
        const op = this.peek();
        if (!this.isOp(op, '&', '|', '<', '>', '=', '==')) this.fail('`&`, `|`, `<`, `>` or `=`');
        this.next();
        const value = this.expectNum();
        return { kind: 'byte', offset: offset.value!, op: op.text === '==' ? '=' : op.text, value: value.value!, span: join(t, value) };
      }
      case 'inbound':
      case 'outbound':
        this.next();
        return { kind: 'direction', inbound: t.text === 'inbound', span: t };
      case 'ifindex': {
        this.next();
        const n = this.expectNum();
        return { kind: 'ifindex', value: n.value!, span: join(t, n) };
      }
      case 'pppoed':
        this.next();
        return { kind: 'encap', encap: 'pppoed', span: t };
      case 'llc':
        this.next();
        // pllc: LLC | LLC ID | LLC PF_RNR (`llc i`, `llc ui`, `llc rnr`: the frame's type)
        if (this.peek().kind === 'name' || this.isKeyword(this.peek(), 'rnr')) {
          const type = this.next();
          return { kind: 'encap', encap: 'llc', llcType: type.text, span: join(t, type) };
        }
        return { kind: 'encap', encap: 'llc', span: t };
      case 'vlan':
      case 'mpls':
      case 'pppoes':
      case 'geneve': {
        this.next();
        const id = this.attempt(() => this.parsePnum());
        return { kind: 'encap', encap: t.text, ...(id ? { id: id.value } : {}), span: join(t, id?.span ?? t) };
      }
      default:
        return undefined;
    }
  }

  // head id, with head: pqual dqual aqual | pqual dqual | pqual aqual | pqual proto | pqual protochain | pqual gateway
  private parseHeadId(): { node: FilterNode; context: Context } {
    const first = this.peek();
    const q: Qualifiers = {};
    const proto = PROTOCOL_KEYWORDS[first.text];
    if (first.kind === 'keyword' && proto) {
      q.proto = proto;
      q.protoText = first.text;
      this.next();
    }
    const t = this.peek();
    if (this.isKeyword(t, 'src', 'dst')) {
      this.next();
      q.dir = t.text as Direction;
      const joiner = this.peek();
      if (this.isKeyword(joiner, 'and', 'or', '&&', '||')) {
        // `src or dst`: after a direction, `or` can only continue the qualifier
        this.next();
        const other = t.text === 'src' ? 'dst' : 'src';
        if (!this.isKeyword(this.peek(), other)) this.fail(`\`${other}\` (as in \`src or dst\`)`);
        this.next();
        q.dir = this.isKeyword(joiner, 'and', '&&') ? 'src and dst' : 'src or dst';
      }
      if (this.peek().kind === 'keyword' && ADDRESS_TYPES.has(this.peek().text)) q.type = this.next().text as AddressType;
    } else if (t.kind === 'keyword' && t.text in EXOTIC_DIRECTIONS) {
      this.next();
      q.dir = EXOTIC_DIRECTIONS[t.text]!;
      if (this.peek().kind === 'keyword' && ADDRESS_TYPES.has(this.peek().text)) q.type = this.next().text as AddressType;
    } else if (this.isKeyword(t, 'host', 'net', 'port', 'portrange', 'proto', 'protochain', 'gateway')) {
      this.next();
      q.type = t.text as AddressType;
    } else {
      this.fail(EXPECT.qualifier);
    }
    const id = this.parseId(q, first);
    return { node: id.node, context: q };
  }

  // id: nid | pnum | paren pid ')'; nid: ID | HID/NUM | HID mask HID | HID | HID6/NUM | HID6 | EID | AID | not id
  private parseId(context: Context, head?: Token): { node: FilterNode; context: Context } {
    const t = this.peek();
    const carried = head === undefined;
    const from = head ?? t;
    if (this.isNot(t)) {
      this.next();
      const inner = this.parseId(context);
      // the head's qualifiers apply inside: `host not a` is `not host a`
      const node: FilterNode = { kind: 'not', operand: inner.node, span: join(from, inner.node.span) };
      if (!carried && inner.node.kind === 'primitive') inner.node.carried = false;
      return { node, context };
    }
    if (this.isOp(t, '(')) {
      this.next();
      // a group of values starts with a value or a (number); `((1.2.3.4))` is not allowed
      const first = this.isOp(this.peek(), '(') ? this.parsePnum() : undefined;
      let node = first
        ? ({ kind: 'primitive', context, value: { kind: 'number', text: String(first.value), value: first.value }, carried, span: first.span, valueSpan: first.span } as FilterNode)
        : this.parseId(context).node;
      while (this.isKeyword(this.peek(), 'and', 'or', '&&', '||')) {
        const op = this.isKeyword(this.next(), 'and', '&&') ? 'and' : 'or';
        const right = this.parseId(context).node;
        node = { kind: op, left: node, right, span: join(node.span, right.span) };
      }
      const close = this.expectOp(')');
      if (!carried) markHeaded(node);
      return { node: { ...node, span: join(from, close) }, context };
    }
    const value = this.parseValue();
    return { node: { kind: 'primitive', context, value: value.value, carried, span: join(from, value.span), valueSpan: value.span }, context };
  }

  private parseValue(): { value: Value; span: Span } {
    const t = this.peek();
    switch (t.kind) {
      case 'num':
        this.next();
        return { value: { kind: 'number', text: t.text, value: t.value! }, span: t };
      case 'name':
        this.next();
        return { value: { kind: 'name', text: t.text }, span: t };
      case 'mac':
        this.next();
        return { value: { kind: 'mac', text: t.text }, span: t };
      case 'arcnet':
        this.next();
        return { value: { kind: 'arcnet', text: t.text }, span: t };
      case 'ipv4':
      case 'ipv6': {
        this.next();
        if (this.isOp(this.peek(), '/')) {
          this.next();
          const n = this.expectNum();
          const kind = t.kind === 'ipv4' ? 'ipv4-prefix' : 'ipv6-prefix';
          return { value: { kind, text: `${t.text}/${n.text}`, address: t.text, prefix: n.value! }, span: join(t, n) };
        }
        if (t.kind === 'ipv4' && this.isKeyword(this.peek(), 'mask')) {
          this.next();
          const mask = this.peek();
          if (mask.kind !== 'ipv4') this.fail('a dotted netmask like `255.255.0.0`');
          this.next();
          return { value: { kind: 'ipv4-mask', text: `${t.text} mask ${mask.text}`, address: t.text, mask: mask.text }, span: join(t, mask) };
        }
        return { value: { kind: t.kind, text: t.text }, span: t };
      }
      default:
        return this.fail(EXPECT.value);
    }
  }

  // pnum: NUM | '(' pnum ')'
  private parsePnum(): { value: number; span: Span } {
    const t = this.peek();
    if (t.kind === 'num') {
      this.next();
      return { value: t.value!, span: t };
    }
    if (this.isOp(t, '(')) {
      this.next();
      const inner = this.parsePnum();
      const close = this.expectOp(')');
      return { value: inner.value, span: join(t, close) };
    }
    return this.fail(EXPECT.number);
  }

  // arth relop arth | arth irelop arth
  private parseRelation(): FilterNode {
    const left = this.parseArith(0);
    const op = this.peek();
    if (!this.isOp(op, ...RELOPS)) this.fail(EXPECT.comparison);
    this.next();
    const right = this.parseArith(0);
    return { kind: 'relation', op: op.text === '==' ? '=' : op.text, left, right, span: join(left.span, right.span) };
  }

  /**
   * Precedence climbing over bison's table: | < & < << >> < + - < * /. `%` and `^` have no
   * precedence in grammar.y, so bison always shifts: they take the whole rest as right operand.
   */
  private parseArith(minPrecedence: number): Arith {
    let left = this.parseUnary();
    for (;;) {
      const t = this.peek();
      if (this.isOp(t, '%', '^')) {
        this.next();
        const right = this.parseArith(0);
        left = { kind: 'binary', op: t.text, left, right, span: join(left.span, right.span) };
        continue;
      }
      const precedence = t.kind === 'op' ? BINARY_PRECEDENCE[t.text] : undefined;
      if (precedence === undefined || precedence < minPrecedence) return left;
      this.next();
      const right = this.parseArith(precedence + 1);
      left = { kind: 'binary', op: t.text, left, right, span: join(left.span, right.span) };
    }
  }

  private parseUnary(): Arith {
    const t = this.peek();
    if (this.isOp(t, '-')) {
      this.next();
      let operand = this.parseUnary();
      // `%` and `^` have no precedence: bison shifts them even after a unary minus, so
      // `-8 ^ 1 << 3` is `-(8 ^ (1 << 3))`
      while (this.isOp(this.peek(), '%', '^')) {
        const op = this.next();
        const right = this.parseArith(0);
        operand = { kind: 'binary', op: op.text, left: operand, right, span: join(operand.span, right.span) };
      }
      return { kind: 'neg', operand, span: join(t, operand.span) };
    }
    if (t.kind === 'num') {
      this.next();
      return { kind: 'num', value: t.value!, text: t.text, span: t };
    }
    if (this.isKeyword(t, 'len')) {
      this.next();
      return { kind: 'len', span: t };
    }
    const proto = t.kind === 'keyword' ? PROTOCOL_KEYWORDS[t.text] : undefined;
    if (proto && this.isOp(this.peek(1), '[')) {
      this.next();
      this.next();
      const offset = this.parseArith(0);
      let size = 1;
      let sizeGiven = false;
      if (this.isOp(this.peek(), ':')) {
        this.next();
        size = this.expectNum().value!;
        sizeGiven = true;
      }
      const close = this.expectOp(']');
      return { kind: 'load', proto, protoText: t.text, offset, size, sizeGiven, span: join(t, close) };
    }
    if (this.isOp(t, '(')) {
      this.next();
      const inner = this.parseArith(0);
      const close = this.expectOp(')');
      return { ...inner, span: join(t, close) };
    }
    return this.fail(EXPECT.operand);
  }

  // helpers

  private peek(offset = 0): Token {
    const i = Math.max(0, Math.min(this.pos + offset, this.tokens.length - 1));
    return this.tokens[i]!;
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.pos++;
    return t;
  }

  private isKeyword(t: Token, ...names: string[]): boolean {
    return t.kind === 'keyword' && names.includes(KEYWORDS[t.text] ?? t.text);
  }

  private isOp(t: Token, ...ops: string[]): boolean {
    return t.kind === 'op' && ops.includes(t.text);
  }

  private isNot(t: Token): boolean {
    return this.isKeyword(t, 'not') || this.isOp(t, '!');
  }

  private expectOp(op: string): Token {
    if (!this.isOp(this.peek(), op)) this.fail(`\`${op}\``);
    return this.next();
  }

  private expectNum(): Token {
    if (this.peek().kind !== 'num') this.fail(EXPECT.number);
    return this.next();
  }

  private fail(expected: string): never {
    if (this.pos > this.furthest.pos) this.furthest = { pos: this.pos, expected: new Set([expected]) };
    else if (this.pos === this.furthest.pos) this.furthest.expected.add(expected);
    throw backtrack;
  }

  /** Tries one alternative; on failure rewinds and returns undefined. */
  private attempt<T>(parse: () => T): T | undefined {
    const saved = this.pos;
    try {
      return parse();
    } catch (err) {
      if (!(err instanceof Backtrack)) throw err;
      this.pos = saved;
      return undefined;
    }
  }
}

function join(a: Span, b: Span): Span {
  return { start: Math.min(a.start, b.start), end: Math.max(a.end, b.end) };
}

/** Inside `host (a or b)` every value got its qualifiers from the head, not by carrying over. */
function markHeaded(node: FilterNode): void {
  if (node.kind === 'primitive') node.carried = false;
  else if (node.kind === 'not') markHeaded(node.operand);
  else if (node.kind === 'and' || node.kind === 'or') {
    markHeaded(node.left);
    markHeaded(node.right);
  }
}

/** Parses and checks a filter expression (pure: name lookups come from `lookups`). */
export function parseFilter(expression: string, lookups?: Lookups): ParseResult {
  let tokens: Token[];
  try {
    tokens = tokenize(expression);
  } catch (err) {
    if (err instanceof LexError) {
      return { ok: false, error: { kind: 'lexical', message: err.message, column: err.start + 1, start: err.start, end: err.end } };
    }
    throw err;
  }
  const parser = new Parser(tokens);
  let ast: FilterNode | null;
  try {
    ast = parser.parseProgram();
  } catch (err) {
    if (err instanceof Unsupported) {
      const t = err.token;
      return { ok: false, error: { kind: 'unsupported', message: err.message, column: t.start + 1, start: t.start, end: t.end } };
    }
    if (!(err instanceof Backtrack)) throw err;
    const { token, expected } = parser.furthestError();
    const found = token.kind === 'eof' ? 'the end of the expression' : `\`${token.text}\``;
    const error: FilterError = {
      kind: 'syntax',
      message: `expected ${expected.join(' or ')}, found ${found}`,
      column: token.start + 1,
      start: token.start,
      end: token.end,
      expected,
    };
    const hint = syntaxHint(tokens, token);
    if (hint) error.hint = hint;
    return { ok: false, error };
  }
  if (!ast) return { ok: true, ast, notes: [] };
  const checked = validate(ast, lookups);
  if (checked.error) return { ok: false, error: checked.error };
  return { ok: true, ast, notes: checked.notes };
}

/** A learner's likely mistake behind a syntax error, in a sentence. */
function syntaxHint(tokens: Token[], at: Token): string | undefined {
  const index = tokens.indexOf(at);
  const before = index > 0 ? tokens[index - 1] : undefined;
  if (at.kind === 'keyword' && (EXOTIC_KEYWORDS.has(at.text) || PROTOCOL_KEYWORDS[at.text]) && before?.kind === 'keyword' && ['host', 'net', 'port', 'proto'].includes(before.text)) {
    return `\`${at.text}\` is a reserved word of pcap-filter; to use it as a name, escape it: \`\\${at.text}\`.`;
  }
  if (at.kind === 'name' && /^[A-Z]/.test(at.text) && PROTOCOL_KEYWORDS[at.text.toLowerCase()]) {
    return `keywords are lower case: write \`${at.text.toLowerCase()}\`.`;
  }
  if ((at.kind === 'num' || at.kind === 'ipv4' || at.kind === 'name') && (index === 0 || before?.kind === 'keyword' && PROTOCOL_KEYWORDS[before.text])) {
    return `a bare value needs a qualifier: \`host ${at.text}\`, \`port ${at.text}\` or \`net ${at.text}\`.`;
  }
  if (at.kind === 'eof' && before && (before.kind === 'keyword' && ['and', 'or', 'not', '&&', '||'].includes(before.text))) {
    return `the expression ends with \`${before.text}\`: something must follow it.`;
  }
  if (at.kind === 'eof' && tokens.some((t) => t.kind === 'op' && t.text === '[')) {
    return 'a packet field must be compared with something, e.g. `tcp[13] & 2 != 0`.';
  }
  return undefined;
}
