/**
 * Each namespace lab's services in a cgroup of the lab's own, as Docker puts each container in
 * one: their memory and CPU are then read the way Docker's are, `down` finds every service by
 * its cgroup, and `start --cpus/--memory` caps the lab. cgroup v2 where the machine has it
 * (no systemd needed: the tool makes its own folder), v1 (the memory, cpu, cpuacct and pids
 * hierarchies) otherwise; a machine with neither runs its labs without one.
 *
 * Every folder is `tcpdump-mystery/LAB` under a hierarchy's root: the name is the ownership,
 * and nothing else of the machine's cgroups is touched.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabLimits } from '../../core/model.js';

export const cgroupRoot = process.env.MYSTERY_CGROUP_ROOT ?? '/sys/fs/cgroup';
const parentName = 'tcpdump-mystery';


export type CgroupLayout =
  | { version: 2; root: string }
  | { version: 1; memory?: string; cpu?: string; cpuacct?: string; pids?: string }
  | { version: 0 };

/** The machine's cgroups: the unified hierarchy (v2), the v1 controllers we use, or none. */
export function cgroupLayout(root = cgroupRoot): CgroupLayout {
  if (existsSync(join(root, 'cgroup.controllers'))) return { version: 2, root };
  const at = (name: string): string | undefined => (existsSync(join(root, name, 'cgroup.procs')) ? join(root, name) : undefined);
  const v1 = { version: 1 as const, memory: at('memory'), cpu: at('cpu'), cpuacct: at('cpuacct'), pids: at('pids') };
  return v1.memory || v1.cpu || v1.cpuacct || v1.pids ? v1 : { version: 0 };
}

/** The lab's folders, one a hierarchy (v1 has one per controller; a combined cpu,cpuacct mount is named once). */
export function labCgroupDirs(lab: string, layout = cgroupLayout()): string[] {
  if (layout.version === 2) return [join(layout.root, parentName, lab)];
  if (layout.version === 0) return [];
  return [...new Set([layout.memory, layout.cpu, layout.cpuacct, layout.pids].filter((d): d is string => !!d))].map((d) => join(d, parentName, lab));
}

const write = (file: string, value: string): void => writeFileSync(file, value);

/**
 * Makes the lab's cgroup and sets its caps. Throws where a cap was asked for and the machine
 * cannot set it (the caller says what to do); without caps, a machine that refuses is no error.
 */
export function createLabCgroup(lab: string, limits: LabLimits = {}, layout = cgroupLayout()): boolean {
  const capped = limits.cpus !== undefined || limits.memoryBytes !== undefined;
  try {
    if (layout.version === 0) throw new Error('this machine has no cgroup hierarchy mounted at /sys/fs/cgroup');
    if (layout.version === 2) {
      const parent = join(layout.root, parentName);
      mkdirSync(parent, { recursive: true });
      // the controllers the machine hands down to our folder (systemd or Docker enable them at
      // the root; the root's own settings are the machine's, never changed here), on in ours
      const offered = readFileSync(join(parent, 'cgroup.controllers'), 'utf8').split(/\s+/);
      const on = readFileSync(join(parent, 'cgroup.subtree_control'), 'utf8').split(/\s+/);
      const missing = ['memory', 'cpu', 'pids'].filter((c) => offered.includes(c) && !on.includes(c));
      if (missing.length) write(join(parent, 'cgroup.subtree_control'), missing.map((c) => `+${c}`).join(' '));
      for (const [asked, controller] of [[limits.memoryBytes, 'memory'], [limits.cpus, 'cpu']] as const) {
        if (asked !== undefined && !offered.includes(controller)) throw new Error(`the machine's cgroup root does not hand down the ${controller} controller`);
      }
      const dir = join(parent, lab);
      mkdirSync(dir, { recursive: true });
      if (limits.memoryBytes !== undefined) write(join(dir, 'memory.max'), String(limits.memoryBytes));
      if (limits.cpus !== undefined) write(join(dir, 'cpu.max'), `${Math.max(1000, Math.round(limits.cpus * 100_000))} 100000`);
      return true;
    }
    for (const dir of labCgroupDirs(lab, layout)) mkdirSync(dir, { recursive: true });
    const [memory, cpu] = [layout.memory, layout.cpu].map((d) => d && join(d, parentName, lab));
    if (limits.memoryBytes !== undefined) {
      if (!memory) throw new Error('this machine has no memory cgroup');
      write(join(memory, 'memory.limit_in_bytes'), String(limits.memoryBytes));
    }
    if (limits.cpus !== undefined) {
      if (!cpu) throw new Error('this machine has no cpu cgroup');
      write(join(cpu, 'cpu.cfs_period_us'), '100000');
      write(join(cpu, 'cpu.cfs_quota_us'), String(Math.max(1000, Math.round(limits.cpus * 100_000))));
    }
    return true;
  } catch (err) {
    if (capped) throw err;
    return false;
  }
}

/** Moves a process (a service just spawned) into the lab's cgroup; false where there is none. */
export function joinLabCgroup(lab: string, pid: number, layout = cgroupLayout()): boolean {
  let joined = false;
  for (const dir of labCgroupDirs(lab, layout)) {
    try {
      write(join(dir, 'cgroup.procs'), String(pid));
      joined = true;
    } catch {
      /* no such folder (a lab started without one) or the process is gone */
    }
  }
  return joined;
}

/** Every process in the lab's cgroup. */
export function labCgroupPids(lab: string, layout = cgroupLayout()): number[] {
  const pids = new Set<number>();
  for (const dir of labCgroupDirs(lab, layout)) {
    try {
      for (const line of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (/^\d+$/.test(line)) pids.add(Number(line));
    } catch {
      /* not there */
    }
  }
  return [...pids];
}

/** Removes the lab's folders (empty by then: the caller ends the processes first); true when none is left. */
export function removeLabCgroup(lab: string, layout = cgroupLayout()): boolean {
  let gone = true;
  for (const dir of labCgroupDirs(lab, layout)) {
    try {
      rmdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') gone = false;
    }
    // and ours, once no lab is left in it: the machine's cgroups as they were
    try {
      rmdirSync(join(dir, '..'));
    } catch {
      /* another lab's folder is in it, or it is gone */
    }
  }
  return gone;
}

/** Labs that have a cgroup folder of ours (a leftover of a lab is still that lab's). */
export function cgroupLabs(layout = cgroupLayout()): string[] {
  const labs = new Set<string>();
  const parents = layout.version === 2 ? [join(layout.root, parentName)] : layout.version === 1 ? [layout.memory, layout.cpu, layout.cpuacct, layout.pids].filter((d): d is string => !!d).map((d) => join(d, parentName)) : [];
  for (const parent of parents) {
    try {
      for (const name of folders(parent)) labs.add(name);
    } catch {
      /* none */
    }
  }
  return [...labs];
}

/** The folders in a folder: a hierarchy's files (cgroup.procs, memory.*) are not labs. */
function folders(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
}

export interface CgroupUsage {
  /** memory in use, as `docker stats` counts it: the cgroup's usage less its inactive file cache */
  memoryBytes: number;
  /** CPU time used since the cgroup was made, in nanoseconds */
  cpuNs: number;
}

/**
 * What a cgroup uses, read the same way for a lab's folder and for a Docker container's:
 * `memDir` and `cpuDir` are the folders (one folder on v2).
 */
export function cgroupUsage(memDir: string, cpuDir = memDir): CgroupUsage | undefined {
  const read = (f: string): string | undefined => {
    try {
      return readFileSync(f, 'utf8');
    } catch {
      return undefined;
    }
  };
  const stat = (text: string | undefined, key: string): number => Number(new RegExp(`^${key} (\\d+)$`, 'm').exec(text ?? '')?.[1] ?? 0);
  const v2mem = read(join(memDir, 'memory.current'));
  if (v2mem !== undefined) {
    const cpu = read(join(cpuDir, 'cpu.stat'));
    return { memoryBytes: Number(v2mem) - stat(read(join(memDir, 'memory.stat')), 'inactive_file'), cpuNs: stat(cpu, 'usage_usec') * 1000 };
  }
  const v1mem = read(join(memDir, 'memory.usage_in_bytes'));
  if (v1mem === undefined) return undefined;
  const v1cpu = read(join(cpuDir, 'cpuacct.usage'));
  return { memoryBytes: Number(v1mem) - stat(read(join(memDir, 'memory.stat')), 'total_inactive_file'), cpuNs: Number(v1cpu ?? 0) };
}

/** The lab's usage, from its own folders. */
export function labCgroupUsage(lab: string, layout = cgroupLayout()): CgroupUsage | undefined {
  if (layout.version === 2) return cgroupUsage(join(layout.root, parentName, lab));
  if (layout.version === 0 || !layout.memory) return undefined;
  return cgroupUsage(join(layout.memory, parentName, lab), join(layout.cpuacct ?? layout.cpu ?? layout.memory, parentName, lab));
}
