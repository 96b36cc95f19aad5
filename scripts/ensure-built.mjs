// `npm start` in a clone: builds first when dist/ is missing or older than a source file, so
// that `npm install` then `sudo npm start` work without an install script (the npm package
// ships dist/ built and has none).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = join(root, 'dist', 'src', 'cli', 'main.js');
const newest = (dir) => {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
};
if (!existsSync(join(root, 'src'))) process.exit(0); // an installed package: built already
if (!existsSync(built) || newest(join(root, 'src')) > statSync(built).mtimeMs) {
  console.error('building first (npm run build) ...');
  const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
