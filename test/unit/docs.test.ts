/** The docs follow the catalog: every case the registry finds has its row, with its difficulty and backends. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { allCases } from '../../src/cases/index.js';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const read = (f: string): string => readFileSync(`${repo}/${f}`, 'utf8');

test('docs/cases.md has a row for every case of the catalog, with its difficulty, how it is solved and its backends', () => {
  const rows = read('docs/cases.md').split('\n').filter((l) => l.startsWith('| `'));
  for (const c of allCases()) {
    const row = rows.find((r) => r.startsWith(`| \`${c.id}\` |`));
    assert.ok(row, `docs/cases.md has no row for ${c.id}`);
    const cells = row.split(' | ');
    assert.equal(cells[1], c.difficulty, `${c.id}: difficulty`);
    assert.match(cells[3]!, c.solvedBy === 'arrest' ? /^arrest$/ : /mystery answer/, `${c.id}: solved by`);
    assert.equal(cells[4], c.backends.join(', '), `${c.id}: backends`);
    assert.equal(/\brepair\b/.test(cells[3]!), !!c.endToEnd?.repairable, `${c.id}: a repair is said where the case takes one`);
  }
  assert.equal(rows.length, allCases().length, 'no row for a case that is not in the catalog');
});

test('the README lists every case of the catalog with its difficulty', () => {
  const rows = read('README.md').split('\n').filter((l) => /^\| `[a-z-]+`( \(default\))? \| (easy|medium|hard) \|/.test(l));
  for (const c of allCases()) {
    assert.ok(rows.some((r) => r.startsWith(`| \`${c.id}\``) && r.includes(`| ${c.difficulty} |`)), `README.md has no row for ${c.id}`);
  }
  assert.equal(rows.length, allCases().length);
});
