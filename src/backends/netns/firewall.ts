/**
 * iptables, only where it is needed. When br_netfilter is loaded (Docker loads it) bridged
 * traffic goes through the FORWARD chain, whose policy Docker sets to DROP: the lab then
 * accepts traffic within its own bridge, with one rule carrying the lab's tag, and removes
 * exactly that rule at down.
 */
import { readFile } from 'node:fs/promises';
import { run, runOk, which } from '../../core/run.js';
import { ownerTag, ruleIsTagged } from '../../core/naming.js';

export async function bridgeTrafficIsFiltered(): Promise<boolean> {
  try {
    return (await readFile('/proc/sys/net/bridge/bridge-nf-call-iptables', 'utf8')).trim() === '1';
  } catch {
    return false; // br_netfilter not loaded: bridged frames never meet iptables
  }
}

export function acceptRule(lab: string, bridge: string): string[] {
  return ['FORWARD', '-i', bridge, '-o', bridge, '-m', 'comment', '--comment', ownerTag(lab), '-j', 'ACCEPT'];
}

export async function insertRule(rule: string[]): Promise<void> {
  const [chain, ...spec] = rule;
  await runOk('iptables', ['-w', '-I', chain!, '1', ...spec]);
}

export async function deleteRule(rule: string[]): Promise<boolean> {
  const [chain, ...spec] = rule;
  const r = await run('iptables', ['-w', '-D', chain!, ...spec]);
  return r.code === 0;
}

/** Splits one line of `iptables -S` into arguments, honouring its double quotes. */
export function splitRuleLine(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line))) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!);
  return out;
}

/** Every filter-table rule tagged with this lab's owner tag, found by reading iptables itself. */
export async function taggedRules(lab: string): Promise<string[][]> {
  if (!(await which('iptables'))) return [];
  const r = await run('iptables', ['-w', '-S']);
  if (r.code !== 0) return [];
  const rules: string[][] = [];
  for (const line of r.stdout.split('\n')) {
    if (!line.startsWith('-A ')) continue;
    const args = splitRuleLine(line);
    if (ruleIsTagged(args, lab)) rules.push(args.slice(1));
  }
  return rules;
}
