/**
 * The lab's little DNS (src/services/dns.ts): the client's queries, the resolver's parsing
 * and answers, base32 and the tunnel's names. Pure functions over buffers, no network.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { answer, base32, encodeName, encodeQuery, formErr, parseQuery, tunnelName, RCODE_FORMERR, RCODE_NOERROR, RCODE_NOTIMP, RCODE_NXDOMAIN, TYPE_A } from '../../src/services/dns.js';

const zone = { zone: 'lab', address: '10.200.9.4' };

/** The header and the A records of a reply, read by hand. */
function readReply(b: Buffer): { id: number; qr: boolean; aa: boolean; rd: boolean; rcode: number; qd: number; an: number; addresses: string[] } {
  const flags = b.readUInt16BE(2);
  const an = b.readUInt16BE(6);
  const addresses: string[] = [];
  if (an) {
    const q = parseQuery(Buffer.concat([b.subarray(0, 2), Buffer.from([0, 0]), b.subarray(4)]))!; // as a query, to find the question's end
    const rr = b.subarray(12 + q.raw.length);
    assert.equal(rr.readUInt16BE(0), 0xc00c, 'the answer points at the question\'s name');
    assert.equal(rr.readUInt16BE(2), TYPE_A);
    assert.equal(rr.readUInt16BE(10), 4);
    addresses.push([...rr.subarray(12, 16)].join('.'));
  }
  return { id: b.readUInt16BE(0), qr: !!(flags & 0x8000), aa: !!(flags & 0x0400), rd: !!(flags & 0x0100), rcode: flags & 0xf, qd: b.readUInt16BE(4), an, addresses };
}

test('a query parses back to its id, name and type', () => {
  const q = parseQuery(encodeQuery(0xbeef, 'API.Payments.lab.'))!;
  assert.equal(q.id, 0xbeef);
  assert.equal(q.name, 'api.payments.lab', 'lower case, no final dot');
  assert.equal(q.type, TYPE_A);
  assert.equal(q.class, 1);
  assert.equal(q.flags & 0x0100, 0x0100, 'recursion desired');
  // the wire format: 3api8payments3lab0
  assert.deepEqual(encodeName('api.payments.lab'), Buffer.from('03617069087061796d656e7473036c616200', 'hex'));
});

test('names of the zone get an A record with its address; the world gets NXDOMAIN', () => {
  for (const name of ['lab', 'webserver.lab', 'api.payments.lab']) {
    const r = readReply(answer(parseQuery(encodeQuery(7, name))!, zone));
    assert.deepEqual({ id: r.id, qr: r.qr, aa: r.aa, rd: r.rd, rcode: r.rcode, qd: r.qd, an: r.an, addresses: r.addresses }, { id: 7, qr: true, aa: true, rd: true, rcode: RCODE_NOERROR, qd: 1, an: 1, addresses: ['10.200.9.4'] });
  }
  for (const name of ['deb.debian.org', 'lab.example.com', 'evillab', 'x.telemetrylink.net']) {
    const r = readReply(answer(parseQuery(encodeQuery(9, name))!, zone));
    assert.equal(r.rcode, RCODE_NXDOMAIN, name);
    assert.equal(r.an, 0);
    assert.equal(r.aa, false);
  }
  // another type in the zone: the name exists, with no record of that type
  const aaaa = readReply(answer(parseQuery(encodeQuery(11, 'db.lab', 28))!, zone));
  assert.deepEqual([aaaa.rcode, aaaa.an], [RCODE_NOERROR, 0]);
  // an opcode other than QUERY
  const notify = encodeQuery(12, 'db.lab');
  notify.writeUInt16BE(0x2000, 2); // opcode 4
  assert.equal(readReply(answer(parseQuery(notify)!, zone)).rcode, RCODE_NOTIMP);
});

test('the reply echoes the question as sent', () => {
  const query = encodeQuery(3, 'cdn.lab');
  const reply = answer(parseQuery(query)!, zone);
  assert.deepEqual(reply.subarray(12, query.length), query.subarray(12));
});

test('garbage is no query: never a throw, FORMERR only where there is a query header', () => {
  assert.equal(parseQuery(Buffer.alloc(0)), undefined);
  assert.equal(parseQuery(Buffer.from('garbage')), undefined);
  assert.equal(parseQuery(Buffer.alloc(12)), undefined, 'no question');
  const truncated = encodeQuery(1, 'webserver.lab').subarray(0, 20);
  assert.equal(parseQuery(truncated), undefined);
  const pointer = Buffer.concat([encodeQuery(1, 'a.lab').subarray(0, 12), Buffer.from('c00c00010001', 'hex')]);
  assert.equal(parseQuery(pointer), undefined, 'a compression pointer in a question');
  const reply = answer(parseQuery(encodeQuery(5, 'db.lab'))!, zone);
  assert.equal(parseQuery(reply), undefined, 'a response is not a query');
  assert.equal(formErr(reply), undefined, 'and gets no reply');
  assert.equal(formErr(Buffer.from('short')), undefined);
  const fe = formErr(Buffer.alloc(12, 0x01))!;
  assert.equal(fe.readUInt16BE(0), 0x0101);
  assert.equal(fe.readUInt16BE(2) & 0x800f, 0x8000 | RCODE_FORMERR);
  for (let i = 0; i < 2000; i++) {
    const junk = randomBytes(i % 80);
    const q = parseQuery(junk);
    if (q) assert.doesNotThrow(() => answer(q, zone));
    assert.doesNotThrow(() => formErr(junk));
  }
});

test('names the wire cannot carry are refused when a query is made', () => {
  assert.throws(() => encodeName(`${'a'.repeat(64)}.lab`), RangeError);
  assert.throws(() => encodeName('a..lab'), RangeError);
  assert.throws(() => encodeName(Array.from({ length: 70 }, () => 'abc').join('.')), RangeError);
  assert.doesNotThrow(() => encodeName(`${'a'.repeat(63)}.lab`));
});

test('base32 follows RFC 4648 (lower case, no padding), and a tunnel name carries 30 bytes', () => {
  const vectors: Array<[string, string]> = [['', ''], ['f', 'my'], ['fo', 'mzxq'], ['foo', 'mzxw6'], ['foob', 'mzxw6yq'], ['fooba', 'mzxw6ytb'], ['foobar', 'mzxw6ytboi']];
  for (const [plain, encoded] of vectors) assert.equal(base32(Buffer.from(plain)), encoded, plain);
  const data = Buffer.from('id,name,email\n1001,ada,ada1@example.com\n1002,hugo,hugo7@example.com\n');
  const first = tunnelName(data, 0, 'beaconvault.xyz');
  assert.equal(first, `${base32(data.subarray(0, 30))}.0000.x.beaconvault.xyz`);
  // the last chunk is padded with spaces to 30 bytes: every label is 48 characters
  const chunks = Math.ceil(data.length / 30);
  const last = tunnelName(data, chunks - 1, 'beaconvault.xyz');
  assert.equal(last.split('.')[0]!.length, 48);
  // the sequence number goes on; the data starts again
  assert.equal(tunnelName(data, chunks, 'beaconvault.xyz'), first.replace('.0000.', `.${String(chunks).padStart(4, '0')}.`));
  assert.equal(parseQuery(encodeQuery(1, last))!.name, last);
});
