// 13. Tags: what an invalidation of a tag costs, against the entries it removes, with 10x more
// untagged entries beside them; and `get` of untagged entries on an instance holding tagged
// entries, against one that never saw a tag. A tag invalidation reads the keys carrying the tag
// (an index of tagged entries only), so its cost should follow what it removes, not the cache.
// On the loopback log of bench/lib.mjs: no broker noise in the local timings. Run with --expose-gc.
// A/A: a second copy of each reference instance (the smaller tagged one, the one without tags),
// measured in the same rounds, gives the noise bands of the two ratios.
import { createNearCache, silentLogger } from '@nearcache/core';
import { QUICK, check, gc, key, log, loopbackLog, makeValue, median, noise, now, report, roundOrder, roundRatios, tick, verdictFields } from '../lib.mjs';

const UNTAGGED = QUICK ? 10_000 : 50_000;
const TAGGED = 100;
const ROUNDS = QUICK ? 5 : 15;
const READS = QUICK ? 200_000 : 1_000_000;
const BATCH = 64;

const open = (entries) => createNearCache({ topic: 'bench.tags', log: loopbackLog(), max: entries * 2, maxBytes: 0, logger: silentLogger });

/** An instance with `untagged` plain entries and 50 groups of TAGGED entries, tagged when `tagged` (one tag per group, and 'all'). */
async function filled(untagged, tagged) {
  const cache = open(untagged + TAGGED * 50);
  await cache.ready();
  for (let i = 0; i < untagged; i++) void cache.set(key(i), makeValue(i));
  // The same entries either way, with or without their tags.
  for (let t = 0; t < 50; t++)
    for (let i = 0; i < TAGGED; i++) void cache.set(`tagged:${t}:${i}`, makeValue(i), tagged ? { tags: [`tag:${t}`, 'all'] } : undefined);
  await cache.flush();
  return cache;
}

/** ns per removed entry of one invalidation of a tag carried by TAGGED entries, median of ROUNDS (the entries are set again between rounds). */
async function invalidationNsPerEntry(cache) {
  const samples = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < TAGGED; i++) void cache.set(`tagged:0:${i}`, makeValue(i), { tags: ['tag:0', 'all'] });
    await cache.flush();
    await tick();
    // A collection of the larger heap inside the timed part would be counted as the invalidation's.
    gc();
    const before = cache.size;
    const started = now();
    void cache.invalidateTags(['tag:0']);
    const ns = Number(now() - started);
    const removed = before - cache.size;
    if (removed !== TAGGED) throw new Error(`the invalidation removed ${removed} entries, expected ${TAGGED}`);
    samples.push(ns / removed);
    await cache.flush();
  }
  return median(samples);
}

/** ns per get of untagged keys (uniform), batches of BATCH. */
function getNs(cache, untagged) {
  const keys = Array.from({ length: untagged }, (_, i) => key(i));
  let sink = 0;
  const samples = [];
  for (let b = 0; b < READS; b += BATCH) {
    const started = now();
    for (let i = 0; i < BATCH; i++) if (cache.get(keys[(b + i * 7919) % untagged]) !== undefined) sink++;
    samples.push(Number(now() - started) / BATCH);
  }
  if (sink === 0) throw new Error('no hit');
  return median(samples);
}

const OUTER = 3;
const instances = {
  small: await filled(UNTAGGED / 10, true),
  small2: await filled(UNTAGGED / 10, true),
  large: await filled(UNTAGGED, true),
  plain: await filled(UNTAGGED, false),
  plain2: await filled(UNTAGGED, false),
};
const cost = { small: [], small2: [], large: [] };
const reads = { tagged: [], plain: [], plain2: [] };
for (let r = 0; r < OUTER; r++) {
  // Interleaved, the order turning every round.
  for (const which of roundOrder(r, ['small', 'large', 'small2'])) cost[which].push(await invalidationNsPerEntry(instances[which]));
  for (const which of roundOrder(r, ['tagged', 'plain', 'plain2'])) reads[which].push(getNs(instances[which === 'tagged' ? 'large' : which], UNTAGGED));
}
await Promise.all(Object.values(instances).map((c) => c.close()));
const costSmall = cost.small,
  costLarge = cost.large,
  getTagged = reads.tagged,
  getPlain = reads.plain;

const perEntrySmall = median(costSmall);
const perEntryLarge = median(costLarge);
const growth = perEntryLarge / perEntrySmall;
const getRatio = median(getTagged) / median(getPlain);
const aa = {
  growth: noise({ aa: median(cost.small2) / perEntrySmall, rounds: roundRatios(cost.small2, costSmall) }),
  get: noise({ aa: median(reads.plain2) / median(getPlain), rounds: roundRatios(reads.plain2, getPlain) }),
};
const checks = [check('invalidation', growth, '<=', 1.5, aa.growth), check('get', getRatio, '<=', 1.1, aa.get)];
log(
  `tags: one invalidation removing ${TAGGED} entries: ${perEntrySmall.toFixed(0)} ns per entry beside ${UNTAGGED / 10} untagged entries, ${perEntryLarge.toFixed(0)} ns beside ${UNTAGGED} (${growth.toFixed(2)}x); get of untagged entries ${median(getTagged).toFixed(1)} ns with tagged entries held, ${median(getPlain).toFixed(1)} ns without (${getRatio.toFixed(2)}x)`,
);
report({
  scenario: 'tags',
  title: 'a tag invalidation against the entries it removes, and get of untagged entries',
  method: `loopback log; one instance with ${UNTAGGED / 10} and one with ${UNTAGGED} untagged entries, each beside 50 tags of ${TAGGED} entries; the synchronous part of invalidateTags (the local removal) timed per removed entry, median of ${ROUNDS} per round, ${OUTER} interleaved rounds; get of untagged keys (batches of ${BATCH}) on the larger instance against an instance holding the same entries without their tags; A/A: a second smaller tagged instance and a second instance without tags in the same rounds, the noise bands of the two ratios`,
  ratio: growth,
  ratioLabel: `ns per removed entry at ${UNTAGGED} untagged entries / at ${UNTAGGED / 10}`,
  measured: `${growth.toFixed(2)}x per removed entry at 10x untagged entries; untagged get ${getRatio.toFixed(2)}x`,
  target: 'invalidation per removed entry <= 1.5x at 10x untagged entries; untagged get <= 1.1x',
  ...verdictFields(checks),
  results: { perEntrySmallNs: perEntrySmall, perEntryLargeNs: perEntryLarge, growth, getTaggedNs: median(getTagged), getPlainNs: median(getPlain), getRatio },
  aa: { growth: aa.growth.aa, getRatio: aa.get.aa, perEntrySmall2Ns: median(cost.small2), getPlain2Ns: median(reads.plain2) },
});
