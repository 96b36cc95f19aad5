/** Reading and judging the learner's captures, without root: tcpdump's lines, formats, whose capture it is. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { captureFormat, captureOwner, parseLine, summarize, type Packet } from '../../src/core/capture.js';
import { judgeCapture } from '../../src/core/evidence.js';
import type { CaseDraw, RunView } from '../../src/cases/case.js';

test('tcpdump -r lines become packets: plain, on `any`, non-IP', () => {
  assert.deepEqual(parseLine('1764760000.123456 IP 10.200.7.5.45678 > 10.200.7.2.3000: Flags [S], seq 1, win 64240, length 0'), {
    ts: 1764760000.123456, src: '10.200.7.5', sport: 45678, dst: '10.200.7.2', dport: 3000, flags: 'S', text: 'Flags [S], seq 1, win 64240, length 0',
  });
  const any = parseLine('1764760000.5 veth1a2b3c4 Out IP 10.200.7.2.3000 > 10.200.7.5.45678: Flags [P.], seq 1:100, length 99');
  assert.equal(any?.src, '10.200.7.2');
  assert.equal(any?.flags, 'P.');
  const udp = parseLine('1.5 IP 10.0.0.1.53 > 10.0.0.2.40000: 1234 NXDomain 0/0/0 (40)');
  assert.equal(udp?.dport, 40000);
  const arp = parseLine('1.25 ARP, Request who-has 10.200.7.9 tell 10.200.7.5, length 28');
  assert.deepEqual(arp, { ts: 1.25, text: 'ARP, Request who-has 10.200.7.9 tell 10.200.7.5, length 28' });
  assert.equal(parseLine('tcpdump: truncated dump file'), undefined);
});

test('captures are known by their first four bytes, in either byte order', () => {
  const be = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
  assert.equal(captureFormat(be(0xa1b2c3d4)), 'pcap');
  assert.equal(captureFormat(be(0xd4c3b2a1)), 'pcap');
  assert.equal(captureFormat(be(0xa1b23c4d)), 'pcap');
  assert.equal(captureFormat(be(0x4d3cb2a1)), 'pcap');
  assert.equal(captureFormat(be(0x0a0d0d0a)), 'pcapng');
  assert.equal(captureFormat(Buffer.from('GET ')), undefined);
});

const hosts = [
  { name: 'webserver', id: 'a'.repeat(12), ip: '10.0.0.2', veth: 'vethaaaaaaa' },
  { name: 'app1', id: 'b'.repeat(12), ip: '10.0.0.3', veth: 'vethbbbbbbb' },
  { name: 'app2', id: 'c'.repeat(12), ip: '10.0.0.4', veth: 'vethccccccc' },
];
const draw: CaseDraw = { hosts: [{ name: 'webserver', role: 'server', program: 'webserver', config: { port: 3000, workers: 1, holdMs: 10, maxQueue: 2000 } }, { name: 'app1', role: 'suspect', program: 'client', config: { target: 'http://webserver:3000/', jobs: [] } }, { name: 'app2', role: 'suspect', program: 'client', config: { target: 'http://webserver:3000/', jobs: [] } }], culprit: 'app1' };
const view: RunView = { lab: 'x', port: 3000, backend: 'netns', cli: 'mystery', hosts, bridge: 'br-000000000000', draw };
const flow = (from: string, n: number, t0 = 0): Packet[] =>
  Array.from({ length: n }, (_, i) => ({ ts: t0 + i * 0.01, src: from, sport: 40000 + i, dst: '10.0.0.2', dport: 3000, flags: 'P.', text: 'Flags [P.], length 80' }));

test('the culprit\'s own veth proves the case; too little of it, an innocent\'s, the webserver\'s or a mix does not', () => {
  const proves = judgeCapture(summarize(flow('10.0.0.3', 40)), view, draw);
  assert.equal(proves.proves, true);
  assert.match(proves.says, /^40 packets from 10\.0\.0\.3 in 0\.4 s \(40 with a payload to port 3000\), captured on vethbbbbbbb, app1's\.$/);
  const short = judgeCapture(summarize(flow('10.0.0.3', 5)), view, draw);
  assert.equal(short.proves, false, 'too little of it proves nothing yet');
  assert.match(short.says, /only 5 of its packets .* capture for longer/);
  const innocent = judgeCapture(summarize(flow('10.0.0.4', 40)), view, draw);
  assert.equal(innocent.proves, false);
  assert.match(innocent.says, /only app2's traffic .* it is innocent/);
  // both suspects' requests, all to the webserver: its veth or the bridge
  const web = judgeCapture(summarize([...flow('10.0.0.3', 30), ...flow('10.0.0.4', 30)]), view, draw);
  assert.match(web.says, /traffic to and from webserver/);
  // traffic between two suspects too: a bridge
  const between: Packet = { ts: 1, src: '10.0.0.3', dst: '10.0.0.4', text: 'x' };
  const mixed = judgeCapture(summarize([...flow('10.0.0.3', 30), ...flow('10.0.0.4', 30), between, { ...between, src: '10.0.0.4', dst: '10.0.0.3' }]), view, draw);
  assert.match(mixed.says, /traffic of 2 hosts/);
  assert.match(judgeCapture(summarize([{ ts: 0, text: 'ARP' }]), view, draw).says, /no IPv4 packet/);
});

test('a host owns a capture only if it is in every packet but one in two hundred', () => {
  const hs = hosts.map((h) => ({ ...h, role: h.name === 'webserver' ? 'server' : 'suspect' }));
  const stray = (n: number): Packet[] => Array.from({ length: n }, () => ({ ts: 0, src: '10.0.0.4', dst: '10.0.0.9', text: '' }));
  assert.equal(captureOwner(summarize([...flow('10.0.0.3', 199), ...stray(1)]), hs), 'app1');
  assert.equal(captureOwner(summarize([...flow('10.0.0.3', 190), ...stray(10)]), hs), undefined);
});

test('a router at fault: no capture of one interface is called evidence, and the verdict says to compare both sides', () => {
  const routed: CaseDraw = { ...draw, hosts: [...draw.hosts, { name: 'r1', role: 'router', program: 'idle', config: {} }], culprit: 'r1' };
  const v: RunView = { ...view, hosts: [...hosts, { name: 'r1', id: 'd'.repeat(12), ip: '10.0.0.254', veth: 'vethddddddd' }], draw: routed };
  for (const packets of [flow('10.0.0.254', 40), flow('10.0.0.3', 40), [...flow('10.0.0.3', 30), ...flow('10.0.0.4', 30)]]) {
    const verdict = judgeCapture(summarize(packets), v, routed);
    assert.equal(verdict.proves, false);
    assert.match(verdict.says, /fault is in a router.*Capture on both sides of each router.*`mystery map`/);
  }
  // a suspect at fault is judged as before
  assert.equal(judgeCapture(summarize(flow('10.0.0.3', 40)), { ...v, draw: { ...routed, culprit: 'app1' } }, { ...routed, culprit: 'app1' }).proves, true);
});
