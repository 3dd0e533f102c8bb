// 8. Reads under replication load: get p99 on instance A while A writes 10% of its operations and
// applies a stream of remote writes from process B, vs the same reads with no writes anywhere.
// A/A: a second read-only phase per round against the first, the noise band of the ratio.
import { LRUCache } from 'lru-cache';
import { createNearCache, silentLogger } from '@nearcache/core';
import {
  BROKERS,
  QUICK,
  check,
  key,
  keySequence,
  log,
  makeValue,
  median,
  noise,
  report,
  roundOrder,
  roundRatios,
  startPeer,
  summarize,
  tick,
  timedReads,
  uniqueTopic,
  verdictFields,
} from '../lib.mjs';

const N = QUICK ? 50_000 : 100_000;
const ROUNDS = QUICK ? 2 : 4;
const PHASE_MS = QUICK ? 3000 : 6000;
const REMOTE_RATE = 2000;
const BATCH = 100;
const topic = uniqueTopic('mixed');
const keys = Array.from({ length: N }, (_, i) => key(i));
const seq = keySequence(N, 1 << 20, 'zipf');

const cache = createNearCache({ topic, kafka: { brokers: BROKERS }, max: N * 2, maxBytes: 0, logger: silentLogger });
// For reference only: a raw lru-cache holding the same values, read in phases of its own under
// the same load (which nearcache still generates), to tell what the load does to any
// in-process read from what it does to nearcache's.
const raw = new LRUCache({ max: N * 2 });
await cache.ready({ timeout: 60_000 });
for (let i = 0; i < N; i++) {
  const value = makeValue(i);
  void cache.set(keys[i], value);
  raw.set(keys[i], value);
  if (i % 1000 === 999) await tick();
}
await cache.flush({ timeout: 60_000 });
const peer = await startPeer('mixed-writer');
let sink = 0;
let cursor = 0;

async function phase(withWrites, reader = cache) {
  let remote;
  const appliedBefore = cache.stats().records.applied;
  if (withWrites) remote = peer.call('writePaced', { impl: 'ours', topic, prefix: 'key:', n: Math.floor((REMOTE_RATE * PHASE_MS) / 1000), rate: REMOTE_RATE });
  const write = (k, j) => {
    const value = makeValue(j);
    void cache.set(k, value);
    raw.set(k, value);
  };
  const run = await timedReads({ reader, keys, seq, at: cursor, ms: PHASE_MS, batch: BATCH, write: withWrites ? write : undefined });
  cursor = run.cursor;
  sink += run.hits;
  if (remote) await remote;
  await cache.flush({ timeout: 30_000 });
  return { ...summarize(run.samples), writes: run.writes, applied: cache.stats().records.applied - appliedBefore };
}

try {
  await peer.call('openOurs', { topic });
  await phase(false);
  const ro = [],
    mixed = [],
    rawRo = [],
    rawMixed = [],
    ro2 = [];
  let applied = 0;
  for (let r = 0; r < ROUNDS; r++) {
    for (const side of roundOrder(r, ['read-only', 'load', 'read-only again'])) {
      if (side === 'read-only again') {
        const s = await phase(false);
        ro2.push(s.p99);
        log(`mixed read-only again (A/A): p50 ${s.p50.toFixed(0)} ns p99 ${s.p99.toFixed(0)} ns`);
        continue;
      }
      const withWrites = side === 'load';
      const s = await phase(withWrites);
      (withWrites ? mixed : ro).push(s.p99);
      if (withWrites) applied += s.applied;
      log(
        `mixed ${withWrites ? 'load' : 'read-only'}: p50 ${s.p50.toFixed(0)} ns p99 ${s.p99.toFixed(0)} ns (${s.n} reads, ${s.writes} local writes, ${s.applied} records applied)`,
      );
      const q = await phase(withWrites, raw);
      (withWrites ? rawMixed : rawRo).push(q.p99);
      log(`mixed ${withWrites ? 'load' : 'read-only'}, raw lru-cache reads (reference): p50 ${q.p50.toFixed(0)} ns p99 ${q.p99.toFixed(0)} ns`);
    }
  }
  const roP99 = median(ro),
    mixedP99 = median(mixed);
  const rawRoP99 = median(rawRo),
    rawMixedP99 = median(rawMixed);
  const ratio = mixedP99 / roP99;
  const band = noise({ aa: median(ro2) / roP99, rounds: roundRatios(ro2, ro) });
  const checks = [check('', ratio, '<=', 2, band)];
  report({
    scenario: 'mixed',
    title: 'read p99 under replication load vs read-only',
    method: `${N} keys, Zipf reads in batches of ${BATCH} with a setImmediate between batches; load phases: every 10th operation a local set and process B writing ${REMOTE_RATE}/s to the topic; each get timed alone with performance.now(); ${ROUNDS} interleaved rounds of ${PHASE_MS} ms per phase; median p99; each phase is followed by the same phase reading a raw lru-cache that holds the same values (reference); A/A: a second read-only phase per round, the noise band of the ratio`,
    ratio,
    ratioLabel: 'p99 under load / read-only p99',
    measured: `${ratio.toFixed(2)}x (${mixedP99.toFixed(0)} vs ${roP99.toFixed(0)} ns; lru-cache ${(rawMixedP99 / rawRoP99).toFixed(2)}x)`,
    target: '<= 2',
    ...verdictFields(checks),
    aa: { ratio: band.aa, readOnlyAgainP99ns: median(ro2), rounds: ro2 },
    readOnly: { p99ns: roP99, rounds: ro },
    load: { p99ns: mixedP99, rounds: mixed, recordsApplied: applied },
    rawLru: {
      readOnlyP99ns: rawRoP99,
      loadP99ns: rawMixedP99,
      readOnlyRounds: rawRo,
      loadRounds: rawMixed,
      note: 'a raw lru-cache holding the same values, read in phases of its own under the same load: not the target, a reference for what the load does to any in-process read',
    },
    sink,
  });
} finally {
  await peer.stop();
  await cache.close();
}
