/** Plain-English renderings of a parsed filter, for learners. */
import type { Arith, Context, FilterNode, Qualifiers, Value } from './ast.js';
import { NAMED_NUMBERS } from './tokens.js';
import { builtinLookups, type Lookups } from './validate.js';

const PROTOCOL_NAMES: Record<string, string> = {
  link: 'Ethernet', ip: 'IPv4', ip6: 'IPv6', arp: 'ARP', rarp: 'RARP', tcp: 'TCP', udp: 'UDP', sctp: 'SCTP',
  icmp: 'ICMP', icmp6: 'ICMPv6', igmp: 'IGMP', igrp: 'IGRP', pim: 'PIM', vrrp: 'VRRP', carp: 'CARP',
  ah: 'IPsec AH', esp: 'IPsec ESP', atalk: 'AppleTalk', aarp: 'AppleTalk ARP', decnet: 'DECnet',
  lat: 'DEC LAT', sca: 'DEC SCA', moprc: 'DEC MOP remote console', mopdl: 'DEC MOP dump/load',
  iso: 'ISO', esis: 'ES-IS', isis: 'IS-IS', clnp: 'CLNP', stp: 'spanning tree', ipx: 'IPX', netbeui: 'NetBEUI',
  radio: '802.11 radio',
  l1: 'IS-IS level 1 PDUs (hello, LSP, CSNP or PSNP of level 1)', l2: 'IS-IS level 2 PDUs (hello, LSP, CSNP or PSNP of level 2)',
  iih: 'IS-IS hello PDUs (IIH: LAN level 1 or 2, or point-to-point)', lsp: 'IS-IS link-state PDUs (LSP, level 1 or 2)',
  snp: 'IS-IS sequence-number PDUs (CSNP or PSNP)', csnp: 'IS-IS complete sequence-number PDUs (CSNP, level 1 or 2)',
  psnp: 'IS-IS partial sequence-number PDUs (PSNP, level 1 or 2)',
};

/** What the bare protocol keywords of the OSI family match, in pcap-filter(7)'s terms. */
const OSI_MEANINGS: Record<string, string> = {
  iso: 'OSI network-layer frames (802.2 LLC frames with SAP 0xFE)', esis: 'ES-IS (ISO 9542) frames', isis: 'IS-IS (ISO 10589) frames', clnp: 'CLNP (ISO 8473) frames',
  stp: 'spanning-tree (STP, LLC SAP 0x42) frames', netbeui: 'NetBEUI (LLC SAP 0xF0) frames', ipx: 'Novell IPX frames',
};

/** IS-IS PDU types, for `isis proto N`. */
const ISIS_PDU_TYPES: Record<number, string> = {
  15: 'level 1 LAN hello (IIH)', 16: 'level 2 LAN hello (IIH)', 17: 'point-to-point hello (IIH)', 18: 'level 1 LSP', 20: 'level 2 LSP',
  24: 'level 1 CSNP', 25: 'level 2 CSNP', 26: 'level 1 PSNP', 27: 'level 2 PSNP',
};
const OSI_NLPIDS: Record<number, string> = { 0x81: 'CLNP', 0x82: 'ES-IS', 0x83: 'IS-IS' };

/** The frame types of `llc TYPE`. */
const LLC_TYPE_MEANINGS: Record<string, string> = {
  i: 'I (information) format', s: 'S (supervisory) format', u: 'U (unnumbered) format', rr: 'RR (receiver ready, S format)',
  rnr: 'RNR (receiver not ready, S format)', rej: 'REJ (reject, S format)', ui: 'UI (unnumbered information)', ua: 'UA (unnumbered acknowledgement)',
  disc: 'DISC (disconnect)', dm: 'DM (disconnected mode)', sabme: 'SABME (set asynchronous balanced mode extended)', test: 'TEST',
  xid: 'XID (exchange identification)', frmr: 'FRMR (frame reject)',
};

const DIRECTION_WORDS: Record<string, string> = {
  src: 'from', dst: 'to', 'src or dst': 'to or from', 'src and dst': 'both from and to',
  addr1: 'with 802.11 address 1', addr2: 'with 802.11 address 2', addr3: 'with 802.11 address 3',
  addr4: 'with 802.11 address 4', ra: 'with 802.11 receiver address', ta: 'with 802.11 transmitter address',
};

const TCP_FLAGS: [number, string][] = [
  [0x01, 'FIN'], [0x02, 'SYN'], [0x04, 'RST'], [0x08, 'PSH'], [0x10, 'ACK'], [0x20, 'URG'], [0x40, 'ECE'], [0x80, 'CWR'],
];

const ICMP_TYPES: Record<number, string> = {
  0: 'echo reply (ping answer)', 3: 'destination unreachable', 4: 'source quench', 5: 'redirect',
  8: 'echo request (ping)', 9: 'router advertisement', 10: 'router solicitation', 11: 'time exceeded (traceroute)',
  12: 'parameter problem', 13: 'timestamp request', 14: 'timestamp reply',
};

const ETHER_TYPES: Record<number, string> = { 0x0800: 'IPv4', 0x0806: 'ARP', 0x8035: 'RARP', 0x86dd: 'IPv6', 0x8100: '802.1Q VLAN', 0x88cc: 'LLDP' };

/** Well-known header fields: `proto:offset:size` -> name. */
const FIELDS: Record<string, string> = {
  'ip:0:1': 'version and header length', 'ip:1:1': 'type of service (DSCP/ECN)', 'ip:2:2': 'total length',
  'ip:4:2': 'identification', 'ip:6:2': 'flags and fragment offset', 'ip:6:1': 'flags and high fragment offset', 'ip:8:1': 'time to live (TTL)',
  'ip:9:1': 'protocol number', 'ip:12:4': 'source address', 'ip:16:4': 'destination address',
  'tcp:0:2': 'source port', 'tcp:2:2': 'destination port', 'tcp:4:4': 'sequence number',
  'tcp:8:4': 'acknowledgement number', 'tcp:12:1': 'data offset (header length)', 'tcp:13:1': 'flags',
  'tcp:14:2': 'window size', 'udp:0:2': 'source port', 'udp:2:2': 'destination port', 'udp:4:2': 'length',
  'icmp:0:1': 'type', 'icmp:1:1': 'code', 'icmp6:0:1': 'type', 'icmp6:1:1': 'code',
  'ip6:6:1': 'next header', 'ip6:7:1': 'hop limit', 'link:12:2': 'EtherType', 'link:0:1': 'first byte of the destination MAC',
};

/** Where a protocol's header starts in an Ethernet frame (tcpdump -d's absolute offsets). */
const FRAME_BASE: Record<string, number> = { link: 0, ip: 14, ip6: 14, arp: 14, rarp: 14, icmp6: 54, decnet: 14, lat: 14, sca: 14, moprc: 14, mopdl: 14, atalk: 14 };

const RELATION_WORDS: Record<string, string> = { '=': 'equals', '!=': 'is not', '>': 'is greater than', '<': 'is less than', '>=': 'is at least', '<=': 'is at most' };

export function protocolName(proto: string): string {
  return PROTOCOL_NAMES[proto] ?? proto;
}

export interface EnglishOptions {
  lookups?: Lookups;
}

/** The whole filter as one sentence: "packets to or from port 3000 over TCP". */
export function describeFilter(ast: FilterNode | null, options: EnglishOptions = {}): string {
  if (!ast) return 'every packet (there is no filter)';
  return `packets ${phrase(ast, options.lookups ?? builtinLookups)}`;
}

/** Each primitive with its meaning, in the order written. */
export function describeParts(ast: FilterNode | null, expression: string, options: EnglishOptions = {}): { text: string; meaning: string }[] {
  const parts: { text: string; meaning: string }[] = [];
  const lookups = options.lookups ?? builtinLookups;
  const visit = (node: FilterNode): void => {
    if (node.kind === 'and' || node.kind === 'or') {
      visit(node.left);
      visit(node.right);
    } else if (node.kind === 'not') {
      visit(node.operand);
    } else {
      const text = expression.slice(node.span.start, node.span.end);
      let meaning = phrase(node, lookups);
      if (node.kind === 'primitive' && node.carried && node.context !== 'none') {
        meaning += ` (it has no qualifier of its own, so it borrows \`${qualifierText(node.context)}\` from the primitive before it)`;
      }
      parts.push({ text, meaning });
    }
  };
  if (ast) visit(ast);
  return parts;
}

function qualifierText(q: Qualifiers): string {
  return [q.protoText, q.dir, q.type].filter(Boolean).join(' ');
}

function phrase(node: FilterNode, lookups: Lookups): string {
  switch (node.kind) {
    case 'and':
    case 'or': {
      const items = flatten(node, node.kind).map((child) => {
        const text = phrase(child, lookups);
        if (child.kind === 'and' || child.kind === 'or') return `(${child.kind === 'or' ? 'either' : 'both'} ${text})`;
        return text;
      });
      return items.join(node.kind === 'and' ? ' and ' : ' or ');
    }
    case 'not': {
      if (node.operand.kind === 'protocol') return phrase(node.operand, lookups).replace(/^that are /, 'that are not ');
      const inner = phrase(node.operand, lookups);
      return node.operand.kind === 'and' || node.operand.kind === 'or' ? `not (${inner})` : `not ${inner}`;
    }
    case 'primitive':
      return primitivePhrase(node.context, node.value, lookups);
    case 'protocol':
      return `that are ${OSI_MEANINGS[node.proto] ?? protocolName(node.proto)}${node.proto === 'link' ? ' frames' : ''}`;
    case 'relation':
      return relationPhrase(node.op, node.left, node.right);
    case 'length':
      return node.op === 'less' ? `at most ${node.value} bytes long` : `at least ${node.value} bytes long`;
    case 'cast': {
      const layer = node.proto === 'ip' ? 'an IPv4' : node.proto === 'ip6' ? 'an IPv6' : 'the Ethernet';
      return node.cast === 'broadcast' ? `sent to ${layer} broadcast address` : `sent to ${node.proto ? layer : 'an Ethernet'} multicast address`;
    }
    case 'byte': {
      // libpcap reads byte N of the frame, from the start of the link-layer header (tcpdump -d: ldb [N])
      const test = node.op === '&' ? `has some of the bits ${node.value} set` : node.op === '|' ? `ORed with ${node.value} is non-zero` : `${RELATION_WORDS[node.op] ?? node.op} ${node.value}`;
      return `whose byte ${node.offset} of the frame (counted from the first byte of the link-layer header) ${test}`;
    }
    case 'direction':
      return node.inbound ? 'arriving on the interface (inbound)' : 'leaving through the interface (outbound)';
    case 'ifindex':
      return `captured on the interface with index ${node.value}`;
    case 'foreign':
      return `(\`${node.keyword}\`: ${node.message})`;
    case 'encap': {
      const id = node.id === undefined ? '' : ` ${node.id}`;
      switch (node.encap) {
        case 'vlan':
          return `inside an 802.1Q VLAN${node.id === undefined ? '' : ` with tag ${node.id}`} (everything after \`vlan\` is read past the VLAN header)`;
        case 'mpls':
          return `inside MPLS${node.id === undefined ? '' : ` with label ${node.id}`}`;
        case 'pppoes':
          return `of a PPPoE session${id}`;
        case 'pppoed':
          return 'of PPPoE discovery';
        case 'geneve':
          return `inside a Geneve tunnel${node.id === undefined ? '' : ` with VNI ${node.id}`}`;
        case 'llc':
          return node.llcType ? `that are 802.2 LLC frames of type ${LLC_TYPE_MEANINGS[node.llcType] ?? node.llcType}` : 'that are 802.2 LLC frames';
      }
    }
  }
}

function flatten(node: FilterNode, op: 'and' | 'or'): FilterNode[] {
  if (node.kind === op) return [...flatten(node.left, op), ...flatten(node.right, op)];
  return [node];
}

function primitivePhrase(context: Context, value: Value, lookups: Lookups): string {
  if (context === 'none') return `\`${value.text}\` (no qualifier: an error)`;
  const q = context;
  const dir = DIRECTION_WORDS[q.dir ?? 'src or dst']!;
  const proto = q.proto;
  switch (q.type) {
    case 'port':
    case 'portrange': {
      const what = q.type === 'port' ? `port ${portText(value, lookups)}` : `a port in the range ${rangeText(value, lookups)}`;
      const over = proto ? `over ${protocolName(proto)}` : '(TCP, UDP or SCTP)';
      return `${dir} ${what} ${over}`;
    }
    case 'proto': {
      if (proto === 'link') return `whose EtherType is ${etherTypeText(value)}`;
      const n = value.kind === 'number' ? value.value : undefined;
      if (proto === 'iso') {
        const id = n ?? { clnp: 0x81, esis: 0x82, isis: 0x83 }[value.text];
        return `that are OSI frames (802.2 LLC, SAP 0xFE) whose network-layer protocol ID (NLPID) is ${id === undefined ? value.text : `0x${id.toString(16)}${OSI_NLPIDS[id] ? ` (${OSI_NLPIDS[id]})` : ''}`}`;
      }
      if (proto === 'isis') return `that are IS-IS PDUs of type ${n === undefined ? value.text : `${n} (0x${n.toString(16)}${ISIS_PDU_TYPES[n] ? `: ${ISIS_PDU_TYPES[n]}` : ''})`}`;
      const number = value.kind === 'number' ? value.value : lookups.ipProtocol(value.text);
      const name = value.kind === 'name' ? value.text : undefined;
      const known = number !== undefined ? ipProtocolName(number) : undefined;
      const family = proto === 'ip6' ? 'IPv6' : proto === 'ip' ? 'IPv4' : 'IPv4 or IPv6';
      return `that are ${family} carrying protocol ${name ?? number}${known && known !== name ? ` (${known})` : ''}`;
    }
    case 'protochain':
      return `that are ${proto === 'ip6' ? 'IPv6' : 'IP'} with protocol ${value.text} anywhere in the header chain`;
    case 'gateway':
      return `that went through the gateway ${value.text}`;
    default:
      break;
  }
  const only = proto && proto !== 'link' ? `, ${protocolName(proto)} only` : '';
  switch (value.kind) {
    case 'mac':
      return `${dir} Ethernet (MAC) address ${value.text}`;
    case 'ipv4-prefix':
    case 'ipv4-mask':
    case 'ipv6-prefix':
      return `${dir} network ${value.text}${netRange(value)}${only}`;
    case 'ipv4':
    case 'number':
      if (q.type === 'net') return `${dir} network ${value.text}${netRange(value)}${only}`;
      return `${dir} host ${value.text}${only}`;
    case 'ipv6':
      return `${dir} ${q.type === 'net' ? 'network' : 'host'} ${value.text}${only}`;
    case 'name':
      if (q.type === 'net') return `${dir} the network named ${value.text}${only}`;
      return proto === 'link' ? `${dir} the Ethernet host named ${value.text}` : `${dir} host ${value.text}${only}`;
    case 'arcnet':
      return `${dir} ARCnet address ${value.text}`;
  }
}

function portText(value: Value, lookups: Lookups): string {
  if (value.kind !== 'name') return value.text;
  const ports = lookups.service(value.text);
  const number = ports?.tcp ?? ports?.udp ?? ports?.sctp;
  return number === undefined ? value.text : `${value.text} (${number})`;
}

function rangeText(value: Value, lookups: Lookups): string {
  if (value.kind !== 'name') return `${value.text} to ${value.text}`;
  const [low, high] = value.text.split(/-(.*)/s) as [string, string];
  const number = (s: string) => (/^\d+$/.test(s) ? Number(s) : (lookups.service(s)?.tcp ?? lookups.service(s)?.udp));
  const side = (s: string) => (/^\d+$/.test(s) ? s : portText({ kind: 'name', text: s }, lookups));
  const [a, b] = [number(low), number(high)];
  // libpcap swaps the ends of a range written backwards
  if (a !== undefined && b !== undefined && a > b) return `${side(high)} to ${side(low)} (libpcap swaps the ends written as ${value.text})`;
  return `${side(low)} to ${side(high)}`;
}

function etherTypeText(value: Value): string {
  if (value.kind === 'number') {
    const name = ETHER_TYPES[value.value];
    return `0x${value.value.toString(16).padStart(4, '0')}${name ? ` (${name})` : ''}`;
  }
  return value.text;
}

function ipProtocolName(n: number): string | undefined {
  return { 1: 'ICMP', 2: 'IGMP', 6: 'TCP', 17: 'UDP', 47: 'GRE', 50: 'ESP', 51: 'AH', 58: 'ICMPv6', 132: 'SCTP' }[n];
}

/** "(10.0.0.0 to 10.255.255.255)" for an IPv4 network. */
function netRange(value: Value): string {
  let address: string;
  let bits: number | undefined;
  if (value.kind === 'ipv4-prefix') {
    address = value.address;
    bits = value.prefix;
  } else if (value.kind === 'ipv4-mask') {
    address = value.address;
    const m = value.mask.split('.').map(Number).reduce((a, b) => a * 256 + b, 0);
    bits = 32 - Math.log2(2 ** 32 - m);
    if (!Number.isInteger(bits)) return '';
  } else if (value.kind === 'ipv4' || value.kind === 'number') {
    // libpcap: a net given with N of its 4 parts has a mask of N bytes
    address = value.text;
    bits = 8 * value.text.split('.').length;
  } else return '';
  const parts = [...address.split('.').map(Number), 0, 0, 0].slice(0, 4);
  const base = parts.reduce((a, b) => a * 256 + b, 0);
  const size = 2 ** (32 - bits);
  const toText = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
  return size === 1 ? '' : ` (${toText(base)} to ${toText(base + size - 1)})`;
}

function relationPhrase(op: string, left: Arith, right: Arith): string {
  const icmp = icmpTypePhrase(op, left, right);
  if (icmp) return icmp;
  // libpcap compares a header field only in packets that have that header (tcp[...]: IPv4
  // TCP, not a later fragment); for every other packet the comparison is false
  const guard = guardText([...loadProtocols(left), ...loadProtocols(right)]);
  const flags = tcpFlagsPhrase(op, left, right);
  if (flags) return guard ? `that are ${guard} ${flags}` : flags;
  const inner = `where ${arithPhrase(left)} ${RELATION_WORDS[op] ?? op} ${arithPhrase(right)}`;
  return guard ? `that are ${guard} and ${inner}` : inner;
}

function loadProtocols(a: Arith): string[] {
  switch (a.kind) {
    case 'load':
      return [a.proto, ...loadProtocols(a.offset)];
    case 'binary':
      return [...loadProtocols(a.left), ...loadProtocols(a.right)];
    case 'neg':
      return loadProtocols(a.operand);
    default:
      return [];
  }
}

const OVER_IPV4 = new Set(['tcp', 'udp', 'sctp', 'icmp', 'igmp', 'igrp', 'pim', 'vrrp', 'carp']);

/** "IPv4 TCP packets (first fragments)": what a field's protocol asks of a packet. */
function guardText(protos: string[]): string | undefined {
  const names = [...new Set(protos.filter((p) => p !== 'link'))].map((p) =>
    OVER_IPV4.has(p) ? `IPv4 ${protocolName(p)} (first fragments only)` : p === 'icmp6' ? 'ICMPv6 (in IPv6 with no extension header)' : protocolName(p),
  );
  return names.length ? names.join(' and ') : undefined;
}

function isTcpFlagsByte(a: Arith): boolean {
  return a.kind === 'load' && a.proto === 'tcp' && a.size === 1 && a.offset.kind === 'num' && a.offset.value === 13;
}

function flagNames(mask: number): string[] {
  return TCP_FLAGS.filter(([bit]) => mask & bit).map(([, name]) => name);
}

/** `tcp[13] & 2 != 0`, `tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn`, `tcp[13] = 18`. */
function tcpFlagsPhrase(op: string, left: Arith, right: Arith): string | undefined {
  const constant = evaluate(right);
  if (constant === undefined) return undefined;
  if (isTcpFlagsByte(left)) {
    if (op === '=') return `whose TCP flags are exactly ${flagNames(constant).join('+') || 'none'}`;
    return undefined;
  }
  if (left.kind !== 'binary' || left.op !== '&' || !isTcpFlagsByte(left.left)) return undefined;
  const mask = evaluate(left.right);
  if (mask === undefined) return undefined;
  const names = flagNames(mask);
  const list = names.join(', ');
  if ((op === '!=' && constant === 0) || (op === '>' && constant === 0)) {
    return names.length === 1 ? `with the TCP ${list} flag set` : `with any of the TCP flags ${list} set`;
  }
  if (op === '=' && constant === 0) return names.length === 1 ? `with the TCP ${list} flag not set` : `with none of the TCP flags ${list} set`;
  if (op === '=' && constant === mask) return names.length === 1 ? `with the TCP ${list} flag set` : `with all of the TCP flags ${list} set`;
  if (op === '=' && (constant & ~mask) === 0) {
    const on = flagNames(constant);
    const off = flagNames(mask & ~constant);
    return `with the TCP flag${on.length > 1 ? 's' : ''} ${on.join(', ')} set and ${off.join(', ')} not set (of ${list})`;
  }
  return undefined;
}

function icmpTypePhrase(op: string, left: Arith, right: Arith): string | undefined {
  if (op !== '=' && op !== '!=') return undefined;
  if (left.kind !== 'load' || left.proto !== 'icmp' || left.offset.kind !== 'num' || left.offset.value !== 0 || left.size !== 1) return undefined;
  const type = evaluate(right);
  if (type === undefined) return undefined;
  const name = ICMP_TYPES[type] ?? `type ${type}`;
  // `!=` still needs an ICMP header: it matches ICMP messages of any other type, nothing else
  return op === '=' ? `that are ICMP ${name} messages (type ${type})` : `that are ICMP messages other than ${name} (type is not ${type}; packets that are not ICMP do not match)`;
}

/** The value of a constant expression, if it is one. */
function evaluate(a: Arith): number | undefined {
  switch (a.kind) {
    case 'num':
      return a.value;
    case 'neg': {
      const v = evaluate(a.operand);
      return v === undefined ? undefined : -v >>> 0;
    }
    case 'binary': {
      const l = evaluate(a.left);
      const r = evaluate(a.right);
      if (l === undefined || r === undefined) return undefined;
      const ops: Record<string, (x: number, y: number) => number> = {
        '|': (x, y) => x | y, '&': (x, y) => x & y, '^': (x, y) => x ^ y, '+': (x, y) => x + y, '-': (x, y) => x - y,
        '*': (x, y) => x * y, '/': (x, y) => Math.floor(x / y), '%': (x, y) => x % y, '<<': (x, y) => x << y, '>>': (x, y) => x >>> y,
      };
      return (ops[a.op]!(l, r) >>> 0);
    }
    default:
      return undefined;
  }
}

const NUMBER_NAMES = Object.fromEntries(Object.entries(NAMED_NUMBERS).map(([k, v]) => [k, v]));

/** 0x47455420 is "GET ": payload matches are easier to read as text. */
function asciiOf(value: number): string | undefined {
  if (value < 0x2000) return undefined;
  const bytes: number[] = [];
  for (let v = value; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return bytes.every((b) => b >= 0x20 && b < 0x7f) ? String.fromCharCode(...bytes) : undefined;
}

function arithPhrase(a: Arith): string {
  switch (a.kind) {
    case 'num': {
      if (a.text in NUMBER_NAMES) return `${a.text} (${a.value})`;
      const ascii = /^0x/i.test(a.text) ? asciiOf(a.value) : undefined;
      return ascii ? `${a.text} (the text "${ascii}")` : a.text;
    }
    case 'len':
      return 'the packet length';
    case 'load': {
      const offset = evaluate(a.offset);
      const where = offset === undefined ? `at a computed offset (${arithPhrase(a.offset)})` : `at offset ${offset}`;
      const field = offset === undefined ? undefined : FIELDS[`${a.proto}:${offset}:${a.size}`];
      const header = a.proto === 'link' ? 'link-layer (Ethernet) header' : `${protocolName(a.proto)} header`;
      const bytes = a.size === 1 ? 'the byte' : `the ${a.size} bytes`;
      // where tcpdump -d reads it: from the frame's first byte, or after the IPv4 header
      const frame = offset === undefined ? undefined : FRAME_BASE[a.proto];
      const absolute = frame === undefined || offset === undefined ? (OVER_IPV4.has(a.proto) ? ', counted from the end of the IPv4 header' : '') : (a.size > 1 ? `, bytes ${frame + offset}-${frame + offset + a.size - 1} of the frame` : `, byte ${frame + offset} of the frame`);
      return field ? `the ${header}'s ${field} (${bytes} ${where}${absolute})` : `${bytes} ${where} of the ${header}${absolute ? ` (${absolute.slice(2)})` : ''}`;
    }
    case 'neg':
      return `minus ${arithPhrase(a.operand)}`;
    case 'binary': {
      const words: Record<string, string> = {
        '&': 'masked with (AND)', '|': 'OR', '^': 'XOR', '+': 'plus', '-': 'minus', '*': 'times', '/': 'divided by',
        '%': 'modulo', '<<': 'shifted left by', '>>': 'shifted right by',
      };
      const wrap = (x: Arith) => (x.kind === 'binary' ? `(${arithPhrase(x)})` : arithPhrase(x));
      return `${wrap(a.left)} ${words[a.op] ?? a.op} ${wrap(a.right)}`;
    }
  }
}

/**
 * pcap-filter gives `and` and `or` the same precedence, read left to right, unlike most
 * languages: `a or b and c` is `(a or b) and c`. Says so where the expression relies on it.
 */
export function precedenceNotes(ast: FilterNode | null, expression: string): string[] {
  const notes: string[] = [];
  const visit = (node: FilterNode): void => {
    if (node.kind === 'not') return visit(node.operand);
    if (node.kind !== 'and' && node.kind !== 'or') return;
    const other = node.kind === 'and' ? 'or' : 'and';
    const inner = node.left;
    if (inner.kind === other && !expression.slice(inner.span.start, inner.span.end).startsWith('(')) {
      const group = expression.slice(inner.span.start, inner.span.end);
      const rest = expression.slice(node.right.span.start, node.right.span.end);
      notes.push(`\`and\` and \`or\` have the same precedence in pcap-filter and are read left to right: this is \`(${group}) ${node.kind} ${rest}\`. Add parentheses to say what you mean.`);
    }
    visit(node.left);
    visit(node.right);
  };
  if (ast) visit(ast);
  return notes;
}
