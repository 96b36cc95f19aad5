/**
 * Multicast DNS on the local segment (RFC 6762), the little of it the lab needs: a
 * responder that answers A questions for the names it owns, and a one-shot querier that
 * asks the segment's group and takes the first answer. Not a program of its own: the
 * webserver and the office agent import it. Node built-ins only, like every service.
 *
 * The querier asks from a port of its own (not 5353), as a one-shot resolver does: a
 * responder answers it by unicast to that address and port, with the query's id and the
 * question repeated and a TTL of at most 10 s ("legacy unicast", RFC 6762 section 6.7), so
 * that `tcpdump -vv` prints the answer with its id and name, next to the query it answers.
 * A namespace has no route to the group (no default route): both set the socket's multicast
 * interface to the host's own address instead (IP_MULTICAST_IF).
 */
import { createSocket, type Socket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { randomInt } from 'node:crypto';
import { aRecord, CLASS_IN, encodeQuery, parseQuery, parseResponse, response, TYPE_A } from './dns.js';

export const mdnsGroup = '224.0.0.251';
export const mdnsPort = 5353;
/** The TTL of a legacy unicast answer: at most 10 s (RFC 6762 6.7). */
export const legacyTtl = 10;
/** The header flags of an answer: AA (an mDNS response's only flag besides QR). */
const flagsAA = 0x0400;

/** The host's own IPv4 address on the segment: its first interface that is not loopback. */
export function lanAddress(): string | undefined {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

/**
 * Answers every A question for a name `owns` accepts with `address`, as soon as it comes:
 * a querier on port 5353 (a full mDNS one) by multicast to the group, any other by unicast
 * to its address and port. Resolves once it has joined the group.
 */
export function mdnsResponder(address: string, owns: (name: string) => boolean): Promise<Socket> {
  const sock = createSocket({ type: 'udp4', reuseAddr: true });
  sock.on('message', (msg, from) => {
    try {
      const q = parseQuery(msg);
      if (!q || q.type !== TYPE_A || (q.class & 0x7fff) !== CLASS_IN || !owns(q.name)) return;
      const reply = response(q, flagsAA, aRecord(address, legacyTtl));
      if (from.port === mdnsPort) sock.send(reply, mdnsPort, mdnsGroup);
      else sock.send(reply, from.port, from.address);
    } catch {
      /* garbage: nothing to answer */
    }
  });
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(mdnsPort, () => {
      sock.addMembership(mdnsGroup, address);
      sock.setMulticastInterface(address);
      sock.setMulticastTTL(255);
      sock.off('error', reject);
      sock.on('error', () => {});
      resolve(sock);
    });
  });
}

/** A one-shot querier: each lookup a fresh id; the first answer to it wins, later ones are dropped. */
export class MdnsQuerier {
  private readonly pending = new Map<number, (address: string | undefined) => void>();
  private constructor(private readonly sock: Socket) {
    sock.on('message', (msg) => {
      const r = parseResponse(msg);
      const done = r && this.pending.get(r.id);
      if (!r || !done || r.addresses.length === 0) return;
      this.pending.delete(r.id);
      done(r.addresses[0]);
    });
    sock.on('error', () => {});
  }

  /** Asks from an ephemeral port of `address`; our own queries are not looped back to our own responder. */
  static open(address: string): Promise<MdnsQuerier> {
    const sock = createSocket('udp4');
    return new Promise((resolve) => {
      sock.bind(0, address, () => {
        sock.setMulticastInterface(address);
        sock.setMulticastLoopback(false);
        sock.setMulticastTTL(255);
        resolve(new MdnsQuerier(sock));
      });
    });
  }

  /** The address of `name` by the first answer, or undefined after `timeoutMs`; `sent` is called once the query is out. */
  lookup(name: string, timeoutMs: number, sent?: () => void): Promise<string | undefined> {
    let id = randomInt(1, 0x10000);
    while (this.pending.has(id)) id = randomInt(1, 0x10000);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(undefined);
      }, timeoutMs);
      this.pending.set(id, (address) => {
        clearTimeout(timer);
        resolve(address);
      });
      this.sock.send(encodeQuery(id, name, TYPE_A, 0), mdnsPort, mdnsGroup, () => sent?.());
    });
  }
}
