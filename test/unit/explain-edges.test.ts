/**
 * `mystery explain` at its edges: the optimizer's verdict where a model slip would show
 * (each row also held against the real `tcpdump -d`, which needs no root), the English of
 * the parts no other test renders, the errors and hints a learner reads, and the options.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeFilter } from '../../src/explain/english.js';
import { explainFilter } from '../../src/explain/index.js';
import { parseCommand } from '../../src/explain/options.js';
import { parseFilter } from '../../src/explain/parser.js';
import { checkWithTcpdump, systemLookups } from '../../src/explain/system.js';

const lookups = systemLookups();

const english = (expr: string): string => {
  const r = parseFilter(expr, lookups);
  assert.ok(r.ok, r.ok ? expr : `${expr}: ${r.error.message}`);
  return describeFilter(r.ok ? r.ast : null, { lookups });
};

const tcpdumpVerdict = async (expr: string): Promise<string> => {
  const t = await checkWithTcpdump(expr);
  assert.ok(t.ran, `tcpdump could not be run: ${t.message}`);
  return t.accepted ? 'valid' : t.message === 'expression rejects all packets' ? 'rejects-all' : 'invalid';
};

test("the optimizer's verdict: what folds and what does not, as tcpdump -d says", async () => {
  const rows: Array<[string, 'valid' | 'invalid' | 'rejects-all', string]> = [
    // two comparisons of the same field with different constants fold; a primitive's test of
    // the same bytes does not fold against a comparison (libpcap loads them apart)
    ['ip[9] = 6 and ip[9] = 17', 'rejects-all', 'one field, two values'],
    ['tcp[13] = 2 and tcp[13] = 4', 'rejects-all', 'the flags byte, two values'],
    ['ip proto 6 and ip[9] = 17', 'valid', 'a primitive and a comparison of the same byte'],
    ['ip and ether[12:2] = 0x86dd', 'valid', 'the EtherType as a primitive and as a comparison'],
    ['byte 1 < 5 and ether[1] >= 5', 'valid', '`byte` and a comparison of the same byte'],
    ['stp and ether[12:2] > 1500', 'valid', "stp's length check and a comparison"],
    // fields of different sizes at one offset are different values
    ['ip[0:2] = 1 and ip[0:4] = 2', 'valid', 'a halfword and a word at one offset'],
    ['ip[0] = 1 and ip[0:2] = 2', 'valid', 'a byte and a halfword at one offset'],
    // the packet length is one value for `less`/`greater` and `len`
    ['less 100 and len > 100', 'rejects-all', '`less` and `len`'],
    // two computed values: the same comparison gives the same answer twice, and nothing more
    ['tcp[0] = tcp[1] and tcp[0] != tcp[1]', 'rejects-all', '= and !='],
    ['tcp[0] < tcp[1] and tcp[0] >= tcp[1]', 'rejects-all', '< and >='],
    ['tcp[0] <= tcp[1] and tcp[0] > tcp[1]', 'rejects-all', '<= and >'],
    ['tcp[0] = tcp[1] and tcp[0] = tcp[2]', 'valid', 'equal to two other fields'],
    // a comparison and its opposite
    ['ip[9] != 6 and ip[9] = 6', 'rejects-all', '!= and ='],
    ['ip[2:2] < 100 and ip[2:2] >= 100', 'rejects-all', '< and >='],
    ['ip[2:2] <= 100 and ip[2:2] > 100', 'rejects-all', '<= and >'],
    // constants: folded in the first block only, and a field's protocol checks stay
    ['tcp and 1 + 1 = 3', 'valid', 'a sum of constants after a primitive'],
    ['udp and (tcp[0] & 0) + 1 = 1', 'rejects-all', 'a TCP field, even masked away, needs TCP'],
    ['tcp and (tcp[0] & 0) + 1 = 1', 'valid', 'the same, in TCP'],
    // a zero divisor is an error only where its code can run
    ['tcp and 0 / (1 - 1) = 0', 'invalid', 'a zero divisor that runs'],
    ['tcp and udp and 0 / (1 - 1) = 0', 'rejects-all', 'a zero divisor in code that never runs'],
    ['tcp and udp and tcp[0] / (1 - 1) = 0', 'rejects-all', 'a zero divisor of a field in code that never runs'],
    ['not (tcp and udp and 0 / (1 - 1) = 0)', 'valid', 'the same, negated: every packet, the divisor still dead'],
    // `net 10` is 10.0.0.0/8, not the host 0.0.0.10
    ['src net 10 and src host 10.1.2.3', 'valid', 'a host inside the network'],
    // a mask of 0 in the first block: folded; a service name narrows the port to its protocol
    ['ether[0] & 0 = 1', 'rejects-all', 'nothing masked with 0 is 1'],
    ['len & 0 = 1', 'rejects-all', 'the length masked with 0'],
    ['port http and udp', 'rejects-all', 'http is a tcp service'],
    ['port domain and udp', 'valid', 'domain is tcp and udp'],
    // an IPv4 multicast address is one whose first byte is at least 224
    ['ip multicast and byte 30 < 224', 'rejects-all', 'multicast and below 224'],
    // LLC protocols: NetBEUI is not IPX, which may be an LLC frame too
    ['netbeui and not ipx', 'valid', 'netbeui, not ipx'],
    ['netbeui and not atalk', 'valid', 'netbeui, not atalk'],
    ['netbeui and stp', 'valid', 'two LLC protocols: the optimizer does not tell them apart'],
    ['netbeui and iso', 'rejects-all', 'two LLC protocols read at the same two bytes'],
  ];
  for (const [expr, want, why] of rows) {
    assert.equal(await tcpdumpVerdict(expr), want, `tcpdump -d on ${expr} (${why})`);
    const r = await explainFilter(expr, lookups, false);
    assert.equal(r.verdict, want, `explain on ${expr} (${why}): ${r.verdictMessage ?? ''}`);
  }
});

test('English: flag masks and ICMP types given as computed constants', () => {
  assert.equal(english('tcp[13] & -1 = 0'), 'packets that are IPv4 TCP (first fragments only) with none of the TCP flags FIN, SYN, RST, PSH, ACK, URG, ECE, CWR set');
  assert.equal(english('tcp[13] & 2 != -0'), 'packets that are IPv4 TCP (first fragments only) with the TCP SYN flag set');
  assert.equal(english('icmp[icmptype] = -(-8)'), 'packets that are ICMP echo request (ping) messages (type 8)');
  assert.equal(english('tcp[13] = 18'), 'packets that are IPv4 TCP (first fragments only) whose TCP flags are exactly SYN+ACK');
  assert.equal(english('tcp[13] & 18 = 18'), 'packets that are IPv4 TCP (first fragments only) with all of the TCP flags SYN, ACK set');
  assert.equal(english('tcp[13] & 5 != 0'), 'packets that are IPv4 TCP (first fragments only) with any of the TCP flags FIN, RST set');
});

test('errors a learner reads: the 802.11 primitives, a bare value, addresses under the wrong protocol, MPLS', () => {
  const error = (expr: string) => {
    const r = parseFilter(expr, lookups);
    assert.equal(r.ok, false, `${expr} parsed`);
    return r.ok ? undefined : { message: r.error.message, column: r.error.column, hint: r.error.hint };
  };
  assert.equal(error('dir 1')?.message, 'frame direction supported only with 802.11 headers');
  assert.equal(error('direction 1')?.message, 'frame direction supported only with 802.11 headers');
  assert.equal(error('type mgt subtype beacon')?.message, '802.11 link-layer types supported only on 802.11');
  assert.equal(error('10.0.0.1')?.hint, 'a bare value needs a qualifier: `host 10.0.0.1`, `port 10.0.0.1` or `net 10.0.0.1`.');
  assert.equal(error('tcp 80')?.hint, 'a bare value needs a qualifier: `host 80`, `port 80` or `net 80`.');
  // an 802.11 direction with an address type: the address is judged, at its own column
  assert.deepEqual(error('addr1 host 1:2:3:4:5:6'), { message: 'ethernet address used in non-ether expression', column: 12, hint: 'write `ether host 1:2:3:4:5:6`.' });
  assert.equal(error('addr1 host 10.0.0.1')?.message, "'addr1' and 'address1' are only supported on 802.11 with 802.11 headers");
  assert.equal(error('ip host ::1')?.message, "'ip' applied to an IPv6 address");
  assert.equal(error('ip6 host 10.0.0.1')?.message, "'ip6' applied to an IPv4 address");
  assert.equal(error('tcp host ::1')?.message, "'tcp' cannot qualify a host: hosts and nets belong to ip, ip6, arp or rarp, not to tcp");
  for (const expr of ['mpls and pppoes', 'mpls and pppoed', 'mpls 5 and pppoes 3']) {
    assert.equal(error(expr)?.message, 'unsupported protocol over mpls', expr);
  }
});

test('a field load says whether its size was written (the --json AST)', () => {
  const r = parseFilter('tcp[2:2] = 80 and tcp[13] = 2', lookups);
  assert.ok(r.ok);
  const ast = r.ok ? r.ast : undefined;
  assert.ok(ast?.kind === 'and' && ast.left.kind === 'relation' && ast.right.kind === 'relation');
  const [wide, narrow] = [ast.left.left, ast.right.left];
  assert.ok(wide.kind === 'load' && narrow.kind === 'load');
  assert.deepEqual([wide.size, wide.sizeGiven, narrow.size, narrow.sizeGiven], [2, true, 1, false]);
});

test('options: long ones with = or a separate value, and the values tcpdump would refuse', () => {
  const inline = parseCommand(['tcpdump', '--snapshot-length=96', '-i', 'eth0', 'tcp']);
  assert.deepEqual(inline.options.map((o) => [o.text, o.value]), [['--snapshot-length=96', '96'], ['-i eth0', 'eth0']]);
  assert.equal(inline.filter, 'tcp');
  const separate = parseCommand(['tcpdump', '--interface', 'eth0', '--count', 'tcp']);
  assert.deepEqual(separate.options.map((o) => [o.text, o.name, o.value]), [['--interface eth0', 'i', 'eth0'], ['--count', 'count', undefined]]);
  assert.equal(separate.filter, 'tcp');
  assert.deepEqual(parseCommand(['tcpdump', '--interface']).notes, ['--interface needs a value; tcpdump would refuse to start.']);

  assert.deepEqual(parseCommand(['tcpdump', '-Q', 'in', '-c', '10', '-i', 'eth0']).notes, []);
  assert.deepEqual(parseCommand(['tcpdump', '-Q', 'sideways', '-c', '10', '-i', 'eth0']).notes, ['-Q sideways: the direction must be in, out or inout.']);
  assert.deepEqual(parseCommand(['tcpdump', '-c', '1O', '-s', '96k', '-i', 'eth0']).notes, ['-c 1O: tcpdump expects a number there and would refuse to start.']);
});
