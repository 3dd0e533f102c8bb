import { NearCache } from './cache/near-cache.js';
import { kafkaLog } from './log/lazy-kafka.js';
import { kafkaWorkerLog } from './log/worker/worker-log.js';
import { resolveOptions, type NearCacheOptions } from './options.js';

/** Creates a replicated cache and starts connecting; await `ready()` before relying on its contents. */
export function createNearCache<V = unknown>(options: NearCacheOptions<V>): NearCache<V> {
  const resolved = resolveOptions(options);
  // Option `kafka` is the Kafka adapter's options: the cache itself only ever sees a log, and
  // kafkajs is loaded only when a cache on Kafka opens its log.
  const log = resolved.log ?? (resolved.replication === 'worker' ? kafkaWorkerLog(resolved.kafka!, resolved.replicationWorker) : kafkaLog(resolved.kafka!));
  return new NearCache<V>(resolved, log);
}
