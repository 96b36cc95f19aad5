/**
 * A seeded generator of pcap-filter expressions, after libpcap's grammar (grammar.y): every
 * primitive and qualifier, arithmetic, names that resolve and names that do not, mistakes a
 * learner makes, and now and then a link type for `-y`. Most filters are valid, many are
 * not, some are valid but match nothing (`tcp and udp`): the differential test needs all.
 *
 * Names that do not resolve are made so that the resolver fails without asking DNS (an
 * empty label, `no..such`): the tests send no query off this machine.
 */
import { readFileSync } from 'node:fs';
import { seededRng, type Rng } from '../../src/core/random.js';

export interface GeneratedFilter {
  expr: string;
  /** a `-y` link type, or undefined for tcpdump's default (Ethernet) */
  dlt?: string;
}

/** Names in /etc/hosts: they resolve without DNS. */
function hostsFileNames(): string[] {
  try {
    return readFileSync('/etc/hosts', 'utf8')
      .split('\n')
      .map((l) => l.replace(/#.*/, '').trim().split(/\s+/).slice(1))
      .flat()
      .filter((n) => /^[A-Za-z][-A-Za-z0-9.]*$/.test(n));
  } catch {
    return [];
  }
}

const PROTOCOLS = ['ether', 'link', 'ppp', 'slip', 'fddi', 'tr', 'wlan', 'ip', 'ip6', 'arp', 'rarp', 'tcp', 'udp', 'sctp', 'icmp', 'icmp6', 'igmp', 'igrp', 'pim', 'vrrp', 'carp', 'ah', 'esp', 'atalk', 'aarp', 'decnet', 'lat', 'sca', 'moprc', 'mopdl', 'iso', 'esis', 'es-is', 'isis', 'is-is', 'clnp', 'l1', 'l2', 'iih', 'lsp', 'snp', 'csnp', 'psnp', 'stp', 'ipx', 'netbeui', 'radio'];
const COMMON_PROTOCOLS = ['ip', 'ip6', 'arp', 'rarp', 'tcp', 'udp', 'icmp', 'icmp6', 'sctp', 'igmp', 'pim', 'esp', 'ah', 'vrrp'];
const DIRECTIONS = ['src', 'dst', 'src or dst', 'src and dst'];
const WLAN_DIRECTIONS = ['addr1', 'address2', 'addr3', 'addr4', 'ra', 'ta'];
const LOADABLE = ['ether', 'link', 'ip', 'ip6', 'arp', 'rarp', 'tcp', 'udp', 'sctp', 'icmp', 'icmp6', 'igmp', 'pim', 'vrrp', 'decnet', 'lat', 'radio', 'ppp', 'wlan', 'iso'];
const RELOPS = ['=', '==', '!=', '<', '<=', '>', '>='];
const ARITH_OPS = ['+', '-', '*', '/', '%', '&', '|', '^', '<<', '>>'];
const NAMED = ['tcpflags', 'tcp-syn', 'tcp-ack', 'tcp-fin', 'tcp-rst', 'tcp-push', 'tcp-urg', 'icmptype', 'icmpcode', 'icmp-echo', 'icmp-echoreply', 'icmp-unreach', 'icmp6type', 'icmp6-echo'];
const SERVICES = ['http', 'https', 'domain', 'ssh', 'ntp', 'bootps', 'telnet', 'smtp', 'nosuchsvc', 'www'];
const LLC_TYPES = ['i', 's', 'u', 'rr', 'rnr', 'rej', 'ui', 'ua', 'disc', 'dm', 'sabme', 'test', 'xid', 'frmr', 'nosuch'];
const FOREIGN = ['type mgt', 'type data subtype qos', 'subtype beacon', 'dir nods', 'wlan type ctl', 'vpi 1', 'vci > 5', 'lane', 'oamf4', 'fisu', 'hmsu', 'sio 3', 'dpc 2 or 4', 'on eth0', 'ifname lo', 'reason match', 'action pass', 'rnr 3', 'ruleset x'];
/** -y link types: Ethernet, and some explain does not cover (said so, not judged) */
const LINK_TYPES = ['EN10MB', 'EN10MB', 'EN10MB', 'RAW', 'LINUX_SLL', 'IEEE802_11', 'FDDI', 'PPP', 'NULL'];

export function generateFilters(seed: string, count: number): GeneratedFilter[] {
  const rng = seededRng(seed, 'filtergen');
  const g = new Generator(rng, hostsFileNames());
  return Array.from({ length: count }, () => g.filter());
}

class Generator {
  constructor(
    private readonly rng: Rng,
    private readonly hostNames: string[],
  ) {}

  private chance(p: number): boolean {
    return this.rng.int(1000) < p * 1000;
  }

  private pick<T>(items: readonly T[]): T {
    return this.rng.pick(items);
  }

  filter(): GeneratedFilter {
    let expr = this.expr(0);
    if (this.chance(0.03)) expr = this.mistake(expr);
    if (this.chance(0.04)) expr = expr.replace(/\b(tcp|udp|host|port|ip|and|not)\b/, (w) => (this.chance(0.5) ? w.toUpperCase() : w[0]!.toUpperCase() + w.slice(1)));
    const dlt = this.chance(0.12) ? this.pick(LINK_TYPES) : undefined;
    return dlt ? { expr, dlt } : { expr };
  }

  private mistake(expr: string): string {
    return this.pick([`${expr} and`, `(${expr}`, `${expr})`, `${expr} or or tcp`, `not`, `${expr} #x`, `${expr} 80`]);
  }

  expr(depth: number): string {
    const terms = depth > 1 ? 1 : 1 + (this.chance(0.55) ? this.rng.int(3) : 0);
    let out = this.term(depth);
    for (let i = 1; i < terms; i++) {
      const joiner = this.pick(['and', 'and', 'or', '&&', '||']);
      // a bare value borrows the qualifiers before it: `host a or b`
      const carried = this.chance(0.12) ? this.value(this.pick(['host', 'port', 'net', undefined])) : undefined;
      out += ` ${joiner} ${carried ?? this.term(depth)}`;
    }
    return out;
  }

  term(depth: number): string {
    const not = this.chance(0.15) ? `${this.pick(['not ', '!'])}` : '';
    if (depth < 2 && this.chance(0.12)) return `${not}(${this.expr(depth + 1)})`;
    return not + this.primitive();
  }

  primitive(): string {
    const r = this.rng.int(100);
    if (r < 30) return this.headed();
    if (r < 45) return this.pick(this.chance(0.7) ? COMMON_PROTOCOLS : PROTOCOLS);
    if (r < 62) return this.relation();
    if (r < 80) return this.other();
    if (r < 85) return this.pick(FOREIGN);
    if (r < 90) return `${this.pick(PROTOCOLS)} ${this.pick(['proto', 'protochain'])} ${this.protoValue()}`;
    return `${this.pick(COMMON_PROTOCOLS)} ${this.pick(['broadcast', 'multicast'])}`;
  }

  /** [proto] [dir] [type] value */
  headed(): string {
    const proto = this.chance(0.4) ? this.pick(this.chance(0.7) ? COMMON_PROTOCOLS.concat(['ether', 'decnet']) : PROTOCOLS) : undefined;
    const dir = this.chance(0.35) ? (this.chance(0.15) ? this.pick(WLAN_DIRECTIONS) : this.pick(DIRECTIONS)) : undefined;
    let type = this.chance(0.85) || !dir ? this.pick(['host', 'host', 'net', 'port', 'port', 'portrange', 'proto', 'gateway']) : undefined;
    if (!proto && !dir && !type) type = 'host';
    const words = [proto, dir, type].filter(Boolean);
    const value = type === 'proto' ? this.protoValue() : this.value(type, proto);
    return `${words.join(' ')} ${value}`;
  }

  protoValue(): string {
    return this.pick(['6', '17', '1', '58', '0x800', '0x86dd', '2048', '300', '\\tcp', '\\udp', '\\icmp', '\\nosuch', '\\ip', '\\arp', '\\clnp', '\\isis', 'tcp']);
  }

  value(type: string | undefined, proto?: string): string {
    const addresses = () =>
      this.pick([
        `10.${this.rng.int(256)}.${this.rng.int(256)}.${this.rng.int(256)}`,
        '192.168.1.1', '10.0.0.1', '127.0.0.1', '255.255.255.255', '10', '10.1', '10.1.2', '300.1.1.1',
        '::1', 'fe80::1', '2001:db8::5', '::ffff:10.0.0.1', '1:2:3:4:5:6:7:8',
        'aa:bb:cc:dd:ee:ff', 'ff:ff:ff:ff:ff:ff', '01-02-03-04-05-06', 'aabb.ccdd.eeff', '$3f',
        '10.23', '1.1000',
        ...this.hostNames.slice(0, 3), 'localhost', 'no..such', 'nohost..example', 'a..b',
      ]);
    switch (type) {
      case 'port':
        return this.pick([String(this.rng.int(70000)), '80', '443', '53', '0', '65535', '65536', ...SERVICES, '1000-2000']);
      case 'portrange': {
        const a = this.rng.int(66000);
        const b = this.rng.int(66000);
        return this.pick([`${a}-${b}`, '80-90', '90-80', '100-100', 'http-https', 'ssh-http', 'nosuchsvc-80', '80']);
      }
      case 'net':
        return this.pick([
          '10.0.0.0/8', '10.1.0.0/16', '192.168.0.0/24', '10.0.0.1/8', '10.0.0.0/33', '0.0.0.0/0', '10', '10.1', '172.16',
          '10.0.0.0 mask 255.0.0.0', '10.1.0.0 mask 255.255.0.0', '10.0.0.1 mask 255.0.0.0',
          'fe80::/10', '2001:db8::/32', 'fe80::1/64', '::1/128', 'loopback', 'default', 'nonet..x', '10.1.2.3',
        ]);
      case 'gateway':
        return this.pick(['localhost', '10.0.0.1', 'no..such']);
      default:
        if (proto === 'decnet') return this.pick(['10.23', '1.2', '63.1023', '1', '50.764', '::1']);
        return addresses();
    }
  }

  relation(): string {
    return `${this.arith(0)} ${this.pick(RELOPS)} ${this.arith(1)}`;
  }

  arith(depth: number): string {
    const r = this.rng.int(100);
    if (depth > 2 || r < 35) return this.pick([String(this.rng.int(300)), '0', '1', '2', '0x10', '0xff', '1500', ...NAMED]);
    if (r < 65) {
      const proto = this.pick(LOADABLE);
      const offset = this.chance(0.8) ? this.pick(['0', '2', '6', '9', '12', '13', '16', '20', 'tcpflags', 'icmptype', '40']) : this.arith(depth + 1);
      const size = this.chance(0.35) ? `:${this.pick(['1', '2', '4', '3'])}` : '';
      return `${proto}[${offset}${size}]`;
    }
    if (r < 72) return 'len';
    if (r < 76) return `-${this.arith(depth + 1)}`;
    if (r < 82) return `(${this.arith(depth + 1)})`;
    return `${this.arith(depth + 1)} ${this.pick(ARITH_OPS)} ${this.arith(depth + 1)}`;
  }

  other(): string {
    const n = () => String(this.pick([0, 1, 10, 100, 1500, 4095, 4096, 65535, 70000, this.rng.int(5000)]));
    switch (this.rng.int(12)) {
      case 0:
        return `${this.pick(['less', 'greater'])} ${n()}`;
      case 1:
        return `byte ${this.rng.int(40)} ${this.pick(['=', '==', '<', '>', '&', '|', '!='])} ${this.rng.int(300)}`;
      case 2:
        return this.pick(['inbound', 'outbound', `ifindex ${this.rng.int(10)}`]);
      case 3:
        return this.chance(0.5) ? 'vlan' : `vlan ${n()}`;
      case 4:
        return this.chance(0.5) ? 'mpls' : `mpls ${this.pick(['1', '100', '1048576'])}`;
      case 5:
        return this.pick(['pppoed', 'pppoes', `pppoes ${n()}`]);
      case 6:
        return this.chance(0.5) ? 'geneve' : `geneve ${this.pick(['1', '0xb', '16777216'])}`;
      case 7:
        return this.chance(0.4) ? 'llc' : `llc ${this.pick(LLC_TYPES)}`;
      case 8:
        return this.pick(['broadcast', 'multicast', 'ether broadcast', 'ether multicast', 'ip broadcast', 'ip6 multicast']);
      case 9:
        return `${this.pick(['tcp', 'udp', 'icmp'])}[${this.pick(['13', 'tcpflags', 'icmptype', '0'])}] & ${this.pick(['tcp-syn', 'tcp-ack|tcp-syn', '2', '0'])} ${this.pick(['!=', '=', '>'])} 0`;
      case 10:
        return `${this.pick(['tcp', 'udp', ''])} ${this.pick(['src', 'dst', ''])} port ${this.pick(['80', '443', '53', '22'])}`.trim().replace(/\s+/g, ' ');
      default:
        return `${this.pick(['tcp', 'udp', 'ip', 'ip6'])} and ${this.pick(['tcp', 'udp', 'icmp', 'arp', 'ip6', 'ip', 'icmp6'])}`;
    }
  }
}
