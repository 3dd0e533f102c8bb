// 7. Against a remote cache and other local caches: get p50 of nearcache vs Redis GET over loopback
// (node-redis), cache-manager's default in-memory store (what @nestjs/cache-manager uses by
// default) and Bentocache's memory driver. Redis is measured twice per round (the second pass, an A/A
// comparison, gives the noise band of the ratio).
import { createClient } from 'redis';
import { createCache } from 'cache-manager';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { createNearCache, silentLogger } from '@nearcache/core';
import {
  QUICK,
  check,
  key,
  keySequence,
  log,
  loopbackLog,
  makeValue,
  median,
  noise,
  now,
  report,
  roundRatios,
  summarize,
  tick,
  verdictFields,
} from '../lib.mjs';

const N = 10_000;
const ROUNDS = QUICK ? 3 : 5;
const LOCAL_OPS = QUICK ? 50_000 : 200_000;
const REDIS_OPS = QUICK ? 5_000 : 20_000;
const keys = Array.from({ length: N }, (_, i) => key(i));
const values = Array.from({ length: N }, (_, i) => makeValue(i));
const seq = keySequence(N, LOCAL_OPS, 'uniform');

const cache = createNearCache({ topic: 'bench.remote', log: loopbackLog(), max: N, maxBytes: 0, logger: silentLogger });
await cache.ready();
for (let i = 0; i < N; i++) void cache.set(keys[i], values[i]);
await cache.flush();

const cm = createCache();
for (let i = 0; i < N; i++) await cm.set(keys[i], values[i]);

const bento = new BentoCache({ default: 'memory', stores: { memory: bentostore().useL1Layer(memoryDriver({ maxItems: N * 2 })) } });
for (let i = 0; i < N; i++) await bento.set({ key: keys[i], value: values[i] });

let redis;
let redisSkipped;
if (process.env.REDIS_URL) {
  redis = createClient({ url: process.env.REDIS_URL });
  redis.on('error', () => {});
  await redis.connect();
  for (let b = 0; b < N; b += 1000) {
    const multi = redis.multi();
    for (let i = b; i < b + 1000; i++) multi.set(keys[i], JSON.stringify(values[i]));
    await multi.exec();
  }
} else {
  redisSkipped = process.env.REDIS_SKIPPED ?? 'skipped: REDIS_URL not set';
}

// Every call timed on its own (hrtime on both sides, ~tens of ns of overhead, which favours the others).
let sink = 0;
function oursPass(ops, out) {
  for (let i = 0; i < ops; i++) {
    const t0 = now();
    const v = cache.get(keys[seq[i]]);
    out.push(Number(now() - t0));
    if (v !== undefined) sink++;
  }
}
async function asyncPass(get, ops, out) {
  for (let i = 0; i < ops; i++) {
    const t0 = now();
    const v = await get(keys[seq[i]]);
    out.push(Number(now() - t0));
    if (v !== undefined && v !== null) sink++;
    if (i % 1000 === 999) await tick();
  }
}
const impls = {
  ours: (out) => oursPass(LOCAL_OPS, out),
  'cache-manager': (out) => asyncPass((k) => cm.get(k), LOCAL_OPS, out),
  bentocache: (out) => asyncPass((k) => bento.get({ key: k }), LOCAL_OPS, out),
  ...(redis ? { redis: (out) => asyncPass(async (k) => JSON.parse(await redis.get(k)), REDIS_OPS, out) } : {}),
};
/** The A/A copy of the Redis pass: kept out of `results` (and the docs' table). */
const AA = 'redis (A/A)';
if (redis) impls[AA] = impls.redis;
const p50 = Object.fromEntries(Object.keys(impls).map((k) => [k, []]));
const p99 = Object.fromEntries(Object.keys(impls).map((k) => [k, []]));
for (const run of Object.values(impls)) await run([]); // warm-up
for (let r = 0; r < ROUNDS; r++) {
  const names = Object.keys(impls);
  for (const name of r % 2 === 0 ? names : names.reverse()) {
    const out = [];
    await impls[name](out);
    const s = summarize(out);
    p50[name].push(s.p50);
    p99[name].push(s.p99);
  }
}
const results = Object.fromEntries(
  Object.keys(impls)
    .filter((k) => k !== AA)
    .map((k) => [k, { p50ns: median(p50[k]), p99ns: median(p99[k]) }]),
);
for (const [name, r] of Object.entries(results)) {
  r.vsOurs = r.p50ns / results.ours.p50ns;
  log(`remote ${name}: p50 ${r.p50ns.toFixed(0)} ns, p99 ${r.p99ns.toFixed(0)} ns, ${r.vsOurs.toFixed(1)}x ours`);
}
await cache.close();
await bento.disconnectAll?.();
await cm.disconnect?.();
if (redis) await redis.quit();
const ratio = results.redis ? results.redis.vsOurs : null;
const band = redis ? noise({ aa: median(p50[AA]) / results.redis.p50ns, rounds: roundRatios(p50[AA], p50.redis) }) : undefined;
const checks = ratio === null ? [] : [check('', ratio, '>=', 100, band)];
report({
  scenario: 'remote',
  title: 'get p50 vs Redis GET over loopback, cache-manager and Bentocache in memory',
  method: `${N} keys of about 200 B; each call timed alone; local caches ${LOCAL_OPS} gets, Redis ${REDIS_OPS} GETs (node-redis, value JSON-parsed as a cache would) per round; medians of ${ROUNDS} interleaved rounds; A/A: Redis measured twice per round, the noise band of the ratio`,
  ratio,
  ratioLabel: 'Redis GET p50 / our get p50',
  measured: ratio === null ? redisSkipped : `${ratio.toFixed(0)}x`,
  target: '>= 100x',
  ...verdictFields(checks),
  ...(ratio === null ? { pass: null, verdict: 'SKIPPED' } : {}),
  aa: band ? { ratio: band.aa, p50ns: median(p50[AA]) } : undefined,
  skipped: ratio === null ? redisSkipped : undefined,
  results,
  sink,
});
