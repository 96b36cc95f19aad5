/**
 * Names of what the lab creates. Host-side interfaces look like Docker's (veth + 7 hex,
 * br- + 12 hex) so the seed's walkthrough reads the same; what makes them ours is an
 * ownership tag in their ifalias. Namespaces carry the tool's prefix and the lab's name.
 */
import { ExitCode, UserError } from './errors.js';
import { randomHex } from './random.js';

export const toolTag = 'tcpdump-mystery';
export const defaultLabName = 'mystery';
/** What the commands of a lab need after `mystery VERB`: nothing for the default lab. */
export function labFlag(lab: string): string {
  return lab === defaultLabName ? '' : ` --name ${lab}`;
}

const labNamePattern = /^[a-z][a-z0-9]{0,11}$/;

export function validateLabName(name: string): string {
  if (name.length > 12) {
    throw new UserError(
      `The lab name "${name}" is too long (${name.length} characters; at most 12).`,
      'Network namespace and interface names are short on Linux: choose a name of 1 to 12 letters and digits.',
      ExitCode.resources,
    );
  }
  if (!labNamePattern.test(name)) {
    throw new UserError(
      `The lab name "${name}" is not valid.`,
      'Use 1 to 12 lower-case letters and digits, starting with a letter (for example --name team2).',
      ExitCode.usage,
    );
  }
  return name;
}

/** The ifalias every link of the lab carries: how `down` recognises its own links. */
export function ownerTag(lab: string): string {
  return `${toolTag}:${lab}`;
}

/** Whether a link's ifalias is this lab's tag: the whole alias, nothing around it. */
export function isOwnTag(alias: string | undefined, lab: string): boolean {
  return alias === ownerTag(lab);
}

/** The lab a link's ifalias names as its owner (`tcpdump-mystery:LAB`, anchored), or undefined. */
export function labOfTag(alias: string | undefined): string | undefined {
  return alias?.match(new RegExp(`^${toolTag}:([a-z][a-z0-9]{0,11})$`))?.[1];
}

/** The lab a namespace's name is shaped for (`tmys-LAB-<8 hex>`), or undefined: only the tag on its lo proves it. */
export function labOfNetnsName(ns: string): string | undefined {
  return ns.match(/^tmys-([a-z][a-z0-9]{0,11})-[0-9a-f]{8}$/)?.[1];
}

/** Whether an iptables rule (its arguments, as `iptables -S` splits) carries the lab's comment. */
export function ruleIsTagged(args: readonly string[], lab: string): boolean {
  const i = args.indexOf('--comment');
  return i >= 0 && args[i + 1] === ownerTag(lab);
}

export const vethName = (): string => `veth${randomHex(7)}`;
export const bridgeName = (): string => `br-${randomHex(12)}`;
export const hostId = (): string => randomHex(12);
/** A namespace name says which lab owns it, not which host lives in it (as with Docker). */
export const netnsName = (lab: string): string => `tmys-${lab}-${randomHex(8)}`;
export const netnsPattern = (lab: string): RegExp => new RegExp(`^tmys-${lab}-[0-9a-f]{8}$`);

/** Linux limits interface names to 15 characters (IFNAMSIZ - 1). */
export function checkInterfaceName(name: string): string {
  if (name.length > 15 || !/^[A-Za-z0-9_.-]+$/.test(name)) {
    throw new UserError(
      `"${name}" cannot be a Linux interface name (at most 15 letters, digits, '-', '_' or '.').`,
      'Choose a shorter name.',
      ExitCode.resources,
    );
  }
  return name;
}
