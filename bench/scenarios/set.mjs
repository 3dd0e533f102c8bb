// 2. set: nearcache set (local apply, encode, enqueue; no wait for the log) vs raw lru-cache set
// plus encoding the value (JSON.stringify + Buffer.from). The difference, in µs per set, is the cost we add;
// the same difference in CPU time (process.cpuUsage) is recorded beside it, for machines shared with other work.
// A second raw lru-cache, written in the same rounds, gives the A/A difference behind the noise band.
import { LRUCache } from 'lru-cache';
import { createNearCache, silentLogger } from '@nearcache/core';
import { QUICK, check, key, makeValue, loopbackLog, median, noise, now, report, log, roundOrder, tick, verdictFields } from '../lib.mjs';

const N = 100_000;
const ROUNDS = QUICK ? 5 : 11;
const BATCH = 1000;
const keys = Array.from({ length: N }, (_, i) => key(i));
// Each round writes fresh value objects, as an application would.
const valueSets = [0, 1].map((v) => Array.from({ length: N }, (_, i) => makeValue(i + v)));

let sink = 0;
/** CPU time (user + system, µs) of the process since `start`: what the machine's other processes do not inflate. */
const cpuMicros = (start) => {
  const { user, system } = process.cpuUsage(start);
  return user + system;
};
const rawCaches = [new LRUCache({ max: N }), new LRUCache({ max: N })];
function passRaw(values, raw) {
  let total = 0n;
  let cpu = 0;
  for (let b = 0; b < N; b += BATCH) {
    const c0 = process.cpuUsage();
    const t0 = now();
    for (let i = b; i < b + BATCH; i++) {
      const bytes = Buffer.from(JSON.stringify(values[i]), 'utf8');
      sink += bytes.length;
      raw.set(keys[i], values[i]);
    }
    total += now() - t0;
    cpu += cpuMicros(c0);
  }
  return { ns: Number(total) / N, cpuNs: (cpu * 1000) / N };
}

const cache = createNearCache({ topic: 'bench.set', log: loopbackLog(), max: N, maxBytes: 0, logger: silentLogger });
await cache.ready();
async function passOurs(values) {
  let total = 0n;
  let cpu = 0;
  for (let b = 0; b < N; b += BATCH) {
    const c0 = process.cpuUsage();
    const t0 = now();
    for (let i = b; i < b + BATCH; i++) cache.set(keys[i], values[i]);
    total += now() - t0;
    cpu += cpuMicros(c0);
    // Outside the timed part: let the replicator send the batch and the loopback bring it back.
    await tick();
  }
  await cache.flush({ timeout: 60_000 });
  return { ns: Number(total) / N, cpuNs: (cpu * 1000) / N };
}

passRaw(valueSets[0], rawCaches[0]);
await passOurs(valueSets[0]);
passRaw(valueSets[0], rawCaches[1]);
const rawRounds = [],
  oursRounds = [],
  raw2Rounds = [];
for (let r = 0; r < ROUNDS; r++) {
  const values = valueSets[r % 2];
  for (const who of roundOrder(r, ['raw', 'ours', 'raw2'])) {
    if (who === 'ours') oursRounds.push(await passOurs(values));
    else (who === 'raw' ? rawRounds : raw2Rounds).push(passRaw(values, rawCaches[who === 'raw' ? 0 : 1]));
  }
}
await cache.close();
const rawNs = rawRounds.map((r) => r.ns),
  oursNs = oursRounds.map((r) => r.ns);
const rawCost = median(rawNs),
  oursCost = median(oursNs);
const extraUs = (oursCost - rawCost) / 1000;
const rawCpu = median(rawRounds.map((r) => r.cpuNs)),
  oursCpu = median(oursRounds.map((r) => r.cpuNs));
const extraCpuUs = (oursCpu - rawCpu) / 1000;
// A/A: the second raw cache in nearcache's place, its difference from raw worked out the same way.
const raw2Ns = raw2Rounds.map((r) => r.ns);
const aaUs = (median(raw2Ns) - rawCost) / 1000;
const band = noise({ kind: 'delta', unit: 'µs', aa: aaUs, rounds: raw2Ns.map((ns, i) => (ns - rawNs[i]) / 1000) });
const checks = [check('', extraUs, '<=', 1, band)];
log(`set: A/A difference ${aaUs.toFixed(3)} µs, noise band ${band.text}`);
log(`set: raw lru set + encode ${rawCost.toFixed(0)} ns, ours ${oursCost.toFixed(0)} ns, extra ${extraUs.toFixed(3)} µs`);
log(`set (CPU time): raw ${rawCpu.toFixed(0)} ns, ours ${oursCpu.toFixed(0)} ns, extra ${extraCpuUs.toFixed(3)} µs`);
report({
  scenario: 'set',
  title: 'set cost vs raw lru-cache set + JSON encode',
  method: `mean time per set over ${N} keys (timed in batches of ${BATCH}, replication runs between batches, untimed); median of ${ROUNDS} interleaved rounds; A/A: a second raw lru-cache written in the same rounds, the noise band (in µs) from its difference with the first`,
  ratio: oursCost / rawCost,
  ratioLabel: `ours/raw = ${(oursCost / rawCost).toFixed(2)}; extra ${extraUs.toFixed(3)} µs per set`,
  measured: `${extraUs >= 0 ? '+' : ''}${extraUs.toFixed(2)} µs`,
  target: '<= raw + 1 µs',
  ...verdictFields(checks),
  raw: { nsPerSet: rawCost, rounds: rawNs, cpuNsPerSet: rawCpu, cpuRounds: rawRounds.map((r) => r.cpuNs) },
  ours: { nsPerSet: oursCost, rounds: oursNs, cpuNsPerSet: oursCpu, cpuRounds: oursRounds.map((r) => r.cpuNs) },
  extraUs,
  extraCpuUs,
  aa: { nsPerSet: median(raw2Ns), rounds: raw2Ns, extraUs: aaUs, cpuNsPerSet: median(raw2Rounds.map((r) => r.cpuNs)) },
  sink,
});
