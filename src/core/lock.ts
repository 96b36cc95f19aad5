/**
 * One start at a time on a host: the lock file holds the starter's pid. A lock whose
 * process is gone (the starter was killed) is stale and is taken over.
 */
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ExitCode, UserError } from './errors.js';
import { startLockFile } from './paths.js';
import { removeRunRootIfEmpty } from './state.js';

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
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

export async function acquireStartLock(): Promise<() => Promise<void>> {
  await mkdir(dirname(startLockFile), { recursive: true, mode: 0o755 });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(startLockFile, 'wx', 0o600);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return async () => {
        await rm(startLockFile, { force: true });
        await removeRunRootIfEmpty();
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = await lockHolder();
      if (holder !== undefined && holder !== process.pid && pidAlive(holder)) {
        throw new UserError(
          `Another \`mystery start\` is in progress (pid ${holder}).`,
          'Wait for it to finish, then run `mystery status`; only one lab is set up at a time.',
          ExitCode.conflict,
        );
      }
      await rm(startLockFile, { force: true }); // stale: its starter is gone
    }
  }
  throw new UserError('Could not take the start lock.', `Remove ${startLockFile} if no mystery command is running.`, ExitCode.conflict);
}

/** Removes a lock left by a starter that was killed (down leaves the host as it was). */
export async function clearStaleStartLock(): Promise<void> {
  const holder = await lockHolder();
  if (holder === undefined || !pidAlive(holder)) {
    await rm(startLockFile, { force: true });
    await removeRunRootIfEmpty();
  }
}
