/** The catalog of cases. Adding a case means adding its module here, and its tests. */
import { validateCase, type CaseModule } from './case.js';
import { noisyNeighbour } from './noisy-neighbour.js';
import { resetStorm } from './reset-storm.js';
import { passwordInClear } from './password-in-clear.js';
import { fatPayload } from './fat-payload.js';
import { lossyLink } from './lossy-link.js';
import { slowloris } from './slowloris.js';
import { intermittentBurst } from './intermittent-burst.js';
import { arpStorm } from './arp-storm.js';
import { dnsExfil } from './dns-exfil.js';
import { zeroWindow } from './zero-window.js';
import { vanishingPacket } from './vanishing-packet.js';
import { ExitCode, UserError } from '../core/errors.js';

export const defaultCaseId = 'noisy-neighbour';

const modules: CaseModule[] = [noisyNeighbour, resetStorm, passwordInClear, fatPayload, arpStorm, dnsExfil, lossyLink, slowloris, intermittentBurst, zeroWindow, vanishingPacket];

for (const m of modules) {
  const problems = validateCase(m);
  if (problems.length) throw new Error(`case ${(m as { id?: string }).id ?? '?'} is malformed: ${problems.join('; ')}`);
}

export function allCases(): readonly CaseModule[] {
  return modules;
}

export function findCase(id: string): CaseModule {
  const c = modules.find((m) => m.id === id);
  if (!c) {
    throw new UserError(
      `There is no case called "${id}".`,
      `Pick one of: ${modules.map((m) => m.id).join(', ')} (see \`mystery cases\`).`,
      ExitCode.usage,
    );
  }
  return c;
}
