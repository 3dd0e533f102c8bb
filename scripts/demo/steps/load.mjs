// 4. Load: skewed GETs spread over the instances; hit ratio, latency and replication delay.
import { performance } from 'node:perf_hooks';
import { median, mulberry32 } from '../../lib/shared.mjs';
import { call, entry, readsOf, stats } from '../http.mjs';
import { check, formatMs, say, section, table } from '../output.mjs';

const LOAD_REQUESTS = 600;
const LOAD_PRODUCTS = 40;

/**
 * Returns false when interrupted.
 * @param {import('../types.mjs').Demo} demo
 * @returns {Promise<boolean>}
 */
export async function load({ instances, example, label, lifecycle }) {
  section(`4. Load: ${LOAD_REQUESTS} GETs of ${LOAD_PRODUCTS} products (skewed towards the first ones), spread over A, B and C`);
  for (const instance of instances) {
    const response = await call(instance, 'POST', '/internal/stats/reset');
    check(response.status === 204, `${instance.name}: resetting its counters answered ${response.status}`);
  }
  const readsBeforeLoad = await readsOf(instances);
  const random = mulberry32(42);
  const loadStarted = performance.now();
  const loadStartedAt = performance.timeOrigin + loadStarted;
  for (let i = 0; i < LOAD_REQUESTS; i++) {
    const id = String(1 + Math.floor(LOAD_PRODUCTS * random() ** 2));
    const instance = instances[i % instances.length];
    const response = await call(instance, 'GET', `/products/${id}`);
    check(response.status === 200, `GET ${instance.name} /products/${id} answered ${response.status}`);
    if (lifecycle.interrupted) return false;
  }
  const loadMs = performance.now() - loadStarted;
  const loadStats = await Promise.all(instances.map((i) => stats(i)));
  const rows = instances.map((instance, index) => {
    const s = loadStats[index];
    const { latency } = s.served;
    return [
      label(instance),
      String(s.served.requests),
      `${(s.served.hitRatio * 100).toFixed(1)} %`,
      formatMs(latency.hit.p50Ms),
      formatMs(latency.hit.p99Ms),
      s.served.misses > 0 ? formatMs(latency.miss.p50Ms) : '-',
      String(s.dataSource.reads - readsBeforeLoad[instance.name]),
      String(s.cache.entries),
    ];
  });
  const total = loadStats.reduce((sum, s) => ({ requests: sum.requests + s.served.requests, hits: sum.hits + s.served.hits }), { requests: 0, hits: 0 });
  say(`   ${LOAD_REQUESTS} requests, one at a time, in ${formatMs(loadMs)}; latency measured on the server, from request to response:`);
  table(['instance', 'requests', 'hit ratio', 'hit p50', 'hit p99', 'miss p50', 'data-source calls', 'cache entries'], rows, '   ');
  const hitP50 = median(loadStats.filter((s) => s.served.hits > 0).map((s) => s.served.latency.hit.p50Ms));
  const missP50 = median(loadStats.filter((s) => s.served.misses > 0).map((s) => s.served.latency.miss.p50Ms));
  say(
    `   overall: ${total.hits} of ${total.requests} served from the cache (${((100 * total.hits) / total.requests).toFixed(1)} %), ${total.requests - total.hits} from the data source.`,
  );
  if (hitP50 > 0 && missP50 > 0) {
    say(
      `   median of the instances' p50: a hit ${formatMs(hitP50)}, a miss ${formatMs(missP50)} (${(missP50 / hitP50).toFixed(0)}x): a miss waits for the data source,`,
    );
    say('   a hit is a local lookup plus the HTTP handling.');
  }
  check(total.hits > 0, 'the load phase should produce hits');

  // Replication delay of every page stored during the load: from the writer storing it to each other instance holding it.
  /** @type {number[]} */
  const delays = [];
  for (let id = 1; id <= LOAD_PRODUCTS; id++) {
    const seen = await Promise.all(instances.map((i) => entry(i, example.pageKey(String(id)))));
    const writers = seen.filter((e) => e.lastChange?.op === 'set' && e.lastChange.source === 'local');
    if (writers.length !== 1 || writers[0].lastChange.at < loadStartedAt) continue; // stored twice (two misses at once), or before the load
    for (const e of seen) if (e.lastChange?.op === 'set' && e.lastChange.source === 'remote') delays.push(e.lastChange.at - writers[0].lastChange.at);
  }
  if (delays.length > 0) {
    delays.sort((a, b) => a - b);
    const q = (/** @type {number} */ p) => delays[Math.min(delays.length - 1, Math.ceil(p * delays.length) - 1)];
    say(
      `   replication delay, from an instance storing a page to another holding it (${delays.length} deliveries): p50 ${formatMs(q(0.5))}, p90 ${formatMs(q(0.9))}, max ${formatMs(delays.at(-1))}`,
    );
  }
  return true;
}
