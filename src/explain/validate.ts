/**
 * The checks libpcap makes while it compiles a parsed filter (gencode.c): which qualifiers
 * fit which values, port and VLAN ranges, masks, field sizes. Walked left to right, like
 * libpcap, so the first problem is the one reported. Pure: names come from `Lookups`.
 */
import { isIPv6 } from 'node:net';
import type { Arith, FilterNode, Qualifiers, Span, Value } from './ast.js';
import type { FilterError } from './parser.js';
import { comparisonRuns, constantValue } from './reach.js';

export interface ServicePorts {
  tcp?: number;
  udp?: number;
  sctp?: number;
}

/** Name lookups tcpdump makes in /etc/services and /etc/protocols. */
export interface Lookups {
  service(name: string): ServicePorts | undefined;
  ipProtocol(name: string): number | undefined;
  /** /etc/networks: is this a network name? */
  network(name: string): boolean;
  /** /etc/ethers: does this host name have a MAC address? */
  etherHost(name: string): boolean;
  /**
   * What a host name resolves to (getaddrinfo, as libpcap asks): undefined = unknown host.
   * Without this method host names are taken as resolvable (nothing was looked up).
   */
  host?(name: string): { ipv4: boolean; ipv6: boolean } | undefined;
}

/** A few well-known names, for when the system's files are not read (tests, other hosts). */
export const builtinLookups: Lookups = {
  service: (name) => BUILTIN_SERVICES[name],
  ipProtocol: (name) => BUILTIN_PROTOCOLS[name],
  network: (name) => ['loopback', 'link-local'].includes(name),
  etherHost: () => false,
};

const BUILTIN_SERVICES: Record<string, ServicePorts> = {
  ftp: { tcp: 21 }, ssh: { tcp: 22 }, telnet: { tcp: 23 }, smtp: { tcp: 25 }, domain: { tcp: 53, udp: 53 },
  bootps: { udp: 67 }, bootpc: { udp: 68 }, http: { tcp: 80 }, www: { tcp: 80 }, pop3: { tcp: 110 },
  ntp: { udp: 123 }, imap2: { tcp: 143 }, snmp: { tcp: 161, udp: 161 }, https: { tcp: 443, udp: 443 },
  syslog: { udp: 514 },
};

const BUILTIN_PROTOCOLS: Record<string, number> = { icmp: 1, igmp: 2, tcp: 6, udp: 17, gre: 47, esp: 50, ah: 51, 'ipv6-icmp': 58, sctp: 132 };

/** Names `ether proto \NAME` knows without any file (libpcap's eproto_db and LLC names). */
const ETHER_PROTOCOL_NAMES = new Set(['ip', 'ip6', 'arp', 'rarp', 'atalk', 'aarp', 'decnet', 'sca', 'lat', 'mopdl', 'moprc', 'loopback', 'iso', 'stp', 'ipx', 'netbeui']);

/** Protocols whose headers `proto[offset]` can address on an Ethernet capture. */
const LOADABLE = new Set(['link', 'ip', 'arp', 'rarp', 'tcp', 'udp', 'icmp', 'igmp', 'igrp', 'pim', 'vrrp', 'carp', 'sctp', 'ip6', 'icmp6', 'atalk', 'decnet', 'lat', 'sca', 'moprc', 'mopdl']);

/** The frame types `llc TYPE` takes (I, S and U formats and their commands). */
export const LLC_TYPES = new Set(['i', 's', 'u', 'rr', 'rnr', 'rej', 'ui', 'ua', 'disc', 'dm', 'sabme', 'test', 'xid', 'frmr']);

/** OSI network-layer protocols `iso proto \NAME` knows. */
const OSI_PROTOCOLS: Record<string, number> = { clnp: 0x81, esis: 0x82, isis: 0x83 };

const FOREIGN_HINT = 'this primitive reads a header an Ethernet capture does not have; with `-y` tcpdump compiles it for another link type, which explain does not cover.';

const WLAN_DIRECTIONS: Record<string, string> = { addr1: "'addr1' and 'address1'", addr2: "'addr2' and 'address2'", addr3: "'addr3' and 'address3'", addr4: "'addr4' and 'address4'", ra: "'ra'", ta: "'ta'" };

class Invalid extends Error {
  constructor(
    message: string,
    readonly span: Span,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export function validate(ast: FilterNode, lookups: Lookups = builtinLookups): { error?: FilterError; notes: string[] } {
  const notes: string[] = [];
  try {
    walk(ast, lookups, notes, { pppoes: false, geneve: false, root: ast });
    return { notes };
  } catch (err) {
    if (!(err instanceof Invalid)) throw err;
    const error: FilterError = { kind: 'semantic', message: err.message, column: err.span.start + 1, start: err.span.start, end: err.span.end };
    if (err.hint) error.hint = err.hint;
    return { error, notes };
  }
}

/** What earlier primitives did to libpcap's compiler: it reads every later one differently. */
interface WalkState {
  /** after `pppoes` the link is PPP */
  pppoes: boolean;
  /** after `geneve` the headers that follow have variable lengths */
  geneve: boolean;
  /** after `mpls` only IPv4 and IPv6 can follow */
  mpls?: boolean;
  /** the comparison being checked can match something (else the optimizer drops its code) */
  live?: boolean;
  /** the whole filter */
  root?: FilterNode;
}

/** Protocols libpcap cannot find inside MPLS (it knows only IPv4 and IPv6 there). */
const NOT_OVER_MPLS = new Set(['arp', 'rarp', 'decnet', 'lat', 'sca', 'moprc', 'mopdl', 'atalk', 'aarp', 'ipx', 'netbeui', 'stp', 'iso', 'esis', 'isis', 'clnp', 'l1', 'l2', 'iih', 'lsp', 'snp', 'csnp', 'psnp']);

function walk(node: FilterNode, lookups: Lookups, notes: string[], state: WalkState): void {
  switch (node.kind) {
    case 'and':
    case 'or':
      walk(node.left, lookups, notes, state);
      walk(node.right, lookups, notes, state);
      return;
    case 'not':
      walk(node.operand, lookups, notes, state);
      return;
    case 'primitive':
      if (state.geneve && node.context !== 'none' && node.context.type === 'protochain') {
        throw new Invalid("'protochain' not supported with variable length headers", node.span, 'after `geneve` libpcap cannot follow a protocol chain; use `ip proto N` instead.');
      }
      if (state.mpls && node.context !== 'none' && node.context.proto && NOT_OVER_MPLS.has(node.context.proto)) {
        throw new Invalid('unsupported protocol over mpls', node.span, 'inside MPLS libpcap finds only ip and ip6 (and what they carry).');
      }
      checkPrimitive(node, lookups, notes);
      return;
    case 'relation':
      // the optimizer checks the constants it computes only in code that can run: a comparison
      // whose own protocol checks exclude each other is removed first (`rarp[9] % (1-1) > icmp6[0]`)
      state.live = state.root ? comparisonRuns(state.root, node, lookups) : true;
      checkArith(node.left, state);
      checkArith(node.right, state);
      return;
    case 'cast': {
      if (state.pppoes && (node.proto === undefined || node.proto === 'link')) throw new Invalid('not a broadcast link', node.span, 'after `pppoes` the frame is PPP, which has no link-layer broadcast; `ip broadcast` works.');
      const allowed = node.cast === 'broadcast' ? [undefined, 'link', 'ip'] : [undefined, 'link', 'ip', 'ip6'];
      if (!allowed.includes(node.proto)) {
        throw new Invalid(
          node.cast === 'broadcast' ? 'only link-layer (ether) and IP broadcast filters exist' : 'multicast filters exist only for ether, ip and ip6',
          node.span,
        );
      }
      return;
    }
    case 'encap': {
      if (node.encap === 'vlan' && state.mpls) throw new Invalid('no VLAN match after MPLS', node.span, 'put `vlan` before `mpls`: VLAN tags come first in the frame.');
      if ((node.encap === 'pppoes' || node.encap === 'pppoed') && state.mpls) throw new Invalid('unsupported protocol over mpls', node.span, 'inside MPLS libpcap finds only ip and ip6 (and what they carry).');
      if (node.encap === 'mpls') state.mpls = true;
      if (node.encap === 'vlan' && state.pppoes) throw new Invalid('no VLAN support for PPP', node.span, 'after `pppoes` the frame is PPP, which has no VLAN tags: put `vlan` first.');
      if (node.encap === 'llc' && state.pppoes) throw new Invalid("'llc' not supported for PPP", node.span, 'after `pppoes` the frame is PPP, which has no LLC header.');
      if (node.encap === 'pppoes') state.pppoes = true;
      if (node.encap === 'geneve') state.geneve = true;
      const max = { vlan: 4095, mpls: 1048575, pppoes: 65535, geneve: 16777215, pppoed: Infinity, llc: Infinity }[node.encap];
      if (node.id !== undefined && node.id > max) throw new Invalid(`${node.encap} ${node.id} is greater than the maximum, ${max}`, node.span);
      if (node.llcType !== undefined && !LLC_TYPES.has(node.llcType)) {
        throw new Invalid(`unknown LLC type name "${node.llcType}"`, node.span, `an LLC frame type is one of ${[...LLC_TYPES].join(', ')}.`);
      }
      return;
    }
    case 'foreign':
      throw new Invalid(node.message, node.span, FOREIGN_HINT);
    case 'protocol':
      if (state.mpls && NOT_OVER_MPLS.has(node.proto)) throw new Invalid('unsupported protocol over mpls', node.span, 'inside MPLS libpcap finds only ip and ip6 (and what they carry).');
      if (node.proto === 'link') throw new Invalid(`\`${node.protoText}\` alone means nothing: the link layer qualifies something`, node.span, `write \`${node.protoText} host MAC\`, \`${node.protoText} proto 0x0800\`, \`${node.protoText} broadcast\` or \`${node.protoText}[0] = 1\`.`);
      if (node.proto === 'radio') throw new Invalid("'radio' is not a valid protocol type here (no radio headers on Ethernet)", node.span);
      return;
    default:
      return;
  }
}

type Primitive = Extract<FilterNode, { kind: 'primitive' }>;

function checkPrimitive(node: Primitive, lookups: Lookups, notes: string[]): void {
  // errors point at the value; a qualifier that does not fit points at the whole primitive
  const { value, valueSpan: span } = node;
  if (node.context === 'none') {
    if (value.kind === 'mac') throw new Invalid('an Ethernet address needs `ether host`', span);
    if (value.kind === 'ipv4-prefix' || value.kind === 'ipv4-mask') throw new Invalid('a mask or /prefix is only for `net`', span, `write \`net ${value.text}\`.`);
    throw new Invalid(
      `\`${value.text}\` has no qualifier to borrow: the primitive before it (a bare protocol, a comparison, \`less\`/\`greater\`...) is not a host, net or port`,
      span,
      `say what it is: \`host ${value.text}\`, \`port ${value.text}\` or \`net ${value.text}\`.`,
    );
  }
  const q = node.context;
  const type = q.type;
  if (value.kind === 'arcnet') throw new Invalid('aid supported only on ARCnet', span, 'an ARCnet address (`$3f`) exists only on ARCnet links; on Ethernet use a MAC address.');
  if (value.kind === 'mac' && q.proto !== 'link' && (!type || type === 'host')) throw new Invalid('ethernet address used in non-ether expression', span, `write \`ether host ${value.text}\`.`);
  const wlanDir = q.dir ? WLAN_DIRECTIONS[q.dir] : undefined;
  if (wlanDir) throw new Invalid(`${wlanDir} ${wlanDir.includes(' and ') ? 'are' : 'is'} only supported on 802.11 with 802.11 headers`, node.span, 'these 802.11 address fields do not exist on Ethernet; use `ether src`/`ether dst`.');
  if (q.proto === 'decnet') {
    checkDecnet(q, value, span, node.span, lookups, notes);
    return;
  }
  switch (value.kind) {
    case 'mac':
      if (q.proto !== 'link' || (type && type !== 'host')) throw new Invalid('an Ethernet (MAC) address is only allowed after `ether host`, `ether src` or `ether dst`', span, `write \`ether host ${value.text}\`.`);
      return;
    case 'ipv4':
    case 'ipv4-prefix':
    case 'ipv4-mask':
      checkNotPortOrProto(q, value, span);
      if (value.kind !== 'ipv4' && type !== 'net') throw new Invalid('a mask or /prefix is only for `net`', span, `write \`net ${value.text}\`.`);
      checkIPv4(value, span);
      checkHostProtocol(q, 'ip', node.span);
      return;
    case 'ipv6':
    case 'ipv6-prefix': {
      checkNotPortOrProto(q, value, span);
      const address = value.kind === 'ipv6' ? value.text : value.address;
      if (!isIPv6(address)) throw new Invalid(`bogus IPv6 address ${address}`, span);
      if (value.kind === 'ipv6-prefix') {
        // libpcap lets a host carry only a full /128
        if (type !== 'net' && value.prefix !== 128) throw new Invalid('a /prefix shorter than 128 is only for `net`', span, `write \`net ${value.text}\`.`);
        checkIPv6Prefix(value.address, value.prefix, value.text, span);
      }
      checkHostProtocol(q, 'ip6', node.span);
      return;
    }
    case 'number':
      checkNumber(q, value.value, value.text, span, node.span);
      return;
    case 'name':
      checkName(q, value.text, span, node.span, lookups, notes);
      return;
  }
}

/** `decnet host 10.23`: a DECnet area.node address (or a number); no ports, no IP. */
function checkDecnet(q: Qualifiers, value: Value, span: Span, qualifierSpan: Span, lookups: Lookups, notes: string[]): void {
  if (q.type === 'port' || q.type === 'portrange') throw new Invalid(`illegal qualifier of '${q.type}'`, qualifierSpan, 'DECnet has no ports; `tcp port N` or `udp port N`.');
  if (q.type === 'proto' || q.type === 'protochain' || q.type === 'gateway') throw new Invalid(`'decnet' cannot qualify '${q.type}'`, qualifierSpan);
  if (value.kind === 'ipv6' || value.kind === 'ipv6-prefix') throw new Invalid("'decnet' modifier applied to ip6 host", qualifierSpan);
  if (value.kind === 'mac') throw new Invalid('ethernet address used in non-ether expression', span);
  if (value.kind === 'name' && q.type === 'net') {
    // a network name is looked up in /etc/networks first, whatever the protocol: libpcap then
    // matches its number as a DECnet address (`decnet net loopback` is valid)
    if (!lookups.network(value.text)) throw new Invalid(`unknown network '${value.text}'`, span, 'a DECnet address is area.node, e.g. `decnet net 10.23`; names come from /etc/networks.');
    notes.push(`\`${value.text}\` is a network name from /etc/networks; libpcap takes its number as a DECnet address.`);
    return;
  }
  if (value.kind === 'name') throw new Invalid('decnet name support not included', span, 'give the DECnet address as area.node, e.g. `decnet host 10.23`.');
  if ((value.kind === 'ipv4-prefix' || value.kind === 'ipv4-mask') && q.type !== 'net') throw new Invalid('Mask syntax for networks only', span, `write \`decnet net ${value.text}\`.`);
  if (value.kind === 'ipv4-prefix' || value.kind === 'ipv4-mask') checkIPv4(value, span);
}

function checkNotPortOrProto(q: Qualifiers, value: Value, span: Span): void {
  if (q.type === 'port' || q.type === 'portrange') throw new Invalid(`'${q.type}' applied to an IP address (\`${value.text}\`)`, span, 'a port is a number like 80; for an address use `host`.');
  if (q.type === 'proto' || q.type === 'protochain') throw new Invalid(`'${q.type}' applied to an IP address (\`${value.text}\`)`, span);
  if (q.type === 'gateway') throw new Invalid("'gateway' needs a host name, not an address", span);
}

/** Which protocol qualifiers an address (host or net) accepts. */
function checkHostProtocol(q: Qualifiers, family: 'ip' | 'ip6', span: Span): void {
  const proto = q.proto;
  const what = q.type === 'net' ? 'net' : 'host';
  if (proto === undefined) return;
  if (proto === 'link') throw new Invalid(`\`${q.protoText} ${what}\` needs an Ethernet (MAC) address, not an IP address`, span, `drop \`${q.protoText}\`: \`${what} ...\`.`);
  if (family === 'ip' && ['ip', 'arp', 'rarp'].includes(proto)) return;
  if (family === 'ip6' && proto === 'ip6') return;
  if (proto === 'ip' || proto === 'ip6') throw new Invalid(`'${q.protoText}' applied to an ${family === 'ip' ? 'IPv4' : 'IPv6'} address`, span);
  throw new Invalid(`'${q.protoText}' cannot qualify a ${what}: hosts and nets belong to ip, ip6, arp or rarp, not to ${q.protoText}`, span, `combine them instead: \`${q.protoText} and ${what} ...\`.`);
}

function checkIPv4(value: Extract<Value, { kind: 'ipv4' | 'ipv4-prefix' | 'ipv4-mask' }>, span: Span): void {
  const address = value.kind === 'ipv4' ? value.text : value.address;
  const parts = ipv4Parts(address);
  if (parts.some((p) => p > 255)) throw new Invalid(`invalid IPv4 address '${address}'`, span);
  if (value.kind === 'ipv4') return;
  const addr = ipv4Number(parts);
  let mask: number;
  if (value.kind === 'ipv4-prefix') {
    if (value.prefix > 32) throw new Invalid('a prefix length must be at most 32', span);
    mask = value.prefix === 0 ? 0 : (0xffffffff << (32 - value.prefix)) >>> 0;
  } else {
    const maskParts = ipv4Parts(value.mask);
    if (maskParts.some((p) => p > 255)) throw new Invalid(`invalid IPv4 netmask '${value.mask}'`, span);
    mask = ipv4Number(maskParts);
  }
  if ((addr & ~mask) >>> 0 !== 0) throw new Invalid(`non-network bits set in "${value.text}"`, span, 'the host part must be zero, e.g. `net 10.0.0.0/8`.');
}

function ipv4Parts(text: string): number[] {
  return text.split('.').map((p) => (/^0[xX]/.test(p) ? parseInt(p.slice(2), 16) : p.length > 1 && p.startsWith('0') ? parseInt(p, 8) : parseInt(p, 10)));
}

/** libpcap's atoin: `10.1` is 10.1.0.0 for a net. */
function ipv4Number(parts: number[]): number {
  const padded = [...parts, 0, 0, 0].slice(0, 4);
  return ((padded[0]! << 24) | (padded[1]! << 16) | (padded[2]! << 8) | padded[3]!) >>> 0;
}

function checkIPv6Prefix(address: string, prefix: number, text: string, span: Span): void {
  if (prefix > 128) throw new Invalid('an IPv6 prefix length must be at most 128', span);
  const value = ipv6BigInt(address);
  const hostBits = (1n << BigInt(128 - prefix)) - 1n;
  if ((value & hostBits) !== 0n) throw new Invalid(`non-network bits set in "${text}"`, span);
}

/** An IPv6 address (a dotted IPv4 tail allowed) as one 128-bit number. */
export function ipv6BigInt(address: string): bigint {
  let text = address;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) text = text.replace(v4[0], `${((+v4[1]! << 8) | +v4[2]!).toString(16)}:${((+v4[3]! << 8) | +v4[4]!).toString(16)}`);
  const [head, tail] = text.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
}

function checkPortProtocol(q: Qualifiers, span: Span): void {
  if (q.proto !== undefined && !['tcp', 'udp', 'sctp'].includes(q.proto)) {
    throw new Invalid(`'${q.protoText}' cannot qualify a port: ports belong to tcp, udp or sctp`, span, `write \`tcp port ...\` or \`udp port ...\`, or \`${q.protoText} and port ...\`.`);
  }
}

function checkNumber(q: Qualifiers, value: number, text: string, span: Span, qualifierSpan: Span): void {
  switch (q.type) {
    case 'port':
    case 'portrange':
      checkPortProtocol(q, qualifierSpan);
      if (value > 65535) throw new Invalid(`illegal port number ${text} > 65535`, span);
      return;
    case 'proto':
      if (q.proto !== undefined && !['link', 'ip', 'ip6', 'iso', 'isis'].includes(q.proto)) throw new Invalid(`'${q.protoText} proto' makes no sense: only ether, ip and ip6 carry a protocol number`, qualifierSpan);
      return;
    case 'protochain':
      if (q.proto !== undefined && !['ip', 'ip6'].includes(q.proto)) throw new Invalid(`'${q.protoText} protochain' makes no sense: only ip and ip6 have a protocol chain`, qualifierSpan);
      return;
    case 'gateway':
      throw new Invalid("'gateway' needs a host name, not a number", span);
    default:
      if (q.proto === 'link') throw new Invalid(`\`${q.protoText} host\` needs an Ethernet (MAC) address, not a number`, qualifierSpan);
      checkHostProtocol(q, 'ip', qualifierSpan);
  }
}

function checkName(q: Qualifiers, name: string, span: Span, qualifierSpan: Span, lookups: Lookups, notes: string[]): void {
  switch (q.type) {
    case 'port': {
      checkPortProtocol(q, qualifierSpan);
      checkServiceName(q, name, span, lookups, `unknown port '${name}'`);
      return;
    }
    case 'portrange': {
      checkPortProtocol(q, qualifierSpan);
      const m = /^(\d+)-(\d+)$/.exec(name);
      if (m) {
        // two numbers (a name token only when written without spaces, `1000-2000`)
        for (const side of [m[1]!, m[2]!]) if (Number(side) > 65535) throw new Invalid(`illegal port number ${side} > 65535`, span);
        return;
      }
      // pcap_nametoportrange: each end a number or a service name; the range is tcp or udp
      // only if both ends are
      const ends = /^([^-]+)-(.+)$/.exec(name);
      if (!ends) throw new Invalid(`unknown port in range '${name}'`, span, 'a port range is two ports joined by a dash: `portrange 8000-8080`.');
      const end = (side: string) => {
        if (!/^\d+$/.test(side)) return serviceProtocol(side, lookups);
        if (Number(side) > 65535) throw new Invalid(`illegal port number ${side} > 65535`, span);
        return 'any' as const;
      };
      const first = end(ends[1]!);
      const second = end(ends[2]!);
      if (first === undefined || second === undefined) throw new Invalid(`unknown port in range '${name}'`, span, 'each end is a number or a service name from /etc/services: `portrange 8000-8080` or `portrange ssh-http`.');
      checkServiceProtocol(q, first === second ? first : 'any', `port in range '${name}'`, span);
      return;
    }
    case 'proto':
    case 'protochain':
      if (q.type === 'protochain' && q.proto !== undefined && q.proto !== 'ip' && q.proto !== 'ip6') throw new Invalid("bad protocol applied for 'protochain'", qualifierSpan, 'only ip and ip6 have a protocol chain: `ip protochain 6`.');
      if (q.proto === 'link') {
        if (!ETHER_PROTOCOL_NAMES.has(name)) throw new Invalid(`unknown ether proto '${name}'`, span);
      } else if (q.proto === 'iso') {
        if (OSI_PROTOCOLS[name] === undefined) throw new Invalid(`unknown osi proto '${name}'`, span, `OSI protocols are ${Object.keys(OSI_PROTOCOLS).join(', ')}; or a number.`);
      } else if (q.proto !== undefined && q.proto !== 'ip' && q.proto !== 'ip6') {
        // libpcap looks names up for ip, ip6, ether and iso only
        throw new Invalid(`unknown protocol: ${name}`, span, `\`${q.protoText} ${q.type}\` takes a number; names are for \`ip ${q.type}\`, \`ip6 ${q.type}\`, \`ether proto\` and \`iso proto\`.`);
      } else if (lookups.ipProtocol(name) === undefined) {
        throw new Invalid(`unknown ip proto '${name}'`, span, 'use a number (`ip proto 6`) or a name from /etc/protocols, escaped: `ip proto \\tcp`.');
      }
      return;
    case 'gateway':
      // libpcap 1.10 built with IPv6 (every distribution's) refuses `gateway`
      throw new Invalid("'gateway' is not supported by this libpcap", qualifierSpan, 'match the gateway\'s MAC address instead: `ether host MAC and not host IP`.');
    case 'net':
      checkHostProtocol({ ...q, type: 'net' }, 'ip', qualifierSpan);
      if (!lookups.network(name)) throw new Invalid(`unknown network '${name}'`, span, 'a network is an address like `net 10.0.0.0/8`; names come from /etc/networks.');
      notes.push(`\`${name}\` is a network name from /etc/networks.`);
      return;
    default:
      if (q.proto === 'link') {
        if (!lookups.etherHost(name)) throw new Invalid(`unknown ether host '${name}'`, span, 'use a MAC address, e.g. `ether host aa:bb:cc:dd:ee:ff` (names come from /etc/ethers).');
      } else {
        notes.push(`\`${name}\` is a host name: tcpdump resolves it (DNS or /etc/hosts) when it compiles the filter; with -n it still resolves it, only the output stays numeric.`);
        const addresses = lookups.host ? lookups.host(name) : { ipv4: q.proto !== 'ip6', ipv6: q.proto === 'ip6' };
        if (!addresses || (!addresses.ipv4 && !addresses.ipv6)) {
          throw new Invalid(`unknown host '${name}'`, span, "tcpdump looks the name up (getaddrinfo: /etc/hosts, then DNS) when it compiles the filter, and this machine knows no address for it; the lab's hosts have no names here: use the address `mystery ps` gives (e.g. `host 10.200.X.Y`).");
        }
        // libpcap skips the addresses of the other family (ip6 host NAME ignores IPv4 ones)
        const v4 = addresses.ipv4 && q.proto !== 'ip6';
        const v6 = addresses.ipv6 && q.proto !== 'ip' && q.proto !== 'arp' && q.proto !== 'rarp';
        if (!v4 && !v6) throw new Invalid(`unknown host '${name}' for specified address family`, span, `the name has only ${addresses.ipv4 ? 'IPv4' : 'IPv6'} addresses; drop \`${q.protoText}\` or use the other family.`);
        if (v4) checkHostProtocol(q, 'ip', qualifierSpan);
        if (v6) checkHostProtocol(q, 'ip6', qualifierSpan);
      }
  }
}

/**
 * libpcap 1.10's pcap_nametoport: a service name's protocol is tcp, udp, or either (both
 * with the same number); it does not read sctp entries. undefined = unknown.
 */
function serviceProtocol(name: string, lookups: Lookups): 'tcp' | 'udp' | 'any' | undefined {
  const ports = lookups.service(name);
  if (ports?.tcp !== undefined) return ports.udp === ports.tcp ? 'any' : 'tcp';
  if (ports?.udp !== undefined) return 'udp';
  return undefined;
}

function checkServiceProtocol(q: Qualifiers, found: 'tcp' | 'udp' | 'any', what: string, span: Span): void {
  if (found === 'any' || q.proto === undefined || q.proto === found) return;
  if (q.proto === 'tcp' || q.proto === 'udp' || q.proto === 'sctp') {
    throw new Invalid(`${what} is ${found}`, span, `it is a ${found} service in /etc/services: write \`${found} port ...\`, or give the number.`);
  }
}

function checkServiceName(q: Qualifiers, name: string, span: Span, lookups: Lookups, unknownMessage: string): void {
  const found = serviceProtocol(name, lookups);
  if (found === undefined) {
    const hint = /^\d+-\d+$/.test(name) ? `for a range of ports use \`portrange ${name}\`.` : 'use a number, or a service name from /etc/services.';
    throw new Invalid(unknownMessage, span, hint);
  }
  checkServiceProtocol(q, found, `port '${name}'`, span);
}

/**
 * libpcap's code generator checks a divisor or shift by its first instruction: `ld #0` is
 * "division by zero" even when it loads the offset of `tcp[0]` (`x / tcp[0]` is refused).
 */
function firstLiteral(a: Arith): number | undefined {
  switch (a.kind) {
    case 'num':
      return a.value;
    case 'load':
      return firstLiteral(a.offset);
    case 'binary':
      return firstLiteral(a.left);
    case 'neg':
      return firstLiteral(a.operand);
    default:
      return undefined;
  }
}

function checkArith(a: Arith, state: WalkState): void {
  switch (a.kind) {
    case 'load':
      if (![1, 2, 4].includes(a.size)) throw new Invalid('a field size must be 1, 2 or 4 bytes', a.span, `write \`${a.protoText}[offset:2]\` or \`:4\`.`);
      if (a.proto === 'radio') throw new Invalid('radio information is not present in an Ethernet capture', a.span);
      if (state.mpls && NOT_OVER_MPLS.has(a.proto)) throw new Invalid('unsupported protocol over mpls', a.span, 'inside MPLS libpcap finds only ip and ip6 (and what they carry).');
      if (!LOADABLE.has(a.proto)) throw new Invalid(`\`${a.protoText}[...]\` is not supported: tcpdump cannot index into ${a.protoText} headers`, a.span);
      checkArith(a.offset, state);
      return;
    case 'binary':
      checkArith(a.left, state);
      checkArith(a.right, state);
      // libpcap's code generator checks a literal, its optimizer any constant it computes
      if ((a.op === '/' || a.op === '%') && (firstLiteral(a.right) === 0 || (state.live !== false && constantValue(a.right, true) === 0))) throw new Invalid(a.op === '/' ? 'division by zero' : 'modulus by zero', a.span);
      // a shift: the code generator checks a literal amount; the optimizer a computed one,
      // but only when it shifts a packet value (measured: `1 << 0 << 1 ^ 128` passes)
      if ((a.op === '<<' || a.op === '>>') && ((firstLiteral(a.right) ?? 0) > 31 || (state.live !== false && constantValue(a.left, true) === undefined && (constantValue(a.right, true) ?? 0) > 31))) throw new Invalid('shift by more than 31 bits', a.span);
      return;
    case 'neg':
      checkArith(a.operand, state);
      return;
    default:
      return;
  }
}
