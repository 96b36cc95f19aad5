import type { Command } from 'commander';
import type { Ctx } from '../cli/context.js';

export type Register = (program: Command, ctx: Ctx) => void;

/**
 * Every command, in the order `--help` lists them, each loaded only when needed: a run
 * of `mystery explain` need not load the lab code (it answers in a fraction of the time).
 */
export const commandModules: [name: string, load: () => Promise<Register>][] = [
  ['start', async () => (await import('./start.js')).registerStart],
  ['ps', async () => (await import('./ps.js')).registerPs],
  ['exec', async () => (await import('./exec.js')).registerExec],
  ['stop', async () => (await import('./stop.js')).registerStop],
  ['restart', async () => (await import('./restart.js')).registerRestart],
  ['status', async () => (await import('./status.js')).registerStatus],
  ['down', async () => (await import('./down.js')).registerDown],
  ['hint', async () => (await import('./hint.js')).registerHint],
  ['check', async () => (await import('./check.js')).registerCheck],
  ['debrief', async () => (await import('./debrief.js')).registerDebrief],
  ['give-up', async () => (await import('./give-up.js')).registerGiveUp],
  ['answer', async () => (await import('./answer.js')).registerAnswer],
  ['cases', async () => (await import('./cases.js')).registerCases],
  ['explain', async () => (await import('./explain.js')).registerExplain],
  ['map', async () => (await import('./map.js')).registerMap],
  ['submit', async () => (await import('./submit.js')).registerSubmit],
  ['record', async () => (await import('./record.js')).registerRecord],
  ['recording', async () => (await import('./recording.js')).registerRecording],
];

/** The named command's registration only, or all of them (for --help, an unknown verb...). */
export async function loadCommands(name?: string): Promise<Register[]> {
  const one = commandModules.find(([n]) => n === name);
  return Promise.all((one ? [one] : commandModules).map(([, load]) => load()));
}
