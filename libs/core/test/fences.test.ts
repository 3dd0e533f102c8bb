import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createNearCache, InProcessBroker, inProcessLog, silentLogger, type NearCache, type NearCacheOptions } from '../src/index.js';
import { diff, foldTopic, snapshot } from '../src/conformance/index.js';
import { rawSet, rejection, uniqueTopic, waitCaughtUp, waitFor } from './helpers.js';

// Fenced loads (docs/consistency.md, section 11) on the in-process log: what the contract
// section does not cover. The races themselves are in the contract suite (section 13).

let broker: InProcessBroker;
let topic: string;
const caches: Array<NearCache<any>> = [];

beforeEach(() => {
  broker = new InProcessBroker();
  topic = uniqueTopic('fences');
});

afterEach(async () => {
  await Promise.all(caches.splice(0).map((c) => c.close()));
});

async function openReady(extra: Partial<NearCacheOptions<any>> = {}, partitions = 1): Promise<NearCache<any>> {
  const cache = createNearCache<any>({ topic, log: inProcessLog(broker, { partitions }), logger: silentLogger, closeTimeout: 1000, ...extra });
  caches.push(cache);
  await cache.ready({ timeout: 5000 });
  return cache;
}

async function settle(...instances: Array<NearCache<any>>): Promise<void> {
  // Twice: a correction is queued while a record is applied.
  for (let i = 0; i < 2; i++) {
    await Promise.all(instances.map((c) => c.flush({ timeout: 5000 })));
    await waitCaughtUp(instances, broker, topic);
  }
}

function held<T>(): { loader: () => Promise<T>; release(value: T): void } {
  let resolve!: (value: T) => void;
  const gate = new Promise<T>((r) => (resolve = r));
  return { loader: () => gate, release: (value) => resolve(value) };
}

/** Fenced records of `key` in the topic. */
function fenced(key: string): number {
  return broker.records(topic).filter((r) => r.key !== null && Buffer.from(r.key).toString() === key && r.headers['nc-fence'] !== undefined).length;
}

describe('wrap() and fences', () => {
  it('a write made here while the load runs wins; the loaded value is returned, not cached', async () => {
    const a = await openReady();
    const b = await openReady();
    const load = held<string>();
    const loading = a.wrap('k', load.loader);
    await a.set('k', 'mine');
    load.release('loaded');
    expect(await loading).toBe('loaded');
    expect(a.get('k')).toBe('mine');
    await settle(a, b);
    expect(b.get('k')).toBe('mine');
    expect(fenced('k')).toBe(0);
  });

  it('a delete made here before a load does not fence it: queued or in flight, the loaded value is cached everywhere', async () => {
    const a = await openReady();
    const b = await openReady();
    await a.set('k', 'old');
    await settle(a, b);
    // Still queued when the load ends: the loaded value replaces the delete in the queue.
    await a.delete('k');
    expect(await a.wrap('k', () => 'loaded')).toBe('loaded');
    await settle(a, b);
    expect([a.get('k'), b.get('k')]).toEqual(['loaded', 'loaded']);
    // Appended before the load ends: the delete sits after the fence, but it is this instance's own.
    await a.delete('k');
    const load = held<string>();
    const loading = a.wrap('k', load.loader);
    await a.flush();
    load.release('reloaded');
    expect(await loading).toBe('reloaded');
    await settle(a, b);
    expect([a.get('k'), b.get('k')]).toEqual(['reloaded', 'reloaded']);
    expect(broker.records(topic).map((r) => (r.value === null ? 'delete' : r.headers['nc-fence'] === undefined ? 'set' : 'fenced'))).toEqual([
      'set',
      'fenced',
      'delete',
      'fenced',
    ]);
    expect(diff(snapshot(b), foldTopic(broker.records(topic)))).toEqual([]);
  });

  it("a write from another instance that came before this instance's own delete still fences the load", async () => {
    const a = await openReady();
    const b = await openReady();
    await a.set('k', 'old');
    await settle(a, b);
    const load = held<string>();
    await a.delete('k');
    const loading = a.wrap('k', load.loader);
    await b.set('k', 'from-b', { durable: true });
    await a.flush();
    load.release('loaded');
    await loading;
    await settle(a, b);
    const expected = foldTopic(broker.records(topic));
    expect(diff(snapshot(a), expected)).toEqual([]);
    expect(diff(snapshot(b), expected)).toEqual([]);
    expect(a.get('k')).not.toBe('loaded');
  });

  it('a clear of another prefix does not fence a load; a clear of its prefix does', async () => {
    const a = await openReady({}, 3);
    const b = await openReady({}, 3);
    const first = held<string>();
    const loadingP = a.wrap('p:1', first.loader);
    await b.clearPrefix('q:', { durable: true });
    await settle(a, b);
    first.release('kept');
    expect(await loadingP).toBe('kept');
    await settle(a, b);
    expect(b.get('p:1')).toBe('kept');

    await a.delete('p:2');
    await settle(a, b);
    const second = held<string>();
    const loadingQ = a.wrap('p:2', second.loader);
    await b.clearPrefix('p:', { durable: true });
    await settle(a, b);
    second.release('fenced off');
    expect(await loadingQ).toBe('fenced off');
    await settle(a, b);
    expect(a.get('p:2')).toBeUndefined();
    expect(b.get('p:2')).toBeUndefined();
  });

  it('two instances loading one key at once both cache, the later record wins, nothing is corrected', async () => {
    const a = await openReady();
    const b = await openReady();
    const fromA = held<string>();
    const fromB = held<string>();
    const loadingA = a.wrap('k', fromA.loader);
    const loadingB = b.wrap('k', fromB.loader);
    fromA.release('a');
    await loadingA;
    await a.flush();
    fromB.release('b');
    await loadingB;
    await settle(a, b);
    expect(a.get('k')).toBe('b');
    expect(b.get('k')).toBe('b');
    expect(fenced('k')).toBe(2);
    expect(diff(snapshot(a), foldTopic(broker.records(topic)))).toEqual([]);
  });

  it('a fenced record whose fence lies before what an instance remembers is dropped there, never applied', async () => {
    const a = await openReady();
    broker.produce(topic, [rawSet('k', 'old', { version: '3' })]);
    // Enough plain records of other keys to push the first one out of the instance's memory.
    broker.produce(
      topic,
      Array.from({ length: 2 * 16_384 + 10 }, (_, i) => rawSet(`other:${i}`, i, { version: '3' })),
    );
    await waitCaughtUp([a], broker, topic, 30_000);
    expect(a.get('k')).toBe('old');
    const stale = rawSet('k', 'loaded', { version: '3', origin: 'another-writer' });
    broker.produce(topic, [{ ...stale, headers: { ...stale.headers, 'nc-fence': '0' } }]);
    await waitCaughtUp([a], broker, topic);
    expect(a.get('k')).toBeUndefined();
    // The oracle, which remembers everything, skips it as stale.
    expect(foldTopic(broker.records(topic)).get('k')).toBe('old');
  }, 60_000);
});

describe('the memory of plain records', () => {
  /** A fenced set of `key` with fence `from`, written by `origin`. */
  function fencedSet(key: string, value: unknown, from: number, partition: number, origin = 'loader'): ReturnType<typeof rawSet> {
    const record = rawSet(key, value, { version: '3', origin, partition });
    return { ...record, headers: { ...record.headers, 'nc-fence': String(from) } };
  }

  it('judges fenced records the same live and at bootstrap, with thousands of records of other keys and partitions in their windows', async () => {
    const live = await openReady({}, 3);
    const filler = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => rawSet(`other:${from + i}`, i, { version: '3', origin: 'w1', partition: i % 3 }));
    broker.produce(topic, [rawSet('k', 'old', { version: '3', origin: 'w1', partition: 1 }), rawSet('j', 'old', { version: '3', origin: 'w1', partition: 1 })]);
    broker.produce(topic, filler(0, 3000));
    const windowStart = broker.offsets(topic)[1]!.high;
    broker.produce(topic, filler(3000, 3000));
    // A write of k from another writer inside the window; j's only writer inside it is the loader itself.
    broker.produce(topic, [
      rawSet('k', 'written', { version: '3', origin: 'w2', partition: 1 }),
      rawSet('j', 'own', { version: '3', origin: 'loader', partition: 1 }),
    ]);
    broker.produce(topic, filler(6000, 3000));
    broker.produce(topic, [fencedSet('k', 'loaded', windowStart, 1), fencedSet('j', 'loaded', windowStart, 1)]);
    await waitCaughtUp([live], broker, topic, 30_000);
    const starting = await openReady({}, 3);
    const expected = foldTopic(broker.records(topic));
    expect([expected.get('k'), expected.get('j')]).toEqual(['written', 'loaded']);
    expect(diff(snapshot(live), expected)).toEqual([]);
    expect(diff(snapshot(starting), expected)).toEqual([]);
  }, 60_000);

  it('a plain record of the key on another partition (written before partitions were added) does not make a fenced record stale', async () => {
    const a = await openReady({}, 2);
    // Offsets 0 to 3 of partition 0 hold k's plain record from another writer at offset 2.
    broker.produce(topic, [
      rawSet('x0', 0, { version: '3', partition: 0 }),
      rawSet('x1', 1, { version: '3', partition: 0 }),
      rawSet('k', 'old', { version: '3', origin: 'w2', partition: 0 }),
      rawSet('x3', 3, { version: '3', partition: 0 }),
    ]);
    // On partition 1, at offset 5, a fenced record of k whose window [0, 5) holds nothing of k: it applies.
    broker.produce(topic, [...Array.from({ length: 5 }, (_, i) => rawSet(`y${i}`, i, { version: '3', partition: 1 })), fencedSet('k', 'loaded', 0, 1)]);
    await waitCaughtUp([a], broker, topic);
    expect(a.get('k')).toBe('loaded');
  });
});

describe('lease()', () => {
  it('fills when no write came after it, on every instance', async () => {
    const a = await openReady();
    const b = await openReady();
    const lease = a.lease('k');
    expect(lease.key).toBe('k');
    expect(lease.stale).toBe(false);
    expect(await lease.fill('v', { ttl: 60_000 })).toBe(true);
    expect(a.get('k')).toBe('v');
    await settle(a, b);
    expect(b.get('k')).toBe('v');
    expect(fenced('k')).toBe(1);
  });

  it('refuses to fill after a write of the key from another instance was applied here', async () => {
    const a = await openReady();
    const b = await openReady();
    const lease = a.lease('k');
    await b.set('k', 'written', { durable: true });
    await waitFor(() => a.get('k') === 'written', { message: 'the write on a' });
    expect(lease.stale).toBe(true);
    expect(await lease.fill('loaded')).toBe(false);
    expect(a.get('k')).toBe('written');
    await settle(a, b);
    expect(fenced('k')).toBe(0);
  });

  it('is used once: a second fill, or a fill after release, rejects with a typed error; bad input changes nothing', async () => {
    const a = await openReady();
    const lease = a.lease('k');
    await expect(lease.fill(undefined)).rejects.toMatchObject({ code: 'NC_INVALID_VALUE' });
    await expect(lease.fill('v')).rejects.toMatchObject({ code: 'NC_INVALID_ARGUMENT' });
    expect(a.get('k')).toBeUndefined();
    const other = a.lease('j');
    other.release();
    other.release();
    expect(other.stale).toBe(true);
    expect(await rejection(other.fill('v'))).toMatchObject({ code: 'NC_INVALID_ARGUMENT' });
    expect(() => a.lease('')).toThrow(expect.objectContaining({ code: 'NC_INVALID_KEY' }));
  });
});
