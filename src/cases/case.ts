/**
 * What a case is. Each case is one self-contained module exporting a CaseModule; the
 * catalog (index.ts) lists them and validates each against this shape when it loads.
 * A case says *what* to build (hosts, their programs and secret configuration, the
 * answer drawn from the run's seed) and how to teach it; the backends build it.
 */
import type { Rng } from '../core/random.js';

export type Backend = 'netns' | 'docker';
export type Difficulty = 'easy' | 'medium' | 'hard';
export type ServiceProgram = 'webserver' | 'sender';

/** One host of the lab, as the case asks for it. */
export interface HostSpec {
  name: string;
  /** 'server' hosts are the victims; 'suspect' hosts can be arrested. */
  role: 'server' | 'suspect';
  program: ServiceProgram;
  /** Secret per-run configuration handed to the program (never shown to the learner). */
  config: Record<string, unknown>;
}

/** What the run's seed decides. Never written to disk in plain text. */
export interface CaseDraw {
  hosts: HostSpec[];
  /** The host to arrest. */
  culprit: string;
}

/** What a case may know of the running lab when it speaks to the learner. */
export interface RunView {
  lab: string;
  port: number;
  backend: Backend;
  /** The command prefix for this lab: "mystery" or "mystery --name X". */
  cli: string;
  hosts: Array<{ name: string; id: string; ip: string; veth?: string; ifindex?: number }>;
  bridge: string;
  draw: CaseDraw;
}

export interface CaseModule {
  id: string;
  title: string;
  difficulty: Difficulty;
  /** The tcpdump skills the case teaches, in a few words each. */
  skills: string[];
  /** One line for the catalog. */
  summary: string;
  backends: Backend[];
  suspects: { min: number; max: number; default: number };
  /** Draws the run from its seed's generator: who is guilty and how everyone behaves. */
  draw(rng: Rng, suspects: number): CaseDraw;
  /** The story and the symptom, never the answer. */
  briefing(view: RunView): string;
}

const difficulties: Difficulty[] = ['easy', 'medium', 'hard'];
const backends: Backend[] = ['netns', 'docker'];

/** Checks a case module's shape when the catalog loads; returns the problems found. */
export function validateCase(c: unknown): string[] {
  const problems: string[] = [];
  if (typeof c !== 'object' || c === null) return ['a case must be an object'];
  const m = c as Partial<CaseModule>;
  const need = (cond: boolean, what: string): void => {
    if (!cond) problems.push(what);
  };
  need(typeof m.id === 'string' && /^[a-z][a-z0-9-]{1,40}$/.test(m.id), 'id must be lower-case words joined by -');
  need(typeof m.title === 'string' && m.title.length > 0, 'title must be a non-empty string');
  need(difficulties.includes(m.difficulty as Difficulty), `difficulty must be one of ${difficulties.join(', ')}`);
  need(Array.isArray(m.skills) && m.skills.length > 0 && m.skills.every((s) => typeof s === 'string'), 'skills must list at least one skill');
  need(typeof m.summary === 'string' && m.summary.length > 0, 'summary must be a non-empty string');
  need(Array.isArray(m.backends) && m.backends.length > 0 && m.backends.every((b) => backends.includes(b)), 'backends must list netns and/or docker');
  const s = m.suspects;
  need(
    !!s && Number.isInteger(s.min) && Number.isInteger(s.max) && Number.isInteger(s.default) && s.min >= 1 && s.min <= s.default && s.default <= s.max,
    'suspects must be whole numbers with min <= default <= max',
  );
  need(typeof m.draw === 'function', 'draw must be a function');
  need(typeof m.briefing === 'function', 'briefing must be a function');
  return problems;
}
