/**
 * The pcap-filter tokenizer. It mirrors libpcap's scanner.l (1.10): flex picks the longest
 * match and, on a tie, the rule written first, so `tcp-syn` is a constant, `tcp` a keyword,
 * `port80` a name and `1000-2000` a name (that is how portranges arrive).
 */

export type TokenKind =
  | 'keyword' // host, tcp, src, and, not, ... (see KEYWORDS)
  | 'num' // 80, 0x50, 0120, and the named constants tcpflags, tcp-syn, icmp-echo...
  | 'name' // ID: a host, port or service name, `1000-2000`, `\tcp`
  | 'ipv4' // HID: 10, 10.0, 10.0.0, 10.0.0.1 (a bare number is a num)
  | 'ipv6' // HID6
  | 'mac' // EID
  | 'arcnet' // AID: $ab
  | 'op' // ( ) [ ] : ! + - * / % & | ^ < > = >= <= != == << >>
  | 'eof';

export interface Token {
  kind: TokenKind;
  /** the text as written (for keywords: the keyword; `and` and `&&` stay distinct) */
  text: string;
  /** numeric value of a num token */
  value?: number;
  /** 0-based offset in the expression */
  start: number;
  end: number;
}

/** A lexical error (tcpdump's LEX_ERROR), with where it happened. */
export class LexError extends Error {
  constructor(
    message: string,
    readonly start: number,
    readonly end: number,
  ) {
    super(message);
    this.name = 'LexError';
  }
}

/** Protocol names (the grammar's `pname`); aliases of the link layer map to `link`. */
export const PROTOCOL_KEYWORDS: Record<string, string> = {
  link: 'link', ether: 'link', ppp: 'link', slip: 'link', fddi: 'link', tr: 'link', wlan: 'link',
  arp: 'arp', rarp: 'rarp', ip: 'ip', sctp: 'sctp', tcp: 'tcp', udp: 'udp', icmp: 'icmp', igmp: 'igmp',
  igrp: 'igrp', pim: 'pim', vrrp: 'vrrp', carp: 'carp', radio: 'radio', ip6: 'ip6', icmp6: 'icmp6',
  ah: 'ah', esp: 'esp', atalk: 'atalk', aarp: 'aarp', decnet: 'decnet', lat: 'lat', sca: 'sca',
  moprc: 'moprc', mopdl: 'mopdl', iso: 'iso', esis: 'esis', 'es-is': 'esis', isis: 'isis', 'is-is': 'isis',
  l1: 'l1', l2: 'l2', iih: 'iih', lsp: 'lsp', snp: 'snp', csnp: 'csnp', psnp: 'psnp', clnp: 'clnp',
  stp: 'stp', ipx: 'ipx', netbeui: 'netbeui',
};

/** Keywords this explainer parses; the value is the canonical keyword. */
const CORE_KEYWORDS: Record<string, string> = {
  dst: 'dst', src: 'src', host: 'host', net: 'net', mask: 'mask', port: 'port', portrange: 'portrange',
  proto: 'proto', protochain: 'protochain', gateway: 'gateway', less: 'less', greater: 'greater',
  byte: 'byte', broadcast: 'broadcast', multicast: 'multicast', and: 'and', or: 'or', not: 'not',
  len: 'len', length: 'len', inbound: 'inbound', outbound: 'outbound', ifindex: 'ifindex', vlan: 'vlan',
  mpls: 'mpls', pppoed: 'pppoed', pppoes: 'pppoes', geneve: 'geneve',
};

/**
 * Reserved words of libpcap's rarer families (ATM, SS7 MTP, pf, 802.11, LLC). They cannot be
 * used as names; a filter built on them is left to tcpdump.
 */
export const EXOTIC_KEYWORDS = new Set([
  'type', 'subtype', 'direction', 'dir', 'address1', 'addr1', 'address2', 'addr2', 'address3', 'addr3',
  'address4', 'addr4', 'ra', 'ta', 'lane', 'llc', 'metac', 'bcc', 'oam', 'oamf4', 'oamf4ec', 'oamf4sc',
  'sc', 'ilmic', 'vpi', 'vci', 'connectmsg', 'metaconnect', 'on', 'ifname', 'rset', 'ruleset', 'rnr',
  'rulenum', 'srnr', 'subrulenum', 'reason', 'action', 'fisu', 'lssu', 'lsu', 'msu', 'hfisu', 'hlssu',
  'hmsu', 'sio', 'opc', 'dpc', 'sls', 'hsio', 'hopc', 'hdpc', 'hsls',
]);

export const KEYWORDS: Record<string, string> = {
  ...Object.fromEntries(Object.keys(PROTOCOL_KEYWORDS).map((k) => [k, k])),
  ...CORE_KEYWORDS,
  ...Object.fromEntries([...EXOTIC_KEYWORDS].map((k) => [k, k])),
};

/** Named numbers of the scanner: offsets and values for tcp[], icmp[] and icmp6[]. */
export const NAMED_NUMBERS: Record<string, number> = {
  icmptype: 0, icmpcode: 1, 'icmp-echoreply': 0, 'icmp-unreach': 3, 'icmp-sourcequench': 4,
  'icmp-redirect': 5, 'icmp-echo': 8, 'icmp-routeradvert': 9, 'icmp-routersolicit': 10,
  'icmp-timxceed': 11, 'icmp-paramprob': 12, 'icmp-tstamp': 13, 'icmp-tstampreply': 14,
  'icmp-ireq': 15, 'icmp-ireqreply': 16, 'icmp-maskreq': 17, 'icmp-maskreply': 18,
  icmp6type: 0, icmp6code: 1, 'icmp6-destinationunreach': 1, 'icmp6-packettoobig': 2,
  'icmp6-timeexceeded': 3, 'icmp6-parameterproblem': 4, 'icmp6-echo': 128, 'icmp6-echoreply': 129,
  'icmp6-multicastlistenerquery': 130, 'icmp6-multicastlistenerreportv1': 131,
  'icmp6-multicastlistenerdone': 132, 'icmp6-routersolicit': 133, 'icmp6-routeradvert': 134,
  'icmp6-neighborsolicit': 135, 'icmp6-neighboradvert': 136, 'icmp6-redirect': 137,
  'icmp6-routerrenum': 138, 'icmp6-nodeinformationquery': 139, 'icmp6-nodeinformationresponse': 140,
  'icmp6-ineighbordiscoverysolicit': 141, 'icmp6-ineighbordiscoveryadvert': 142,
  'icmp6-multicastlistenerreportv2': 143, 'icmp6-homeagentdiscoveryrequest': 144,
  'icmp6-homeagentdiscoveryreply': 145, 'icmp6-mobileprefixsolicit': 146,
  'icmp6-mobileprefixadvert': 147, 'icmp6-certpathsolicit': 148, 'icmp6-certpathadvert': 149,
  'icmp6-multicastrouteradvert': 151, 'icmp6-multicastroutersolicit': 152,
  'icmp6-multicastrouterterm': 153,
  tcpflags: 13, 'tcp-fin': 0x01, 'tcp-syn': 0x02, 'tcp-rst': 0x04, 'tcp-push': 0x08, 'tcp-ack': 0x10,
  'tcp-urg': 0x20, 'tcp-ece': 0x40, 'tcp-cwr': 0x80,
};

// Building blocks of scanner.l, as regex sources.
const N = '(?:0[xX][0-9A-Fa-f]+|[0-9]+)';
const B = '[0-9A-Fa-f]{1,2}';
const B2 = '[0-9A-Fa-f]{4}';
const W = '[0-9A-Fa-f]{1,4}';
const MAC = `(?:${B}:${B}:${B}:${B}:${B}:${B}|${B}-${B}-${B}-${B}-${B}-${B}|${B}\\.${B}\\.${B}\\.${B}\\.${B}\\.${B}|${B2}\\.${B2}\\.${B2}|(?:${B2}){3})`;
const V4TAIL = `${N}\\.${N}\\.${N}\\.${N}`;

/** The IPv6 forms of scanner.l: 8 groups, or `::` with k+j <= 7 groups, or with an IPv4 tail. */
function ipv6Alternatives(): string[] {
  const groups = (n: number) => Array.from({ length: n }, () => W).join(':');
  const alts = [groups(8), `${groups(6)}:${V4TAIL}`];
  for (let total = 0; total <= 7; total++) {
    for (let left = 0; left <= total; left++) {
      alts.push(`${groups(left)}::${groups(total - left)}`);
    }
  }
  for (let total = 0; total <= 5; total++) {
    for (let left = 0; left <= total; left++) {
      const right = total - left;
      alts.push(`${groups(left)}::${right ? `${groups(right)}:` : ''}${V4TAIL}`);
    }
  }
  return alts;
}

interface Rule {
  re: RegExp;
  make: (text: string, start: number) => Token;
}

const sticky = (src: string) => new RegExp(src, 'y');
const tok = (kind: TokenKind, text: string, start: number, value?: number): Token => ({
  kind,
  text,
  start,
  end: start + text.length,
  ...(value === undefined ? {} : { value }),
});

/**
 * Rules in scanner.l's order: on equal length the earlier one wins. Keywords and named
 * numbers are looked up in a table for the identifier found at that place, which gives
 * the same answer as one rule for each (they are written like identifiers, and on equal
 * length they come before the identifier rule).
 */
const ID = /[A-Za-z0-9](?:[-_.A-Za-z0-9]*[.A-Za-z0-9])?/y;
const RULES: Rule[] = [
  { re: /&&|\|\|/y, make: (t, s) => tok('keyword', t, s) },
  { re: /[+\-*/%:[\]!<>()&|^=]/y, make: (t, s) => tok('op', t, s) },
  { re: />=|<=|!=|==|<<|>>/y, make: (t, s) => tok('op', t, s) },
  { re: sticky(`\\$${B}`), make: (t, s) => tok('arcnet', t, s) },
  { re: sticky(MAC), make: (t, s) => tok('mac', t, s) },
  { re: sticky(N), make: (t, s) => tok('num', t, s, parseNumber(t, s)) },
  { re: sticky(`${N}\\.${N}(?:\\.${N}(?:\\.${N})?)?`), make: (t, s) => tok('ipv4', t, s) },
];
/** IPv6 forms, tried only where a `:` follows among hex digits and dots */
const IPV6_RULES: Rule[] = ipv6Alternatives().map((alt) => ({ re: sticky(alt), make: (t: string, s: number) => tok('ipv6', t, s) }));
const IPV6_AHEAD = /[0-9A-Fa-f.]*:/y;
const LATE_RULES: Rule[] = [
  {
    re: sticky(`${B}:+(?:${B}:+)+`),
    make: (t, s) => {
      throw new LexError(`bogus ethernet address ${t}`, s, s + t.length);
    },
  },
];
const ID_RULE: Rule = { re: ID, make: (t, s) => tok('name', t, s) };
// A backslash makes anything a name: `ip proto \tcp`
const ESCAPED: Rule = { re: /\\[^ !()\n\t]+/y, make: (t, s) => ({ ...tok('name', t, s), text: t.slice(1), end: s + t.length }) };
const KEYWORD_RULE: Rule = { re: ID, make: (t, s) => tok('keyword', t, s) };
const NAMED_RULE: Rule = { re: ID, make: (t, s) => tok('num', t, s, NAMED_NUMBERS[t]) };

/** Like libpcap's stoulen: decimal, 0x hex or 0-prefixed octal, at most 32 bits. */
function parseNumber(text: string, start: number): number {
  let value: number;
  if (/^0[xX]/.test(text)) value = parseInt(text.slice(2), 16);
  else if (text.length > 1 && text.startsWith('0')) {
    if (/[89]/.test(text)) throw new LexError(`number ${text} contains non-octal digit`, start, start + text.length);
    value = parseInt(text.slice(1), 8);
  } else value = parseInt(text, 10);
  if (value > 0xffffffff) throw new LexError(`number ${text} overflows 32 bits`, start, start + text.length);
  return value;
}

export function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  while (pos < expr.length) {
    const ws = /[ \r\n\t]+/y;
    ws.lastIndex = pos;
    if (ws.exec(expr)) {
      pos = ws.lastIndex;
      continue;
    }
    let best: { rule: Rule; text: string } | undefined;
    const consider = (rule: Rule) => {
      rule.re.lastIndex = pos;
      const m = rule.re.exec(expr);
      if (m && m[0].length > 0 && (!best || m[0].length > best.text.length)) best = { rule, text: m[0] };
    };
    // keywords come first in scanner.l: one that is as long as the identifier here wins
    ID.lastIndex = pos;
    const id = ID.exec(expr)?.[0];
    if (id && Object.hasOwn(KEYWORDS, id)) best = { rule: KEYWORD_RULE, text: id };
    for (const rule of RULES) consider(rule);
    IPV6_AHEAD.lastIndex = pos;
    if (IPV6_AHEAD.test(expr)) for (const rule of IPV6_RULES) consider(rule);
    for (const rule of LATE_RULES) consider(rule);
    if (id && Object.hasOwn(NAMED_NUMBERS, id) && (!best || id.length > best.text.length)) best = { rule: NAMED_RULE, text: id };
    consider(ID_RULE);
    consider(ESCAPED);
    if (!best) {
      throw new LexError(`unexpected character \`${expr[pos]}\``, pos, pos + 1);
    }
    tokens.push(best.rule.make(best.text, pos));
    pos += best.text.length;
  }
  tokens.push({ kind: 'eof', text: '', start: expr.length, end: expr.length });
  return tokens;
}
