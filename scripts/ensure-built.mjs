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
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!existsSync(tsc)) {
    console.error('error: the project is not built, and TypeScript is not installed.\n  Run `npm install` first, in this folder.');
    process.exit(1);
  }
  console.error('building first (npm run build) ...');
  // under sudo, as the user who ran it: dist/ stays theirs, as `npm install` left it
  const as = process.getuid?.() === 0 && process.env.SUDO_UID ? { uid: Number(process.env.SUDO_UID), gid: Number(process.env.SUDO_GID) } : {};
  for (const args of [[tsc, '-p', 'tsconfig.json'], [join(root, 'scripts', 'postbuild.mjs')]]) {
    const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', ...as });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
}
