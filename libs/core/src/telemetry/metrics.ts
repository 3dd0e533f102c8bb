import { metrics, type Attributes, type BatchObservableCallback, type MeterProvider, type Observable } from '@opentelemetry/api';
import type { NearCache } from '../cache/near-cache.js';
import type { CacheState } from '../cache/types.js';
import { InvalidArgumentError, isNearCacheError } from '../errors.js';
import { describe, noUnknownKeys, plainObject, string } from '../validate.js';
import { loadChannel, type LoadTrace } from './channels.js';

/**
 * OpenTelemetry metrics of a cache (docs/operations.md, "Metrics"). Everything but the load
 * durations is read from `stats()` when the meter provider collects: nothing runs on the cache's
 * paths between collections. Load durations come from the `nearcache:load` tracing channel,
 * subscribed to while an instrumentation is open.
 */

/** The name of the meter the instruments belong to. */
export const NEARCACHE_METER_NAME = '@nearcache/core';

/** The metric names (docs/operations.md has their units and attributes). */
export const NEARCACHE_METRICS = {
  hits: 'nearcache.cache.hits',
  misses: 'nearcache.cache.misses',
  staleServed: 'nearcache.cache.stale_served',
  evictions: 'nearcache.cache.evictions',
  entries: 'nearcache.cache.entries',
  size: 'nearcache.cache.size',
  writes: 'nearcache.cache.writes',
  loadDuration: 'nearcache.load.duration',
  refreshes: 'nearcache.load.refreshes',
  applied: 'nearcache.records.applied',
  replayed: 'nearcache.records.replayed',
  rejected: 'nearcache.records.rejected',
  lag: 'nearcache.replication.lag',
  backlog: 'nearcache.replication.backlog',
  queueDepth: 'nearcache.queue.depth',
  queueInFlight: 'nearcache.queue.in_flight',
  state: 'nearcache.state',
} as const;

/** Every state `nearcache.state` reports (1 for the current one, 0 for the others). */
const STATES: readonly CacheState[] = ['starting', 'bootstrapping', 'live', 'degraded', 'closed'];

/** Bucket bounds of `nearcache.load.duration`, in seconds (those of the OpenTelemetry HTTP duration conventions). */
const LOAD_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

const OPTION_NAMES = ['meterProvider', 'name'] as const;

export interface NearCacheInstrumentationOptions {
  /** Where the instruments are created. Default: the global meter provider (`metrics.getMeterProvider()`). */
  meterProvider?: MeterProvider;
  /** The cache's name, in the attribute `nearcache.cache.name` of every metric. Default: its topic. */
  name?: string;
}

/** An open instrumentation: `close()` stops reporting this cache (the instruments stay on the meter, silent). */
export interface NearCacheInstrumentation {
  close(): void;
}

/**
 * Reports the metrics of `cache` through OpenTelemetry (`@opentelemetry/api`, an optional peer
 * dependency, loaded only by this entry). Call once per cache and meter provider; `close()` stops
 * it. Bad arguments throw `InvalidArgumentError` or `InvalidOptionError`.
 */
export function instrumentNearCache(cache: NearCache<any>, options: NearCacheInstrumentationOptions = {}): NearCacheInstrumentation {
  if (cache === null || typeof cache !== 'object' || typeof cache.stats !== 'function' || typeof cache.topic !== 'string') {
    throw new InvalidArgumentError(`instrumentNearCache() needs a NearCache (from createNearCache), got ${describe(cache)}`);
  }
  noUnknownKeys('', plainObject('options', options), OPTION_NAMES);
  const provider = options.meterProvider ?? metrics.getMeterProvider();
  if (provider === null || typeof provider !== 'object' || typeof provider.getMeter !== 'function') {
    throw new InvalidArgumentError(`option "meterProvider" must be an OpenTelemetry MeterProvider (with getMeter), got ${describe(provider)}`);
  }
  const name = string('name', options.name, cache.topic);
  const stats = cache.stats();
  const base: Attributes = {
    'nearcache.cache.name': name,
    'nearcache.instance.id': stats.instanceId,
    'messaging.destination.name': stats.topic,
    ...(stats.log === 'kafka' ? { 'messaging.system': 'kafka' } : {}),
  };
  const meter = provider.getMeter(NEARCACHE_METER_NAME);
  const M = NEARCACHE_METRICS;
  const counter = (metric: string, unit: string, description: string) => meter.createObservableCounter(metric, { unit, description });
  const upDown = (metric: string, unit: string, description: string) => meter.createObservableUpDownCounter(metric, { unit, description });
  const gauge = (metric: string, unit: string, description: string) => meter.createObservableGauge(metric, { unit, description });

  const hits = counter(M.hits, '{hit}', 'Reads answered from a local entry');
  const misses = counter(M.misses, '{miss}', 'Reads that found no live entry');
  const staleServed = counter(M.staleServed, '{value}', 'Values wrap served from their grace period');
  const evictions = counter(M.evictions, '{entry}', 'Entries dropped by the local size bounds (never replicated)');
  const entries = upDown(M.entries, '{entry}', 'Entries held here');
  const size = upDown(M.size, 'By', 'Encoded size (key and value bytes) of the entries held here, as stats().bytes');
  const writes = counter(M.writes, '{write}', 'Writes made here, by operation');
  const refreshes = counter(M.refreshes, '{load}', 'Background loads started by refreshAhead');
  const applied = counter(M.applied, '{record}', 'Records of the log applied here');
  const replayed = counter(M.replayed, '{record}', 'Records delivered again after a consumer restart, and skipped');
  const rejected = counter(M.rejected, '{record}', 'Records of the log skipped as invalid, by reason');
  const lag = gauge(M.lag, 's', 'How long a partition has been behind the log end (0 when caught up)');
  const backlog = gauge(M.backlog, '{record}', 'Records of a partition written but not yet applied here');
  const queueDepth = upDown(M.queueDepth, '{write}', 'Writes waiting to be sent to the log');
  const queueInFlight = upDown(M.queueInFlight, '{write}', 'Writes sent to the log and not yet acknowledged');
  const state = gauge(M.state, '1', 'The cache state: 1 for the current one, 0 for the others');
  const observables: Observable[] = [
    hits,
    misses,
    staleServed,
    evictions,
    entries,
    size,
    writes,
    refreshes,
    applied,
    replayed,
    rejected,
    lag,
    backlog,
    queueDepth,
    queueInFlight,
    state,
  ];

  const observe: BatchObservableCallback = (result) => {
    const s = cache.stats();
    result.observe(hits, s.hits, base);
    result.observe(misses, s.misses, base);
    result.observe(staleServed, s.staleServed, base);
    result.observe(evictions, s.evictions, base);
    result.observe(entries, s.entries, base);
    result.observe(size, s.bytes, base);
    result.observe(writes, s.sets, { ...base, 'nearcache.write.operation': 'set' });
    result.observe(writes, s.deletes, { ...base, 'nearcache.write.operation': 'delete' });
    result.observe(writes, s.clears, { ...base, 'nearcache.write.operation': 'clear' });
    result.observe(refreshes, s.refreshes, base);
    result.observe(applied, s.records.applied, base);
    result.observe(replayed, s.records.replayed, base);
    for (const [reason, count] of Object.entries(s.records.rejectedByReason)) {
      result.observe(rejected, count ?? 0, { ...base, 'nearcache.record.reject_reason': reason });
    }
    for (const p of s.partitions) {
      const attributes = { ...base, 'messaging.destination.partition.id': String(p.partition) };
      result.observe(lag, p.lagMs / 1000, attributes);
      result.observe(backlog, p.lagRecords, attributes);
    }
    result.observe(queueDepth, s.queue.depth, base);
    result.observe(queueInFlight, s.queue.inFlight, base);
    for (const one of STATES) result.observe(state, one === s.state ? 1 : 0, { ...base, 'nearcache.state': one });
  };
  meter.addBatchObservableCallback(observe, observables);

  const duration = meter.createHistogram(M.loadDuration, {
    unit: 's',
    description:
      'Duration of loads: the loader calls wrap makes (misses, early refreshes, fleet-wide loads) and the loads run under a lease (a Nest @Cached method, a handler whose response is cached)',
    advice: { explicitBucketBoundaries: LOAD_BUCKETS },
  });
  const started = new WeakMap<object, number>();
  const loads = {
    start(context: LoadTrace) {
      if (context.cache === cache) started.set(context, performance.now());
    },
    end() {},
    asyncStart() {},
    asyncEnd(context: LoadTrace) {
      const start = started.get(context);
      if (start === undefined) return;
      started.delete(context);
      const failed = 'error' in context;
      duration.record((performance.now() - start) / 1000, failed ? { ...base, 'error.type': errorType(context.error) } : base);
    },
    error() {},
  };
  loadChannel.subscribe(loads);

  let open = true;
  return {
    close() {
      if (!open) return;
      open = false;
      meter.removeBatchObservableCallback(observe, observables);
      loadChannel.unsubscribe(loads);
    },
  };
}

/** The `error.type` of a failed load: a cache error's code, else the error's class name, else `_OTHER` (OpenTelemetry's fallback). */
function errorType(error: unknown): string {
  if (isNearCacheError(error)) return error.code;
  if (error instanceof Error) return error.name;
  return '_OTHER';
}
