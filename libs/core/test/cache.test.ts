import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  BootstrapTimeoutError,
  CacheClosedError,
  createNearCache,
  InProcessBroker,
  InProcessLog,
  inProcessLog,
  LogUnavailableError,
  NearCacheError,
  ReplicationTimeoutError,
  silentLogger,
  type CacheChange,
  type CacheState,
  type InProcessLogOptions,
  type NearCache,
  type NearCacheOptions,
  type RawRecord,
  type RejectedRecord,
  type RejectReason,
} from '../src/index.js';
import {
  describeRecords,
  foldTopic,
  GatedLog,
  nextEvent,
  prng,
  rawClear,
  rawDelete,
  rawSet,
  recordMeta,
  rejection,
  sortedEntries,
  tick,
  track,
  uniqueTopic,
  waitCaughtUp,
  waitFor,
} from './helpers.js';

let broker: InProcessBroker;
let topic: string;
const caches: Array<NearCache<any>> = [];

beforeEach(() => {
  broker = new InProcessBroker();
  topic = uniqueTopic('cache');
});

afterEach(async () => {
  broker.setAvailable(true);
  await Promise.all(caches.splice(0).map((c) => c.close()));
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
});

function open(extra: Partial<NearCacheOptions<any>> = {}, logOptions: InProcessLogOptions = {}): NearCache<any> {
  const cache = createNearCache<any>({ topic, log: inProcessLog(broker, logOptions), logger: silentLogger, closeTimeout: 1000, ...extra });
  caches.push(cache);
  return cache;
}

async function openReady(extra: Partial<NearCacheOptions<any>> = {}, logOptions: InProcessLogOptions = {}): Promise<NearCache<any>> {
  const cache = open(extra, logOptions);
  await cache.ready({ timeout: 5000 });
  return cache;
}

/** Flushes every writer, then waits until every instance applied the whole topic. */
async function settle(...instances: Array<NearCache<any>>): Promise<void> {
  await Promise.all(instances.map((c) => c.flush({ timeout: 5000 })));
  await waitCaughtUp(instances, broker, topic);
}

function oracle(): Array<[string, unknown]> {
  return sortedEntries(foldTopic(broker.records(topic)));
}

function contents(cache: NearCache<any>): Array<[string, unknown]> {
  return sortedEntries(cache.entries());
}

// ---------------------------------------------------------------------------------------------

describe('ready() and state', () => {
  it('resolves on an empty topic, emits ready, and goes starting -> bootstrapping -> live', async () => {
    const cache = open();
    expect(cache.state).toBe('starting');
    const states: Array<[CacheState, CacheState]> = [];
    cache.on('state', (state, previous) => states.push([state, previous]));
    const readyEvent = nextEvent(cache, 'ready');
    await cache.ready({ timeout: 5000 });
    await readyEvent;
    expect(cache.state).toBe('live');
    expect(states).toEqual([
      ['bootstrapping', 'starting'],
      ['live', 'bootstrapping'],
    ]);
    expect(cache.size).toBe(0);
    expect(cache.stats().partitions).toEqual([expect.objectContaining({ partition: 0, position: 0, highWatermark: 0, lagRecords: 0, lagMs: 0 })]);
    await cache.close();
    expect(states.at(-1)).toEqual(['closed', 'live']);
  });

  it('resolves only after every record up to the end offsets at start was applied', async () => {
    broker.createTopic(topic);
    const records = Array.from({ length: 2500 }, (_, i) => rawSet(`k${i}`, i, { writeId: i + 1 }));
    broker.produce(topic, records);
    const cache = open({}, { maxBatchRecords: 100 });
    await cache.ready({ timeout: 10_000 });
    // No waiting after ready(): everything is there already.
    for (let i = 0; i < 2500; i++) expect(cache.get(`k${i}`)).toBe(i);
    expect(cache.stats().records.applied).toBe(2500);
    expect(cache.stats().partitions[0]).toMatchObject({ position: 2500, lagRecords: 0 });
  });

  it('resolves on a topic holding only tombstones', async () => {
    broker.createTopic(topic);
    broker.produce(topic, [rawDelete('a'), rawDelete('b', { writeId: 2 }), rawDelete('a', { writeId: 3 })]);
    const cache = await openReady();
    expect(cache.state).toBe('live');
    expect(cache.size).toBe(0);
    expect(cache.stats().records.applied).toBe(3);
  });

  it('resolves when compaction removed the tail of the log', async () => {
    const writer = await openReady();
    // Durable writes: each is its own record (writes within one tick would coalesce).
    await writer.set('a', 1, { durable: true });
    await writer.set('b', 1, { durable: true });
    await writer.delete('b', { durable: true });
    broker.compact(topic);
    const [offsets] = broker.offsets(topic);
    expect(broker.records(topic).map((r) => r.offset)).toEqual([0]);
    expect(offsets!.high).toBe(3);
    const reader = await openReady();
    expect(reader.get('a')).toBe(1);
    expect(reader.has('b')).toBe(false);
    expect(reader.stats().partitions[0]).toMatchObject({ position: 3, lagRecords: 0 });
  });

  it('resolves when compaction removed every record (low == high)', async () => {
    const writer = await openReady();
    await writer.set('x', 1, { durable: true });
    await writer.delete('x', { durable: true });
    broker.compact(topic);
    expect(broker.records(topic)).toEqual([]);
    expect(broker.offsets(topic)).toEqual([{ partition: 0, low: 2, high: 2 }]);
    const reader = await openReady();
    expect(reader.size).toBe(0);
    expect(reader.state).toBe('live');
  });

  it('resolves on a multi-partition topic where some partitions are empty', async () => {
    const cache = await openReady({}, { partitions: 12 });
    await cache.set('only-one-key', 1);
    await cache.flush();
    const reader = await openReady({}, { partitions: 12 });
    expect(reader.get('only-one-key')).toBe(1);
    expect(reader.stats().partitions).toHaveLength(12);
  });

  it('rejects with BootstrapTimeoutError when the broker is unavailable, and resolves later once it is back', async () => {
    broker.setAvailable(false);
    const cache = open();
    const error = await rejection(cache.ready({ timeout: 100 }));
    expect(error).toBeInstanceOf(BootstrapTimeoutError);
    expect((error as BootstrapTimeoutError).code).toBe('NC_BOOTSTRAP_TIMEOUT');
    expect((error as BootstrapTimeoutError).retriable).toBe(true);
    expect((error as Error).message).toContain(topic);
    expect(cache.state).toBe('starting');
    broker.setAvailable(true);
    await cache.ready({ timeout: 10_000 });
    expect(cache.state).toBe('live');
  });

  it('uses the bootstrapTimeout option as the default deadline', async () => {
    broker.setAvailable(false);
    const cache = open({ bootstrapTimeout: 50 });
    await expect(cache.ready()).rejects.toBeInstanceOf(BootstrapTimeoutError);
  });

  it('rejects pending ready() calls with CacheClosedError on close, and later calls too', async () => {
    broker.setAvailable(false);
    const cache = open();
    const waiting = track(cache.ready({ timeout: 10_000 }));
    await cache.close();
    await waitFor(() => waiting.settled, { message: 'ready() settled' });
    expect(waiting.error).toBeInstanceOf(CacheClosedError);
    expect((waiting.error as CacheClosedError).code).toBe('NC_CLOSED');
    await expect(cache.ready({ timeout: 10_000 })).rejects.toBeInstanceOf(CacheClosedError);
    expect(cache.state).toBe('closed');
  });
});

// ---------------------------------------------------------------------------------------------

describe('read-your-writes', () => {
  it('keeps the local value while older records for the key, written straight to the topic, are still arriving', async () => {
    const cache = await openReady();
    const values: unknown[] = [];
    cache.on('change', () => values.push(cache.get('k')));
    const appliedBefore = cache.stats().records.applied;
    broker.produce(
      topic,
      Array.from({ length: 50 }, (_, i) => rawSet('k', `old-${i}`, { origin: 'other', writeId: i + 1 })),
    );
    const written = cache.set('k', 'new');
    // The remote records were not applied yet when the local write happened.
    expect(cache.stats().records.applied).toBe(appliedBefore);
    expect(cache.get('k')).toBe('new');
    await written;
    expect(cache.get('k')).toBe('new');
    await settle(cache);
    expect(cache.stats().records.applied).toBe(appliedBefore + 51);
    expect(values.length).toBeGreaterThan(0);
    expect(values.every((v) => v === 'new')).toBe(true);
    expect(cache.get('k')).toBe('new');
    expect(foldTopic(broker.records(topic)).get('k')).toBe('new');
  });

  it("keeps the local value while another instance's older write is held in the consumer", async () => {
    let gated: GatedLog | undefined;
    const a = await openReady({ log: (ctx) => (gated = new GatedLog(new InProcessLog(broker, ctx))) });
    const b = await openReady();
    gated!.pause();
    await b.set('k', 'from-b', { durable: true });
    await waitFor(() => gated!.held > 0, { message: "b's record held in a's consumer" });
    await a.set('k', 'from-a');
    expect(a.get('k')).toBe('from-a');
    const changes: Array<[CacheChange, unknown]> = [];
    a.on('change', (change) => changes.push([change, a.get('k')]));
    gated!.resume();
    await settle(a, b);
    expect(changes.every(([, value]) => value === 'from-a')).toBe(true);
    expect(a.get('k')).toBe('from-a');
    // Log order wins everywhere: a's write came last.
    expect(b.get('k')).toBe('from-a');
    expect(foldTopic(broker.records(topic)).get('k')).toBe('from-a');
  });

  it('keeps a local delete while an older remote set for the key is still arriving', async () => {
    const cache = await openReady();
    await cache.set('k', 'v1');
    await settle(cache);
    const sets: CacheChange[] = [];
    cache.on('change', (change) => {
      if (change.op === 'set') sets.push(change);
    });
    broker.produce(topic, [rawSet('k', 'remote-old', { origin: 'other' })]);
    await cache.delete('k');
    expect(cache.has('k')).toBe(false);
    await settle(cache);
    expect(cache.has('k')).toBe(false);
    expect(sets).toEqual([]);
  });

  it('a durable set resolves once its record is in the log', async () => {
    const cache = await openReady();
    await cache.set('d', { x: 1 }, { durable: true });
    expect(describeRecords(broker.records(topic))).toEqual([{ key: 'd', op: 's', value: '{"x":1}' }]);
  });

  it('emits local change events for set, delete and clear', async () => {
    const cache = await openReady();
    const changes: CacheChange[] = [];
    cache.on('change', (change) => changes.push(change));
    await cache.set('a', 1);
    await cache.delete('a');
    await cache.clearPrefix('p:');
    expect(changes).toEqual([
      { op: 'set', key: 'a', source: 'local' },
      { op: 'delete', key: 'a', source: 'local' },
      { op: 'clear', key: 'p:', source: 'local' },
    ]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('convergence', () => {
  it.each([1, 2, 3])('three instances on three partitions converge to the folded topic (seed %i)', async (seed) => {
    const instances = await Promise.all([0, 1, 2].map(() => openReady({}, { partitions: 3 })));
    const random = prng(seed);
    const keys = [
      ...Array.from({ length: 8 }, (_, i) => `a:${i}`),
      ...Array.from({ length: 8 }, (_, i) => `b:${i}`),
      ...Array.from({ length: 8 }, (_, i) => `k${i}`),
    ];
    const failures: unknown[] = [];
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
    for (let i = 0; i < 600; i++) {
      const index = Math.floor(random() * 3);
      const cache = instances[index]!;
      const r = random();
      let write: Promise<void>;
      if (r < 0.7) write = cache.set(pick(keys), { i, by: index, list: [i % 7, 'x'] });
      else if (r < 0.92) write = cache.delete(pick(keys));
      else if (r < 0.98) write = cache.clearPrefix(pick(['a:', 'b:']));
      else write = cache.clear();
      write.catch((error: unknown) => failures.push(error));
      if (random() < 0.3) await tick();
    }
    await settle(...instances);
    expect(failures).toEqual([]);
    const expected = oracle();
    expect(expected.length).toBeGreaterThan(0);
    for (const cache of instances) expect(contents(cache)).toEqual(expected);
    // A fresh reader agrees too.
    const fresh = await openReady({}, { partitions: 3 });
    expect(contents(fresh)).toEqual(expected);
  });

  it('converges when two instances write the same keys concurrently', async () => {
    const a = await openReady();
    const b = await openReady();
    for (let round = 0; round < 20; round++) {
      for (let k = 0; k < 5; k++) {
        void a.set(`k${k}`, `a-${round}`);
        void b.set(`k${k}`, `b-${round}`);
      }
      await tick();
    }
    await settle(a, b);
    const expected = oracle();
    expect(expected).toHaveLength(5);
    expect(contents(a)).toEqual(expected);
    expect(contents(b)).toEqual(expected);
  });
});

// ---------------------------------------------------------------------------------------------

describe('no time travel', () => {
  it('a consumer replaying from offset 0 leaves every value at its latest and reverts nothing', async () => {
    let log: InProcessLog | undefined;
    const a = await openReady({ log: (ctx) => (log = new InProcessLog(broker, ctx)) });
    const b = await openReady();
    // One flush per round, so every key has a record per version (no coalescing across rounds).
    for (let v = 1; v <= 3; v++) {
      for (let k = 0; k < 10; k++) void b.set(`k${k}`, `v${v}`);
      await b.flush();
    }
    await b.delete('k9', { durable: true });
    await b.clearPrefix('k8', { durable: true });
    await settle(a, b);
    const before = contents(a);
    expect(before).toEqual(oracle());
    expect(a.get('k0')).toBe('v3');
    const total = broker.records(topic).length;
    expect(total).toBe(32);
    const { replayed, applied } = a.stats().records;
    const changes: CacheChange[] = [];
    a.on('change', (change) => changes.push(change));

    log!.replayFromBeginning();
    await waitFor(() => a.stats().records.replayed >= replayed + total, { message: () => `replayed ${a.stats().records.replayed}` });

    expect(a.stats().records.replayed).toBe(replayed + total);
    expect(a.stats().records.applied).toBe(applied);
    expect(contents(a)).toEqual(before);
    expect(changes).toEqual([]);
    // The consumer keeps going: a new record is applied once, not counted as a replay.
    await b.set('k0', 'v4');
    await waitFor(() => a.get('k0') === 'v4', { message: 'new record applied after the replay' });
    await settle(a, b);
    expect(a.stats().records.replayed).toBe(replayed + total);
    expect(contents(a)).toEqual(oracle());
  });

  it('a consumer replaying a compacted log reverts nothing either', async () => {
    let log: InProcessLog | undefined;
    const a = await openReady({ log: (ctx) => (log = new InProcessLog(broker, ctx)) });
    for (let v = 1; v <= 3; v++) {
      for (let k = 0; k < 5; k++) void a.set(`k${k}`, v);
      await a.flush();
    }
    await a.delete('k4');
    await settle(a);
    const before = contents(a);
    broker.compact(topic);
    const remaining = broker.records(topic).length;
    const { replayed } = a.stats().records;
    const changes: CacheChange[] = [];
    a.on('change', (change) => changes.push(change));
    log!.replayFromBeginning();
    await waitFor(() => a.stats().records.replayed >= replayed + remaining, { message: 'replayed' });
    expect(contents(a)).toEqual(before);
    expect(changes).toEqual([]);
  });

  it('a stalled consumer is restarted by the watchdog: degraded, then live again, nothing applied twice', async () => {
    let gated: GatedLog | undefined;
    const a = await openReady({
      stallTimeout: 100,
      lagPollInterval: 10,
      log: (ctx) => (gated = new GatedLog(new InProcessLog(broker, ctx))),
    });
    const restart = vi.spyOn(gated!, 'restartConsumer');
    const states: CacheState[] = [];
    const errors: NearCacheError[] = [];
    a.on('state', (state) => states.push(state));
    a.on('error', (error) => errors.push(error));
    gated!.pause();
    broker.produce(
      topic,
      Array.from({ length: 5 }, (_, i) => rawSet(`k${i}`, i, { origin: 'other', writeId: i + 1 })),
    );
    await waitFor(() => restart.mock.calls.length > 0, { message: 'watchdog restarted the consumer' });
    expect(a.state).toBe('degraded');
    expect(errors.map((e) => e.code)).toContain('NC_CONSUMER_STALLED');
    gated!.resume();
    await waitCaughtUp([a], broker, topic);
    await waitFor(() => a.state === 'live', { message: 'live again' });
    expect(states.slice(0, 2)).toEqual(['degraded', 'live']);
    expect(a.stats().records.applied).toBe(5);
    expect(contents(a)).toEqual(oracle());
  });

  it('a consumer restart (watchdog path) resumes where it was: nothing is replayed', async () => {
    let log: InProcessLog | undefined;
    const a = await openReady({ log: (ctx) => (log = new InProcessLog(broker, ctx)) });
    const b = await openReady();
    for (let k = 0; k < 10; k++) await b.set(`k${k}`, k);
    await settle(a, b);
    const { replayed, applied } = a.stats().records;
    await log!.restartConsumer();
    await b.set('after', 1);
    await settle(a, b);
    expect(a.get('after')).toBe(1);
    expect(a.stats().records.replayed).toBe(replayed);
    expect(a.stats().records.applied).toBe(applied + 1);
  });
});

// ---------------------------------------------------------------------------------------------

describe('deletes', () => {
  it('a delete reaches a live instance', async () => {
    const a = await openReady();
    const b = await openReady();
    await a.set('k', 1);
    await settle(a, b);
    expect(b.get('k')).toBe(1);
    await a.delete('k');
    await settle(a, b);
    expect(b.has('k')).toBe(false);
  });

  it('a fresh instance does not see a deleted key (tombstone still in the log)', async () => {
    const a = await openReady();
    await a.set('k', 'old', { durable: true });
    await a.set('keep', 1, { durable: true });
    await a.delete('k', { durable: true });
    expect(
      describeRecords(broker.records(topic))
        .filter((r) => r.key === 'k')
        .map((r) => r.op),
    ).toEqual(['s', 'd']);
    const fresh = await openReady();
    expect(fresh.has('k')).toBe(false);
    expect(fresh.get('keep')).toBe(1);
  });

  it('a fresh instance does not see a deleted key after the log cleaner ran', async () => {
    const a = await openReady();
    for (let i = 0; i < 5; i++) await a.set('k', `old-${i}`, { durable: true });
    await a.set('keep', 1, { durable: true });
    await a.delete('k', { durable: true });
    const before = broker.records(topic).length;
    broker.compact(topic);
    expect(broker.records(topic).length).toBeLessThan(before);
    const fresh = await openReady();
    expect(fresh.has('k')).toBe(false);
    expect(fresh.get('keep')).toBe(1);
    expect(contents(fresh)).toEqual(oracle());
  });
});

// ---------------------------------------------------------------------------------------------

describe('TTL', () => {
  it('travels as an absolute expiry; the entry expires everywhere and a fresh instance does not resurrect it', async () => {
    const a = await openReady();
    const b = await openReady();
    const changes: CacheChange[] = [];
    b.on('change', (change) => changes.push(change));
    const t0 = Date.now();
    await a.set('t', 'short-lived', { ttl: 300 });
    const t1 = Date.now();
    await a.set('forever', 1);
    await settle(a, b);
    const record = broker.records(topic).find((r) => r.key?.toString() === 't')!;
    const exp = Number(recordMeta(record)!.exp);
    expect(exp).toBeGreaterThanOrEqual(t0 + 300);
    expect(exp).toBeLessThanOrEqual(t1 + 300);
    // b stored it (it was applied as a set)...
    expect(changes).toContainEqual({ op: 'set', key: 't', source: 'remote' });
    // ...and it expires on both.
    await waitFor(() => !a.has('t') && !b.has('t'), { message: 'entry expired' });
    expect(a.get('t')).toBeUndefined();
    expect(Date.now()).toBeGreaterThanOrEqual(exp);
    // The record is still in the log; a fresh instance reads it and does not store it.
    expect(broker.records(topic).some((r) => r.key?.toString() === 't')).toBe(true);
    const fresh = await openReady();
    expect(fresh.has('t')).toBe(false);
    expect(fresh.get('forever')).toBe(1);
    expect(contents(fresh)).toEqual(oracle());
  });

  it('applies the ttl option by default; ttl: 0 on a set means no expiry', async () => {
    const a = await openReady({ ttl: 200 });
    await a.set('default', 1);
    await a.set('none', 1, { ttl: 0 });
    await a.flush();
    const exp = (key: string): string => recordMeta(broker.records(topic).find((r) => r.key?.toString() === key)!)!.exp!;
    expect(Number(exp('default'))).toBeGreaterThan(0);
    expect(exp('none')).toBe('0');
    await waitFor(() => !a.has('default'), { message: 'default ttl expired' });
    expect(a.get('none')).toBe(1);
  });

  it('a record already expired when it arrives removes the local copy and is not stored by a fresh instance', async () => {
    const a = await openReady();
    await a.set('k', 'live');
    await settle(a);
    broker.produce(topic, [
      rawSet('k', 'expired', { origin: 'other', expiresAt: Date.now() - 1000 }),
      rawSet('j', 'expired', { origin: 'other', expiresAt: 1 }),
    ]);
    await waitCaughtUp([a], broker, topic);
    expect(a.has('k')).toBe(false);
    expect(a.has('j')).toBe(false);
    const fresh = await openReady();
    expect(fresh.has('k')).toBe(false);
    expect(fresh.has('j')).toBe(false);
    expect(fresh.stats().records.applied).toBe(3);
  });

  it('maxTtl caps how long this instance keeps entries, local and remote; other instances are not capped', async () => {
    const capped = await openReady({ maxTtl: 150 });
    const free = await openReady();
    const remoteSets: string[] = [];
    capped.on('change', (change) => {
      if (change.op === 'set' && change.source === 'remote') remoteSets.push(change.key);
    });
    await free.set('remote', 1);
    await capped.set('local', 1, { ttl: 3_600_000 });
    expect(capped.get('local')).toBe(1);
    await settle(capped, free);
    expect(remoteSets).toContain('remote');
    await waitFor(() => !capped.has('remote') && !capped.has('local'), { message: 'capped entries expired' });
    expect(free.get('remote')).toBe(1);
    expect(free.get('local')).toBe(1);
    // The record carries the writer's ttl, not the cap.
    const exp = Number(recordMeta(broker.records(topic).find((r) => r.key?.toString() === 'local')!)!.exp);
    expect(exp).toBeGreaterThan(Date.now() + 3_000_000);
  });
});

// ---------------------------------------------------------------------------------------------

describe('per-instance control', () => {
  it('LRU eviction (max: 3) is local only and counted', async () => {
    const small = await openReady({ max: 3 });
    const big = await openReady();
    for (let i = 0; i < 5; i++) await small.set(`k${i}`, i);
    await settle(small, big);
    expect(small.size).toBe(3);
    expect([...small.keys()].sort()).toEqual(['k2', 'k3', 'k4']);
    expect(small.stats().evictions).toBe(2);
    for (let i = 0; i < 5; i++) expect(big.get(`k${i}`)).toBe(i);
    // Remote writes evict locally too.
    for (let i = 5; i < 10; i++) await big.set(`k${i}`, i);
    await settle(small, big);
    expect(small.size).toBe(3);
    expect(small.stats().evictions).toBe(7);
    expect(big.size).toBe(10);
    expect(big.stats().evictions).toBe(0);
    // Nothing about evictions reached the log: no tombstone, and a fresh instance has every key.
    expect(broker.records(topic).every((r) => r.value !== null)).toBe(true);
    const fresh = await openReady();
    expect(fresh.size).toBe(10);
  });

  it('filter: a filtered-out remote key is not stored, and a remote write of it evicts a local copy', async () => {
    const filter = (key: string): boolean => key.startsWith('keep:');
    const f = await openReady({ filter });
    const w = await openReady();
    await w.set('keep:1', 1);
    await w.set('drop:1', 1);
    await settle(f, w);
    expect(f.get('keep:1')).toBe(1);
    expect(f.has('drop:1')).toBe(false);
    expect(w.get('drop:1')).toBe(1);
    // A local write of a filtered key is kept, also when its own record comes back.
    await f.set('drop:2', 'local');
    await settle(f, w);
    expect(f.get('drop:2')).toBe('local');
    // A remote write of it only evicts the local copy.
    await w.set('drop:2', 'remote');
    await settle(f, w);
    expect(f.has('drop:2')).toBe(false);
    expect(w.get('drop:2')).toBe('remote');
    // Bootstrap filters too.
    const g = await openReady({ filter });
    expect(contents(g)).toEqual([['keep:1', 1]]);
  });

  it('mode invalidate: a remote set evicts the local copy instead of storing the value', async () => {
    const inv = await openReady({ mode: 'invalidate' });
    const w = await openReady();
    expect(inv.stats().mode).toBe('invalidate');
    await inv.set('k', 'mine');
    await settle(inv, w);
    expect(inv.get('k')).toBe('mine');
    expect(w.get('k')).toBe('mine');
    const changes: CacheChange[] = [];
    inv.on('change', (change) => changes.push(change));
    await w.set('k', 'theirs');
    await w.set('new', 1);
    await settle(inv, w);
    expect(inv.has('k')).toBe(false);
    expect(inv.has('new')).toBe(false);
    expect(w.get('k')).toBe('theirs');
    expect(changes).toEqual([{ op: 'delete', key: 'k', source: 'remote' }]);
    const fresh = await openReady({ mode: 'invalidate' });
    expect(fresh.size).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------

describe('namespaces and clear', () => {
  it('namespace get/set/delete/clear only touch its prefix, on every instance', async () => {
    const a = await openReady({}, { partitions: 3 });
    const b = await openReady({}, { partitions: 3 });
    const users = a.namespace('users:');
    await users.set('1', { n: 1 });
    await users.set('2', { n: 2 });
    await a.set('users', 'no colon');
    await a.set('orders:1', 'o1');
    await users.namespace('admin:').set('root', true);
    expect(users.get('1')).toEqual({ n: 1 });
    expect(a.get('users:1')).toEqual({ n: 1 });
    expect(a.get('users:admin:root')).toBe(true);
    expect(users.has('3')).toBe(false);
    expect([...users.keys()].sort()).toEqual(['1', '2', 'admin:root']);
    await users.delete('2');
    expect(a.has('users:2')).toBe(false);
    await settle(a, b);
    expect(b.namespace('users:').get('1')).toEqual({ n: 1 });
    expect(b.has('users:2')).toBe(false);

    await users.clear();
    expect(users.get('1')).toBeUndefined();
    expect(a.has('users:admin:root')).toBe(false);
    expect(a.get('users')).toBe('no colon');
    expect(a.get('orders:1')).toBe('o1');
    await settle(a, b);
    expect(contents(b)).toEqual([
      ['orders:1', 'o1'],
      ['users', 'no colon'],
    ]);
    expect(contents(a)).toEqual(contents(b));
    expect(contents(a)).toEqual(oracle());
  });

  it('clear() reaches every instance on every partition; writes after it stay', async () => {
    const instances = await Promise.all([0, 1, 2].map(() => openReady({}, { partitions: 3 })));
    for (let i = 0; i < 30; i++) await instances[i % 3]!.set(`k${i}`, i);
    await settle(...instances);
    for (const cache of instances) expect(cache.size).toBe(30);
    const remoteClears: CacheChange[] = [];
    instances[0]!.on('change', (change) => {
      if (change.op === 'clear') remoteClears.push(change);
    });
    await instances[1]!.clear();
    expect(instances[1]!.size).toBe(0);
    await settle(...instances);
    for (const cache of instances) expect(cache.size).toBe(0);
    // One clear record per partition.
    expect(describeRecords(broker.records(topic)).filter((r) => r.op === 'c')).toHaveLength(3);
    expect(remoteClears.length).toBeGreaterThan(0);
    expect(remoteClears.every((c) => c.key === '' && c.source === 'remote')).toBe(true);
    await instances[2]!.set('after', 1);
    await settle(...instances);
    for (const cache of instances) expect(contents(cache)).toEqual([['after', 1]]);
    const fresh = await openReady({}, { partitions: 3 });
    expect(contents(fresh)).toEqual([['after', 1]]);
  });

  it('a clear written straight to the topic by another writer is applied', async () => {
    const a = await openReady();
    await a.set('p:1', 1);
    await a.set('q:1', 1);
    await settle(a);
    broker.produce(topic, [rawClear('p:', { origin: 'other' })]);
    await waitCaughtUp([a], broker, topic);
    expect(contents(a)).toEqual([['q:1', 1]]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('wrap()', () => {
  it('calls the loader once for concurrent calls, caches and replicates the result', async () => {
    const a = await openReady();
    const b = await openReady();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const loader = vi.fn(async () => {
      await gate;
      return { v: 1 };
    });
    const calls = [a.wrap('w', loader), a.wrap('w', loader), a.wrap('w', loader)];
    await tick();
    expect(loader).toHaveBeenCalledTimes(1);
    release();
    const results = await Promise.all(calls);
    for (const result of results) expect(result).toEqual({ v: 1 });
    expect(a.get('w')).toEqual({ v: 1 });
    await expect(a.wrap('w', loader)).resolves.toEqual({ v: 1 });
    expect(loader).toHaveBeenCalledTimes(1);
    await settle(a, b);
    expect(b.get('w')).toEqual({ v: 1 });
  });

  it('does not cache a loader error; every concurrent caller gets it; the next call loads again', async () => {
    const a = await openReady();
    const boom = new Error('boom');
    const failing = vi.fn(async () => {
      await tick();
      throw boom;
    });
    const results = await Promise.allSettled([a.wrap('e', failing), a.wrap('e', failing)]);
    expect(results).toEqual([
      { status: 'rejected', reason: boom },
      { status: 'rejected', reason: boom },
    ]);
    expect(failing).toHaveBeenCalledTimes(1);
    expect(a.has('e')).toBe(false);
    await expect(a.wrap('e', failing)).rejects.toBe(boom);
    expect(failing).toHaveBeenCalledTimes(2);
    const working = vi.fn(() => 'ok');
    await expect(a.wrap('e', working)).resolves.toBe('ok');
    expect(a.get('e')).toBe('ok');
    await a.flush();
    expect(describeRecords(broker.records(topic))).toEqual([{ key: 'e', op: 's', value: '"ok"' }]);
  });

  it('does not cache undefined', async () => {
    const a = await openReady();
    const loader = vi.fn(() => undefined);
    await expect(a.wrap('u', loader)).resolves.toBeUndefined();
    expect(a.has('u')).toBe(false);
    await expect(a.wrap('u', loader)).resolves.toBeUndefined();
    expect(loader).toHaveBeenCalledTimes(2);
    expect(a.stats().sets).toBe(0);
    await a.flush();
    expect(broker.records(topic)).toEqual([]);
  });

  it('caches null (a value, unlike undefined)', async () => {
    const a = await openReady();
    const loader = vi.fn(() => null);
    await expect(a.wrap('n', loader)).resolves.toBeNull();
    await expect(a.wrap('n', loader)).resolves.toBeNull();
    expect(loader).toHaveBeenCalledTimes(1);
  });
});

// ---------------------------------------------------------------------------------------------

describe('writes never hang', () => {
  it('with the broker down: writes apply locally and queue (coalesced, in order); durable writes and flush reject in time; the queue drains on reconnect', async () => {
    const a = await openReady({ flushTimeout: 100 });
    const b = await openReady();
    const states: CacheState[] = [];
    const errors: NearCacheError[] = [];
    a.on('state', (state) => states.push(state));
    a.on('error', (error) => errors.push(error));

    broker.setAvailable(false);
    await a.set('a', 0);
    expect(a.get('a')).toBe(0);
    await waitFor(() => a.state === 'degraded', { message: 'state degraded' });
    expect(states).toEqual(['degraded']);
    expect(errors[0]).toBeInstanceOf(LogUnavailableError);

    const durable = await rejection(a.set('x', 1, { durable: true }));
    expect(durable).toBeInstanceOf(ReplicationTimeoutError);
    expect((durable as ReplicationTimeoutError).code).toBe('NC_REPLICATION_TIMEOUT');
    expect(a.get('x')).toBe(1);
    await expect(a.flush()).rejects.toBeInstanceOf(ReplicationTimeoutError);

    // Synchronous burst: the queue depth grows per new key and not for a key already queued.
    const d0 = a.stats().queue.depth;
    void a.set('b', 1);
    expect(a.stats().queue.depth).toBe(d0 + 1);
    void a.set('c', 1);
    expect(a.stats().queue.depth).toBe(d0 + 2);
    void a.set('b', 2);
    expect(a.stats().queue.depth).toBe(d0 + 2);
    void a.delete('c');
    expect(a.stats().queue.depth).toBe(d0 + 2);
    void a.set('a', 1);
    expect(a.get('b')).toBe(2);
    expect(a.has('c')).toBe(false);
    expect(b.has('b')).toBe(false);

    const before = broker.records(topic).length;
    broker.setAvailable(true);
    await waitFor(() => a.stats().queue.depth === 0, { timeout: 15_000, message: () => `queue drained (depth ${a.stats().queue.depth})` });
    await waitFor(() => a.state === 'live', { message: 'state live again' });
    expect(states).toEqual(['degraded', 'live']);
    // One record per key, in the order of the last writes.
    expect(describeRecords(broker.records(topic).slice(before))).toEqual([
      { key: 'x', op: 's', value: '1' },
      { key: 'b', op: 's', value: '2' },
      { key: 'c', op: 'd', value: null },
      { key: 'a', op: 's', value: '1' },
    ]);
    await settle(a, b);
    expect(contents(b)).toEqual([
      ['a', 1],
      ['b', 2],
      ['x', 1],
    ]);
    expect(contents(a)).toEqual(oracle());
  });

  it('close() with the broker down is bounded by closeTimeout and rejects the waiters left', async () => {
    const a = await openReady({ closeTimeout: 100, flushTimeout: 60_000 });
    broker.setAvailable(false);
    await a.set('k', 1);
    const durable = track(a.set('k2', 1, { durable: true }));
    await a.close();
    expect(a.state).toBe('closed');
    await waitFor(() => durable.settled, { message: 'durable write settled' });
    expect(durable.error).toBeInstanceOf(CacheClosedError);
  });
});

// ---------------------------------------------------------------------------------------------

interface Poison {
  name: string;
  record: RawRecord;
  reason: RejectReason;
}

const MAX_VALUE = 1024;
const setHeaders = { 'nc-v': '1', 'nc-op': 's', 'nc-origin': 'evil', 'nc-wid': '1', 'nc-exp': '0' };

const poisons: Poison[] = [
  { name: 'garbage bytes', record: rawSet('victim', Buffer.from([0xff, 0x00, 0x13, 0x37]), { origin: 'evil' }), reason: 'decode-failed' },
  { name: 'truncated JSON', record: rawSet('victim', Buffer.from('{"a":'), { origin: 'evil' }), reason: 'decode-failed' },
  { name: 'an unknown version', record: rawSet('victim', { evil: 1 }, { origin: 'evil', version: '9' }), reason: 'unknown-version' },
  { name: 'no headers', record: { key: 'victim', value: '{"evil":1}' }, reason: 'missing-header' },
  { name: 'no origin header', record: { key: 'victim', value: '{"evil":1}', headers: { 'nc-v': '1', 'nc-op': 's', 'nc-wid': '1' } }, reason: 'missing-header' },
  { name: 'an unknown operation', record: { key: 'victim', value: '1', headers: { ...setHeaders, 'nc-op': 'z' } }, reason: 'unknown-operation' },
  { name: 'a malformed write id', record: rawSet('victim', { evil: 1 }, { origin: 'evil', writeId: 'NaN' }), reason: 'malformed' },
  { name: 'a malformed expiry', record: rawSet('victim', { evil: 1 }, { origin: 'evil', expiresAt: 'soon' }), reason: 'malformed' },
  { name: 'a __proto__ payload', record: rawSet('victim', Buffer.from('{"__proto__":{"polluted":1}}'), { origin: 'evil' }), reason: 'decode-failed' },
  {
    name: 'a constructor.prototype payload',
    record: rawSet('victim', Buffer.from('{"constructor":{"prototype":{"polluted":1}}}'), { origin: 'evil' }),
    reason: 'decode-failed',
  },
  { name: 'an oversized value', record: rawSet('victim', 'x'.repeat(MAX_VALUE + 10), { origin: 'evil' }), reason: 'value-too-large' },
  { name: 'an oversized key', record: rawSet('k'.repeat(2000), 1, { origin: 'evil' }), reason: 'key-too-large' },
  { name: 'a reserved key', record: rawSet('\u0000evil', 1, { origin: 'evil' }), reason: 'invalid-key' },
  { name: 'a null key', record: { key: null, value: '1', headers: setHeaders }, reason: 'invalid-key' },
  { name: 'a set with a null value', record: { key: 'victim', value: null, headers: setHeaders }, reason: 'malformed' },
  { name: 'a delete with a value', record: { key: 'victim', value: '1', headers: { ...setHeaders, 'nc-op': 'd' } }, reason: 'malformed' },
  { name: 'a forged clear', record: { key: '\u0000nc:clear:other', value: 'victim', headers: { ...setHeaders, 'nc-op': 'c' } }, reason: 'malformed' },
  { name: 'a version 2 header with four fields', record: { key: 'victim', value: '{"evil":1}', headers: { 'nc-r': '2 s 0 1' } }, reason: 'malformed' },
  {
    name: 'a version 2 header of an unknown operation',
    record: { key: 'victim', value: '1', headers: { 'nc-r': '2 u 0 1 evil' } },
    reason: 'unknown-operation',
  },
  { name: 'a version 2 header with a bad write id', record: { key: 'victim', value: '1', headers: { 'nc-r': '2 s 0 x evil' } }, reason: 'malformed' },
];

describe('bootstrap decodes lazily', () => {
  beforeEach(() => broker.createTopic(topic));

  it('stores values of new keys as bytes and decodes each on its first read, to the same value as an eager reader', async () => {
    broker.produce(topic, [rawSet('a', { n: 1, list: [1, 2] }), rawSet('b', 'text'), rawSet('c', 3)]);
    const lazy = await openReady();
    const eager = await openReady({ bootstrapDecode: 'eager' });
    const first = lazy.get('a');
    expect(first).toEqual({ n: 1, list: [1, 2] });
    // Decoded once: later reads return the stored object itself.
    expect(lazy.get('a')).toBe(first);
    expect(lazy.has('b')).toBe(true);
    expect(contents(lazy)).toEqual(contents(eager));
    expect(lazy.stats()).toMatchObject({ hits: 2, misses: 0, records: { rejected: 0 } });
  });

  it('keeps the expiry of a value it decodes later', async () => {
    broker.produce(topic, [rawSet('short', 'v', { expiresAt: Date.now() + 300 }), rawSet('long', 'v')]);
    const cache = await openReady();
    expect(cache.get('short')).toBe('v');
    await waitFor(() => cache.get('short') === undefined, { timeout: 3000, message: 'the decoded entry to expire at its original time' });
    expect(cache.get('long')).toBe('v');
  });

  it('reports an undecodable value when it is first read, with its offset; the read misses and the entry is dropped', async () => {
    const [bad] = broker.produce(topic, [rawSet('bad', Buffer.from('{"half":')), rawSet('good', 1)]);
    const cache = await openReady();
    expect(cache.stats().records.rejected).toBe(0);
    const rejected = nextEvent<[RejectedRecord]>(cache, 'rejected');
    expect(cache.get('bad')).toBeUndefined();
    expect((await rejected)[0]).toMatchObject({ partition: 0, offset: bad, reason: 'decode-failed' });
    expect([...cache.keys()]).toEqual(['good']);
    expect(cache.stats()).toMatchObject({ hits: 0, misses: 1, records: { rejected: 1, rejectedByReason: { 'decode-failed': 1 } } });
    expect(contents(cache)).toEqual([['good', 1]]);
  });

  it('decodes at once a value that would replace another, so a bad one never displaces a good one', async () => {
    const offsets = broker.produce(topic, [rawSet('k', 'good'), rawSet('k', Buffer.from('not json'))]);
    const cache = await openReady();
    expect(cache.stats().records.lastRejected).toMatchObject([{ offset: offsets[1], reason: 'decode-failed' }]);
    expect(cache.get('k')).toBe('good');
  });

  it('counts the same bytes for a value before and after decoding it (maxBytes)', async () => {
    broker.produce(topic, [rawSet('a', { payload: 'x'.repeat(100) }), rawSet('b', 2)]);
    const cache = await openReady({ maxBytes: 100_000 });
    const before = cache.stats().bytes;
    expect(before).toBeGreaterThan(100);
    cache.get('a');
    cache.get('b');
    expect(cache.stats().bytes).toBe(before);
  });

  it('never hands out bytes: entries evicted, deleted or expired before their first read are accounted for', async () => {
    broker.produce(topic, [rawSet('k1', 1), rawSet('k2', 2), rawSet('k3', { v: 3 }), rawSet('k4', { v: 4 }), rawSet('k5', 5, { expiresAt: Date.now() + 200 })]);
    const cache = await openReady({ max: 3 });
    expect([...cache.keys()].sort()).toEqual(['k3', 'k4', 'k5']);
    broker.produce(topic, [rawDelete('k3')]);
    await waitFor(() => !cache.has('k3'));
    await waitFor(() => !cache.has('k5'), { timeout: 3000 });
    expect(cache.get('k4')).toEqual({ v: 4 });
    await cache.set('k6', { v: 6 });
    expect(cache.get('k6')).toEqual({ v: 6 });
  });

  it('entries() and has() decode without reordering the LRU; entries() never brings back a key changed while it iterates', async () => {
    broker.produce(topic, [rawSet('k1', 1), rawSet('k2', 2), rawSet('k3', 3)]);
    const cache = await openReady({ max: 3 });
    expect(cache.has('k1')).toBe(true);
    const seen: Array<[string, unknown]> = [];
    for (const [key, value] of cache.entries()) {
      seen.push([key, value]);
      // Changed between two steps of the iteration.
      if (seen.length === 1) {
        await cache.delete('k2');
        await cache.set('k1', 'newer');
      }
    }
    expect(seen).toEqual([['k3', 3]]);
    expect(cache.get('k2')).toBeUndefined();
    expect(cache.get('k1')).toBe('newer');
    // k3 is now the least recently used: reading it through entries() and has() did not move it.
    expect(cache.has('k3')).toBe(true);
    await cache.set('k4', 4);
    await cache.set('k5', 5);
    expect([...cache.keys()].sort()).toEqual(['k1', 'k4', 'k5']);
  });

  it('decodes every live record as it arrives once ready', async () => {
    const cache = await openReady();
    const rejected = nextEvent<[RejectedRecord]>(cache, 'rejected');
    broker.produce(topic, [rawSet('late', Buffer.from('{'))]);
    expect((await rejected)[0].reason).toBe('decode-failed');
  });

  it('refuses an unknown bootstrapDecode', () => {
    expect(() => open({ bootstrapDecode: 'later' as never })).toThrow(/option "bootstrapDecode" must be one of "lazy", "eager", got "later"/);
  });
});

describe('poison records on the topic', () => {
  it('records of format version 1 (five headers) from older writers are still applied', async () => {
    const a = await openReady();
    broker.produce(topic, [
      rawSet('old', { v: 1 }, { version: '1', origin: 'older-writer', writeId: 1 }),
      rawSet('gone', 1, { version: '1', origin: 'older-writer', writeId: 2 }),
      rawDelete('gone', { version: '1', origin: 'older-writer', writeId: 3 }),
    ]);
    await waitCaughtUp([a], broker, topic);
    expect(a.get('old')).toEqual({ v: 1 });
    expect(a.has('gone')).toBe(false);
    expect(a.stats().records.rejected).toBe(0);
    expect(broker.records(topic).map((r) => Object.keys(r.headers).sort().join(','))).toEqual([
      'nc-exp,nc-op,nc-origin,nc-v,nc-wid',
      'nc-exp,nc-op,nc-origin,nc-v,nc-wid',
      'nc-op,nc-origin,nc-v,nc-wid',
    ]);
  });

  it('are skipped, counted, reported with their offset; previous values stay; the consumer keeps going', async () => {
    const a = await openReady({ maxValueBytes: MAX_VALUE });
    await a.set('victim', { ok: 1 });
    await a.set('other', 'o');
    await settle(a);
    const rejected: RejectedRecord[] = [];
    a.on('rejected', (record) => rejected.push(record));

    const offsets = broker.produce(
      topic,
      poisons.map((p) => p.record),
    );
    broker.produce(topic, [rawSet('after', 'fine', { origin: 'good', writeId: 2 })]);
    await waitCaughtUp([a], broker, topic);

    expect(rejected.map((r) => ({ offset: r.offset, reason: r.reason }))).toEqual(poisons.map((p, i) => ({ offset: offsets[i], reason: p.reason })));
    expect(rejected.every((r) => r.partition === 0 && r.detail.length > 0)).toBe(true);
    expect(a.get('victim')).toEqual({ ok: 1 });
    expect(a.get('other')).toBe('o');
    expect(a.get('after')).toBe('fine');
    expect([...a.keys()]).not.toContain('\u0000evil');
    expect(a.state).toBe('live');
    const stats = a.stats();
    expect(stats.records.rejected).toBe(poisons.length);
    const byReason: Partial<Record<RejectReason, number>> = {};
    for (const p of poisons) byReason[p.reason] = (byReason[p.reason] ?? 0) + 1;
    expect(stats.records.rejectedByReason).toEqual(byReason);
    expect(stats.records.lastRejected).toEqual(rejected);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);

    // A fresh instance bootstrapping over the same records skips them the same way.
    const fresh = await openReady({ maxValueBytes: MAX_VALUE });
    expect(fresh.stats().records.rejected).toBe(poisons.length);
    expect(fresh.get('victim')).toEqual({ ok: 1 });
    expect(fresh.get('after')).toBe('fine');
    expect(contents(fresh)).toEqual(sortedEntries(foldTopic(broker.records(topic), { maxValueBytes: MAX_VALUE })));
  });

  it('keeps only the last 20 rejected records in stats', async () => {
    const a = await openReady();
    const offsets = broker.produce(
      topic,
      Array.from({ length: 25 }, () => rawSet('g', Buffer.from('not json'))),
    );
    await waitCaughtUp([a], broker, topic);
    const stats = a.stats();
    expect(stats.records.rejected).toBe(25);
    expect(stats.records.rejectedByReason).toEqual({ 'decode-failed': 25 });
    expect(stats.records.lastRejected.map((r) => r.offset)).toEqual(offsets.slice(5));
  });

  it('a forged record with an escaped "__proto__" key is rejected too, leaving the previous value', async () => {
    const a = await openReady();
    await a.set('victim', { ok: 1 });
    await settle(a);
    const [offset] = broker.produce(topic, [rawSet('victim', Buffer.from('{"\\u005f_proto__":{"polluted":1}}'), { origin: 'evil' })]);
    await waitCaughtUp([a], broker, topic);
    expect(a.get('victim')).toEqual({ ok: 1 });
    expect(a.stats().records.lastRejected).toEqual([expect.objectContaining({ offset, reason: 'decode-failed' })]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('stats()', () => {
  it('counts hits and misses (has() counts neither), writes, and reports identity', async () => {
    const a = await openReady({ instanceId: 'node-a' });
    expect(a.get('x')).toBeUndefined();
    await a.set('x', 1);
    expect(a.get('x')).toBe(1);
    expect(a.get('x')).toBe(1);
    expect(a.has('x')).toBe(true);
    expect(a.has('y')).toBe(false);
    await a.delete('x');
    await a.clear();
    const stats = a.stats();
    expect(stats).toMatchObject({
      state: 'live',
      instanceId: 'node-a',
      topic,
      log: 'in-process',
      mode: 'replicate',
      hits: 2,
      misses: 1,
      sets: 1,
      deletes: 1,
      clears: 1,
      entries: 0,
    });
    await a.flush();
    expect(a.stats().queue).toEqual({ depth: 0, inFlight: 0 });
  });

  it('reports per-partition lag in records and ms while the consumer is behind, and none once caught up', async () => {
    let gated: GatedLog | undefined;
    const a = await openReady({ lagPollInterval: 10, log: (ctx) => (gated = new GatedLog(new InProcessLog(broker, ctx))) });
    gated!.pause();
    broker.produce(
      topic,
      Array.from({ length: 5 }, (_, i) => rawSet(`k${i}`, i, { origin: 'other', writeId: i + 1 })),
    );
    await waitFor(() => gated!.held > 0, { message: 'batch held' });
    await waitFor(
      () => {
        const p = a.stats().partitions[0]!;
        return p.lagRecords === 5 && p.lagMs > 0 && p.highWatermark === 5 && p.position === 0;
      },
      { message: () => `lag reported: ${JSON.stringify(a.stats().partitions)}` },
    );
    gated!.resume();
    await waitCaughtUp([a], broker, topic);
    expect(a.stats().partitions[0]).toMatchObject({ position: 5, highWatermark: 5, lagRecords: 0, lagMs: 0 });
    expect(a.get('k4')).toBe(4);
  });
});

// ---------------------------------------------------------------------------------------------

describe('close()', () => {
  it('goes to closed; writes then reject with CacheClosedError; reads still answer; close is idempotent', async () => {
    const a = await openReady();
    await a.set('k', 1);
    const closedEvent = nextEvent<[CacheState, CacheState]>(a, 'state');
    await a.close();
    expect(await closedEvent).toEqual(['closed', 'live']);
    expect(a.state).toBe('closed');
    expect(a.stats().state).toBe('closed');
    for (const write of [() => a.set('k', 2), () => a.delete('k'), () => a.clear(), () => a.clearPrefix('p'), () => a.set('n', 1, { durable: true })]) {
      const error = await rejection(write());
      expect(error).toBeInstanceOf(CacheClosedError);
      expect((error as CacheClosedError).code).toBe('NC_CLOSED');
    }
    expect(a.get('k')).toBe(1);
    await expect(a.close()).resolves.toBeUndefined();
  });

  it('flushes queued writes before closing', async () => {
    const a = await openReady();
    void a.set('k1', 1);
    void a.set('k2', 2);
    await a.close();
    expect(describeRecords(broker.records(topic)).map((r) => r.key)).toEqual(['k1', 'k2']);
  });

  it('stops applying records after close', async () => {
    const a = await openReady();
    await a.close();
    broker.produce(topic, [rawSet('late', 1, { origin: 'other' })]);
    const b = await openReady();
    expect(b.get('late')).toBe(1);
    expect(a.has('late')).toBe(false);
  });
});
