import { spawn, type SpawnOptions } from 'node:child_process';
import { statSync } from 'node:fs';
import { describeExit, ExitCode, UserError } from './errors.js';

export const systemPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The directories a root process may take programs from: those of PATH that only root can
 * change (owned by root, not writable by group or others), or the system's own when none
 * is. A directory the learner can write to would let them put their own `ip` or `iptables`
 * in front of root. Not root: PATH as it is (nothing is gained or lost).
 */
export function trustedPath(path = process.env.PATH): string {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return path || systemPath;
  const dirs = (path ?? '').split(':').filter((d) => {
    if (!d.startsWith('/')) return false;
    try {
      const st = statSync(d);
      return st.isDirectory() && st.uid === 0 && (st.mode & 0o022) === 0;
    } catch {
      return false;
    }
  });
  return dirs.length ? [...new Set(dirs)].join(':') : systemPath;
}

/**
 * The environment of everything the tool runs as root: a trusted PATH and a C locale, and
 * nothing else of the caller's (no NODE_OPTIONS, no LD_*), plus what the caller names.
 */
export function safeEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: trustedPath(), LC_ALL: 'C' };
  if (process.env.TERM) env.TERM = process.env.TERM;
  return { ...env, ...extra };
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** the working directory (default: the caller's) */
  cwd?: string;
}

/** Runs a program with an argument array (never a shell string) and collects its output. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    // a given environment keeps its variables (Compose reads its own), never its PATH
    const env = opts.env ? withoutLoaderVars({ ...opts.env, PATH: trustedPath(opts.env.PATH ?? process.env.PATH) }) : safeEnv();
    const spawnOpts: SpawnOptions = { stdio: ['pipe', 'pipe', 'pipe'], env, ...(opts.cwd ? { cwd: opts.cwd } : {}) };
    const child = spawn(cmd, args, spawnOpts);
    let stdout = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      if (err.code === 'ENOENT') {
        reject(missingTool(cmd));
      } else reject(err);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    if (opts.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.stdin!.on('error', () => {});
    child.stdin!.end(opts.input ?? '');
  });
}

/** Variables that make a program load code of the caller's choosing. */
export function withoutLoaderVars(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const k of Object.keys(out)) if (/^(NODE_OPTIONS|NODE_PATH|LD_[A-Z_]+|PYTHON[A-Z_]*|BASH_ENV|ENV)$/.test(k)) delete out[k];
  return out;
}

/** Like run, but a non-zero exit is an error naming the command and what it printed. */
export async function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new CommandFailed(cmd, args, r);
  }
  return r.stdout;
}

export class CommandFailed extends Error {
  constructor(
    readonly cmd: string,
    readonly args: readonly string[],
    readonly result: RunResult,
  ) {
    super(
      `\`${[cmd, ...args].join(' ')}\` ${describeExit(result.code, result.signal)}: ${result.stderr.trim() || result.stdout.trim()}`,
    );
    this.name = 'CommandFailed';
  }
}

const packageOf: Record<string, string> = {
  ip: 'iproute2',
  tcpdump: 'tcpdump',
  iptables: 'iptables',
  'iptables-save': 'iptables',
  nsenter: 'util-linux',
  docker: 'docker.io',
  'docker-compose': 'docker-compose',
  tc: 'iproute2',
};

export function missingTool(cmd: string): UserError {
  const pkg = packageOf[cmd];
  return new UserError(
    `\`${cmd}\` is not installed (or not on PATH).`,
    pkg ? `Install it: sudo apt-get install ${pkg}` : `Install ${cmd} and try again.`,
    ExitCode.missingTool,
  );
}

/**
 * Finds a program on PATH without running it. Only on PATH: that is where spawn looks, so a
 * tool found here is a tool that runs (a fallback to /usr/sbin made a missing `ip` pass the
 * check and fail later, half way).
 */
export async function which(cmd: string): Promise<string | undefined> {
  const { access } = await import('node:fs/promises');
  const { constants } = await import('node:fs');
  const dirs = trustedPath().split(':').filter(Boolean);
  for (const d of dirs) {
    const p = `${d}/${cmd}`;
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {
      /* keep looking */
    }
  }
  return undefined;
}

export async function requireTools(cmds: readonly string[]): Promise<void> {
  for (const c of cmds) {
    if (!(await which(c))) throw missingTool(c);
  }
}
