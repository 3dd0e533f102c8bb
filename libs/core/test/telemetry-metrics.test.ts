import { DataPointType, MeterProvider, MetricReader, type DataPoint, type Histogram, type MetricData } from '@opentelemetry/sdk-metrics';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { instrumentNearCache, NEARCACHE_METER_NAME, NEARCACHE_METRICS as M } from '../src/otel.js';
import {
  createNearCache,
  InProcessBroker,
  inProcessLog,
  InProcessLog,
  InvalidArgumentError,
  InvalidOptionError,
  silentLogger,
  type NearCache,
  type NearCacheOptions,
} from '../src/index.js';
import { loadChannel } from '../src/telemetry/channels.js';
import { GatedLog, rawSet, rejection, uniqueTopic, waitCaughtUp, waitFor } from './helpers.js';

// The OpenTelemetry metrics of a cache (docs/operations.md, "Metrics"), read through the SDK's
// meter provider with a reader that collects in memory, on the in-process log.

/** The SDK's reader contract, collecting on demand into memory. */
class InMemoryReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}

  async metrics(): Promise<MetricData[]> {
    const { resourceMetrics, errors } = await this.collect();
    expect(errors).toEqual([]);
    return resourceMetrics.scopeMetrics.filter((s) => s.scope.name === NEARCACHE_METER_NAME).flatMap((s) => s.metrics);
  }
}

type Attrs = Record<string, string | number | boolean>;

/** The data points of `name` whose attributes include `attributes`. */
function points(metrics: MetricData[], name: string, attributes: Attrs = {}): Array<DataPoint<unknown>> {
  const metric = metrics.find((m) => m.descriptor.name === name);
  if (metric === undefined) return [];
  const found = metric.dataPoints as Array<DataPoint<unknown>>;
  return found.filter((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v));
}

/** The value of the one data point of `name` with `attributes` (a sum or a gauge). */
function value(metrics: MetricData[], name: string, attributes: Attrs = {}): number | undefined {
  const found = points(metrics, name, attributes);
  expect(found.length, `${name} ${JSON.stringify(attributes)}: ${JSON.stringify(found)}`).toBeLessThanOrEqual(1);
  return found[0]?.value as number | undefined;
}

let broker: InProcessBroker;
let topic: string;
let caches: Array<NearCache<any>>;
let reader: InMemoryReader;
let provider: MeterProvider;

beforeEach(() => {
  broker = new InProcessBroker();
  topic = uniqueTopic('otel');
  broker.createTopic(topic, { partitions: 3 });
  caches = [];
  reader = new InMemoryReader();
  provider = new MeterProvider({ readers: [reader] });
});

afterEach(async () => {
  await Promise.all(caches.map((c) => c.close()));
  await provider.shutdown();
});

async function openReady(extra: Partial<NearCacheOptions<any>> = {}): Promise<NearCache<any>> {
  const cache = createNearCache<any>({ topic, log: inProcessLog(broker), logger: silentLogger, ...extra });
  caches.push(cache);
  await cache.ready({ timeout: 5000 });
  return cache;
}

describe('instrumentNearCache', () => {
  it('reports hits, misses, writes by operation, entries, evictions, state and queue from stats(), with the cache attributes', async () => {
    const cache = await openReady({ max: 2 });
    instrumentNearCache(cache, { meterProvider: provider, name: 'catalog' });
    await cache.set('a', 1);
    await cache.set('b', 2);
    await cache.set('c', 3); // evicts a
    await cache.delete('b');
    await cache.clearPrefix('zz');
    cache.get('c');
    cache.get('c');
    cache.get('missing');

    const metrics = await reader.metrics();
    const base = { 'nearcache.cache.name': 'catalog', 'messaging.destination.name': topic, 'nearcache.instance.id': cache.instanceId };
    expect(value(metrics, M.hits, base)).toBe(2);
    expect(value(metrics, M.misses, base)).toBe(1);
    expect(value(metrics, M.evictions, base)).toBe(1);
    expect(value(metrics, M.entries, base)).toBe(cache.size);
    expect(value(metrics, M.writes, { ...base, 'nearcache.write.operation': 'set' })).toBe(3);
    expect(value(metrics, M.writes, { ...base, 'nearcache.write.operation': 'delete' })).toBe(1);
    expect(value(metrics, M.writes, { ...base, 'nearcache.write.operation': 'clear' })).toBe(1);
    expect(value(metrics, M.size, base)).toBe(cache.stats().bytes);
    expect(value(metrics, M.state, { ...base, 'nearcache.state': 'live' })).toBe(1);
    expect(value(metrics, M.state, { ...base, 'nearcache.state': 'degraded' })).toBe(0);
    expect(value(metrics, M.queueDepth, base)).toBe(cache.stats().queue.depth);
    // The in-process log is not Kafka: no messaging.system.
    expect(points(metrics, M.hits)[0]!.attributes['messaging.system']).toBeUndefined();

    const hits = metrics.find((m) => m.descriptor.name === M.hits)!;
    expect(hits.descriptor.unit).toBe('{hit}');
    expect(hits.dataPointType).toBe(DataPointType.SUM);
    expect(metrics.find((m) => m.descriptor.name === M.lag)!.descriptor.unit).toBe('s');

    // Counters are cumulative: a second collection reads the stats again.
    cache.get('c');
    expect(value(await reader.metrics(), M.hits, base)).toBe(3);
  });

  it('names the cache by its topic unless told otherwise', async () => {
    const cache = await openReady();
    instrumentNearCache(cache, { meterProvider: provider });
    cache.get('x');
    expect(value(await reader.metrics(), M.misses, { 'nearcache.cache.name': topic })).toBe(1);
  });

  it('reports the lag and backlog of each partition while the consumer is behind, and none once caught up', async () => {
    let gated: GatedLog | undefined;
    const cache = await openReady({ lagPollInterval: 10, log: (ctx) => (gated = new GatedLog(new InProcessLog(broker, ctx))) });
    instrumentNearCache(cache, { meterProvider: provider });
    gated!.pause();
    broker.produce(
      topic,
      Array.from({ length: 4 }, (_, i) => rawSet(`k${i}`, i, { origin: 'other', writeId: i + 1, partition: 1 })),
    );
    await waitFor(() => cache.stats().partitions[1]!.lagRecords === 4 && cache.stats().partitions[1]!.lagMs > 0, {
      message: () => `lag reported: ${JSON.stringify(cache.stats().partitions)}`,
    });
    let metrics = await reader.metrics();
    expect(points(metrics, M.lag).map((p) => p.attributes['messaging.destination.partition.id'])).toEqual(['0', '1', '2']);
    expect(value(metrics, M.backlog, { 'messaging.destination.partition.id': '1' })).toBe(4);
    expect(value(metrics, M.backlog, { 'messaging.destination.partition.id': '0' })).toBe(0);
    expect(value(metrics, M.lag, { 'messaging.destination.partition.id': '1' })).toBeGreaterThan(0);
    expect(value(metrics, M.lag, { 'messaging.destination.partition.id': '2' })).toBe(0);

    gated!.resume();
    await waitCaughtUp([cache], broker, topic);
    metrics = await reader.metrics();
    expect(value(metrics, M.backlog, { 'messaging.destination.partition.id': '1' })).toBe(0);
    expect(value(metrics, M.lag, { 'messaging.destination.partition.id': '1' })).toBe(0);
    expect(value(metrics, M.applied)).toBe(cache.stats().records.applied);
  });

  it('counts rejected records by reason', async () => {
    const cache = await openReady();
    instrumentNearCache(cache, { meterProvider: provider });
    broker.produce(topic, [{ partition: 0, key: 'no-headers', value: Buffer.from('1'), headers: {} }, rawSet('good', 1, { origin: 'other' })]);
    await waitCaughtUp([cache], broker, topic);
    const reasons = cache.stats().records.rejectedByReason;
    expect(Object.keys(reasons).length).toBe(1);
    const [reason, count] = Object.entries(reasons)[0]!;
    expect(value(await reader.metrics(), M.rejected, { 'nearcache.record.reject_reason': reason })).toBe(count);
  });

  it('records the duration of loader calls, with error.type for failed ones, and of this cache only', async () => {
    const cache = await openReady();
    const other = await openReady();
    instrumentNearCache(cache, { meterProvider: provider });
    const slow = () => new Promise<string>((resolve) => setTimeout(() => resolve('v'), 30));
    expect(await cache.wrap('k', slow)).toBe('v');
    expect(await cache.wrap('k', slow)).toBe('v'); // a hit: no load
    await expect(
      cache.wrap('bad', () => {
        throw new TypeError('no');
      }),
    ).rejects.toThrow('no');
    await expect(cache.wrap('bad2', () => Promise.reject(new RangeError('out')))).rejects.toThrow('out');
    await other.wrap('elsewhere', () => 1);

    const metrics = await reader.metrics();
    const metric = metrics.find((m) => m.descriptor.name === M.loadDuration)!;
    expect(metric.descriptor.unit).toBe('s');
    expect(metric.dataPointType).toBe(DataPointType.HISTOGRAM);
    const ok = points(metrics, M.loadDuration).filter((p) => p.attributes['error.type'] === undefined);
    expect(ok).toHaveLength(1);
    const histogram = ok[0]!.value as Histogram;
    expect(histogram.count).toBe(1);
    // The loader took at least 30 ms (timers do not fire early by more than a millisecond).
    expect(histogram.sum).toBeGreaterThanOrEqual(0.029);
    expect((points(metrics, M.loadDuration, { 'error.type': 'TypeError' })[0]?.value as Histogram).count).toBe(1);
    expect((points(metrics, M.loadDuration, { 'error.type': 'RangeError' })[0]?.value as Histogram).count).toBe(1);
  });

  it('close() stops reporting the cache and unsubscribes from the load channel', async () => {
    const cache = await openReady();
    const before = loadChannel.hasSubscribers;
    const instrumentation = instrumentNearCache(cache, { meterProvider: provider });
    expect(loadChannel.hasSubscribers).toBe(true);
    await cache.wrap('x', () => 1); // a miss and a load
    let metrics = await reader.metrics();
    expect(value(metrics, M.misses)).toBe(1);
    expect((points(metrics, M.loadDuration)[0]!.value as Histogram).count).toBe(1);
    instrumentation.close();
    instrumentation.close(); // idempotent
    expect(loadChannel.hasSubscribers).toBe(before);
    cache.get('z');
    await cache.wrap('y', () => 1);
    // The SDK keeps the last cumulative values; nothing counts past close().
    metrics = await reader.metrics();
    expect(cache.stats().misses).toBe(3);
    expect(value(metrics, M.misses)).toBe(1);
    expect((points(metrics, M.loadDuration)[0]!.value as Histogram).count).toBe(1);
  });

  it('refuses what is not a cache, unknown options and a meter provider without getMeter, with typed errors', async () => {
    const cache = await openReady();
    expect(() => instrumentNearCache({} as NearCache)).toThrow(InvalidArgumentError);
    expect(() => instrumentNearCache(null as unknown as NearCache)).toThrow(/needs a NearCache/);
    expect(() => instrumentNearCache(cache, { meter: provider } as never)).toThrow(InvalidOptionError);
    expect(() => instrumentNearCache(cache, { meterProvider: {} as never })).toThrow(/option "meterProvider" must be an OpenTelemetry MeterProvider/);
    const error = await rejection(Promise.resolve().then(() => instrumentNearCache(cache, { name: '' })));
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toMatch(/option "name" must be a non-empty string/);
    // Nothing was registered by the refused calls.
    expect(await reader.metrics()).toEqual([]);
  });
});
