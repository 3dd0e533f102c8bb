// 14. wrap hits with the freshness features unused (no fence open, no tags, no session token, no
// maxStaleness, no grace or loader timeouts): nearcache wrap(key, loader), and wrap(key, loader,
// { ttl }), vs the cache-aside an application writes around a raw lru-cache: an async function
// that returns lru.get(key) on a hit, else awaits the loader and sets the result. Every call is
// awaited, on both sides. A second raw lru-cache read the same way gives the A/A comparison.
import { LRUCache } from 'lru-cache';
import { createNearCache, silentLogger } from '@nearcache/core';
import {
  QUICK,
  check,
  keySequence,
  key,
  makeValue,
  loopbackLog,
  median,
  noise,
  now,
  report,
  roundOrder,
  roundRatios,
  log,
  tick,
  verdictFields,
} from '../lib.mjs';

const SIZES = [1_000, 100_000];
const ROUNDS = QUICK ? 3 : 7;
const CALLS = QUICK ? 50_000 : 200_000;
let sink = 0;
let loads = 0;
/** Never called: every call below is a hit (checked at the end). */
const loader = () => {
  loads++;
  return makeValue(-1);
};
const TTL = { ttl: 60_000 };

/** Cache-aside around a raw lru-cache, as an application writes it. */
async function rawWrap(lru, k, load) {
  const hit = lru.get(k);
  if (hit !== undefined) return hit;
  const value = await load();
  if (value !== undefined) lru.set(k, value);
  return value;
}

async function passRaw(lru, keys, seq) {
  const t0 = now();
  for (let i = 0; i < seq.length; i++) if ((await rawWrap(lru, keys[seq[i]], loader)) !== undefined) sink++;
  return Number(now() - t0);
}

async function passOurs(cache, keys, seq) {
  const t0 = now();
  for (let i = 0; i < seq.length; i++) if ((await cache.wrap(keys[seq[i]], loader)) !== undefined) sink++;
  return Number(now() - t0);
}

async function passOursTtl(cache, keys, seq) {
  const t0 = now();
  for (let i = 0; i < seq.length; i++) if ((await cache.wrap(keys[seq[i]], loader, TTL)) !== undefined) sink++;
  return Number(now() - t0);
}

const cases = [];
for (const n of SIZES) {
  const keys = Array.from({ length: n }, (_, i) => key(i));
  const raw = new LRUCache({ max: n });
  const raw2 = new LRUCache({ max: n });
  const cache = createNearCache({ topic: 'bench.wrap', log: loopbackLog(), max: n, maxBytes: 0, logger: silentLogger });
  await cache.ready();
  // All filled in one loop, so none gets a more compact heap layout than the others.
  for (let i = 0; i < n; i++) {
    const value = makeValue(i);
    raw.set(keys[i], value);
    raw2.set(keys[i], value);
    cache.set(keys[i], value);
    if (i % 1000 === 999) await tick();
  }
  await cache.flush({ timeout: 60_000 });
  const seq = keySequence(n, CALLS, 'zipf');
  const warm = seq.subarray(0, 20_000);
  await passRaw(raw, keys, warm);
  await passOurs(cache, keys, warm);
  await passOursTtl(cache, keys, warm);
  await passRaw(raw2, keys, warm);
  const rate = { raw: [], ours: [], oursTtl: [], raw2: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const who of roundOrder(r, ['raw', 'ours', 'oursTtl', 'raw2'])) {
      const ns =
        who === 'ours'
          ? await passOurs(cache, keys, seq)
          : who === 'oursTtl'
            ? await passOursTtl(cache, keys, seq)
            : await passRaw(who === 'raw' ? raw : raw2, keys, seq);
      rate[who].push(seq.length / (ns / 1e9));
    }
  }
  await cache.close();
  const c = {
    keys: n,
    dist: 'zipf',
    raw: { opsPerSec: median(rate.raw), rounds: rate.raw },
    ours: { opsPerSec: median(rate.ours), rounds: rate.ours },
    oursTtl: { opsPerSec: median(rate.oursTtl), rounds: rate.oursTtl },
    aa: { ratio: median(rate.raw2) / median(rate.raw), rounds: roundRatios(rate.raw2, rate.raw), raw2: { opsPerSec: median(rate.raw2), rounds: rate.raw2 } },
  };
  c.ratio = c.ours.opsPerSec / c.raw.opsPerSec;
  c.ttlRatio = c.oursTtl.opsPerSec / c.raw.opsPerSec;
  log(
    `wrap ${n} zipf: raw cache-aside ${(c.raw.opsPerSec / 1e6).toFixed(2)} M/s, wrap ${(c.ours.opsPerSec / 1e6).toFixed(2)} M/s (${c.ratio.toFixed(2)}), wrap with { ttl } ${(c.oursTtl.opsPerSec / 1e6).toFixed(2)} M/s (${c.ttlRatio.toFixed(2)}); A/A ${c.aa.ratio.toFixed(2)}`,
  );
  cases.push(c);
}
if (loads > 0) throw new Error(`${loads} calls loaded: the scenario measures hits only`);

// The figure that decides: the lowest ratio over cases and call shapes; its band from that case's A/A rounds.
const figures = cases.flatMap((c) => [
  { c, shape: 'wrap(k, f)', ratio: c.ratio },
  { c, shape: 'wrap(k, f, { ttl })', ratio: c.ttlRatio },
]);
const worst = figures.reduce((a, b) => (b.ratio < a.ratio ? b : a));
const checks = [check('', worst.ratio, '>=', 0.9, noise({ aa: worst.c.aa.ratio, rounds: worst.c.aa.rounds }))];
const size = (k) => (k >= 1e3 ? `${k / 1e3}k` : String(k));
report({
  scenario: 'wrap',
  title: 'wrap hit throughput (freshness features unused) vs a raw lru-cache cache-aside',
  method: `awaited calls, Zipf key draws, every call a hit; ${ROUNDS} interleaved rounds of ${CALLS} calls per case; calls per second, median over rounds; raw: an async function returning lru.get(key) on a hit (else awaiting the loader and setting its result); ours: wrap(key, loader) and wrap(key, loader, { ttl }) on an instance with no fence open, no tags, no session token, no maxStaleness and no grace; A/A: a second raw lru-cache holding the same entries, called the same way in the same rounds; the noise band is the A/A band of the case that decides`,
  ratio: worst.ratio,
  ratioLabel: `min over cases and call shapes of ours/raw calls per second; worst ${size(worst.c.keys)} ${worst.shape}`,
  measured: `${worst.ratio.toFixed(2)} (worst: ${size(worst.c.keys)} zipf ${worst.shape})`,
  target: '>= 0.9',
  ...verdictFields(checks),
  cases,
  sink,
});
