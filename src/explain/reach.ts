/**
 * "valid, but it rejects every packet": the verdict of libpcap's optimizer, which proves
 * some filters can never match (`tcp and udp`, `src port 1 and src port 2`) and tcpdump
 * then refuses them ("expression rejects all packets").
 *
 * We compile a parsed filter for an Ethernet link into the tests libpcap's code generator
 * emits (gencode.c: which field at which offset is compared with what), and ask whether any
 * path through them can end in "accept". The optimizer reasons as this does: a field that
 * an earlier test found equal to k is not equal to another constant, and the same test gives
 * the same answer twice; ranges (`jgt`, `jge`) and bit tests (`jset`) tell it nothing about
 * other tests. Parts we do not model (protochain, MPLS, PPPoE, Geneve, ...) are opaque
 * tests that never contradict anything, so a doubt always falls on the side of "valid".
 */
import type { Arith, FilterNode, Qualifiers, Value } from './ast.js';
import { ipv6BigInt, type Lookups } from './validate.js';

type Op = 'eq' | 'gt' | 'ge' | 'set' | 'cmp' | 'opaque';

interface Test {
  /** the loaded value, named by where libpcap loads it from (`h12` = halfword at 12) */
  field: string;
  op: Op;
  k: string;
  /** the comparison whose code we ask about (is it still reachable after optimization?) */
  mark?: boolean;
}

type Formula =
  | { t: 'lit'; test: Test; sense: boolean }
  | { t: 'and' | 'or'; items: Formula[] }
  | { t: 'const'; value: boolean };

const and = (...items: Formula[]): Formula => ({ t: 'and', items });
const or = (...items: Formula[]): Formula => ({ t: 'or', items });
const lit = (field: string, op: Op, k: number | string, sense = true): Formula => ({ t: 'lit', test: { field, op, k: String(k) }, sense });
const eq = (field: string, k: number | string, sense = true) => lit(field, 'eq', k, sense);

function negate(f: Formula): Formula {
  switch (f.t) {
    case 'lit':
      return { ...f, sense: !f.sense };
    case 'and':
      return { t: 'or', items: f.items.map(negate) };
    case 'or':
      return { t: 'and', items: f.items.map(negate) };
    case 'const':
      return { t: 'const', value: !f.value };
  }
}

const ETHERTYPES: Record<string, number> = {
  ip: 0x800, ip6: 0x86dd, arp: 0x806, rarp: 0x8035, decnet: 0x6003, lat: 0x6004, sca: 0x6007, moprc: 0x6002, mopdl: 0x6001,
};
const IP_ONLY: Record<string, number> = { icmp: 1, igmp: 2, igrp: 9, vrrp: 112, carp: 112 };
const IP_AND_IP6: Record<string, number> = { tcp: 6, udp: 17, sctp: 132, pim: 103, ah: 51, esp: 50 };
const OSI: Record<string, number> = { clnp: 0x81, esis: 0x82, isis: 0x83 };
/** libpcap's ethertype_to_ppptype: the EtherTypes PPP numbers otherwise */
const PPP_OF_ETHERTYPE: Record<number, number> = { 0x800: 0x21, 0x86dd: 0x57, 0x6003: 0x27, 0x809b: 0x29 };
/** the same for the protocols libpcap finds by their LLC SAP (or AppleTalk's and IPX's) on Ethernet */
const PPP_OF_LLC: Record<string, number> = { stp: 0x31, iso: 0x23, ipx: 0x2b, netbeui: 0xf0, atalk: 0x29, aarp: 0x80f3 };
const ISIS_PDUS = new Set(['l1', 'l2', 'iih', 'lsp', 'snp', 'csnp', 'psnp']);

class Compiler {
  /** bytes added before the network layer by `vlan` (libpcap moves its offsets for all that follows) */
  private shift = 0;
  /** after mpls, pppoes or geneve the offsets are beyond this model: everything is opaque */
  private lost = false;
  private opaques = 0;
  /** after `pppoes` the link is PPP: its protocol field replaces the EtherType */
  private ppp = false;
  /** MPLS labels seen so far, and where the last one is */
  private mplsDepth = 0;
  private mplsAt = 0;
  /** no primitive compiled yet: the optimizer folds a constant comparison in the first block */
  private first = true;

  constructor(private readonly lookups: Lookups | undefined) {}

  private pppBase = 0;

  private get T(): number {
    return this.ppp ? this.pppBase + 6 : 12 + this.shift;
  }

  private get L(): number {
    return this.ppp ? this.pppBase + 8 : 14 + this.shift;
  }

  opaque(): Formula {
    return lit('?', 'opaque', this.opaques++);
  }

  linktype(type: number): Formula {
    // PPP's protocol field: libpcap maps the EtherTypes that PPP numbers otherwise, and compares
    // the rest as they are (\`pppoes and arp\`: 0x806)
    if (this.ppp) return eq(`h${this.T}`, PPP_OF_ETHERTYPE[type] ?? type);
    if (this.mplsDepth > 0) {
      // over MPLS: the bottom of the stack, then the IP version (other protocols are errors)
      const version = type === 0x86dd ? 0x60 : 0x40;
      return and(eq(`b${this.mplsAt + 2}&1`, 1), eq(`b${this.L}&240`, version));
    }
    if (type <= 1500) return and(lit(`h${this.T}`, 'gt', 1500, false), eq(`b${this.L}`, type));
    return eq(`h${this.T}`, type);
  }

  /** ip6's next header, also behind a fragment header (as libpcap 1.10 checks it) */
  ip6Next(p: number): Formula {
    const L = this.L;
    return or(eq(`b${L + 6}`, p), and(eq(`b${L + 6}`, 44), eq(`b${L + 40}`, p)));
  }

  ipProto(p: number): Formula {
    return and(this.linktype(0x800), eq(`b${this.L + 9}`, p));
  }

  ip6Proto(p: number): Formula {
    return and(this.linktype(0x86dd), this.ip6Next(p));
  }

  notFragment(): Formula {
    return lit(`h${this.L + 6}`, 'set', 0x1fff, false);
  }

  iso(): Formula {
    return and(lit(`h${this.T}`, 'gt', 1500, false), eq(`h${this.L}`, 0xfefe));
  }

  protocol(proto: string): Formula {
    // after pppoes, the LLC-borne protocols are PPP protocol numbers too (measured: tcpdump -d 'pppoes and stp')
    if (this.ppp && proto in PPP_OF_LLC) return eq(`h${this.T}`, PPP_OF_LLC[proto]!);
    if (this.ppp && proto in OSI) return and(eq(`h${this.T}`, PPP_OF_LLC.iso!), eq(`b${this.L}`, OSI[proto]!));
    if (proto in ETHERTYPES) return this.linktype(ETHERTYPES[proto]!);
    if (proto in IP_ONLY) return this.ipProto(IP_ONLY[proto]!);
    if (proto in IP_AND_IP6) return or(this.ipProto(IP_AND_IP6[proto]!), this.ip6Proto(IP_AND_IP6[proto]!));
    if (proto === 'icmp6') return this.ip6Proto(58);
    if (proto === 'iso') return this.iso();
    if (proto in OSI) return and(this.iso(), eq(`b${this.L + 3}`, OSI[proto]!));
    if (ISIS_PDUS.has(proto)) return and(this.iso(), eq(`b${this.L + 3}`, 0x83), this.opaque());
    if (proto === 'stp') return and(lit(`h${this.T}`, 'gt', 1500, false), eq(`b${this.L}`, 0x42));
    if (proto === 'netbeui') return and(lit(`h${this.T}`, 'gt', 1500, false), eq(`h${this.L}`, 0xf0f0));
    if (proto === 'atalk') return or(and(lit(`h${this.T}`, 'gt', 1500, false), this.opaque()), eq(`h${this.T}`, 0x809b));
    if (proto === 'aarp') return or(and(lit(`h${this.T}`, 'gt', 1500, false), this.opaque()), eq(`h${this.T}`, 0x80f3));
    if (proto === 'ipx') return or(and(lit(`h${this.T}`, 'gt', 1500, false), this.opaque()), eq(`h${this.T}`, 0x8137));
    return this.opaque();
  }

  compile(node: FilterNode): Formula {
    if (this.lost) return this.opaque();
    const f = this.compileNode(node);
    if (node.kind !== 'and' && node.kind !== 'or' && node.kind !== 'not' && f.t !== 'const') this.first = false;
    return f;
  }

  private compileNode(node: FilterNode): Formula {
    switch (node.kind) {
      case 'and':
        return and(this.compile(node.left), this.compile(node.right));
      case 'or': {
        const left = this.compile(node.left);
        // a left side that can never match is optimized away: the right one's code comes first
        if (!acceptReachable(left)) this.first = true;
        return or(left, this.compile(node.right));
      }
      case 'not':
        return negate(this.compile(node.operand));
      case 'protocol':
        return this.protocol(node.proto);
      case 'primitive':
        return node.context === 'none' ? this.opaque() : this.primitive(node.context, node.value);
      case 'length':
        return node.op === 'less' ? lit('len', 'gt', node.value, false) : lit('len', 'ge', node.value);
      case 'byte':
        if (node.op === '=') return eq(`b${node.offset}`, node.value);
        if (node.op === '<') return lit(`b${node.offset}`, 'ge', node.value, false);
        if (node.op === '>') return lit(`b${node.offset}`, 'gt', node.value);
        // `byte N & 0` is a bit test of no bits: never true, and the optimizer knows it
        if (node.op === '&' && node.value === 0) return { t: 'const', value: false };
        return this.opaque();
      case 'cast':
        return this.cast(node.cast, node.proto);
      case 'relation':
        if (node === this.marked) {
          const f = this.relation(node.op, node.left, node.right);
          this.markedTest = lastTest(f);
          return f;
        }
        return this.relation(node.op, node.left, node.right);
      case 'encap':
        return this.encap(node);
      // Linux's BPF extensions, loads of their own (\`ldh [type]\`, \`ld [ifidx]\`): the direction is
      // one packet type (4, outgoing) or not; two different interface indexes contradict
      case 'direction':
        return eq('pkttype', 4, !node.inbound);
      case 'ifindex':
        return eq('ifidx', node.value);
      default:
        // foreign primitives are errors on Ethernet anyway
        return this.opaque();
    }
  }

  cast(cast: 'broadcast' | 'multicast', proto: string | undefined): Formula {
    const ip = this.linktype(0x800);
    if (cast === 'broadcast') {
      if (proto === 'ip') return and(ip, or(eq(`w${this.L + 16}`, 0), eq(`w${this.L + 16}`, 0xffffffff)));
      return eq('e0', 'ffffffffffff');
    }
    if (proto === 'ip') return and(ip, lit(`b${this.L + 16}`, 'ge', 224));
    if (proto === 'ip6') return and(this.linktype(0x86dd), eq(`b${this.L + 24}`, 255));
    return lit('b0', 'set', 1);
  }

  encap(node: Extract<FilterNode, { kind: 'encap' }>): Formula {
    const T = `h${this.T}`;
    switch (node.encap) {
      case 'vlan': {
        const f = or(eq(T, 0x8100), eq(T, 0x88a8), eq(T, 0x9100));
        const withId = node.id === undefined ? f : and(f, eq(`h${this.L}&4095`, node.id));
        this.shift += 4;
        return withId;
      }
      case 'pppoed':
        return eq(T, 0x8863);
      case 'llc': {
        const f = and(lit(T, 'gt', 1500, false), eq(`h${this.L}`, 0xffff, false));
        return node.llcType ? and(f, this.opaque()) : f;
      }
      case 'mpls': {
        const f = this.mplsDepth === 0 ? eq(T, 0x8847) : eq(`b${this.mplsAt + 2}&1`, 0);
        const withLabel = node.id === undefined ? f : and(f, eq(`w${this.L}&4294963200`, (node.id << 12) >>> 0));
        this.mplsAt = this.L;
        this.mplsDepth++;
        this.shift += 4;
        return withLabel;
      }
      case 'pppoes': {
        // the PPPoE header (6 bytes), then PPP's protocol field (2): libpcap reads on from there
        const f = this.ppp ? this.opaque() : eq(T, 0x8864);
        const withId = node.id === undefined ? f : and(f, eq(`h${this.L + 2}`, node.id));
        this.ppp = true;
        this.pppBase = this.L;
        return withId;
      }
      default:
        // geneve: libpcap's offsets change in ways this model does not follow
        this.lost = true;
        return this.opaque();
    }
  }

  primitive(q: Qualifiers, value: Value): Formula {
    const proto = q.proto;
    const dir = q.dir ?? 'src or dst';
    const pick = (src: Formula, dst: Formula): Formula => (dir === 'src' ? src : dir === 'dst' ? dst : dir === 'src and dst' ? and(src, dst) : or(src, dst));
    switch (q.type) {
      case 'port':
      case 'portrange':
        return this.port(q, value, pick);
      case 'proto':
        return this.proto(proto, value);
      case 'protochain':
      case 'gateway':
        return this.opaque();
      default:
        break;
    }
    if (proto === 'decnet') return and(this.linktype(0x6003), this.opaque());
    if (proto === 'link' || value.kind === 'mac') {
      if (value.kind !== 'mac') return this.opaque();
      const mac = macKey(value.text);
      return pick(eq('e6', mac), eq('e0', mac));
    }
    const L = this.L;
    const v4 = (address: number, mask: number): Formula => {
      const key = (off: number) => (mask === 0xffffffff ? `w${off}` : `w${off}&${mask >>> 0}`);
      const a = String((address & mask) >>> 0);
      const parts: Formula[] = [];
      if (proto === undefined || proto === 'ip') parts.push(and(this.linktype(0x800), pick(eq(key(L + 12), a), eq(key(L + 16), a))));
      if ((proto === undefined && this.mplsDepth === 0) || proto === 'arp') parts.push(and(this.linktype(0x806), pick(eq(key(L + 14), a), eq(key(L + 24), a))));
      if ((proto === undefined && this.mplsDepth === 0) || proto === 'rarp') parts.push(and(this.linktype(0x8035), pick(eq(key(L + 14), a), eq(key(L + 24), a))));
      return or(...parts);
    };
    const v6 = (address: bigint, bits: number): Formula => {
      const a = (address >> BigInt(128 - bits)).toString(16);
      return and(this.linktype(0x86dd), pick(eq(`ip6src/${bits}@${L + 8}`, a), eq(`ip6dst/${bits}@${L + 24}`, a)));
    };
    switch (value.kind) {
      case 'ipv4':
      case 'number': {
        const { address, mask } = ipv4Of(value, q.type === 'net');
        return v4(address, mask);
      }
      case 'ipv4-prefix': {
        const mask = value.prefix === 0 ? 0 : (0xffffffff << (32 - value.prefix)) >>> 0;
        return v4(ipv4Of({ kind: 'ipv4', text: value.address }, true).address, mask);
      }
      case 'ipv4-mask':
        return v4(ipv4Of({ kind: 'ipv4', text: value.address }, true).address, ipv4Of({ kind: 'ipv4', text: value.mask }, false).address);
      case 'ipv6':
        return v6(ipv6BigInt(value.text), 128);
      case 'ipv6-prefix':
        return v6(ipv6BigInt(value.address), value.prefix);
      case 'name': {
        if (q.type === 'net') return this.opaque();
        // a host name: each of its addresses is a host test, ORed; we do not know which, so opaque
        const found = this.lookups?.host?.(value.text);
        const parts: Formula[] = [];
        if (found?.ipv4 && proto !== 'ip6') parts.push(and(this.linktype(proto === 'arp' ? 0x806 : proto === 'rarp' ? 0x8035 : 0x800), this.opaque()));
        if (found?.ipv6 && proto !== 'ip' && proto !== 'arp' && proto !== 'rarp') parts.push(and(this.linktype(0x86dd), this.opaque()));
        if (!parts.length) return this.opaque();
        if (proto === undefined && found?.ipv4) parts.push(and(this.linktype(0x806), this.opaque()), and(this.linktype(0x8035), this.opaque()));
        return or(...parts);
      }
      default:
        return this.opaque();
    }
  }

  port(q: Qualifiers, value: Value, pick: (src: Formula, dst: Formula) => Formula): Formula {
    let low: number | undefined;
    let high: number | undefined;
    if (value.kind === 'number') low = high = value.value;
    else if (value.kind === 'name') {
      const ends = q.type === 'portrange' && /^([^-]+)-(.+)$/.exec(value.text);
      const num = (s: string) => (/^\d+$/.test(s) ? Number(s) : this.servicePort(s, q.proto));
      if (ends) [low, high] = [num(ends[1]!), num(ends[2]!)];
      else low = high = num(value.text);
    }
    if (low === undefined || high === undefined) return this.opaque();
    if (low > high) [low, high] = [high, low];
    // a range is two comparisons even of one port (gen_portrangeatom): the optimizer folds them
    // only against the same comparisons, never against `port N`'s equality
    const test = (field: string): Formula => (low === high && q.type === 'port' ? eq(field, low!) : and(lit(field, 'ge', low!), lit(field, 'gt', high!, false)));
    // a service name narrows `port NAME` to its protocol (pcap_nametoport: tcp, udp or both)
    const named = value.kind === 'name' ? this.serviceProtocols(value.text, q.type === 'portrange') : undefined;
    const protos = q.proto ? [IP_AND_IP6[q.proto]!] : named ?? [6, 17, 132];
    const L = this.L;
    // one copy of the port tests for each protocol, as gen_portop lays them out
    const ip = and(this.linktype(0x800), or(...protos.map((p) => and(eq(`b${L + 9}`, p), this.notFragment(), pick(test(`hx${L}`), test(`hx${L + 2}`))))));
    const ip6 = and(this.linktype(0x86dd), or(...protos.map((p) => and(eq(`b${L + 6}`, p), pick(test(`h${L + 40}`), test(`h${L + 42}`))))));
    return or(ip, ip6);
  }

  private serviceProtocols(name: string, range: boolean): number[] | undefined {
    const kind = (n: string): 'tcp' | 'udp' | 'any' | undefined => {
      const ports = this.lookups?.service(n);
      if (ports?.tcp !== undefined) return ports.udp === ports.tcp ? 'any' : 'tcp';
      return ports?.udp !== undefined ? 'udp' : undefined;
    };
    const ends = range ? /^([^-]+)-(.+)$/.exec(name) : null;
    if (range && /^\d+-\d+$/.test(name)) return undefined;
    const side = (n: string) => (/^\d+$/.test(n) ? 'any' : kind(n));
    const k = ends ? (side(ends[1]!) === side(ends[2]!) ? side(ends[2]!) : 'any') : kind(name);
    return k === 'tcp' ? [6] : k === 'udp' ? [17] : undefined;
  }

  private servicePort(name: string, proto: string | undefined): number | undefined {
    // pcap_nametoport: the tcp number, else the udp one (1.10 reads no sctp entries)
    const ports = this.lookups?.service(name);
    if (proto === 'udp' && ports?.tcp === undefined) return ports?.udp;
    return ports?.tcp ?? ports?.udp;
  }

  proto(proto: string | undefined, value: Value): Formula {
    const n = value.kind === 'number' ? value.value : value.kind === 'name' && proto !== 'link' ? this.lookups?.ipProtocol(value.text) : undefined;
    if (proto === 'link') {
      const type = value.kind === 'number' ? value.value : value.kind === 'name' ? ETHERTYPES[value.text] : undefined;
      return type === undefined ? this.opaque() : this.linktype(type);
    }
    if (n === undefined) return this.opaque();
    if (proto === 'ip') return this.ipProto(n);
    if (proto === 'ip6') return this.ip6Proto(n);
    if (proto === undefined) return or(this.ipProto(n), this.ip6Proto(n));
    return this.opaque();
  }

  /** the filter is one comparison (or its negation): the optimizer folds it whole */
  alone = false;
  /** a comparison to follow through the optimizer, and its test once compiled */
  marked?: FilterNode;
  markedTest?: Test;

  relation(op: string, left: Arith, right: Arith): Formula {
    // in the entry block, with no protocol checks before it, even `x & 0` as the last step folds
    const bare = (this.alone || this.first) && !hasLoadGuards(left) && !hasLoadGuards(right);
    const l = constant(left, !bare);
    const r = constant(right, !bare);
    // among other primitives the optimizer folds only a comparison of two plain numbers
    // (`tcp and 1 > 2`, not `tcp and 1 + 1 = 3`: measured on libpcap 1.10)
    // (`tcp and 1 > 2`, not `tcp and 1 + 1 = 3`: measured on libpcap 1.10), and any in its first block
    if (l !== undefined && r !== undefined && (this.alone || this.first || (left.kind === 'num' && right.kind === 'num'))) return { t: 'const', value: compare(op, l, r) };
    const guards: Formula[] = [];
    if (l !== undefined && r !== undefined) {
      this.guardsOf(left, guards);
      this.guardsOf(right, guards);
      return and(...guards, this.opaque());
    }
    const lk = this.arithKey(left, guards);
    const rk = this.arithKey(right, guards);
    let test: Formula;
    if (r !== undefined && lk !== undefined) {
      // a right side that folds to a number keeps the protocol checks of its loads
      // (\`sctp[0] = lat[12] * 0 | 1\`: the frame must be both IP and LAT)
      this.guardsOf(right, guards);
      // a comparison's packet field is loaded apart from the primitives' own loads: the
      // optimizer folds it against other comparisons, never against a primitive's test of the
      // same bytes (`ip proto 6 and ip[9] = 17`, `byte 1 = 3 and ether[1] = 4` are valid:
      // measured on libpcap 1.10); the packet length is one value for both (`less 100 and len > 100`)
      const k = lk === 'len' ? lk : `rel:${lk}`;
      test =
        op === '=' ? eq(k, r) : op === '!=' ? eq(k, r, false) : op === '>' ? lit(k, 'gt', r) : op === '>=' ? lit(k, 'ge', r) : op === '<' ? lit(k, 'ge', r, false) : lit(k, 'gt', r, false);
    } else if (lk !== undefined && rk !== undefined) {
      // two computed values: the same comparison gives the same answer twice
      // (`tcp[0] = tcp[1] and tcp[0] != tcp[1]` rejects every packet), and tells nothing else
      const negated = op === '!=' || op === '<' || op === '<=';
      const base = { '=': '=', '!=': '=', '>': '>', '<=': '>', '>=': '>=', '<': '>=' }[op] ?? op;
      test = lit(`${lk}${base}${rk}`, 'cmp', 'x', !negated);
    } else test = this.opaque();
    return guards.length ? and(...guards, test) : test;
  }

  /** The protocol checks libpcap puts before a computed value (of its left operands only). */
  guardsOf(a: Arith, guards: Formula[]): void {
    if (a.kind === 'load') this.arithKey(a, guards);
    else if (a.kind === 'binary') this.guardsOf(a.left, guards);
    else if (a.kind === 'neg') this.guardsOf(a.operand, guards);
  }

  /** A canonical name for a computed value (same name = same value number in libpcap). */
  arithKey(a: Arith, guards: Formula[]): string | undefined {
    const c = constant(a);
    if (c !== undefined) return String(c);
    switch (a.kind) {
      case 'len':
        return 'len';
      case 'neg': {
        const k = this.arithKey(a.operand, guards);
        return k === undefined ? undefined : `-(${k})`;
      }
      case 'binary': {
        // libpcap's gen_arth keeps the protocol checks of its left operand only
        const l = this.arithKey(a.left, guards);
        const r = this.arithKey(a.right, []);
        return l === undefined || r === undefined ? undefined : `(${l}${a.op}${r})`;
      }
      case 'load': {
        const off = this.arithKey(a.offset, guards);
        if (off === undefined) return undefined;
        const size = a.size === 1 ? 'b' : a.size === 2 ? 'h' : 'w';
        const L = this.L;
        const at = (base: number) => (/^\d+$/.test(off) ? String(base + Number(off)) : `${base}+${off}`);
        const p = a.proto;
        if (p === 'link') return `${size}${/^\d+$/.test(off) ? off : `+${off}`}`;
        if (p in ETHERTYPES) {
          guards.push(this.linktype(ETHERTYPES[p]!));
          return `${size}${at(L)}`;
        }
        if (p in IP_AND_IP6 || p in IP_ONLY) {
          guards.push(this.linktype(0x800), p in IP_ONLY ? eq(`b${L + 9}`, IP_ONLY[p]!) : or(this.ipProto(IP_AND_IP6[p]!), this.ip6Proto(IP_AND_IP6[p]!)), this.notFragment());
          return `${size}x${at(L)}`;
        }
        if (p === 'icmp6') {
          guards.push(this.linktype(0x86dd), eq(`b${L + 6}`, 58));
          return `${size}${at(L + 40)}`;
        }
        return undefined;
      }
      default:
        return undefined;
    }
  }
}

/** libpcap's host or net address of a dotted value: `10.1` is 10.1.0.0/16 as a host, 10.1.0.0/16 as a net. */
function ipv4Of(value: { kind: string; text: string; value?: number }, net: boolean): { address: number; mask: number } {
  if (value.kind === 'number') {
    let v = value.value! >>> 0;
    let mask = 0xffffffff;
    if (net) {
      while (v && (v & 0xff000000) === 0) {
        v = (v << 8) >>> 0;
        mask = (mask << 8) >>> 0;
      }
    }
    return { address: v, mask };
  }
  const parts = value.text.split('.').map((p) => Number(p));
  const address = parts.reduce((acc, p) => (acc * 256 + p) >>> 0, 0);
  const shift = 32 - 8 * parts.length;
  return { address: shift === 32 ? 0 : (address << shift) >>> 0, mask: shift === 32 ? 0 : (0xffffffff << shift) >>> 0 };
}

function macKey(text: string): string {
  const hex = text.toLowerCase().replace(/[^0-9a-f]/g, ' ').trim();
  const groups = text.includes(':') || text.includes('-') || text.split('.').length === 6 ? hex.split(/\s+/).map((g) => g.padStart(2, '0')) : hex.split(/\s+/).map((g) => g.padStart(4, '0'));
  return groups.join('');
}


/**
 * The value the optimizer computes for an expression of constants, for its errors (a zero
 * divisor, a shift beyond 31): measured, it does not fold `-x` there.
 */
export function constantValue(a: Arith, withNegation = false): number | undefined {
  if (withNegation) return constant(a);
  const folds = (x: Arith): boolean => (x.kind === 'neg' ? false : x.kind === 'binary' ? folds(x.left) && folds(x.right) : true);
  return folds(a) ? constant(a) : undefined;
}

function constant(a: Arith, top = true): number | undefined {
  switch (a.kind) {
    case 'num':
      return a.value >>> 0;
    case 'neg': {
      const v = constant(a.operand, false);
      return v === undefined ? undefined : -v >>> 0;
    }
    case 'binary': {
      const l = constant(a.left, false);
      const r = constant(a.right, false);
      // the optimizer's shortcut: 0 * x, 0 / x, 0 & x, 0 << x... are 0. It makes x * 0 and
      // x & 0 zero too, but as the last operation it leaves the comparison unfolded
      // (`tcp[0] & 0 != 0` is valid, `tcp[0] * 0 * 255 < 1` is not: measured)
      if (l === 0 && ['*', '/', '%', '&', '<<', '>>'].includes(a.op)) return 0;
      if (!top && r === 0 && (a.op === '*' || a.op === '&')) return 0;
      if (l === undefined || r === undefined) return undefined;
      switch (a.op) {
        case '+': return (l + r) >>> 0;
        case '-': return (l - r) >>> 0;
        case '*': return Math.imul(l, r) >>> 0;
        case '/': return r === 0 ? undefined : Math.floor(l / r) >>> 0;
        case '%': return r === 0 ? undefined : (l % r) >>> 0;
        case '&': return (l & r) >>> 0;
        case '|': return (l | r) >>> 0;
        case '^': return (l ^ r) >>> 0;
        case '<<': return r > 31 ? 0 : (l << r) >>> 0;
        case '>>': return r > 31 ? 0 : l >>> r;
        default: return undefined;
      }
    }
    default:
      return undefined;
  }
}

function compare(op: string, l: number, r: number): boolean {
  switch (op) {
    case '=': return l === r;
    case '!=': return l !== r;
    case '>': return l > r;
    case '>=': return l >= r;
    case '<': return l < r;
    default: return l <= r;
  }
}

/**
 * What a test answers, given what earlier tests found: undefined when they tell nothing.
 * The optimizer's fold_edge: the same test gives the same answer; a field found equal to
 * one constant is not equal to another. Nothing else (no ranges, no bit tests).
 */
function fold(known: { test: Test; outcome: boolean }[], test: Test): boolean | undefined {
  if (test.op === 'opaque') return undefined;
  for (const fact of known) {
    if (fact.test.field !== test.field) continue;
    if (fact.test.op === test.op && fact.test.k === test.k) return fact.outcome;
    if (fact.test.op === 'eq' && test.op === 'eq' && fact.outcome) return false;
  }
  return undefined;
}

type Leaf = 'accept' | 'reject';
interface Block {
  id: number;
  test: Test;
  jt: Block | Leaf;
  jf: Block | Leaf;
}

/** The formula as libpcap's code generator lays it out: `a and b` jumps from a's true exits to b. */
function layout(f: Formula, jt: Block | Leaf, jf: Block | Leaf, blocks: Block[]): Block | Leaf {
  switch (f.t) {
    case 'const':
      return f.value ? jt : jf;
    case 'lit': {
      const block: Block = { id: blocks.length, test: f.test, jt: f.sense ? jt : jf, jf: f.sense ? jf : jt };
      blocks.push(block);
      return block;
    }
    case 'and': {
      let next = jt;
      for (let i = f.items.length - 1; i >= 0; i--) next = layout(f.items[i]!, next, jf, blocks);
      return next;
    }
    case 'or': {
      let next = jf;
      for (let i = f.items.length - 1; i >= 0; i--) next = layout(f.items[i]!, jt, next, blocks);
      return next;
    }
  }
}

/**
 * libpcap's jump optimization, to its fixed point: an edge whose target's answer is known
 * from the edges that dominate it (lie on every path to it) is moved past that target. Then:
 * can "accept" still be reached?
 */
function acceptReachable(root: Formula, budget = 50): boolean {
  return optimize(root, budget).accepts;
}

/** The optimized layout: can it accept, and which tests can still run. */
function optimize(root: Formula, budget = 50): { accepts: boolean; tests: Set<Test> } {
  const blocks: Block[] = [];
  const entry = layout(root, 'accept', 'reject', blocks);
  if (blocks.length > 3000) return { accepts: true, tests: new Set(blocks.map((b) => b.test)) };
  for (let round = 0; round < budget; round++) {
    if (typeof entry === 'string') return { accepts: entry === 'accept', tests: new Set() };
    // blocks in the order of the layout are topologically sorted from the entry: each jumps forward
    const reachable = new Set<Block>();
    const order: Block[] = [];
    const visit = (b: Block | Leaf): void => {
      if (typeof b === 'string' || reachable.has(b)) return;
      reachable.add(b);
      visit(b.jt);
      visit(b.jf);
      order.push(b);
    };
    visit(entry);
    order.reverse();
    // dominating edges (block id, outcome) of each block: the intersection over its in-edges
    const dominators = new Map<Block, Set<string>>([[entry, new Set()]]);
    for (const b of order) {
      const mine = dominators.get(b) ?? new Set<string>();
      for (const [target, outcome] of [[b.jt, true], [b.jf, false]] as const) {
        if (typeof target === 'string') continue;
        const edge = new Set(mine).add(`${b.id}:${outcome}`);
        const before = dominators.get(target);
        dominators.set(target, before ? new Set([...before].filter((e) => edge.has(e))) : edge);
      }
    }
    const facts = (edges: Set<string>) =>
      [...edges].map((e) => {
        const [id, outcome] = e.split(':');
        return { test: blocks[Number(id)]!.test, outcome: outcome === 'true' };
      });
    let changed = false;
    for (const b of order) {
      for (const side of ['jt', 'jf'] as const) {
        const known = facts(new Set(dominators.get(b)).add(`${b.id}:${side === 'jt'}`));
        let target = b[side];
        for (;;) {
          if (typeof target === 'string') break;
          const answer = fold(known, target.test);
          if (answer === undefined) break;
          target = answer ? target.jt : target.jf;
        }
        if (target !== b[side]) {
          b[side] = target;
          changed = true;
        }
      }
    }
    if (!changed) break;
  }
  const seen = new Set<Block>();
  let accepts = false;
  const visit = (b: Block | Leaf): void => {
    if (typeof b === 'string') {
      accepts ||= b === 'accept';
      return;
    }
    if (seen.has(b)) return;
    seen.add(b);
    visit(b.jt);
    visit(b.jf);
  };
  visit(entry);
  return { accepts, tests: new Set([...seen].map((b) => b.test)) };
}

/**
 * Does the code of this comparison survive libpcap's optimizer? The optimizer reports a
 * zero divisor or a long shift it computes only in code that can still run.
 */
export function comparisonRuns(ast: FilterNode, relation: FilterNode, lookups?: Lookups): boolean {
  if (containsEncap(ast, 'geneve') || containsProtochain(ast)) return true;
  const compiler = new Compiler(lookups);
  compiler.alone = ast.kind === 'relation' || (ast.kind === 'not' && ast.operand.kind === 'relation');
  compiler.marked = relation;
  const { tests } = optimize(compiler.compile(ast));
  // folded to a constant: the optimizer computed it, so it ran
  return !compiler.markedTest || tests.has(compiler.markedTest);
}

/** Does libpcap's optimizer prove, on an Ethernet link, that this filter matches no packet? */
export function rejectsEveryPacket(ast: FilterNode | null, lookups?: Lookups): boolean {
  if (!ast) return false;
  // with geneve or protochain anywhere libpcap's optimizer proves nothing (measured:
  // `tcp and udp and geneve` and `tcp and udp and ip6 protochain 6` are valid)
  if (containsEncap(ast, 'geneve') || containsProtochain(ast)) return false;
  const compiler = new Compiler(lookups);
  compiler.alone = ast.kind === 'relation' || (ast.kind === 'not' && ast.operand.kind === 'relation');
  return !acceptReachable(compiler.compile(ast));
}

function containsEncap(node: FilterNode, encap: string): boolean {
  if (node.kind === 'and' || node.kind === 'or') return containsEncap(node.left, encap) || containsEncap(node.right, encap);
  if (node.kind === 'not') return containsEncap(node.operand, encap);
  return node.kind === 'encap' && node.encap === encap;
}

/** Does computing this value need protocol checks first (a load of something but the link layer)? */
function hasLoadGuards(a: Arith): boolean {
  switch (a.kind) {
    case 'load':
      return a.proto !== 'link' || hasLoadGuards(a.offset);
    case 'binary':
      return hasLoadGuards(a.left) || hasLoadGuards(a.right);
    case 'neg':
      return hasLoadGuards(a.operand);
    default:
      return false;
  }
}

/** The last test of a formula: a comparison's own, after the protocol checks before it. */
function lastTest(f: Formula): Test | undefined {
  if (f.t === 'lit') return f.test;
  if (f.t === 'and' || f.t === 'or') return f.items.length ? lastTest(f.items[f.items.length - 1]!) : undefined;
  return undefined;
}

function containsProtochain(node: FilterNode): boolean {
  if (node.kind === 'and' || node.kind === 'or') return containsProtochain(node.left) || containsProtochain(node.right);
  if (node.kind === 'not') return containsProtochain(node.operand);
  return node.kind === 'primitive' && node.context !== 'none' && node.context.type === 'protochain';
}
