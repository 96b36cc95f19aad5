import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const src = fileURLToPath(new URL('../../../src/', import.meta.url));

/** Every module specifier a TypeScript file imports (static, type-only and dynamic). */
export function importsOf(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/\bfrom\s+['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm)) out.push((m[1] ?? m[2] ?? m[3])!);
  return out;
}

test('importsOf finds static, type-only, dynamic and bare imports', () => {
  const text = ["import { a } from '../backends/netns/ip.js';", "import type { B } from \"../backends/docker/index.js\";", "const c = await import('../backends/netns/control.js');", "import '../backends/docker/x.js';"].join('\n');
  assert.deepEqual(importsOf(text), ['../backends/netns/ip.js', '../backends/docker/index.js', '../backends/netns/control.js', '../backends/docker/x.js']);
});

test('no file of src/core or src/commands imports a backend\'s internals: only backends/backend.ts and backends/index.ts', () => {
  const offenders: string[] = [];
  for (const dir of ['core', 'commands', 'cli']) {
    for (const f of readdirSync(join(src, dir)).filter((x) => x.endsWith('.ts'))) {
      for (const spec of importsOf(readFileSync(join(src, dir, f), 'utf8'))) {
        if (/backends\/(netns|docker)\//.test(spec)) offenders.push(`src/${dir}/${f}: ${spec}`);
      }
    }
  }
  assert.deepEqual(offenders, []);
});
