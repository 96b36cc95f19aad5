// Runs the compiled tests with node's test runner (which does not expand globs itself).
// `unit` or `e2e` picks one suite; no argument runs both, unit first. End-to-end tests
// share the host's network, so they run one file at a time.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const which = process.argv[2];
const suites = which ? [which] : ['unit', 'e2e'];
let failed = false;
// The tests' progress records go to a directory of their own, never the user's.
const stateHome = mkdtempSync(join(tmpdir(), 'mystery-test-state-'));
for (const suite of suites) {
  const dir = new URL(`../dist/test/${suite}/`, import.meta.url);
  let files = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.test.js')).sort().map((f) => new URL(f, dir).pathname);
  } catch {
    console.error(`no compiled ${suite} tests in ${dir.pathname}`);
    process.exit(1);
  }
  if (suite === 'e2e' && process.getuid?.() !== 0) {
    console.error('the end-to-end tests need root (real namespaces, tcpdump, iptables): run `sudo npm test`');
    process.exit(1);
  }
  const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], {
    stdio: 'inherit',
    // the unit tier never builds or removes a lab, whatever it runs as (see noLabsHere)
    env: { ...process.env, XDG_STATE_HOME: process.env.XDG_STATE_HOME ?? stateHome, ...(suite === 'unit' ? { MYSTERY_NO_LABS: '1' } : {}) },
  });
  if (r.status !== 0) failed = true;
}
rmSync(stateHome, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
