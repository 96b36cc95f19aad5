/**
 * libpcap's and tcpdump's own test filters (test/data/pcap-test-filters.json), each judged
 * by explain's own verdict and by this machine's `tcpdump -d`. Done when they agree on at
 * least 97% (the figure is printed). On Ethernet, as `tcpdump -d` compiles by default; the
 * filters written for other link types (`-y`) must be named as not covered.
 *
 * In `npm test` a fixed sample of them (MYSTERY_CORPUS_SAMPLE, default 600) keeps the time
 * down; MYSTERY_CORPUS_SAMPLE=all judges every one.
 *
 * The test suites' host names (`*.libpcap.test`) resolve nowhere here; so that no DNS query
 * leaves this machine they are given an empty label (`.libpcap..test`), which the resolver
 * refuses on its own, with the same verdict ("unknown host").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ownVerdict } from '../../src/explain/verdict.js';
import { resolveHosts, systemLookups } from '../../src/explain/system.js';
import { judgeAll } from '../helpers/tcpdump-judge.js';

const data = JSON.parse(readFileSync(new URL('../../../test/data/pcap-test-filters.json', import.meta.url), 'utf8')) as { filters: [string, string, string][] };
const SAMPLE = process.env.MYSTERY_CORPUS_SAMPLE === 'all' ? Infinity : Number(process.env.MYSTERY_CORPUS_SAMPLE ?? 600);
const offline = (expr: string) => expr.replace(/\.libpcap\.test\b/gi, (m) => m.replace(/\.test$/i, '..test'));

test(`explain agrees with tcpdump -d on libpcap's and tcpdump's test filters (${Math.min(SAMPLE, data.filters.length)} of ${data.filters.length})`, { timeout: 300_000 }, async () => {
  assert.ok(data.filters.length > 2000, 'the corpus is all there');
  // every k-th filter: the sample spans the whole file, the same one each run
  const step = Math.max(1, data.filters.length / SAMPLE);
  const picked = SAMPLE >= data.filters.length ? data.filters : Array.from({ length: Math.floor(data.filters.length / step) }, (_, i) => data.filters[Math.floor(i * step)]!);
  const filters = picked.map(([dlt, expr, source]) => ({ dlt, expr: offline(expr), source }));
  const lookups = systemLookups();
  const truth = await judgeAll(filters.map((f) => ({ expr: f.expr })), Number(process.env.MYSTERY_DIFF_PARALLEL ?? 3));
  let agree = 0;
  let ownAgree = 0;
  let ownNotCovered = 0;
  const differ: string[] = [];
  for (const [i, f] of filters.entries()) {
    const mine = await ownVerdict(f.expr, { lookups, resolve: resolveHosts });
    const real = truth[i]!;
    if (mine.verdict === real.verdict) agree++;
    else differ.push(`'${f.expr}' (${f.source}): tcpdump ${real.verdict}${real.message ? ` (${real.message})` : ''}, explain ${mine.verdict}${mine.message ? ` (${mine.message})` : ''}`);
    // with the link type each test names: Ethernet is the same judgement; others are not covered
    if (f.dlt === 'EN10MB') ownAgree += mine.verdict === real.verdict ? 1 : 0;
    else if ((await ownVerdict(f.expr, { dlt: f.dlt, lookups })).verdict === 'not-covered') ownNotCovered++;
  }
  const share = agree / filters.length;
  const ethernet = filters.filter((f) => f.dlt === 'EN10MB').length;
  console.log(`# on Ethernet: ${agree}/${filters.length} agree (${(100 * share).toFixed(1)}%); with each test's own -y: ${ownAgree}/${ethernet} Ethernet filters agree, ${ownNotCovered}/${filters.length - ethernet} on other link types named as not covered`);
  assert.ok(share >= 0.97, `only ${(100 * share).toFixed(1)}% agree:\n${differ.slice(0, 40).join('\n')}`);
  assert.equal(ownNotCovered, filters.length - ethernet, 'a filter for another link type was judged as if it were Ethernet');
});
