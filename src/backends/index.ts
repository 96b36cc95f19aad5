import type { Backend } from '../cases/case.js';
import type { LabBackend } from './backend.js';
import { netnsBackend } from './netns/index.js';
import { dockerBackend } from './docker/index.js';

const backends: Partial<Record<Backend, LabBackend>> = { netns: netnsBackend, docker: dockerBackend };

export function registerBackend(b: LabBackend): void {
  backends[b.name] = b;
}

export function backendFor(name: Backend): LabBackend {
  const b = backends[name];
  if (!b) throw new Error(`backend ${name} is not available`);
  return b;
}

export function allBackends(): LabBackend[] {
  return Object.values(backends).filter((b): b is LabBackend => !!b);
}
