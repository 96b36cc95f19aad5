/**
 * The differential test of `mystery explain`: seeded filters from libpcap's grammar, each
 * judged by explain's own verdict (no tcpdump) and by the real `tcpdump -d` (`-y DLT` where
 * the filter has one). Any disagreement fails, with the filter printed.
 *
 * Bounded in `npm test`; longer on demand:
 *   MYSTERY_DIFF_COUNT=10000 node --test dist/test/unit/explain-differential.test.js
 * MYSTERY_DIFF_SEED picks another draw (the default one is fixed, so a failure reproduces).
 * Needs tcpdump, not root: `tcpdump -d` opens no interface.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ownVerdict } from '../../src/explain/verdict.js';
import { resolveHosts, systemLookups } from '../../src/explain/system.js';
import { generateFilters } from '../helpers/filtergen.js';
import { judgeAll } from '../helpers/tcpdump-judge.js';

const COUNT = Number(process.env.MYSTERY_DIFF_COUNT ?? 1000);
const SEED = process.env.MYSTERY_DIFF_SEED ?? 'explain-differential-1';
const PARALLEL = Number(process.env.MYSTERY_DIFF_PARALLEL ?? 3);

test(`explain agrees with tcpdump -d on ${COUNT} generated filters (seed ${SEED})`, { timeout: Math.max(120_000, COUNT * 100) }, async () => {
  const filters = generateFilters(SEED, COUNT);
  const lookups = systemLookups();
  const truth = await judgeAll(filters, PARALLEL);
  const disagreements: string[] = [];
  const tally: Record<string, number> = {};
  let notCovered = 0;
  for (const [i, f] of filters.entries()) {
    const mine = await ownVerdict(f.expr, { dlt: f.dlt, lookups, resolve: resolveHosts });
    const real = truth[i]!;
    if (mine.verdict === 'not-covered') {
      // only link types other than Ethernet may be left to tcpdump, and then always
      notCovered++;
      if (f.dlt === undefined || f.dlt === 'EN10MB') disagreements.push(`explain does not cover an Ethernet filter: ${f.expr}  (${mine.message})`);
      continue;
    }
    if (f.dlt !== undefined && f.dlt !== 'EN10MB') {
      disagreements.push(`explain judged a -y ${f.dlt} filter as if it were Ethernet: ${f.expr}`);
      continue;
    }
    tally[real.verdict] = (tally[real.verdict] ?? 0) + 1;
    if (mine.verdict !== real.verdict) {
      disagreements.push(`${f.dlt ? `-y ${f.dlt} ` : ''}'${f.expr}': tcpdump ${real.verdict}${real.message ? ` (${real.message})` : ''}, explain ${mine.verdict}${mine.message ? ` (${mine.message})` : ''}`);
    }
  }
  // the draw must exercise all three verdicts, or it tests too little
  assert.ok((tally.valid ?? 0) > COUNT / 10 && (tally.invalid ?? 0) > COUNT / 10, `too one-sided a draw: ${JSON.stringify(tally)}`);
  if (COUNT >= 500) assert.ok((tally['rejects-all'] ?? 0) > 0, `no filter that rejects every packet in the draw: ${JSON.stringify(tally)}`);
  console.log(`# ${COUNT} filters: ${JSON.stringify(tally)}, ${notCovered} on link types explain does not cover, ${disagreements.length} disagreements`);
  assert.equal(disagreements.length, 0, `${disagreements.length} of ${COUNT} disagree:\n${disagreements.slice(0, 40).join('\n')}`);
});
