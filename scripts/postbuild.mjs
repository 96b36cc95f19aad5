// After tsc: makes the CLI executable (npm links it as `mystery`), and bundles the fast path
// of `mystery explain` into one file, since loading its dozen modules one by one is most of
// what a call costs (see bench/explain.ts). main.js falls back to the modules when the
// bundle is absent.
import { chmodSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

chmodSync(new URL('../dist/src/cli/main.js', import.meta.url), 0o755);

const commands = fileURLToPath(new URL('../dist/src/commands/', import.meta.url));
const errors = fileURLToPath(new URL('../dist/src/core/errors.js', import.meta.url));
await build({
  entryPoints: [`${commands}explain.js`],
  outfile: `${commands}explain.bundle.js`,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
  external: ['commander'],
  plugins: [
    {
      // the errors stay one module: main.js tells a UserError by its class
      name: 'shared-errors',
      setup(b) {
        b.onResolve({ filter: /\/errors\.js$/ }, (args) => (resolve(args.resolveDir, args.path) === errors ? { path: '../core/errors.js', external: true } : undefined));
      },
    },
  ],
});
