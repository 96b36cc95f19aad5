/**
 * Imported first by a test file that runs commands on the fake backend: before any module of
 * src/ is loaded (src/core/paths.ts reads MYSTERY_RUN_DIR once), the lab's runtime files and
 * the learner's progress go to temporary directories of this process, and the commands that
 * need root see uid 0 (a test sets `fakeUid` to see a user's refusal). Nothing of src/ here.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const runDir = mkdtempSync(join(tmpdir(), 'mystery-fake-run-'));
export const stateHome = mkdtempSync(join(tmpdir(), 'mystery-fake-state-'));
process.env.MYSTERY_RUN_DIR = runDir;
process.env.XDG_STATE_HOME = stateHome;
// progress is written as the invoking user under sudo: here, by this process, into stateHome
delete process.env.SUDO_USER;
delete process.env.SUDO_UID;
delete process.env.SUDO_GID;
delete process.env.MYSTERY_TEST_DEFAULT_PORT;
// the unit tier's guard: in-memory backends only (scripts/run-tests.mjs sets it too)
process.env.MYSTERY_NO_LABS = '1';

/** The uid the commands see (0: root); a test sets it to 1000 to check a refusal, and back. */
export const fakeUid = { value: 0 };
process.getuid = () => fakeUid.value;

process.on('exit', () => {
  rmSync(runDir, { recursive: true, force: true });
  rmSync(stateHome, { recursive: true, force: true });
});
