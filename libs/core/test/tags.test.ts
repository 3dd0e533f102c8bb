import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createNearCache,
  InProcessBroker,
  InProcessLog,
  inProcessLog,
  InvalidArgumentError,
  silentLogger,
  type NearCache,
  type NearCacheOptions,
} from '../src/index.js';
import { diff, foldTopic, snapshot } from '../src/conformance/index.js';
import { TagIndex } from '../src/cache/tag-index.js';
import { GatedLog, rejection, uniqueTopic, waitCaughtUp, waitFor } from './helpers.js';

// Tags (docs/consistency.md, section 15) on the in-process log: what the contract section does not cover.

let broker: InProcessBroker;
let topic: string;
const caches: Array<NearCache<any>> = [];

beforeEach(() => {
  broker = new InProcessBroker();
  topic = uniqueTopic('tags');
});

afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(caches.splice(0).map((c) => c.close()));
});

async function openReady(extra: Partial<NearCacheOptions<any>> = {}, partitions = 1): Promise<NearCache<any>> {
  const cache = createNearCache<any>({ topic, log: inProcessLog(broker, { partitions }), logger: silentLogger, closeTimeout: 1000, ...extra });
  caches.push(cache);
  await cache.ready({ timeout: 5000 });
  return cache;
}

async function settle(...instances: Array<NearCache<any>>): Promise<void> {
  for (let i = 0; i < 2; i++) {
    await Promise.all(instances.map((c) => c.flush({ timeout: 5000 })));
    await waitCaughtUp(instances, broker, topic);
  }
}

describe('tags', () => {
  it.each([1, 3])('an invalidation removes the tagged entries everywhere, keeps the others and later tagged sets (%i partitions)', async (partitions) => {
    const a = await openReady({}, partitions);
    const b = await openReady({}, partitions);
    for (let i = 0; i < 20; i++) await a.set(`k${i}`, i, i % 2 === 0 ? { tags: ['even', `n${i}`] } : i % 3 === 0 ? { tags: ['three'] } : undefined);
    await settle(a, b);
    expect(b.get('k4')).toBe(4);
    await b.invalidateTags(['even']);
    // Here at once.
    expect([...b.keys()].filter((k) => Number(k.slice(1)) % 2 === 0)).toEqual([]);
    await a.set('k100', 100, { tags: ['even'] });
    await settle(a, b);
    for (const cache of [a, b]) {
      expect(cache.get('k4')).toBeUndefined();
      expect(cache.get('k3')).toBe(3);
      expect(cache.get('k1')).toBe(1);
      expect(cache.get('k100')).toBe(100);
    }
    const fresh = await openReady({}, partitions);
    expect(fresh.get('k4')).toBeUndefined();
    expect(fresh.get('k100')).toBe(100);
    expect(diff(snapshot(fresh), foldTopic(broker.records(topic)))).toEqual([]);
    expect(diff(snapshot(a), snapshot(fresh))).toEqual([]);
  });

  it('a set without tags, a delete, an eviction and a clear take the key out of the tag index', async () => {
    const a = await openReady({ max: 5 });
    await a.set('x', 1, { tags: ['t'] });
    await a.set('x', 2); // untagged now
    await a.set('y', 1, { tags: ['t'] });
    await a.delete('y');
    await a.set('z', 1, { tags: ['t'] });
    await a.clear();
    for (let i = 0; i < 10; i++) await a.set(`e${i}`, i, { tags: ['t'] }); // evicts e0..e4
    await a.set('x', 3);
    await a.invalidateTags(['t']);
    expect(a.get('x')).toBe(3);
    expect([...a.keys()]).toEqual(['x']);
  });

  it('an invalidation reads only the keys carrying the tag, and an untagged get takes the plain path', async () => {
    const a = await openReady();
    for (let i = 0; i < 1000; i++) await a.set(`plain${i}`, i);
    for (let i = 0; i < 10; i++) await a.set(`tagged${i}`, i, { tags: ['t'] });
    const keysOf = vi.spyOn(TagIndex.prototype, 'keysOf');
    const { LRUCache } = await import('lru-cache');
    const scan = vi.spyOn(LRUCache.prototype, 'keys');
    const deletes = vi.spyOn(LRUCache.prototype, 'delete');
    await a.invalidateTags(['t']);
    expect(keysOf).toHaveBeenCalledTimes(1);
    expect(scan).not.toHaveBeenCalled();
    expect(deletes).toHaveBeenCalledTimes(10);
    expect(a.size).toBe(1000);
  });

  it('bad tags reject with a typed error and change nothing', async () => {
    const a = await openReady({ maxKeyBytes: 16 });
    await a.set('k', 1, { tags: ['t'] });
    for (const tags of [[''], ['a\nb'], ['x'.repeat(17)], [1], 'tag', Array.from({ length: 33 }, (_, i) => `t${i}`)]) {
      expect(await rejection(a.set('k', 2, { tags: tags as any }))).toBeInstanceOf(InvalidArgumentError);
      expect(await rejection(a.wrap('k2', () => 2, { tags: tags as any }))).toBeInstanceOf(InvalidArgumentError);
    }
    for (const tags of [[''], ['a\nb'], 'tag', null]) expect(await rejection(a.invalidateTags(tags as any))).toBeInstanceOf(InvalidArgumentError);
    expect(a.get('k')).toBe(1);
    expect(a.get('k2')).toBeUndefined();
    await a.invalidateTags(['t']);
    expect(a.get('k')).toBeUndefined();
  });

  it('read-your-writes: an older tagged set from another instance arriving after a local invalidation does not come back', async () => {
    let gated: GatedLog | undefined;
    const a = await openReady({ log: (ctx) => (gated = new GatedLog(new InProcessLog(broker, ctx))) });
    const b = await openReady();
    // a holds an untagged value of k; b's tagged set replaces it in the log, before a's invalidation.
    await a.set('k', 0);
    await settle(a, b);
    gated!.pause();
    await b.set('k', 1, { tags: ['t'] });
    await b.set('plain', 1);
    await b.flush();
    await waitFor(() => gated!.held > 0, { message: "b's records held in a's consumer" });
    await a.invalidateTags(['t'], { durable: true });
    gated!.resume();
    await settle(a, b);
    expect(a.get('k')).toBeUndefined();
    expect(a.get('plain')).toBe(1);
    expect(b.get('k')).toBeUndefined();
  });

  it('a load that began before an invalidation of a tag its value carries does not store it, here or elsewhere', async () => {
    const a = await openReady();
    const b = await openReady();
    let release!: (v: number) => void;
    const loading = a.wrap('k', () => new Promise<number>((r) => (release = r)), { tags: ['t'] });
    await b.invalidateTags(['t']);
    await settle(a, b);
    release(1);
    expect(await loading).toBe(1);
    expect(a.get('k')).toBeUndefined();
    // A lease learns the tags at fill.
    const lease = a.lease('k');
    await a.invalidateTags(['t']);
    expect(await lease.fill(2, { tags: ['t'] })).toBe(false);
    const other = a.lease('k');
    await a.invalidateTags(['u']);
    expect(await other.fill(3, { tags: ['t'] })).toBe(true);
    await settle(a, b);
    expect(b.get('k')).toBe(3);
    await a.invalidateTags(['t']);
    await settle(a, b);
    expect(b.get('k')).toBeUndefined();
  });
});
