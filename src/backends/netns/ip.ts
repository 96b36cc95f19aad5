/** Thin wrappers over iproute2, always with argument arrays. */
import { run, runOk } from '../../core/run.js';

export const ip = (...args: string[]): Promise<string> => runOk('ip', args);

/**
 * Several ip commands run by one `ip -batch` process: they go together even if the CLI is
 * SIGKILLed after starting it (a child outlives its parent's SIGKILL), so a resource is
 * never left made but not yet tagged. It stops at the first command that fails.
 */
export async function ipBatch(commands: string[][], netns?: string): Promise<void> {
  for (const c of commands) {
    if (c.some((a) => !/^[A-Za-z0-9_.:/-]+$/.test(a))) throw new Error(`not a safe ip batch argument: ${JSON.stringify(c)}`);
  }
  await runOk('ip', [...(netns ? ['-n', netns] : []), '-batch', '-'], { input: `${commands.map((c) => c.join(' ')).join('\n')}\n` });
}

/** Like ipBatch, but each command is tried whatever the others did (`-force`): for removals, where one already gone is fine. */
export async function ipBatchTolerant(commands: string[][]): Promise<void> {
  if (commands.length === 0) return;
  for (const c of commands) {
    if (c.some((a) => !/^[A-Za-z0-9_.:/-]+$/.test(a))) throw new Error(`not a safe ip batch argument: ${JSON.stringify(c)}`);
  }
  await run('ip', ['-force', '-batch', '-'], { input: `${commands.map((c) => c.join(' ')).join('\n')}\n` });
}

export interface LinkInfo {
  ifindex: number;
  ifname: string;
  ifalias?: string;
  link_index?: number;
  master?: string;
  operstate?: string;
}

export async function listLinks(netns?: string): Promise<LinkInfo[]> {
  const args = netns ? ['-n', netns, '-j', 'link', 'show'] : ['-j', 'link', 'show'];
  const out = await runOk('ip', args);
  return out.trim() ? (JSON.parse(out) as LinkInfo[]) : [];
}

export async function listNetns(): Promise<string[]> {
  const out = await runOk('ip', ['-j', 'netns', 'list']);
  if (!out.trim()) return [];
  return (JSON.parse(out) as Array<{ name: string }>).map((n) => n.name);
}

export async function linkExists(name: string): Promise<boolean> {
  const r = await run('ip', ['link', 'show', 'dev', name]);
  return r.code === 0;
}

export async function netnsPids(netns: string): Promise<number[]> {
  const r = await run('ip', ['netns', 'pids', netns]);
  if (r.code !== 0) return [];
  return r.stdout
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((n) => Number.isInteger(n));
}

