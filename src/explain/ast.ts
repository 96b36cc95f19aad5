/** The syntax tree of a pcap-filter expression, as the parser builds it. */

export type Direction = 'src' | 'dst' | 'src or dst' | 'src and dst' | 'addr1' | 'addr2' | 'addr3' | 'addr4' | 'ra' | 'ta';
export type AddressType = 'host' | 'net' | 'port' | 'portrange' | 'proto' | 'protochain' | 'gateway';

/** A primitive's qualifiers; a missing one is the default (any protocol, either direction). */
export interface Qualifiers {
  /** canonical protocol (`link` for ether/ppp/...) and how it was written */
  proto?: string;
  protoText?: string;
  dir?: Direction;
  type?: AddressType;
}

/**
 * The qualifiers an `and`/`or` passes on to a bare value (`host a or b`). `none` is what
 * libpcap calls qerr: after `tcp`, `less 100`, a comparison, or at the start.
 */
export type Context = Qualifiers | 'none';

export interface Span {
  /** 0-based offsets in the expression */
  start: number;
  end: number;
}

export type Value =
  | { kind: 'name'; text: string }
  | { kind: 'number'; text: string; value: number }
  | { kind: 'ipv4'; text: string }
  | { kind: 'ipv4-prefix'; text: string; address: string; prefix: number }
  | { kind: 'ipv4-mask'; text: string; address: string; mask: string }
  | { kind: 'ipv6'; text: string }
  | { kind: 'ipv6-prefix'; text: string; address: string; prefix: number }
  | { kind: 'mac'; text: string }
  | { kind: 'arcnet'; text: string };

export type Arith =
  | { kind: 'num'; value: number; text: string; span: Span }
  | { kind: 'load'; proto: string; protoText: string; offset: Arith; size: number; sizeGiven: boolean; span: Span }
  | { kind: 'len'; span: Span }
  | { kind: 'binary'; op: string; left: Arith; right: Arith; span: Span }
  | { kind: 'neg'; operand: Arith; span: Span };

export type FilterNode =
  | { kind: 'and' | 'or'; left: FilterNode; right: FilterNode; span: Span }
  | { kind: 'not'; operand: FilterNode; span: Span }
  /** `host 10.0.0.1`, `tcp dst port 80`; carried = its qualifiers came from an earlier primitive */
  | { kind: 'primitive'; context: Context; value: Value; carried: boolean; span: Span; valueSpan: Span }
  /** a bare protocol: `tcp`, `arp`, `ip6` */
  | { kind: 'protocol'; proto: string; protoText: string; span: Span }
  | { kind: 'relation'; op: string; left: Arith; right: Arith; span: Span }
  | { kind: 'length'; op: 'less' | 'greater'; value: number; span: Span }
  | { kind: 'cast'; cast: 'broadcast' | 'multicast'; proto?: string; protoText?: string; span: Span }
  | { kind: 'byte'; offset: number; op: string; value: number; span: Span }
  | { kind: 'direction'; inbound: boolean; span: Span }
  | { kind: 'ifindex'; value: number; span: Span }
  | { kind: 'encap'; encap: 'vlan' | 'mpls' | 'pppoes' | 'pppoed' | 'geneve' | 'llc'; id?: number; llcType?: string; span: Span }
  /**
   * A primitive of a link type that is not Ethernet (802.11 `type`/`dir`, ATM `vpi`, SS7
   * `sio`, pf `reason`...): the grammar takes it, and libpcap refuses it on an Ethernet link.
   */
  | { kind: 'foreign'; family: 'ieee80211' | 'atm' | 'mtp2' | 'mtp3' | 'pf'; keyword: string; message: string; span: Span };
