/**
 * `mystery explain`: our pcap-filter parser against the real `tcpdump -d`, the English
 * renderings, the option explanations, the warnings, and the command in-process.
 * Needs tcpdump installed (as here and in CI); `tcpdump -d` itself needs no root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../src/cli/main.js';
import { capturingIo } from '../helpers/io.js';
import { describeFilter, describeParts } from '../../src/explain/english.js';
import { explainCommand, explainFilter, formatReport } from '../../src/explain/index.js';
import { parseCommand, shellSplit } from '../../src/explain/options.js';
import { parseFilter } from '../../src/explain/parser.js';
import { checkWithTcpdump, systemLookups } from '../../src/explain/system.js';
import { warningsFor } from '../../src/explain/warnings.js';

const lookups = systemLookups();

interface Row {
  expr: string;
  valid: boolean;
  /** where our parser must place the error (1-based) */
  column?: number;
  kind?: 'lexical' | 'syntax' | 'semantic';
}

/** Valid and invalid expressions; each verdict is also checked against tcpdump -d. */
const TABLE: Row[] = [
  { expr: 'tcp port 80', valid: true },
  { expr: 'host 10.0.0.1 or 10.0.0.2', valid: true },
  { expr: 'src or dst port 53', valid: true },
  { expr: 'src and dst host 10.1.2.3', valid: true },
  { expr: 'net 10.0.0.0/8', valid: true },
  { expr: 'net 10.0 mask 255.255.0.0', valid: true },
  { expr: 'dst net 192.168.0.0/16 and not src net 192.168.0.0/16', valid: true },
  { expr: 'portrange 8000-8080', valid: true },
  { expr: 'udp dst portrange 1024-2048', valid: true },
  { expr: 'port http or https', valid: true },
  { expr: 'tcp[13] & 2 != 0', valid: true },
  { expr: 'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn', valid: true },
  { expr: 'ip[2:2] > 576', valid: true },
  { expr: 'icmp[icmptype] == icmp-echo', valid: true },
  { expr: 'ip[2:2] - ((ip[0]&0xf)<<2) - ((tcp[12]&0xf0)>>2) != 0', valid: true },
  { expr: 'greater 1000 and less 1500', valid: true },
  { expr: 'len >= 1500', valid: true },
  { expr: 'vlan 100 and host 10.0.0.1', valid: true },
  { expr: 'ether host aa:bb:cc:dd:ee:ff', valid: true },
  { expr: 'broadcast or multicast', valid: true },
  { expr: 'ip6 and not icmp6', valid: true },
  { expr: 'host ::1', valid: true },
  { expr: 'tcp && port 80 || udp', valid: true },
  { expr: '! (port 22 or port 80)', valid: true },
  { expr: 'port 80 and (tcp) and 443', valid: true },
  { expr: 'host (10.0.0.1 or 10.0.0.2) and not 10.0.0.3', valid: true },
  { expr: 'ip proto \\tcp', valid: true },
  { expr: 'ether proto 0x806', valid: true },
  { expr: 'host localhost and tcp', valid: true },
  { expr: 'TCP port 80', valid: false, column: 1, kind: 'syntax' },
  { expr: 'tcp port 80 and', valid: false, column: 16, kind: 'syntax' },
  { expr: '(tcp or udp', valid: false, column: 12, kind: 'syntax' },
  { expr: 'tcp[13] & 2', valid: false, column: 12, kind: 'syntax' },
  { expr: 'host', valid: false, column: 5, kind: 'syntax' },
  { expr: 'port 80 80', valid: false, column: 9, kind: 'syntax' },
  { expr: 'ip proto tcp', valid: false, column: 10, kind: 'syntax' },
  { expr: 'host ta', valid: false, column: 6, kind: 'syntax' },
  { expr: 'tcp port 80 #comment', valid: false, column: 13, kind: 'lexical' },
  { expr: 'port 08', valid: false, column: 6, kind: 'lexical' },
  { expr: 'port 99999', valid: false, column: 6, kind: 'semantic' },
  { expr: 'port 1000-2000', valid: false, column: 6, kind: 'semantic' },
  { expr: 'udp port http', valid: false, column: 10, kind: 'semantic' },
  { expr: 'tcp or 80', valid: false, column: 8, kind: 'semantic' },
  { expr: 'less 100 or 200', valid: false, column: 13, kind: 'semantic' },
  { expr: '(port 80) and 443', valid: false, column: 15, kind: 'semantic' },
  { expr: 'tcp host 10.0.0.1', valid: false, column: 1, kind: 'semantic' },
  { expr: 'ip port 80', valid: false, column: 1, kind: 'semantic' },
  { expr: 'ether host 10.0.0.1', valid: false, column: 1, kind: 'semantic' },
  { expr: 'net 10.0.0.1/8', valid: false, column: 5, kind: 'semantic' },
  { expr: 'src 10.0.0.0/8', valid: false, column: 5, kind: 'semantic' },
  { expr: 'host 256.1.1.1', valid: false, column: 6, kind: 'semantic' },
  { expr: 'ip[2:3] > 5', valid: false, column: 1, kind: 'semantic' },
  { expr: 'vlan 4096', valid: false, column: 1, kind: 'semantic' },
  { expr: 'tcp[0] / 0 > 1', valid: false, column: 1, kind: 'semantic' },
  { expr: 'tcp broadcast', valid: false, column: 1, kind: 'semantic' },
];

test('the table has at least 30 expressions, valid and invalid', () => {
  assert.ok(TABLE.length >= 30);
  assert.ok(TABLE.filter((r) => r.valid).length >= 10);
  assert.ok(TABLE.filter((r) => !r.valid).length >= 10);
});

for (const row of TABLE) {
  test(`${row.valid ? 'valid' : 'invalid'}: ${row.expr}`, async () => {
    const parsed = parseFilter(row.expr, lookups);
    assert.equal(parsed.ok, row.valid, parsed.ok ? 'our parser accepts it' : `our parser rejects it: ${parsed.error.message}`);
    if (!parsed.ok) {
      if (row.column !== undefined) assert.equal(parsed.error.column, row.column, parsed.error.message);
      if (row.kind) assert.equal(parsed.error.kind, row.kind);
    }
    const tcpdump = await checkWithTcpdump(row.expr);
    assert.ok(tcpdump.ran, `tcpdump could not be run: ${tcpdump.message}`);
    assert.equal(tcpdump.accepted, row.valid, `tcpdump -d says: ${tcpdump.message ?? 'accepted'}`);
  });
}

test('a syntax error says where and what was expected', () => {
  const r = parseFilter('tcp port 80 and');
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.error.column, 16);
  assert.match(r.error.message, /^expected a primitive .* found the end of the expression$/);
  assert.match(r.error.hint ?? '', /ends with `and`/);

  const unclosed = parseFilter('(tcp or udp');
  assert.ok(!unclosed.ok && unclosed.error.expected?.includes('`)`'));
});

test('English: whole filters in one sentence', () => {
  const english = (expr: string) => {
    const r = parseFilter(expr, lookups);
    assert.ok(r.ok, expr);
    return describeFilter(r.ok ? r.ast : null, { lookups });
  };
  assert.equal(english('tcp port 3000'), 'packets to or from port 3000 over TCP');
  assert.equal(english('src host 10.0.0.5'), 'packets from host 10.0.0.5');
  assert.equal(english('dst port http'), 'packets to port http (80) (TCP, UDP or SCTP)');
  assert.equal(english('net 10.0.0.0/8'), 'packets to or from network 10.0.0.0/8 (10.0.0.0 to 10.255.255.255)');
  assert.equal(english('tcp[13] & 2 != 0'), 'packets that are IPv4 TCP (first fragments only) with the TCP SYN flag set');
  assert.equal(
    english('tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn'),
    'packets that are IPv4 TCP (first fragments only) with the TCP flag SYN set and ACK not set (of SYN, ACK)',
  );
  assert.equal(english('icmp[icmptype] == icmp-echo'), 'packets that are ICMP echo request (ping) messages (type 8)');
  assert.equal(english('ip[2:2] > 576'), "packets that are IPv4 and where the IPv4 header's total length (the 2 bytes at offset 2, bytes 16-17 of the frame) is greater than 576");
  assert.equal(english('greater 1000'), 'packets at least 1000 bytes long');
  assert.equal(english('not port 22 and tcp'), 'packets not to or from port 22 (TCP, UDP or SCTP) and that are TCP');
  assert.equal(english('port 80 or 443'), 'packets to or from port 80 (TCP, UDP or SCTP) or to or from port 443 (TCP, UDP or SCTP)');
  assert.equal(english('tcp[20:4] = 0x47455420'), 'packets that are IPv4 TCP (first fragments only) and where the 4 bytes at offset 20 of the TCP header (counted from the end of the IPv4 header) equals 0x47455420 (the text "GET ")');
  assert.equal(english('not tcp and tcp[13] & 4 = 0'), 'packets that are not TCP and that are IPv4 TCP (first fragments only) with the TCP RST flag not set');
  assert.equal(english('src and dst net 10.1'), 'packets both from and to network 10.1 (10.1.0.0 to 10.1.255.255)');
  assert.equal(describeFilter(null), 'every packet (there is no filter)');
});

test("English: the issue's wrong sentences, right (each as libpcap compiles it)", () => {
  const english = (expr: string) => {
    const r = parseFilter(expr, lookups);
    assert.ok(r.ok, expr);
    return describeFilter(r.ok ? r.ast : null, { lookups });
  };
  // `!=` on an ICMP field matches ICMP messages only, never other packets
  const notEcho = english('icmp[icmptype] != icmp-echo and icmp[icmptype] != icmp-echoreply');
  assert.equal(
    notEcho,
    'packets that are ICMP messages other than echo request (ping) (type is not 8; packets that are not ICMP do not match) and that are ICMP messages other than echo reply (ping answer) (type is not 0; packets that are not ICMP do not match)',
  );
  assert.doesNotMatch(notEcho, /packets that are not ICMP (echo|messages)/);
  // `byte` reads the frame from its first byte (tcpdump -d: ldb [8]), not the IP header
  assert.equal(english('byte 8 = 5'), 'packets whose byte 8 of the frame (counted from the first byte of the link-layer header) equals 5');
  assert.equal(english('byte 8 == 5'), english('byte 8 = 5'));
  // an NLPID in an LLC frame and an IS-IS PDU type, not IP protocols
  assert.equal(english('iso proto 0x81'), 'packets that are OSI frames (802.2 LLC, SAP 0xFE) whose network-layer protocol ID (NLPID) is 0x81 (CLNP)');
  assert.equal(english('iso proto \\clnp'), english('iso proto 0x81'));
  assert.equal(english('isis proto 0x12'), 'packets that are IS-IS PDUs of type 18 (0x12: level 1 LSP)');
  assert.doesNotMatch(english('isis proto 0x12') + english('iso proto 0x81'), /\bIP/);
  // a range written backwards: libpcap swaps its ends
  assert.equal(english('portrange 90-80'), 'packets to or from a port in the range 80 to 90 (libpcap swaps the ends written as 90-80) (TCP, UDP or SCTP)');
  assert.equal(english('portrange 80-90'), 'packets to or from a port in the range 80 to 90 (TCP, UDP or SCTP)');
  // every keyword has a meaning: the IS-IS PDU kinds, LLC frame types, ether[] from the frame's start
  assert.equal(english('l1'), 'packets that are IS-IS level 1 PDUs (hello, LSP, CSNP or PSNP of level 1)');
  assert.equal(english('lsp'), 'packets that are IS-IS link-state PDUs (LSP, level 1 or 2)');
  assert.equal(english('iih'), 'packets that are IS-IS hello PDUs (IIH: LAN level 1 or 2, or point-to-point)');
  for (const kw of ['l2', 'snp', 'csnp', 'psnp', 'iso', 'esis', 'isis', 'clnp', 'stp', 'netbeui', 'ipx']) assert.doesNotMatch(english(kw), new RegExp(`that are ${kw}$`), kw);
  assert.equal(english('llc ui'), 'packets that are 802.2 LLC frames of type UI (unnumbered information)');
  assert.equal(english('ether[12:2] = 0x800'), "packets where the link-layer (Ethernet) header's EtherType (the 2 bytes at offset 12, bytes 12-13 of the frame) equals 0x800");
  assert.equal(english('ip6[6] = 6'), "packets that are IPv6 and where the IPv6 header's next header (the byte at offset 6, byte 20 of the frame) equals 6");
});

test("explain's verdicts of the issue: as tcpdump -d gives them, on Ethernet", async () => {
  const verdict = async (expr: string) => (await explainFilter(expr, lookups, false)).verdict;
  // refused on Ethernet: 802.11 qualifiers, ARCnet addresses, names that do not resolve
  for (const expr of ['wlan addr1 1:2:3:4:5:6', 'wlan ra 1:2:3:4:5:6', 'ta 1:2:3:4:5:6', 'type mgt', 'host $3f', 'host no..such', 'net no..such', 'ip proto \\nosuch', 'port nosuchsvc']) {
    assert.equal(await verdict(expr), 'invalid', expr);
  }
  // valid but matching nothing: the optimizer's verdict
  for (const expr of ['tcp and udp', 'ip and ip6', 'src port 1 and src port 2', 'port 1 and port 2 and port 3', '1 = 2']) assert.equal(await verdict(expr), 'rejects-all', expr);
  for (const expr of ['tcp or udp', 'port 1 and port 2', 'vlan and ip', 'stp and ip', 'tcp[13] & 0 != 0']) assert.equal(await verdict(expr), 'valid', expr);
  // accepted: DECnet addresses, byte ==, ISO protocol names, LLC frame types
  for (const expr of ['decnet src 10.23', 'byte 8 == 5', 'iso proto \\clnp', 'llc i', 'llc s', 'llc rnr', 'wlan host 1:2:3:4:5:6']) assert.equal(await verdict(expr), 'valid', expr);
  // keywords are lower case for this libpcap (1.10): tcpdump -d refuses `TCP` and `Host`
  for (const expr of ['TCP', 'Host 10.0.0.1']) assert.equal(await verdict(expr), 'invalid', expr);
  // other link types: named as not covered
  const other = await explainFilter('type mgt', lookups, false, { linkType: 'IEEE802_11' });
  assert.equal(other.verdict, 'not-covered');
  assert.match(other.verdictMessage!, /covers Ethernet \(EN10MB\) only, not -y IEEE802_11/);
});

test('English: a value without a qualifier borrows it from the primitive before', () => {
  const expr = 'host 10.0.0.1 or 10.0.0.2';
  const r = parseFilter(expr);
  assert.ok(r.ok);
  const parts = describeParts(r.ok ? r.ast : null, expr);
  assert.deepEqual(parts.map((p) => p.text), ['host 10.0.0.1', '10.0.0.2']);
  assert.equal(parts[1]!.meaning, 'to or from host 10.0.0.2 (it has no qualifier of its own, so it borrows `host` from the primitive before it)');
});

test('and/or have one precedence: the explanation says how it groups', async () => {
  const report = await explainFilter('host 10.0.0.1 or port 80 and tcp', lookups, false);
  assert.ok(report.notes.some((n) => n.includes('`(host 10.0.0.1 or port 80) and tcp`')), report.notes.join('\n'));
});

test('options: clusters, counts, values, options after the expression, unknown ones', () => {
  const cmd = parseCommand(['sudo', 'tcpdump', '-nnvvXS', '-c', '10', '-i', 'eth0', 'tcp', 'port', '80', '-w', 'out.pcap', '--bogus', '-k']);
  assert.deepEqual(cmd.prefix, ['sudo', 'tcpdump']);
  assert.deepEqual(
    cmd.options.map((o) => o.text),
    ['-nn', '-vv', '-X', '-S', '-c 10', '-i eth0', '-w out.pcap'],
  );
  assert.equal(cmd.filter, 'tcp port 80');
  assert.deepEqual(cmd.unknownOptions, ['--bogus', '-k']);
  const meaning = (name: string) => cmd.options.find((o) => o.name === name)?.meaning;
  assert.equal(meaning('c'), 'stop after 10 packets');
  assert.equal(meaning('i'), 'capture on the interface eth0');
  assert.match(meaning('n')!, /host addresses or port numbers/);
  assert.equal(meaning('v'), 'more verbose');

  const t = parseCommand(['tcpdump', '-tttt', '-s96', '--list-interfaces', '-#', '--', '-1', '<', '2']);
  assert.deepEqual(t.options.map((o) => [o.name, o.count, o.value]), [['t', 4, undefined], ['s', 1, '96'], ['D', 1, undefined], ['#', 1, undefined]]);
  assert.equal(t.options[0]!.meaning, 'print the date and time');
  assert.equal(t.filter, '-1 < 2');

  const timed = parseCommand(['sudo', 'timeout', '3', 'tcpdump', '-nq', '-i', 'veth1', 'tcp port 3000']);
  assert.equal(timed.timeout, '3');
  assert.equal(timed.filter, 'tcp port 3000');
});

test('shell splitting: quotes and backslashes, never a shell; plumbing and unquoted specials noticed', () => {
  assert.deepEqual(shellSplit(`tcpdump -i eth0 'tcp port 80' "and not host \\"x\\"" a\\ b`).words, ['tcpdump', '-i', 'eth0', 'tcp port 80', 'and not host "x"', 'a b']);
  const piped = shellSplit('tcpdump -l -i eth0 port 80 | grep GET');
  assert.deepEqual(piped.words, ['tcpdump', '-l', '-i', 'eth0', 'port', '80']);
  assert.equal(piped.tail, '| grep GET');
  assert.deepEqual(shellSplit('tcpdump tcp[13]&2!=0').unquotedSpecials.sort(), ['!', '&', '[', ']']);
  assert.throws(() => shellSplit("tcpdump 'port 80"), /unterminated single quote at column 9/);
});

test('warnings: the seed disclaimer, applied to a command', async () => {
  const codes = async (line: string) => (await explainCommand(line, { lookups, tcpdump: false })).warnings.map((w) => w.code).sort();
  assert.deepEqual(await codes('tcpdump -i eth0 port 3000'), ['no-limit', 'own-terminal']);
  assert.deepEqual(await codes('tcpdump -c 100 -i eth0 port 3000 and not port 22'), []);
  assert.deepEqual(await codes('tcpdump -c 100 -i eth0 port 22'), ['own-terminal']);
  assert.deepEqual(await codes('tcpdump -i veth1 -w cap.pcap tcp'), ['no-limit', 'write-unbounded']);
  assert.deepEqual(await codes('tcpdump -i veth1 -w cap.pcap -C 10 -W 5 tcp'), ['no-limit']);
  assert.deepEqual(await codes('tcpdump -i veth1 -w cap.pcap -C 10 tcp'), ['no-limit', 'rotate-unbounded']);
  assert.deepEqual(await codes('tcpdump -A -c 50 -i veth1 port 80'), ['payload-unbounded']);
  assert.deepEqual(await codes('tcpdump -A -s 200 -c 50 -i veth1 port 80'), []);
  assert.deepEqual(await codes('tcpdump -c 10 -i any port 3000'), ['any-interface', 'own-terminal']);
  assert.deepEqual(await codes('timeout 5 tcpdump -i veth1'), ['no-filter']);
  assert.deepEqual(await codes('tcpdump -c 5 port 3000 and not port ssh'), ['default-interface']);
  assert.deepEqual(await codes('tcpdump -r cap.pcap -A'), []);
  assert.deepEqual(await codes('tcpdump -D'), []);
  assert.deepEqual(await codes('tcpdump -c 5 -i veth1 -Y2 tcp'), ['unknown-option']);
  assert.deepEqual(await codes('tcpdump -c 5 -i veth1 tcp[13]&2!=0'), ['shell-quoting']);

  const ssh = warningsFor(parseCommand(['tcpdump', '-c', '5', '-i', 'eth0']), { ast: null, overSsh: true });
  assert.match(ssh.find((w) => w.code === 'own-terminal')!.message, /You are logged in over ssh/);
});

test('report: a name libpcap cannot resolve is explain\'s verdict too; where tcpdump differs, it says so and tcpdump wins', async () => {
  // `..` makes the resolver fail at once, without a DNS query leaving the machine
  const rejected = await explainFilter('host nosuch..invalid', lookups);
  assert.equal(rejected.verdict, 'invalid');
  assert.equal(rejected.verdictMessage, "unknown host 'nosuch..invalid'");
  assert.equal(rejected.tcpdump.accepted, false);
  assert.equal(rejected.agreement, 'agree');
  assert.equal(rejected.valid, false);

  // a stand-in tcpdump that accepts what explain rejects
  const lenient = await explainFilter('tcp or 80', lookups, async () => ({ ran: true, accepted: true }));
  assert.equal(lenient.agreement, 'disagree');
  assert.equal(lenient.final, 'valid');
  assert.equal(lenient.valid, true);
  const text = formatReport({ command: 'tcp or 80', prefix: [], options: [], unknownOptions: [], filter: lenient, notes: [], warnings: [] });
  assert.match(text, /explain's verdict differs: tcpdump is the authority/);
});

test('mystery explain: a valid command exits 0 and explains it', async () => {
  const io = capturingIo();
  const code = await main(['explain', "sudo tcpdump -nn -i eth0 -c 100 'tcp port 3000'"], io);
  assert.equal(code, 0, io.stderr);
  assert.match(io.stdout, /^sudo tcpdump -nn -i eth0 -c 100 'tcp port 3000'$/m);
  assert.match(io.stdout, /-c 100 +stop after 100 packets/);
  assert.match(io.stdout, /means: packets to or from port 3000 over TCP/);
  assert.match(io.stdout, /tcpdump -d: accepts it/);
  assert.match(io.stdout, /own terminal's traffic/);
  assert.equal(io.stderr, '');
});

test('mystery explain: words after -- work too, and options after the first word are tcpdump\'s', async () => {
  const io = capturingIo();
  assert.equal(await main(['explain', '--', 'tcpdump', '-A', '-i', 'any', 'port', '80'], io), 0, io.stderr);
  assert.match(io.stdout, /-i any +capture on every interface at once/);
  const io2 = capturingIo();
  assert.equal(await main(['explain', 'tcpdump', '-q', '-c', '3', 'udp'], io2), 0, io2.stderr);
  assert.match(io2.stdout, /-q +quiet/);
});

test('mystery explain: an invalid filter exits 2 and names the column', async () => {
  const io = capturingIo();
  const code = await main(['explain', "tcpdump -i eth0 'tcp port 80 and'"], io);
  assert.equal(code, 2);
  assert.match(io.stdout, /^ {2}tcp port 80 and\n {17}\^ column 16$/m);
  assert.match(io.stderr, /error: the filter is invalid at column 16: expected a primitive/);
  assert.match(io.stderr, /tcpdump: can't parse filter expression: syntax error/);
});

test('mystery explain: a name that does not resolve is an error, with the column of the name', async () => {
  const io = capturingIo();
  assert.equal(await main(['explain', "tcpdump -c 5 -i veth0 'port 80 and host nosuch..invalid'"], io), 2);
  assert.match(io.stdout, /verdict: invalid: unknown host 'nosuch\.\.invalid'/);
  assert.match(io.stdout, /tcpdump -d: rejects it: unknown host 'nosuch\.\.invalid'$/m);
  assert.match(io.stderr, /error: the filter is invalid at column 18: unknown host 'nosuch\.\.invalid' \(tcpdump: unknown host 'nosuch\.\.invalid'\)/);
  // a lab host's name is what a learner tries: the fix says to use its address
  assert.match(io.stderr, /the lab's hosts have no names here: use the address `mystery ps` gives/);
});

test('mystery explain --json: machine-readable, with the AST', async () => {
  const io = capturingIo();
  assert.equal(await main(['explain', '--json', 'tcpdump -c 5 -i veth1 host 10.0.0.1 or 10.0.0.2'], io), 0, io.stderr);
  const report = JSON.parse(io.stdout);
  assert.equal(report.filter.expression, 'host 10.0.0.1 or 10.0.0.2');
  assert.equal(report.filter.parser, 'valid');
  assert.equal(report.filter.tcpdump.accepted, true);
  assert.equal(report.filter.agreement, 'agree');
  assert.equal(report.filter.ast.kind, 'or');
  assert.equal(report.filter.ast.right.value.text, '10.0.0.2');
  assert.equal(report.filter.ast.right.carried, true);
  assert.deepEqual(report.options.map((o: { name: string }) => o.name), ['c', 'i']);

  const bad = capturingIo();
  assert.equal(await main(['explain', '--json', 'port 99999'], bad), 2);
  assert.equal(JSON.parse(bad.stdout).filter.error.column, 6);
});

test('mystery explain: -y of a link type tcpdump does not know is a usage error that says so', async () => {
  const io = capturingIo();
  assert.equal(await main(['explain', 'tcpdump -y NOSUCHDLT -c 5 -i eth0 tcp'], io), 2);
  assert.match(io.stdout, /verdict: not covered: explain covers Ethernet \(EN10MB\) only, not -y NOSUCHDLT/);
  assert.match(io.stderr, /error: tcpdump does not know the link type of -y NOSUCHDLT: invalid data link type NOSUCHDLT\n {2}`tcpdump -L -i IFACE` lists/);
});

test('mystery explain: an unterminated quote is a usage error', async () => {
  const io = capturingIo();
  assert.equal(await main(['explain', "tcpdump 'port 80"], io), 2);
  assert.match(io.stderr, /cannot read the command: unterminated single quote/);
});

/** Each filter's verdict, as tcpdump -d gives it and as explain does: both the one written beside it. */
async function sameVerdicts(rows: Array<[string, 'valid' | 'invalid' | 'rejects-all']>, lookups: ReturnType<typeof systemLookups>): Promise<void> {
  for (const [expr, want] of rows) {
    const r = await explainFilter(expr, lookups, false);
    const tcpdump = await checkWithTcpdump(expr);
    const theirs = tcpdump.accepted ? 'valid' : tcpdump.message === 'expression rejects all packets' ? 'rejects-all' : 'invalid';
    assert.equal(theirs, want, `tcpdump -d on ${expr}: ${tcpdump.message ?? 'accepted'}`);
    assert.equal(r.verdict, want, `explain on ${expr}: ${r.verdictMessage ?? ''}`);
  }
}

test('a one-port portrange is two comparisons to libpcap, never `port N`; `decnet net NAME` takes the name from /etc/networks: explain says what tcpdump -d says', async () => {
  const lookups = systemLookups();
  const rows: Array<[string, 'valid' | 'invalid' | 'rejects-all']> = [
    // the optimizer folds a range only against the same comparisons
    ['dst portrange 80 and !port 80', 'valid'],
    ['src and dst portrange 80 and 443', 'valid'],
    ['dst port 80 and !dst port 80', 'rejects-all'],
    ['dst portrange 80-90 and !dst portrange 80-90', 'rejects-all'],
    ['decnet net loopback', 'valid'],
    ['decnet src and dst net loopback', 'valid'],
    ['decnet host loopback', 'invalid'],
    ['decnet net no-such-network-here', 'invalid'],
  ];
  await sameVerdicts(rows, lookups);
});

test("Linux's loads (ifindex, inbound, outbound), PPP's protocol numbers after pppoes, and a right side that folds to a number: explain says what tcpdump -d says", async () => {
  const lookups = systemLookups();
  const rows: Array<[string, 'valid' | 'invalid' | 'rejects-all']> = [
    // one load each (ld [ifidx], ldh [type]): two values of one load contradict
    ['ifindex 9 and ifindex 1', 'rejects-all'],
    ['ifindex 9 and portrange http-https and ifindex 1', 'rejects-all'],
    ['ifindex 9 or ifindex 1', 'valid'],
    ['inbound and outbound', 'rejects-all'],
    ['not inbound and not outbound', 'rejects-all'],
    ['outbound and ifindex 2 and not ifindex 3', 'valid'],
    // after pppoes the link is PPP: LLC protocols and EtherTypes become PPP protocol numbers
    ['pppoes and netbeui and tcp', 'rejects-all'],
    ['pppoes and stp and ip', 'rejects-all'],
    ['pppoes and arp and ip6', 'rejects-all'],
    ['pppoes and atalk and ip', 'rejects-all'],
    ['pppoes and clnp and ip', 'rejects-all'],
    ['pppoes and arp', 'valid'],
    ['pppoes and clnp', 'valid'],
    ['pppoes and (ipx or ip)', 'valid'],
    // `lat[12] * 0 | 1` folds to 1, and still loads lat[12]: the frame must be LAT and IP at once
    ['sctp[0] = lat[12] * 0 | 1', 'rejects-all'],
    ['sctp[0] = sctp[12] * 0 | 1', 'valid'],
  ];
  await sameVerdicts(rows, lookups);
});
