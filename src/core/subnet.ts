/** Picks a /24 for the lab that overlaps no route or address of the host. */
import { ExitCode, UserError } from './errors.js';
import { runOk } from './run.js';

function toInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  return (((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!) >>> 0;
}

export function parsePrefix(prefix: string): { start: number; end: number } | undefined {
  const [addr, lenText] = prefix.split('/');
  if (!addr || !/^\d+\.\d+\.\d+\.\d+$/.test(addr)) return undefined;
  const len = lenText === undefined ? 32 : Number(lenText);
  const size = 2 ** (32 - len);
  const start = Math.floor(toInt(addr) / size) * size;
  return { start, end: start + size - 1 };
}

export function overlaps(a: string, b: string): boolean {
  const x = parsePrefix(a);
  const y = parsePrefix(b);
  if (!x || !y) return false;
  return x.start <= y.end && y.start <= x.end;
}

/** Candidates 10.200.0.0/24 .. 10.200.255.0/24, the first free one wins. */
export function pickSubnet(used: readonly string[], preferred = 0): { base: string; skipped: string[] } {
  const skipped: string[] = [];
  for (let i = 0; i < 256; i++) {
    const third = (preferred + i) % 256;
    const cidr = `10.200.${third}.0/24`;
    const clash = used.find((u) => overlaps(u, cidr));
    if (!clash) return { base: `10.200.${third}`, skipped };
    skipped.push(`${cidr} (overlaps ${clash})`);
  }
  throw new UserError(
    'No free subnet for the lab: every 10.200.X.0/24 overlaps a route or address on this host.',
    'Remove the routes that cover 10.200.0.0/16, or take down other labs (`mystery down --all`).',
    ExitCode.resources,
  );
}

/** IPv4 routes and addresses on the machine, to pick a subnet that overlaps none (the same for every backend). */
export async function usedIpv4Prefixes(): Promise<string[]> {
  const routes = JSON.parse((await runOk('ip', ['-j', '-4', 'route', 'show', 'table', 'all'])) || '[]') as Array<{ dst: string }>;
  const addrs = JSON.parse((await runOk('ip', ['-j', '-4', 'addr', 'show'])) || '[]') as Array<{
    addr_info: Array<{ local: string; prefixlen: number }>;
  }>;
  const out = routes.map((r) => r.dst).filter((d) => d && d !== 'default');
  for (const a of addrs) for (const i of a.addr_info ?? []) out.push(`${i.local}/${i.prefixlen}`);
  return out;
}
