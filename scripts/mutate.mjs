// The mutation score of the fast tier: small mistakes made on purpose in the compiled logic
// (a comparison turned, a boolean flipped, a bound moved by one), each run against the unit
// tests; a mutant the tests do not notice survives. On demand, never in CI:
//   npm run build && node scripts/mutate.mjs [--sample N] [--seed S] [--only PATH-PART] [--jobs J]
//                                           [--tests PART[,PART]]
// Prints the score per folder and every survivor (file:line, the change) as JSON at the end.
// --tests runs only the unit test files whose names contain one of the parts (e.g.
// `--tests explain,cli` for src/explain): faster, but a LOWER BOUND of the score, since a mutant
// the subset kills the whole tier kills too, while a survivor may still be killed by a file left
// out. Without it, every unit test file runs (the score that counts).
// Mutates dist/ in place, one file at a time, and puts each file back before the next.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
const folders = ['src/core', 'src/cases', 'src/commands', 'src/explain'];
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const sample = Number(opt('--sample', '0'));
const seed = opt('--seed', 'mutants');
const only = opt('--only', '');
const jobs = Math.max(1, Number(opt('--jobs', '1')));
const testTimeoutMs = Number(opt('--timeout', '60000'));
const testParts = opt('--tests', '').split(',').map((p) => p.trim()).filter(Boolean);

// operators, each with its replacement; matched outside strings, comments and regexes
const operators = [
  ['===', '!=='], ['!==', '==='], ['<=', '<'], ['>=', '>'], ['&&', '||'], ['||', '&&'],
  [' < ', ' <= '], [' > ', ' >= '], ['true', 'false'], ['false', 'true'], ['+ 1', '- 1'], ['- 1', '+ 1'],
];

/** The code parts of a line: strings, template literals and comments blanked (so no mutant lands there). */
function codeMask(line) {
  let out = '';
  let quote = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      out += ' ';
      if (c === '\\') { out += ' '; i++; continue; }
      if (c === quote) quote = null;
      continue;
    }
    if (c === '/' && line[i + 1] === '/') { out += ' '.repeat(line.length - i); break; }
    if (c === '"' || c === "'" || c === '`') { quote = c; out += ' '; continue; }
    out += c;
  }
  return out;
}

function sitesOf(file) {
  const lines = readFileSync(file, 'utf8').split('\n');
  const sites = [];
  lines.forEach((line, n) => {
    const t = line.trim();
    if (t.startsWith('import ') || t.startsWith('export {') || t.startsWith('*') || t.startsWith('/*')) return;
    if (/\/.*\/[gimsuy]*[.,;)]/.test(line) && /(^|[=(,:!&|?]\s*)\//.test(line)) return; // a regex literal: leave the line alone
    const mask = codeMask(line);
    for (const [from, to] of operators) {
      let at = mask.indexOf(from);
      while (at >= 0) {
        const before = mask[at - 1] ?? ' ';
        const after = mask[at + from.length] ?? ' ';
        const word = /^[a-z]+$/.test(from);
        const ok = word ? !/[\w$]/.test(before) && !/[\w$]/.test(after) : !(from === '>=' && before === '=') && !(from.startsWith('<') && before === '<') && !(from.startsWith('>') && (before === '=' || before === '>'));
        if (ok) sites.push({ line: n, col: at, from, to });
        at = mask.indexOf(from, at + 1);
      }
    }
  });
  return sites;
}

function walk(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    // a bundle (explain.bundle.js) is a copy of other files that no unit test loads
    else if (e.name.endsWith('.js') && !e.name.endsWith('.bundle.js')) out.push(p);
  }
  return out;
}

// the unit test files run against each mutant: all of them, or those whose names contain a --tests part
const unitFiles = readdirSync(join(dist, 'test', 'unit'))
  .filter((f) => f.endsWith('.test.js') && (testParts.length === 0 || testParts.some((p) => f.includes(p))))
  .map((f) => join(dist, 'test', 'unit', f));
if (unitFiles.length === 0) {
  console.error(`mutate: no unit test file in dist/test/unit matches --tests ${testParts.join(',')}`);
  process.exit(1);
}

function runUnitTests() {
  const files = unitFiles;
  return new Promise((resolve) => {
    // a process group of its own: a timeout ends the test files' processes too, not the runner alone
    const child = spawn(process.execPath, ['--test', '--test-concurrency=4', ...files], { stdio: 'ignore', detached: true, env: { ...process.env, MYSTERY_NO_LABS: '1' } });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, testTimeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      // a timeout is no kill: a slow machine must not raise the score
      resolve(timedOut ? 'timeout' : code === 0 ? 'survived' : 'killed');
    });
  });
}

// ranked by the file's path inside the tree: the same code gives the same sample wherever it is
const rank = (s) => createHash('sha256').update(`${seed}\0${relative(dist, s.file)}:${s.line}:${s.col}:${s.from}`).digest().readUInt32BE(0);
let all = [];
for (const folder of folders) {
  for (const file of walk(join(dist, folder))) {
    if (only && !file.includes(only)) continue;
    all.push(...sitesOf(file).map((s) => ({ ...s, file, folder })));
  }
}
if (sample > 0) all = all.sort((a, b) => rank(a) - rank(b)).slice(0, sample);
console.error(`mutate: ${all.length} mutants in ${folders.join(', ')}${only ? ` (only ${only})` : ''}`);
if (testParts.length) console.error(`mutate: against ${unitFiles.length} unit test files only (--tests ${testParts.join(',')}): the score is a lower bound`);

if ((await runUnitTests()) !== 'survived') {
  console.error('mutate: the unit tests fail without any mutant; fix them first');
  process.exit(1);
}

const results = [];
// one file mutated at a time: mutants of one file run one after another, different files may run side by side
const byFile = new Map();
for (const m of all) byFile.set(m.file, [...(byFile.get(m.file) ?? []), m]);
const queue = [...byFile.values()];
async function worker() {
  for (;;) {
    const group = queue.shift();
    if (!group) return;
    const file = group[0].file;
    const original = readFileSync(file, 'utf8');
    try {
      for (const m of group) {
        const lines = original.split('\n');
        const l = lines[m.line];
        lines[m.line] = l.slice(0, m.col) + m.to + l.slice(m.col + m.from.length);
        writeFileSync(file, lines.join('\n'));
        const verdict = await runUnitTests();
        results.push({ ...m, verdict });
        process.stderr.write(verdict === 'survived' ? 'S' : verdict === 'timeout' ? 'T' : '.');
      }
    } finally {
      writeFileSync(file, original);
    }
  }
}
if (jobs > 1) console.error('mutate: --jobs > 1 runs several files at once; tests of one may load another\'s mutant');
await Promise.all(Array.from({ length: jobs }, worker));
process.stderr.write('\n');

// killed over killed and survived: a mutant that timed out is counted neither way, and listed
const score = (rs) => {
  const judged = rs.filter((r) => r.verdict !== 'timeout');
  return judged.length ? Math.round((judged.filter((r) => r.verdict === 'killed').length / judged.length) * 1000) / 10 : null;
};
const perFolder = Object.fromEntries(folders.map((f) => [f, { mutants: results.filter((r) => r.folder === f).length, scorePercent: score(results.filter((r) => r.folder === f)) }]));
const survivors = results.filter((r) => r.verdict === 'survived').map((r) => `${relative(dist, r.file)}:${r.line + 1}: ${r.from} -> ${r.to}`);
const timedOut = results.filter((r) => r.verdict === 'timeout').map((r) => `${relative(dist, r.file)}:${r.line + 1}: ${r.from} -> ${r.to}`);
const counts = { killed: results.filter((r) => r.verdict === 'killed').length, survived: survivors.length, timedOut: timedOut.length };
const tests = testParts.length ? { parts: testParts, files: unitFiles.length, lowerBound: true } : 'all unit files';
console.log(JSON.stringify({ mutants: results.length, ...counts, scorePercent: score(results), tests, perFolder, survivors, timedOut }, null, 2));
