/**
 * The impure edges of `explain`: the system's name files, and the real `tcpdump -d` check
 * (tcpdump is the authority on what it accepts; our parser only explains).
 */
import { readFileSync } from 'node:fs';
import { run } from '../core/run.js';
import { UserError } from '../core/errors.js';
import { builtinLookups, type Lookups, type ServicePorts } from './validate.js';

/** Lookups from /etc/services and /etc/protocols, falling back to the built-in names. */
export function systemLookups(etc = '/etc'): Lookups {
  const services = new Map<string, ServicePorts>();
  const protocols = new Map<string, number>();
  try {
    for (const line of readFileSync(`${etc}/services`, 'utf8').split('\n')) {
      const [name, portProto, ...aliases] = line.replace(/#.*/, '').trim().split(/\s+/);
      const m = /^(\d+)\/(tcp|udp|sctp)$/.exec(portProto ?? '');
      if (!name || !m) continue;
      for (const n of [name, ...aliases]) {
        const entry = services.get(n) ?? {};
        entry[m[2] as keyof ServicePorts] ??= Number(m[1]);
        services.set(n, entry);
      }
    }
  } catch {
    /* no /etc/services: the built-in names only */
  }
  try {
    for (const line of readFileSync(`${etc}/protocols`, 'utf8').split('\n')) {
      const [name, number, ...aliases] = line.replace(/#.*/, '').trim().split(/\s+/);
      if (!name || !/^\d+$/.test(number ?? '')) continue;
      for (const n of [name, ...aliases]) protocols.set(n, Number(number));
    }
  } catch {
    /* no /etc/protocols */
  }
  // libpcap takes a network whose number is 0 (`default`) for an unknown one
  const networks = namesIn(`${etc}/networks`, 0, (cols) => !/^0(\.0)*$/.test(cols[1] ?? ''));
  const ethers = namesIn(`${etc}/ethers`, 1);
  return {
    service: (name) => services.get(name) ?? builtinLookups.service(name),
    ipProtocol: (name) => protocols.get(name) ?? builtinLookups.ipProtocol(name),
    network: (name) => networks.has(name),
    etherHost: (name) => ethers.has(name),
  };
}

/** The names in column `column` of a file like /etc/networks (none if it does not exist). */
function namesIn(path: string, column: number, keep: (columns: string[]) => boolean = () => true): Set<string> {
  try {
    return new Set(
      readFileSync(path, 'utf8')
        .split('\n')
        .map((l) => l.replace(/#.*/, '').trim().split(/\s+/))
        .filter(keep)
        .map((cols) => cols[column])
        .filter((n): n is string => !!n),
    );
  } catch {
    return new Set();
  }
}

export interface TcpdumpVerdict {
  /** false when tcpdump could not be run (not installed) */
  ran: boolean;
  accepted?: boolean;
  /** tcpdump's own message when it rejects the expression */
  message?: string;
  /** the number of BPF instructions it compiled to */
  instructions?: number;
}

/**
 * `tcpdump -d -- EXPR`: compiles the filter for an Ethernet link without opening an
 * interface (no root needed). `--` keeps an expression starting with `-` from being an option.
 */
export async function checkWithTcpdump(expression: string, linkType?: string): Promise<TcpdumpVerdict> {
  try {
    const r = await run('tcpdump', [...(linkType ? ['-y', linkType] : []), '-d', '--', expression], { timeoutMs: 15_000 });
    // killed by our timeout: most likely a host name that DNS never answers
    if (r.signal) return { ran: false, message: 'tcpdump -d did not finish in 15 s (a host name DNS does not answer?)' };
    if (r.code === 0) {
      const instructions = r.stdout.split('\n').filter((l) => /^\(\d+\)/.test(l)).length;
      return { ran: true, accepted: true, instructions };
    }
    const message = r.stderr
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('Warning: assuming Ethernet'))
      .pop()
      ?.replace(/^tcpdump: /, '');
    return { ran: true, accepted: false, message: message ?? `tcpdump exited with code ${r.code}` };
  } catch (err) {
    if (err instanceof UserError) return { ran: false, message: err.message };
    throw err;
  }
}

/**
 * Resolves host names as libpcap does (getaddrinfo, any family): which families each has.
 * Unknown names come back undefined. Each lookup may take as long as the system's resolver.
 */
export async function resolveHosts(names: string[]): Promise<Map<string, { ipv4: boolean; ipv6: boolean } | undefined>> {
  const { lookup } = await import('node:dns/promises');
  const entries = await Promise.all(
    names.map(async (name) => {
      try {
        const all = await lookup(name, { all: true });
        return [name, { ipv4: all.some((a) => a.family === 4), ipv6: all.some((a) => a.family === 6) }] as const;
      } catch {
        return [name, undefined] as const;
      }
    }),
  );
  return new Map(entries);
}
