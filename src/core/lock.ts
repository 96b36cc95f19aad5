/**
 * One start at a time on a host: the lock file holds the starter's pid. A lock whose
 * process is gone (the starter was killed) is stale and is taken over.
 */
import { readFileSync } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
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
      const fh = await open(startLockFile, 'wx', 0o600);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
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
      await rm(startLockFile, { force: true }); // stale: its starter is gone
    }
  }
}

/** Removes a lock left by a starter that was killed (down leaves the host as it was). */
export async function clearStaleStartLock(): Promise<void> {
  const holder = await lockHolder();
  if (holder === undefined || !pidAlive(holder)) {
    await rm(startLockFile, { force: true });
    await removeRunRootIfEmpty();
  }
}
