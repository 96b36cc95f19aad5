/**
 * The lab model: a pure description of what to build, made from a case's draw. It holds
 * names and addresses, never the run's secrets (those are re-drawn from the seed).
 */
import type { Backend, CaseDraw } from '../cases/case.js';
import { bridgeName, hostId, netnsName, vethName } from './naming.js';
import { cryptoRng, type Rng } from './random.js';

export interface PlannedHost {
  name: string;
  id: string;
  role: 'server' | 'suspect';
  program: string;
  ip: string;
  /** netns backend: the namespace and the host-side veth. */
  netns: string;
  veth: string;
}

export interface LabPlan {
  lab: string;
  caseId: string;
  seed: string;
  suspects: number;
  backend: Backend;
  port: number;
  /** e.g. 10.200.7.0/24 */
  subnet: string;
  gateway: string;
  bridge: string;
  /** In the order `ps` lists them: shuffled, never name order. */
  hosts: PlannedHost[];
}

export interface PlanInput {
  lab: string;
  caseId: string;
  seed: string;
  suspects: number;
  backend: Backend;
  port: number;
  subnetBase: string; // "10.200.7"
  draw: CaseDraw;
  rng?: Rng;
}

export function planLab(input: PlanInput): LabPlan {
  const rng = input.rng ?? cryptoRng;
  const order = rng.shuffle(input.draw.hosts);
  const hosts: PlannedHost[] = order.map((h, i) => ({
    name: h.name,
    id: hostId(),
    role: h.role,
    program: h.program,
    ip: `${input.subnetBase}.${i + 2}`,
    netns: netnsName(input.lab),
    veth: vethName(),
  }));
  return {
    lab: input.lab,
    caseId: input.caseId,
    seed: input.seed,
    suspects: input.suspects,
    backend: input.backend,
    port: input.port,
    subnet: `${input.subnetBase}.0/24`,
    gateway: `${input.subnetBase}.1`,
    bridge: bridgeName(),
    hosts,
  };
}

/** Replaces host names in a service's target URL with their lab addresses. */
export function resolveConfig(config: Record<string, unknown>, plan: LabPlan): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  for (const [k, v] of Object.entries(out)) {
    if (typeof v !== 'string') continue;
    let s = v;
    for (const h of plan.hosts) s = s.replace(new RegExp(`//${h.name}(?=[:/])`, 'g'), `//${h.ip}`);
    out[k] = s;
  }
  return out;
}

/** Finds a host by name or id (or a unique id prefix, as docker does). */
export function findHost(plan: LabPlan, ref: string): PlannedHost | undefined {
  const exact = plan.hosts.find((h) => h.name === ref || h.id === ref);
  if (exact) return exact;
  if (/^[0-9a-f]{3,}$/.test(ref)) {
    const byPrefix = plan.hosts.filter((h) => h.id.startsWith(ref));
    if (byPrefix.length === 1) return byPrefix[0];
  }
  return undefined;
}
