/**
 * The catalog of cases, found by itself: every module in this folder that exports a case
 * (an object with an id and a draw) is one, and so is a folder's index.js (a case that brings
 * data of its own, as a certificate, keeps it in its folder). Adding a case is adding its
 * file or folder; nothing here lists them. The default case comes first, then easy, medium,
 * hard, each by id.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { validateCase, type CaseModule, type Difficulty } from './case.js';
import { ExitCode, UserError } from '../core/errors.js';

export const defaultCaseId = 'noisy-neighbour';

/** The modules of this folder that are not cases: the interface, the shared helpers, this file. */
const notCases = new Set(['case.js', 'common.js', 'index.js']);
const rank: Record<Difficulty, number> = { easy: 0, medium: 1, hard: 2 };

async function discover(): Promise<CaseModule[]> {
  const here = dirname(fileURLToPath(import.meta.url));
  const found: CaseModule[] = [];
  const files = readdirSync(here, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? (existsSync(join(here, e.name, 'index.js')) ? [join(e.name, 'index.js')] : []) : e.name.endsWith('.js') && !notCases.has(e.name) ? [e.name] : [],
  );
  for (const file of files.sort()) {
    const exports = (await import(pathToFileURL(join(here, file)).href)) as Record<string, unknown>;
    for (const value of Object.values(exports)) {
      const v = value as Partial<CaseModule> | null;
      if (v && typeof v === 'object' && typeof v.id === 'string' && typeof v.draw === 'function') found.push(v as CaseModule);
    }
  }
  const ids = found.map((c) => c.id);
  const twice = ids.find((id, i) => ids.indexOf(id) !== i);
  if (twice) throw new Error(`two case modules share the id ${twice}`);
  return found.sort((x, y) => Number(y.id === defaultCaseId) - Number(x.id === defaultCaseId) || rank[x.difficulty] - rank[y.difficulty] || x.id.localeCompare(y.id));
}

const modules: CaseModule[] = await discover();

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
