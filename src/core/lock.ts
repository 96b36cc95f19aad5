/**
 * One start at a time on a host: the lock file holds the starter's pid. A lock whose
 * process is gone (the starter was killed) is stale and is taken over.
 */
import { readFileSync } from 'node:fs';
import { link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ExitCode, UserError } from './errors.js';
import { startLockFile } from './paths.js';
import { removeRunRootIfEmpty } from './state.js';

/** A process that exists and has not exited (a zombie waiting for its parent to reap it is gone). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the state letter follows the command name in parentheses
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function lockHolder(): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(startLockFile, 'utf8')).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes the host's start lock. Labs are set up one at a time (they pick subnets and ports
 * from what is free); a start that meets another waits up to `waitMs` for it, then refuses.
 */
export async function acquireStartLock(waitMs = 15_000): Promise<() => Promise<void>> {
  await mkdir(dirname(startLockFile), { recursive: true, mode: 0o755 });
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      // The lock appears with the pid already in it (written aside, then linked into place,
      // which fails if a lock exists): an empty lock, seen between create and write, looked
      // stale and was taken over while its starter was building.
      const fresh = `${startLockFile}.${process.pid}.new`;
      await writeFile(fresh, `${process.pid}\n`, { mode: 0o600 });
      try {
        await link(fresh, startLockFile);
      } finally {
        await rm(fresh, { force: true });
      }
      return async () => {
        await rm(startLockFile, { force: true });
        await removeRunRootIfEmpty();
      };
    } catch (err) {
      // another lab's down may remove the (empty) runtime root between mkdir and open
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        await mkdir(dirname(startLockFile), { recursive: true, mode: 0o755 });
        continue;
      }
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = await lockHolder();
      if (holder !== undefined && holder !== process.pid && pidAlive(holder)) {
        if (Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        throw new UserError(
          `Another \`mystery start\` is in progress (pid ${holder}).`,
          'Wait for it to finish, then run `mystery status`; only one lab is set up at a time.',
          ExitCode.conflict,
        );
      }
      await takeOverStale(holder);
    }
  }
}

/**
 * Removes a stale lock (its starter is gone) without removing a fresh one: two starts that
 * both found the same stale lock could otherwise each delete it, the second deleting the lock
 * the first had just taken, and both would build at once. The lock is first renamed to a
 * name of our own (only one racer can rename a given file); if what was renamed turns out
 * to be a live starter's lock, it is put back.
 */
async function takeOverStale(seen: number | undefined): Promise<void> {
  const mine = `${startLockFile}.${process.pid}.stale`;
  try {
    await rename(startLockFile, mine);
  } catch {
    return; // someone else took it over first: look again
  }
  let pid: number | undefined;
  try {
    const n = Number((await readFile(mine, 'utf8')).trim());
    pid = Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    pid = undefined;
  }
  if (pid !== undefined && pid !== seen && pid !== process.pid && pidAlive(pid)) {
    await link(mine, startLockFile).catch(() => {}); // a live starter's lock: give it back
  }
  await rm(mine, { force: true });
}

/** Removes a lock left by a starter that was killed (down leaves the host as it was). */
export async function clearStaleStartLock(): Promise<void> {
  const holder = await lockHolder();
  if (holder === undefined || !pidAlive(holder)) {
    await rm(startLockFile, { force: true });
    await removeRunRootIfEmpty();
  }
}
