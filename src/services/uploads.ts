/**
 * The sync agents' uploads (behind-the-nat) and the partner's abuse desk, as pure functions
 * shared by the client and the webserver (Node's built-ins only, like every service).
 *
 * Every office machine's agent uploads bodies of random bytes whose last 16 bytes are an
 * HMAC-SHA256 of the rest under the machine's own licence key: without a key, every body
 * looks like every other (random bytes, the same length), and no two bodies share a byte
 * pattern, so nothing on the wire tells one machine's uploads from another's. The partner's
 * server knows one key, a stolen one: it flags the connection whose uploads verify under it,
 * and its abuse report names that connection as the partner sees it (the source address and
 * port the packets came from).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const tagBytes = 16;

function tag(key: string, data: Buffer): Buffer {
  return createHmac('sha256', Buffer.from(key, 'hex')).update(data).digest().subarray(0, tagBytes);
}

/** An upload of `bytes` bytes: random, its last 16 the tag of the rest under `key` (hex). */
export function signedBody(key: string, bytes: number, random: (n: number) => Buffer = randomBytes): Buffer {
  const data = random(Math.max(0, bytes - tagBytes));
  return Buffer.concat([data, tag(key, data)]);
}

/** Was this body signed with `key`? */
export function signedWith(key: string, body: Buffer): boolean {
  if (body.length < tagBytes) return false;
  const data = body.subarray(0, body.length - tagBytes);
  return timingSafeEqual(tag(key, data), body.subarray(body.length - tagBytes));
}

/** One connection the partner flagged, as its server sees it. */
export interface Flagged {
  address: string;
  port: number;
  since: Date;
  last: Date;
  uploads: number;
  closedAt?: Date;
}

/** What the partner's server remembers: the flagged connections, by address and port. */
export class AbuseLog {
  private readonly flagged = new Map<string, Flagged>();

  /** An upload under the watched key came in on this connection. */
  flag(address: string, port: number, at: Date): void {
    const key = `${address}:${port}`;
    const f = this.flagged.get(key);
    if (f && !f.closedAt) {
      f.last = at;
      f.uploads++;
      return;
    }
    this.flagged.set(key, { address, port, since: at, last: at, uploads: 1 });
  }

  /** The connection closed: it stays in the report as closed. */
  closed(address: string, port: number, at: Date): void {
    const f = this.flagged.get(`${address}:${port}`);
    if (f && !f.closedAt) f.closedAt = at;
  }

  entries(): Flagged[] {
    return [...this.flagged.values()];
  }
}

const hms = (d: Date): string => d.toISOString().slice(11, 19);

/**
 * The abuse report's page: the open flagged connections first (newest first), then the
 * last few closed ones. Names only what the partner sees: an address and a port.
 */
export function abuseReport(flagged: Flagged[], now: Date, keep = 3): string {
  const open = flagged.filter((f) => !f.closedAt).sort((a, b) => b.since.getTime() - a.since.getTime());
  const closed = flagged.filter((f) => f.closedAt).sort((a, b) => b.closedAt!.getTime() - a.closedAt!.getTime()).slice(0, keep);
  const line = (f: Flagged): string =>
    `  from ${f.address} port ${f.port}, since ${hms(f.since)} UTC (${f.uploads} upload${f.uploads === 1 ? '' : 's'}, the last at ${hms(f.last)}${f.closedAt ? `; closed at ${hms(f.closedAt)}` : ''})`;
  const out = [`Abuse report of the partner's sync service, ${now.toISOString().slice(0, 19).replace('T', ' ')} UTC`, ''];
  if (open.length) {
    out.push(`Uploads signed with a stolen licence key are coming in on ${open.length === 1 ? 'this connection' : 'these connections'}, still open:`);
    out.push(...open.map(line));
  } else {
    out.push('No flagged connection is open now.');
  }
  if (closed.length) out.push('', 'Flagged earlier, closed since:', ...closed.map(line));
  out.push('', 'Find the machine that sends them and stop it, or we block your address.', '');
  return out.join('\n');
}
