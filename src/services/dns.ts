/**
 * The little DNS the lab needs (RFC 1035), as pure functions over buffers: the client's
 * queries and the resolver's answers. Not a program of its own: client.ts and resolver.ts
 * import it. Node built-ins only, like every service.
 */

export const TYPE_A = 1;
export const CLASS_IN = 1;
export const RCODE_NOERROR = 0;
export const RCODE_FORMERR = 1;
export const RCODE_NXDOMAIN = 3;
export const RCODE_NOTIMP = 4;

export interface Question {
  id: number;
  /** the header's flags as sent (RD and opcode among them) */
  flags: number;
  /** lower-case, without the final dot */
  name: string;
  type: number;
  class: number;
  /** the bytes of the question section as sent, echoed in the answer */
  raw: Buffer;
}

/** Encodes a name as labels; throws on an empty or over-long label, or a name past 255 bytes. */
export function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.');
  const parts: Buffer[] = [];
  for (const l of labels) {
    const b = Buffer.from(l, 'ascii');
    if (b.length === 0 || b.length > 63) throw new RangeError(`bad DNS label in ${JSON.stringify(name)}`);
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  const out = Buffer.concat(parts);
  if (out.length > 255) throw new RangeError(`DNS name too long: ${name.length} characters`);
  return out;
}

/** A standard query of one question, with recursion desired (`flags`: 0 for multicast DNS, which has no recursion). */
export function encodeQuery(id: number, name: string, type = TYPE_A, flags = 0x0100): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id & 0xffff, 0);
  header.writeUInt16BE(flags & 0x7fff, 2); // RD by default
  header.writeUInt16BE(1, 4); // QDCOUNT
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(CLASS_IN, 2);
  return Buffer.concat([header, encodeName(name), tail]);
}

/**
 * The first question of a query, or undefined for anything that is not a well-formed
 * query of one uncompressed question (a response, a truncated or garbage datagram).
 */
export function parseQuery(msg: Buffer): Question | undefined {
  if (msg.length < 12 + 5) return undefined;
  const flags = msg.readUInt16BE(2);
  if (flags & 0x8000) return undefined; // a response, not a query
  if (msg.readUInt16BE(4) !== 1) return undefined; // QDCOUNT
  const labels: string[] = [];
  let at = 12;
  for (;;) {
    if (at >= msg.length) return undefined;
    const len = msg[at]!;
    if (len === 0) {
      at++;
      break;
    }
    if (len > 63) return undefined; // a compression pointer has no place in a question
    if (at + 1 + len > msg.length) return undefined;
    labels.push(msg.toString('latin1', at + 1, at + 1 + len));
    at += 1 + len;
    if (at - 12 > 255) return undefined;
  }
  if (at + 4 > msg.length) return undefined;
  return {
    id: msg.readUInt16BE(0),
    flags,
    name: labels.join('.').toLowerCase(),
    type: msg.readUInt16BE(at),
    class: msg.readUInt16BE(at + 2),
    raw: msg.subarray(12, at + 4),
  };
}

/** What the lab's resolver knows: every name under `zone` has one address. */
export interface Zone {
  zone: string;
  address: string;
  ttl?: number;
}

/**
 * The resolver's reply to a question: an A record for names under the zone, no record for
 * other types there, NXDOMAIN for everything else, NOTIMP for opcodes other than QUERY.
 */
export function answer(q: Question, zone: Zone): Buffer {
  const opcode = (q.flags >> 11) & 0xf;
  const inZone = q.name === zone.zone || q.name.endsWith(`.${zone.zone}`);
  let rcode = RCODE_NOERROR;
  let record: Buffer | undefined;
  if (opcode !== 0) rcode = RCODE_NOTIMP;
  else if (!inZone) rcode = RCODE_NXDOMAIN;
  else if (q.type === TYPE_A && q.class === CLASS_IN) record = aRecord(zone.address, zone.ttl ?? 60);
  // QR, the query's opcode and RD, RA; AA for our own zone
  return response(q, (q.flags & 0x7900) | 0x0080 | (inZone && opcode === 0 ? 0x0400 : 0) | rcode, record);
}

/**
 * A response to `q`: its id, the header `flags` (QR is set here), the question as sent,
 * and the answer `record`, if any (an A record: `aRecord`). The resolver's answers and a
 * multicast DNS responder's (flags AA only, RFC 6762) are both made here.
 */
export function response(q: Question, flags: number, record?: Buffer): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(q.id, 0);
  header.writeUInt16BE(0x8000 | (flags & 0x7fff), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(record ? 1 : 0, 6);
  return Buffer.concat([header, q.raw, ...(record ? [record] : [])]);
}

/** An A record of the question's name (a pointer to it), with its address and TTL. */
export function aRecord(address: string, ttl: number): Buffer {
  const rr = Buffer.alloc(16);
  rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
  rr.writeUInt16BE(TYPE_A, 2);
  rr.writeUInt16BE(CLASS_IN, 4);
  rr.writeUInt32BE(ttl, 6);
  rr.writeUInt16BE(4, 10);
  const octets = address.split('.').map(Number);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) throw new RangeError(`not an IPv4 address: ${address}`);
  for (let i = 0; i < 4; i++) rr[12 + i] = octets[i]!;
  return rr;
}

/**
 * A response's id and the addresses of its A records (answers of a name given as a pointer
 * or in full alike), or undefined for a query or a datagram too short to be a response.
 */
export function parseResponse(msg: Buffer): { id: number; addresses: string[] } | undefined {
  if (msg.length < 12 || !(msg.readUInt16BE(2) & 0x8000)) return undefined;
  let at = 12;
  const skipName = (): boolean => {
    for (;;) {
      if (at >= msg.length) return false;
      const len = msg[at]!;
      if (len === 0) {
        at++;
        return true;
      }
      if ((len & 0xc0) === 0xc0) {
        at += 2;
        return at <= msg.length;
      }
      at += 1 + len;
    }
  };
  for (let i = 0; i < msg.readUInt16BE(4); i++) {
    if (!skipName()) return undefined;
    at += 4;
  }
  const addresses: string[] = [];
  for (let i = 0; i < msg.readUInt16BE(6); i++) {
    if (!skipName() || at + 10 > msg.length) return undefined;
    const [type, length] = [msg.readUInt16BE(at), msg.readUInt16BE(at + 8)];
    at += 10;
    if (at + length > msg.length) return undefined;
    if (type === TYPE_A && length === 4) addresses.push([...msg.subarray(at, at + 4)].join('.'));
    at += length;
  }
  return { id: msg.readUInt16BE(0), addresses };
}

/** The reply to a datagram that is no well-formed query but has a query's header: FORMERR. */
export function formErr(msg: Buffer): Buffer | undefined {
  if (msg.length < 12 || msg.readUInt16BE(2) & 0x8000) return undefined;
  const header = Buffer.alloc(12);
  header.writeUInt16BE(msg.readUInt16BE(0), 0);
  header.writeUInt16BE(0x8000 | (msg.readUInt16BE(2) & 0x7900) | RCODE_FORMERR, 2);
  return header;
}

const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';

/** RFC 4648 base32 in lower case, without padding (as DNS tunnels write it). */
export function base32(data: Buffer): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of data) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

/** Bytes a tunnel puts in one label: 30 bytes make 48 base32 characters, no padding. */
export const tunnelChunk = 30;

/** The tunnel's n-th query name: a chunk of the data, its sequence number, the domain. */
export function tunnelName(data: Buffer, n: number, domain: string): string {
  const chunks = Math.max(1, Math.ceil(data.length / tunnelChunk));
  const i = n % chunks;
  // the last chunk is padded with spaces, so that every label decodes alone (`base32 -d`)
  const chunk = Buffer.alloc(tunnelChunk, ' ');
  data.copy(chunk, 0, i * tunnelChunk, (i + 1) * tunnelChunk);
  return `${base32(chunk)}.${String(n % 10000).padStart(4, '0')}.x.${domain}`;
}
