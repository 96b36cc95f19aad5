/**
 * The impure edges of `explain`: the system's name files, and the real `tcpdump -d` check
 * (tcpdump is the authority on what it accepts; our parser only explains).
 */
import { readFileSync } from 'node:fs';
import { builtinLookups, type Lookups, type ServicePorts } from './validate.js';
export { checkWithTcpdump, type TcpdumpVerdict } from './tcpdump-check.js';

/**
 * Lookups from /etc/services and /etc/protocols (and /etc/networks, /etc/ethers), falling back
 * to the built-in names. Each file is read the first time a name is asked of it: most filters
 * name no service, and explain must answer fast.
 */
export function systemLookups(etc = '/etc'): Lookups {
  const once = <T>(read: () => T): (() => T) => {
    let value: T | undefined;
    return () => (value ??= read());
  };
  const services = once(() => {
    const map = new Map<string, ServicePorts>();
    for (const line of linesOf(`${etc}/services`)) {
      const [name, portProto, ...aliases] = line.replace(/#.*/, '').trim().split(/\s+/);
      const m = /^(\d+)\/(tcp|udp|sctp)$/.exec(portProto ?? '');
      if (!name || !m) continue;
      for (const n of [name, ...aliases]) {
        const entry = map.get(n) ?? {};
        entry[m[2] as keyof ServicePorts] ??= Number(m[1]);
        map.set(n, entry);
      }
    }
    return map;
  });
  const protocols = once(() => {
    const map = new Map<string, number>();
    for (const line of linesOf(`${etc}/protocols`)) {
      const [name, number, ...aliases] = line.replace(/#.*/, '').trim().split(/\s+/);
      if (!name || !/^\d+$/.test(number ?? '')) continue;
      for (const n of [name, ...aliases]) map.set(n, Number(number));
    }
    return map;
  });
  // libpcap takes a network whose number is 0 (`default`) for an unknown one
  const networks = once(() => namesIn(`${etc}/networks`, 0, (cols) => !/^0(\.0)*$/.test(cols[1] ?? '')));
  const ethers = once(() => namesIn(`${etc}/ethers`, 1));
  return {
    service: (name) => services().get(name) ?? builtinLookups.service(name),
    ipProtocol: (name) => protocols().get(name) ?? builtinLookups.ipProtocol(name),
    network: (name) => networks().has(name),
    etherHost: (name) => ethers().has(name),
  };
}

/** A file's lines; none if it cannot be read (no /etc/services: the built-in names only). */
function linesOf(path: string): string[] {
  try {
    return readFileSync(path, 'utf8').split('\n');
  } catch {
    return [];
  }
}

/** The names in column `column` of a file like /etc/networks (none if it does not exist). */
function namesIn(path: string, column: number, keep: (columns: string[]) => boolean = () => true): Set<string> {
  return new Set(
    linesOf(path)
      .map((l) => l.replace(/#.*/, '').trim().split(/\s+/))
      .filter(keep)
      .map((cols) => cols[column])
      .filter((n): n is string => !!n),
  );
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
