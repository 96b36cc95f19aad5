import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Runtime state lives in /run: it is gone after a reboot, like the namespaces it describes. */
export const runRoot = process.env.MYSTERY_RUN_DIR ?? '/run/tcpdump-mystery';
export const labDir = (lab: string): string => join(runRoot, lab);
export const stateFile = (lab: string): string => join(labDir(lab), 'state.json');
export const socketFile = (lab: string): string => join(labDir(lab), 'supervisor.sock');
export const servicesDir = (lab: string): string => join(labDir(lab), 'services');
export const logFile = (lab: string): string => join(labDir(lab), 'supervisor.log');
export const startLockFile = join(runRoot, 'start.lock');

/** The compiled project root (dist/..) and the compiled services shipped with it. */
export const distRoot = fileURLToPath(new URL('../..', import.meta.url));
export const compiledServicesDir = join(distRoot, 'src', 'services');
export const projectRoot = join(distRoot, '..');
