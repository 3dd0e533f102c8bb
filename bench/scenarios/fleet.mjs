// 14. Fleet-wide single flight: loader calls when ten instances miss the same keys together, with
// `fleetWait` and without; and `wrap` hits on an instance with the option on against one without
// it (a hit must not pay for it). The ten instances share an in-process log (no broker noise);
// the hits run on the loopback log of bench/lib.mjs.
import { createNearCache, InProcessBroker, inProcessLog, silentLogger } from '@nearcache/core';
import { QUICK, check, key, log, loopbackLog, makeValue, median, noise, now, report, roundOrder, roundRatios, tick, verdictFields } from '../lib.mjs';

const INSTANCES = 10;
const KEYS = QUICK ? 50 : 200;
const ENTRIES = QUICK ? 10_000 : 100_000;
const READS = QUICK ? 200_000 : 1_000_000;
const ROUNDS = QUICK ? 3 : 7;
const BATCH = 64;

/** Loader calls per key when INSTANCES instances miss KEYS keys together, each key at once on all of them. */
async function loadsPerKey(fleetWait) {
  const broker = new InProcessBroker();
  const topic = `bench.fleet.${fleetWait}`;
  const caches = Array.from({ length: INSTANCES }, () => createNearCache({ topic, log: inProcessLog(broker), logger: silentLogger, fleetWait }));
  await Promise.all(caches.map((cache) => cache.ready()));
  let calls = 0;
  const loader = async () => {
    calls++;
    await tick();
    return makeValue(calls);
  };
  const started = now();
  for (let k = 0; k < KEYS; k++) await Promise.all(caches.map((cache) => cache.wrap(`report:${k}`, loader)));
  const msPerKey = Number(now() - started) / 1e6 / KEYS;
  await Promise.all(caches.map((cache) => cache.close()));
  return { loadsPerKey: calls / KEYS, msPerKey };
}

/** ns per `wrap` hit (batches of BATCH), median of the batches. */
function wrapHitNs(cache, keys) {
  const loader = () => makeValue(0);
  const samples = [];
  let pending = 0;
  for (let b = 0; b < READS; b += BATCH) {
    const started = now();
    for (let i = 0; i < BATCH; i++) if (cache.wrap(keys[(b + i * 7919) % keys.length], loader) !== undefined) pending++;
    samples.push(Number(now() - started) / BATCH);
  }
  if (pending === 0) throw new Error('no call');
  return median(samples);
}

async function filled(fleetWait) {
  const cache = createNearCache({ topic: 'bench.fleet.hits', log: loopbackLog(), max: ENTRIES * 2, maxBytes: 0, logger: silentLogger, fleetWait });
  await cache.ready();
  for (let i = 0; i < ENTRIES; i++) void cache.set(key(i), makeValue(i));
  await cache.flush({ timeout: 60_000 });
  return cache;
}

const off = await loadsPerKey(0);
const on = await loadsPerKey(5000);
log(`${INSTANCES} instances, ${KEYS} keys: ${off.loadsPerKey.toFixed(2)} loads per key without fleetWait, ${on.loadsPerKey.toFixed(2)} with`);

const keys = Array.from({ length: ENTRIES }, (_, i) => key(i));
const plain = await filled(undefined);
const fleet = await filled(5000);
// A/A: a second instance without the option, in the same rounds, the noise band of the ratio.
const plainAgain = await filled(undefined);
const sides = { plain, fleet, again: plainAgain };
const hits = { plain: [], fleet: [], again: [] };
for (let r = 0; r < ROUNDS; r++) {
  for (const which of roundOrder(r, ['plain', 'fleet', 'again'])) hits[which].push(wrapHitNs(sides[which], keys));
  await tick();
}
await Promise.all([plain.close(), fleet.close(), plainAgain.close()]);
const hitPlain = hits.plain;
const hitFleet = hits.fleet;
const hitRatio = median(hitFleet) / median(hitPlain);
const band = noise({ aa: median(hits.again) / median(hitPlain), rounds: roundRatios(hits.again, hitPlain) });
const checks = [check('loads per key with fleetWait', on.loadsPerKey, '<=', 2), check('wrap hit', hitRatio, '<=', 1.1, band)];
log(
  `wrap hit: ${median(hitPlain).toFixed(1)} ns without the option, ${median(hitFleet).toFixed(1)} ns with it (${hitRatio.toFixed(2)}x); A/A ${band.aa.toFixed(2)}x`,
);

report({
  scenario: 'fleet',
  title: 'fleet-wide single flight: loader calls of ten instances missing one key together, and wrap hits',
  method: `${INSTANCES} instances on one in-process log, each of ${KEYS} keys missed by all of them at once (a loader that yields once), fleetWait 0 then 5000; wrap hits (batches of ${BATCH}, ${ENTRIES} entries) on a loopback instance with fleetWait 5000 against one without, ${ROUNDS} interleaved rounds; A/A: a second instance without the option in the same rounds, the noise band of the wrap-hit ratio`,
  ratio: on.loadsPerKey,
  ratioLabel: `loader calls per key with fleetWait (${INSTANCES} instances)`,
  measured: `${on.loadsPerKey.toFixed(2)} loads per key with fleetWait, ${off.loadsPerKey.toFixed(2)} without; wrap hit ${hitRatio.toFixed(2)}x`,
  target: 'at most 2 loads per key with fleetWait; wrap hit <= 1.1x',
  ...verdictFields(checks),
  aa: { ratio: band.aa, wrapHitAgainNs: median(hits.again), rounds: hits.again },
  results: { off, on, wrapHitPlainNs: median(hitPlain), wrapHitFleetNs: median(hitFleet), hitRatio },
});
