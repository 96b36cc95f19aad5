/** Runs the built `mystery` binary as a learner would, and collects what it printed. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const cliPath = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command (argument array, no shell) and collects what it printed; killed after `timeoutMs`. */
export function runCommand(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ? { ...process.env, ...opts.env } : process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export function mystery(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return runCommand(process.execPath, [cliPath, ...args], opts);
}

/** Runs a command (argument array) and returns its output, for the learner's own tools. */
export function sh(cmd: string, args: string[], timeoutMs = 30_000): Promise<CliResult> {
  return runCommand(cmd, args, { timeoutMs });
}

/** Packets tcpdump captured on an interface in `seconds`, from its closing summary. */
export async function countPackets(iface: string, filter: string, seconds: number): Promise<{ captured: number; dropped: number }> {
  const r = await sh('timeout', [String(seconds), 'tcpdump', '-nq', '-i', iface, filter], (seconds + 10) * 1000);
  const captured = Number(/(\d+) packets? captured/.exec(r.stderr)?.[1] ?? NaN);
  const dropped = Number(/(\d+) packets? dropped by kernel/.exec(r.stderr)?.[1] ?? NaN);
  return { captured, dropped };
}
