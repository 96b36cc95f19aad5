/**
 * Files the tool keeps in a user's home (progress), read and written safely by a process
 * that runs as root. Under sudo the work is done by a child process with the learner's own
 * uid and gid, so the kernel applies the learner's rights: a symlink they planted
 * (`~/.local/state -> /etc`) leads only where they could write anyway. Whoever does the
 * work never follows a link at the file itself, writes through a temporary name no one can
 * guess (O_EXCL), refuses anything but a regular directory below the base, and reads no FIFO,
 * device or oversized file.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants, readFileSync } from 'node:fs';
import { lstat, mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { safeEnv } from './run.js';

/** A progress file is a few KiB; anything past this is not ours. */
export const maxUserFileBytes = 1024 * 1024;

export interface Owner {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export type UserFileRead = { kind: 'ok'; text: string } | { kind: 'missing' } | { kind: 'bad'; reason: string };

/**
 * The user who ran sudo, if any, from sudo's own variables checked against /etc/passwd:
 * SUDO_USER names them, SUDO_UID must agree with it.
 */
export function invokingUser(env: NodeJS.ProcessEnv = process.env, passwd = '/etc/passwd'): Owner | undefined {
  const name = env.SUDO_USER;
  if (!name || name === 'root' || !/^[a-z_][a-z0-9_.-]*\$?$/i.test(name)) return undefined;
  let line: string | undefined;
  try {
    line = readFileSync(passwd, 'utf8')
      .split('\n')
      .find((l) => l.split(':')[0] === name);
  } catch {
    return undefined;
  }
  const f = line?.split(':');
  if (!f || f.length < 7) return undefined;
  const uid = Number(f[2]);
  const gid = Number(f[3]);
  const home = f[5] ?? '';
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || uid === 0 || !home.startsWith('/')) return undefined;
  if (env.SUDO_UID !== undefined && env.SUDO_UID !== String(uid)) return undefined;
  return { name, uid, gid, home };
}

/** The identity the work must be done as: the invoking user when root runs for them. */
function actAs(owner: Owner | undefined): Owner | undefined {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  return root && owner ? owner : undefined;
}

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

/** Reads a regular file without following a link at it, without blocking on a FIFO, bounded. */
export async function readUserFileHere(file: string): Promise<UserFileRead> {
  let fh;
  try {
    fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = errCode(err);
    if (code === 'ENOENT') return { kind: 'missing' };
    if (code === 'ELOOP') return { kind: 'bad', reason: 'it is a symbolic link' };
    if (code === 'EACCES' || code === 'EPERM') return { kind: 'bad', reason: 'it cannot be read (permission denied)' };
    return { kind: 'bad', reason: `it cannot be opened (${code ?? (err as Error).message})` };
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { kind: 'bad', reason: 'it is not a regular file' };
    if (st.size > maxUserFileBytes) return { kind: 'bad', reason: `it is too large (${st.size} bytes, at most ${maxUserFileBytes})` };
    const buf = Buffer.alloc(st.size);
    const { bytesRead } = await fh.read(buf, 0, st.size, 0);
    return { kind: 'ok', text: buf.subarray(0, bytesRead).toString('utf8') };
  } catch (err) {
    return { kind: 'bad', reason: `it cannot be read (${errCode(err) ?? (err as Error).message})` };
  } finally {
    await fh.close();
  }
}

/**
 * Writes `file` atomically below `base`: every directory between them is created (0700) or
 * must already be a real directory, never a link; the text goes to a fresh temporary file
 * (O_EXCL, O_NOFOLLOW, a random name) renamed over the file, so a link planted at either
 * name is replaced, never followed. A target that is not a regular file is left alone.
 */
export async function writeUserFileHere(base: string, file: string, text: string): Promise<void> {
  const rel = relative(base, dirname(file));
  if (rel.startsWith('..') || rel.startsWith(sep)) throw new Error(`${file} is not below ${base}`);
  let dir = base;
  for (const part of rel ? rel.split(sep) : []) {
    dir = join(dir, part);
    try {
      await mkdir(dir, { mode: 0o700 });
    } catch (err) {
      if (errCode(err) !== 'EEXIST') throw err;
    }
    const st = await lstat(dir);
    if (st.isSymbolicLink() || !st.isDirectory()) throw new Error(`${dir} is not a directory of its own (a link, or a file)`);
  }
  try {
    const st = await lstat(file);
    if (!st.isFile() && !st.isSymbolicLink()) throw new Error(`${file} is not a regular file`);
  } catch (err) {
    if (errCode(err) !== 'ENOENT') throw err;
  }
  const tmp = `${file}.${randomBytes(8).toString('hex')}.tmp`;
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  await rename(tmp, file);
}

/**
 * The worker's program, given to `node -e` whole: the learner may not be able to read this
 * checkout at all (a clone in a 0700 folder of root's), so it must not load a file from it.
 */
function workerSource(): string {
  return [
    "import { constants } from 'node:fs';",
    "import { lstat, mkdir, open, rename, rm } from 'node:fs/promises';",
    "import { randomBytes } from 'node:crypto';",
    "import { dirname, join, relative, sep } from 'node:path';",
    `const maxUserFileBytes = ${maxUserFileBytes};`,
    errCode.toString(),
    readUserFileHere.toString(),
    writeUserFileHere.toString(),
    "let input = ''; process.stdin.setEncoding('utf8'); for await (const c of process.stdin) input += c;",
    'try { const req = JSON.parse(input); const result = req.op === "read" ? await readUserFileHere(req.file) : (await writeUserFileHere(req.base, req.file, req.text), { kind: "written" });',
    '  process.stdout.write(JSON.stringify({ ok: true, result })); } catch (err) { process.stdout.write(JSON.stringify({ ok: false, error: err.message })); }',
  ].join('\n');
}

type WorkerRequest = { op: 'read'; file: string } | { op: 'write'; base: string; file: string; text: string };

/** Runs one request in a child process that has the owner's uid and gid (and no other group). */
function inWorker(owner: Owner, req: WorkerRequest): Promise<UserFileRead | { kind: 'written' }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', workerSource()], {
      uid: owner.uid,
      gid: owner.gid,
      cwd: '/',
      env: safeEnv({ HOME: owner.home }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      try {
        const reply = JSON.parse(out) as { ok: true; result: UserFileRead | { kind: 'written' } } | { ok: false; error: string };
        if (reply.ok) return resolve(reply.result);
        return reject(new Error(reply.error));
      } catch {
        reject(new Error(`the helper running as ${owner.name} exited with code ${code}: ${err.trim() || out.trim()}`));
      }
    });
    child.stdin.on('error', () => {});
    child.stdin.end(JSON.stringify(req));
  });
}

/** Reads a file of the user's, as the user when root runs for them. */
export async function readUserFile(file: string, owner: Owner | undefined): Promise<UserFileRead> {
  const as = actAs(owner);
  if (!as) return readUserFileHere(file);
  try {
    return (await inWorker(as, { op: 'read', file })) as UserFileRead;
  } catch (err) {
    return { kind: 'bad', reason: (err as Error).message };
  }
}

/** Writes a file of the user's below `base`, as the user when root runs for them. */
export async function writeUserFile(base: string, file: string, text: string, owner: Owner | undefined): Promise<void> {
  const as = actAs(owner);
  if (!as) return writeUserFileHere(base, file, text);
  await inWorker(as, { op: 'write', base, file, text });
}
