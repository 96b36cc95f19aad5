/**
 * pcap to pcapng, for the tests: tcpdump writes only pcap, and tshark is not on every
 * machine. A Section Header Block, one Interface Description Block (with its name), then one
 * Enhanced Packet Block per packet. The real `tcpdump -r` reads the result, which is the test.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const pad4 = (n: number): number => (n + 3) & ~3;

function block(type: number, body: Buffer): Buffer {
  const total = 12 + pad4(body.length);
  const b = Buffer.alloc(total);
  b.writeUInt32LE(type, 0);
  b.writeUInt32LE(total, 4);
  body.copy(b, 8);
  b.writeUInt32LE(total, total - 4);
  return b;
}

export function pcapToPcapng(pcapFile: string, outFile: string, ifname: string): number {
  const p = readFileSync(pcapFile);
  const magic = p.readUInt32LE(0);
  if (magic !== 0xa1b2c3d4 && magic !== 0xa1b23c4d) throw new Error('a little-endian pcap is expected');
  const nano = magic === 0xa1b23c4d;
  const linktype = p.readUInt32LE(20);
  const snaplen = p.readUInt32LE(16);
  const shb = Buffer.alloc(16);
  shb.writeUInt32LE(0x1a2b3c4d, 0);
  shb.writeUInt16LE(1, 4);
  shb.writeUInt16LE(0, 6);
  shb.writeBigInt64LE(-1n, 8);
  // IDB: linktype, reserved, snaplen, options: if_name (2), if_tsresol (9), end (0)
  const name = Buffer.from(ifname);
  const opts = Buffer.alloc(4 + pad4(name.length) + 4 + 4 + 4);
  let o = 0;
  opts.writeUInt16LE(2, o);
  opts.writeUInt16LE(name.length, o + 2);
  name.copy(opts, o + 4);
  o += 4 + pad4(name.length);
  opts.writeUInt16LE(9, o);
  opts.writeUInt16LE(1, o + 2);
  opts.writeUInt8(nano ? 9 : 6, o + 4);
  o += 8;
  opts.writeUInt32LE(0, o);
  const idb = Buffer.concat([Buffer.from([linktype & 0xff, linktype >> 8, 0, 0]), Buffer.alloc(4), opts]);
  idb.writeUInt32LE(snaplen, 4);
  const out: Buffer[] = [block(0x0a0d0d0a, shb), block(1, idb)];
  let at = 24;
  let n = 0;
  while (at + 16 <= p.length) {
    const sec = p.readUInt32LE(at);
    const frac = p.readUInt32LE(at + 4);
    const caplen = p.readUInt32LE(at + 8);
    const len = p.readUInt32LE(at + 12);
    if (at + 16 + caplen > p.length) break;
    const ts = BigInt(sec) * (nano ? 1_000_000_000n : 1_000_000n) + BigInt(frac);
    const body = Buffer.alloc(20 + pad4(caplen));
    body.writeUInt32LE(0, 0);
    body.writeUInt32LE(Number(ts >> 32n), 4);
    body.writeUInt32LE(Number(ts & 0xffffffffn), 8);
    body.writeUInt32LE(caplen, 12);
    body.writeUInt32LE(len, 16);
    p.copy(body, 20, at + 16, at + 16 + caplen);
    out.push(block(6, body));
    at += 16 + caplen;
    n++;
  }
  writeFileSync(outFile, Buffer.concat(out));
  return n;
}
