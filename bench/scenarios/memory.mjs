// 6. Memory: heap per entry of nearcache vs raw lru-cache holding the same values (run with --expose-gc).
// A second raw measure in the same rounds (raw2) gives the A/A comparison behind the noise band.
import { LRUCache } from 'lru-cache';
import { createNearCache, silentLogger } from '@nearcache/core';
import { QUICK, check, gc, key, log, loopbackLog, makeValue, median, noise, report, roundOrder, roundRatios, tick, verdictFields } from '../lib.mjs';

// Values as an instance holds them after reading them from the log (flat strings; a template
// literal would leave cons strings that encoding flattens on one side only).
const value = (i) => JSON.parse(JSON.stringify(makeValue(i)));

if (!globalThis.gc) throw new Error('run with node --expose-gc');
const N = QUICK ? 200_000 : 1_000_000;
const ROUNDS = 2;
const heap = () => {
  gc();
  return process.memoryUsage().heapUsed;
};

async function measureRaw() {
  const before = heap();
  const lru = new LRUCache({ max: N });
  for (let i = 0; i < N; i++) lru.set(key(i), value(i));
  const per = (heap() - before) / N;
  if (lru.size !== N) throw new Error('raw lost entries');
  return per;
}

async function measureOurs() {
  const before = heap();
  const cache = createNearCache({ topic: 'bench.memory', log: loopbackLog(), max: N, maxBytes: 0, logger: silentLogger });
  await cache.ready();
  for (let i = 0; i < N; i++) {
    void cache.set(key(i), value(i));
    if (i % 1000 === 999) await tick();
  }
  await cache.flush({ timeout: 60_000 });
  await tick();
  const per = (heap() - before) / N;
  if (cache.size !== N) throw new Error('ours lost entries');
  await cache.close();
  return per;
}

const raw = [],
  ours = [],
  raw2 = [];
for (let r = 0; r < ROUNDS; r++) {
  for (const side of roundOrder(r, ['raw', 'ours', 'raw2'])) {
    if (side === 'ours') ours.push(await measureOurs());
    else (side === 'raw' ? raw : raw2).push(await measureRaw());
  }
}
const rawPer = median(raw),
  oursPer = median(ours);
const ratio = oursPer / rawPer;
const band = noise({ aa: median(raw2) / rawPer, rounds: roundRatios(raw2, raw) });
const checks = [check('', ratio, '<=', 1.3, band)];
log(`memory: raw ${rawPer.toFixed(0)} B/entry, ours ${oursPer.toFixed(0)} B/entry, ratio ${ratio.toFixed(2)}`);
report({
  scenario: 'memory',
  title: 'heap per entry vs raw lru-cache',
  method: `${N} entries of about 200 B of JSON each, decoded from JSON as an instance holds them; heapUsed after a forced GC, minus before; the cache includes its replication state after flush(); median of ${ROUNDS} interleaved rounds; A/A: the raw measure taken twice per round, the noise band of the ratio`,
  ratio,
  ratioLabel: 'ours/raw bytes per entry',
  measured: `${ratio.toFixed(2)}x (${oursPer.toFixed(0)} vs ${rawPer.toFixed(0)} B/entry)`,
  target: '<= 1.3',
  ...verdictFields(checks),
  entries: N,
  raw: { bytesPerEntry: rawPer, rounds: raw },
  ours: { bytesPerEntry: oursPer, rounds: ours },
  aa: { ratio: band.aa, raw2: { bytesPerEntry: median(raw2), rounds: raw2 } },
});
