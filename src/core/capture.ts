/**
 * The learner's own captures, read by the real `tcpdump -r` (as the learner under sudo, so
 * that a path they give opens only what they could open), within a bounded time and number
 * of packets: a file of a gigabyte is read a line at a time, never into memory.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { ExitCode, UserError } from './errors.js';
import { safeEnv, trustedPath } from './run.js';
import type { Owner } from './userfs.js';

/** At most this many packets are read of a capture: a few seconds of any flood of the catalog. */
export const maxPacketsRead = 200_000;
const readTimeoutMs = 30_000;

export type CaptureFormat = 'pcap' | 'pcapng';

/** The capture formats by their first four bytes (either byte order; micro- or nanoseconds). */
export function captureFormat(magic: Buffer): CaptureFormat | undefined {
  const m = magic.readUInt32BE(0);
  if ([0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1].includes(m)) return 'pcap';
  if (m === 0x0a0d0d0a) return 'pcapng';
  return undefined;
}

function badFile(message: string, fix: string): UserError {
  return new UserError(message, fix, ExitCode.usage);
}

/** Checks that `file` is a capture at all before tcpdump reads it: missing, empty, not one. */
export async function checkCaptureFile(file: string): Promise<CaptureFormat> {
  let fh;
  try {
    fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw badFile(`There is no file ${file}.`, 'Give the path of a capture you wrote with `tcpdump -w FILE`.');
    throw badFile(`${file} cannot be opened (${code}).`, 'Give the path of a capture you can read.');
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw badFile(`${file} is not a regular file.`, 'Give the path of a capture written with `tcpdump -w FILE`.');
    if (st.size === 0) throw badFile(`${file} is empty.`, 'Capture again: `sudo timeout 5 tcpdump -i IFACE -w FILE`, and let it run for a few seconds.');
    const head = Buffer.alloc(4);
    const { bytesRead } = await fh.read(head, 0, 4, 0);
    const format = bytesRead === 4 ? captureFormat(head) : undefined;
    if (!format) throw badFile(`${file} is not a capture (neither pcap nor pcapng).`, 'Write one with `tcpdump -w FILE` (or tshark/dumpcap -w).');
    return format;
  } finally {
    await fh.close();
  }
}

export interface Packet {
  ts: number;
  src?: string;
  dst?: string;
  sport?: number;
  dport?: number;
  /** TCP flags as tcpdump prints them ("S", "S.", "P.", "R" ...) */
  flags?: string;
  /** the rest of tcpdump's line */
  text: string;
}

export interface CaptureRead {
  packets: Packet[];
  /** tcpdump said the file ends in the middle of a packet */
  truncated: boolean;
  /** more packets than `maxPacketsRead`, or more time than allowed: only the first were read */
  cut: boolean;
  error?: string;
}

// `TIME IP A.p > B.q: ...`; a capture on `any` (Linux cooked) puts `IFACE In|Out` before IP
const line = /^(\d+\.\d+) (?:.*? )?IP (\d+\.\d+\.\d+\.\d+)(?:\.(\d+))? > (\d+\.\d+\.\d+\.\d+)(?:\.(\d+))?: (.*)$/;

/** One line of `tcpdump -nn -tt -r`, as a packet; a line that is not IPv4 keeps only its time. */
export function parseLine(text: string): Packet | undefined {
  const m = line.exec(text);
  if (m) {
    const flags = /Flags \[([^\]]*)\]/.exec(m[6]!)?.[1];
    return { ts: Number(m[1]), src: m[2], sport: m[3] ? Number(m[3]) : undefined, dst: m[4], dport: m[5] ? Number(m[5]) : undefined, flags, text: m[6]! };
  }
  const t = /^(\d+\.\d+) (.*)$/.exec(text);
  return t ? { ts: Number(t[1]), text: t[2]! } : undefined;
}

/** Reads a capture with `tcpdump -r`, as `owner` when root runs for them. */
export async function readCapture(file: string, owner: Owner | undefined, filter?: string): Promise<CaptureRead> {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const as = root && owner ? { uid: owner.uid, gid: owner.gid } : {};
  const args = ['-nn', '-tt', '-r', file, '-c', String(maxPacketsRead), ...(filter ? [filter] : [])];
  return new Promise((resolve, reject) => {
    const child = spawn('tcpdump', args, { ...as, env: safeEnv({ PATH: trustedPath() }), stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
    const packets: Packet[] = [];
    let stderr = '';
    let cut = false;
    const timer = setTimeout(() => {
      cut = true;
      child.kill('SIGKILL');
    }, readTimeoutMs);
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 4096) stderr += d;
    });
    createInterface({ input: child.stdout }).on('line', (l) => {
      const p = parseLine(l);
      if (p) packets.push(p);
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(err.code === 'ENOENT' ? new UserError('`tcpdump` is not installed (or not on PATH).', 'Install it: sudo apt-get install tcpdump', ExitCode.missingTool) : err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const truncated = /truncated/i.test(stderr);
      if (packets.length >= maxPacketsRead) cut = true;
      resolve({ packets, truncated, cut, ...(code !== 0 && !cut ? { error: stderr.trim().split('\n').pop() ?? `tcpdump exited with ${code}` } : {}) });
    });
  });
}

/** How much of a capture is whose: IP packets involving each address, sent by each. */
export interface CaptureSummary {
  packets: number;
  ipPackets: number;
  seconds: number;
  from: Map<string, number>;
  involving: Map<string, number>;
  /** TCP segments with a payload (a request or an answer) sent to `port`, per source */
  requestsTo: (port: number) => Map<string, number>;
}

export function summarize(packets: readonly Packet[]): CaptureSummary {
  const from = new Map<string, number>();
  const involving = new Map<string, number>();
  let ipPackets = 0;
  for (const p of packets) {
    if (!p.src || !p.dst) continue;
    ipPackets++;
    from.set(p.src, (from.get(p.src) ?? 0) + 1);
    involving.set(p.src, (involving.get(p.src) ?? 0) + 1);
    if (p.dst !== p.src) involving.set(p.dst, (involving.get(p.dst) ?? 0) + 1);
  }
  const seconds = packets.length > 1 ? Math.max(0, packets[packets.length - 1]!.ts - packets[0]!.ts) : 0;
  return {
    packets: packets.length,
    ipPackets,
    seconds,
    from,
    involving,
    requestsTo(port: number) {
      const out = new Map<string, number>();
      for (const p of packets) {
        if (p.dport === port && p.src && /length [1-9]\d*/.test(p.text)) out.set(p.src, (out.get(p.src) ?? 0) + 1);
      }
      return out;
    },
  };
}

/**
 * Whose interface a capture was taken on: the one address in every IP packet, as on a host's
 * own veth (a bridge, where one host floods, still carries a few packets of the others: one
 * in two hundred without the address is allowed, no more). The webserver is in every packet
 * of its own veth, and in most of every veth's too: a suspect that is in all of them wins.
 */
export function captureOwner(s: CaptureSummary, hosts: ReadonlyArray<{ name: string; ip: string; role: string }>): string | undefined {
  if (s.ipPackets === 0) return undefined;
  const all = hosts.filter((h) => (s.involving.get(h.ip) ?? 0) >= s.ipPackets - Math.floor(s.ipPackets / 200));
  return (all.find((h) => h.role === 'suspect') ?? all[0])?.name;
}
