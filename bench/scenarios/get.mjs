// 1. get hits: nearcache get vs raw lru-cache get, 1k / 100k / 1M keys, uniform and Zipf keys.
import { LRUCache } from 'lru-cache';
import { createNearCache, silentLogger } from '@nearcache/core';
import { QUICK, keySequence, key, makeValue, loopbackLog, median, now, report, summarize, log, tick } from '../lib.mjs';

const SIZES = [1_000, 100_000, 1_000_000];
const ROUNDS = QUICK ? 3 : 7;
const READS = QUICK ? 200_000 : 1_000_000;
const BATCH = 64;
let sink = 0;

function passRaw(lru, keys, seq, samples) {
  const started = now();
  for (let b = 0; b < seq.length; b += BATCH) {
    const t0 = now();
    const end = Math.min(seq.length, b + BATCH);
    for (let i = b; i < end; i++) if (lru.get(keys[seq[i]]) !== undefined) sink++;
    samples.push(Number(now() - t0) / (end - b));
  }
  return Number(now() - started);
}

function passOurs(cache, keys, seq, samples) {
  const started = now();
  for (let b = 0; b < seq.length; b += BATCH) {
    const t0 = now();
    const end = Math.min(seq.length, b + BATCH);
    for (let i = b; i < end; i++) if (cache.get(keys[seq[i]]) !== undefined) sink++;
    samples.push(Number(now() - t0) / (end - b));
  }
  return Number(now() - started);
}

const cases = [];
for (const n of SIZES) {
  const keys = Array.from({ length: n }, (_, i) => key(i));
  const values = Array.from({ length: n }, (_, i) => makeValue(i));
  const raw = new LRUCache({ max: n });
  const cache = createNearCache({ topic: 'bench.get', log: loopbackLog(), max: n, maxBytes: 0, logger: silentLogger });
  await cache.ready();
  // Both filled in one loop, so neither gets a more compact heap layout than the other.
  for (let i = 0; i < n; i++) {
    raw.set(keys[i], values[i]);
    cache.set(keys[i], values[i]);
    if (i % 1000 === 999) await tick();
  }
  await cache.flush({ timeout: 60_000 });
  for (const dist of ['uniform', 'zipf']) {
    const seq = keySequence(n, READS, dist);
    const rawP99 = [],
      oursP99 = [],
      rawP50 = [],
      oursP50 = [],
      rawTput = [],
      oursTput = [];
    passRaw(raw, keys, seq.subarray(0, 20_000), []);
    passOurs(cache, keys, seq.subarray(0, 20_000), []);
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate which goes first, so neither always runs on a warmer or colder machine.
      const order = r % 2 === 0 ? ['raw', 'ours'] : ['ours', 'raw'];
      for (const who of order) {
        const samples = [];
        if (who === 'raw') rawTput.push(seq.length / (passRaw(raw, keys, seq, samples) / 1e9));
        else oursTput.push(seq.length / (passOurs(cache, keys, seq, samples) / 1e9));
        const s = summarize(samples);
        (who === 'raw' ? rawP99 : oursP99).push(s.p99);
        (who === 'raw' ? rawP50 : oursP50).push(s.p50);
      }
    }
    const c = {
      keys: n,
      dist,
      raw: { opsPerSec: median(rawTput), p50ns: median(rawP50), p99ns: median(rawP99) },
      ours: { opsPerSec: median(oursTput), p50ns: median(oursP50), p99ns: median(oursP99) },
    };
    c.throughputRatio = c.ours.opsPerSec / c.raw.opsPerSec;
    c.p99Ratio = c.raw.p99ns / c.ours.p99ns;
    c.ratio = Math.min(c.throughputRatio, c.p99Ratio);
    log(
      `get ${n} ${dist}: raw ${(c.raw.opsPerSec / 1e6).toFixed(1)} M/s p99 ${c.raw.p99ns.toFixed(0)} ns, ours ${(c.ours.opsPerSec / 1e6).toFixed(1)} M/s p99 ${c.ours.p99ns.toFixed(0)} ns, ratio ${c.ratio.toFixed(2)}`,
    );
    cases.push(c);
  }
  await cache.close();
}

const worst = cases.reduce((a, b) => (b.ratio < a.ratio ? b : a));
report({
  scenario: 'get',
  title: 'get hit throughput and p99 vs raw lru-cache',
  method: `per-op time = time of a batch of ${BATCH} gets / ${BATCH}; ${ROUNDS} interleaved rounds of ${READS} reads per case; throughput and p99 are medians over rounds`,
  ratio: worst.ratio,
  ratioLabel: `min over cases of (ours/raw throughput, raw/ours p99); worst ${worst.keys} ${worst.dist}`,
  measured: `${worst.ratio.toFixed(2)} (worst: ${worst.keys >= 1e6 ? `${worst.keys / 1e6}M` : worst.keys >= 1e3 ? `${worst.keys / 1e3}k` : worst.keys} ${worst.dist} ${worst.ratio === worst.p99Ratio ? 'p99' : 'ops/s'})`,
  target: '>= 0.9',
  pass: worst.ratio >= 0.9,
  cases,
  sink,
});
