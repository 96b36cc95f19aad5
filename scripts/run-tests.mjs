// Runs the compiled tests with node's test runner (which does not expand globs itself).
// `unit` or `e2e` picks one suite; no argument runs both, unit first. End-to-end tests
// share the host's network, so they run one file at a time, but for the cases' own files,
// which run two at a time (MYSTERY_TEST_ONE_AT_A_TIME=1: one at a time, too).
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
  const env = { ...process.env, XDG_STATE_HOME: process.env.XDG_STATE_HOME ?? stateHome, ...(suite === 'unit' ? { MYSTERY_NO_LABS: '1' } : {}) };
  // The cases' own end-to-end files (test/e2e/case-*.test.ts) touch nothing but labs of their
  // own names and ports: they run two at a time, after the others, each tolerating the other's
  // labs as a shared host's (MYSTERY_TEST_SHARED_HOST), and the host is checked strictly
  // around the two-at-a-time phase as a whole.
  const paired = suite === 'e2e' && !process.env.MYSTERY_TEST_ONE_AT_A_TIME ? files.filter((f) => /\/case-[^/]+\.test\.js$/.test(f)) : [];
  const alone = files.filter((f) => !paired.includes(f));
  // the unit tier never builds or removes a lab, whatever it runs as (see noLabsHere)
  // the unit files share nothing (temporary folders, port 0): four at a time, as most of them wait on processes
  const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${suite === 'unit' ? 4 : 1}`, ...alone], { stdio: 'inherit', env });
  if (r.status !== 0) failed = true;
  if (paired.length) {
    const { takeSnapshot, diffSnapshots } = await import(new URL('../dist/test/helpers/snapshot.js', import.meta.url).href);
    const before = await takeSnapshot();
    const p = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...paired], { stdio: 'inherit', env: { ...env, MYSTERY_TEST_SHARED_HOST: '1' } });
    if (p.status !== 0) failed = true;
    let diff = [];
    for (let i = 0; i < 10; i++) {
      diff = diffSnapshots(before, await takeSnapshot());
      if (diff.length === 0) break;
      await new Promise((res) => setTimeout(res, 500));
    }
    if (diff.length) {
      console.error(`the cases' end-to-end files, run two at a time, left the host changed:\n  ${diff.join('\n  ')}`);
      failed = true;
    } else console.log(`# the cases' end-to-end files (${paired.length}, two at a time): the host is as before`);
  }
}
rmSync(stateHome, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
