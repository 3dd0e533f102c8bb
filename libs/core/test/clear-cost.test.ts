import { LRUCache } from 'lru-cache';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createNearCache, InProcessBroker, inProcessLog, silentLogger, type NearCache, type NearCacheOptions } from '../src/index.js';
import { PrefixIndex } from '../src/cache/prefix-index.js';
import { prng, rawClear, rawSet, uniqueTopic } from './helpers.js';

let broker: InProcessBroker;
let topic: string;
const caches: Array<NearCache<any>> = [];

beforeEach(() => {
  broker = new InProcessBroker();
  topic = uniqueTopic('clear-cost');
});

afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(caches.splice(0).map((c) => c.close()));
});

async function openReady(extra: Partial<NearCacheOptions<any>> = {}): Promise<NearCache<any>> {
  const cache = createNearCache<any>({ topic, log: inProcessLog(broker), logger: silentLogger, closeTimeout: 1000, ...extra });
  caches.push(cache);
  await cache.ready({ timeout: 5000 });
  return cache;
}

describe('PrefixIndex', () => {
  it('lists exactly the keys under any prefix, through adds and removes across many blocks', () => {
    const random = prng(7);
    const alphabet = ['a', 'b', 'ab', '/', ' ', '?', 'é', '\u{1F600}', 'z'];
    const word = (): string => Array.from({ length: 1 + Math.floor(random() * 5) }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
    const model = new Set<string>();
    const index = PrefixIndex.of(Array.from({ length: 300 }, word).filter((k) => !model.has(k) && model.add(k)));
    for (let step = 0; step < 20_000; step++) {
      const key = word();
      if (random() < 0.6) expect(index.add(key)).toBe(!model.has(key) && !!model.add(key));
      else expect(index.remove(key)).toBe(model.delete(key));
      if (step % 200 === 0) {
        const prefix = random() < 0.1 ? '' : word().slice(0, 2);
        expect(index.keysUnder(prefix)).toEqual([...model].filter((k) => k.startsWith(prefix)).sort());
        expect(index.size).toBe(model.size);
      }
    }
    index.clear();
    expect(index.keysUnder('')).toEqual([]);
  });
});

describe('a clear costs what it removes', () => {
  it('a clear of any prefix, local or remote, live or at start-up, does not read every key', async () => {
    // Shapes of clear records: a namespace, a namespace's prefix, a plain prefix, and prefixes matching nothing.
    const records = [];
    for (let i = 0; i < 2000; i++) records.push(rawSet(`ns${i % 10}:item:${i}`, i));
    for (let i = 0; i < 50; i++) records.push(rawClear(`ns${i % 10}:item:${i}`), rawClear(`gone${i}:`), rawClear(`ns${i % 10}:`));
    records.push(rawSet('ns1:item:late', 1));
    broker.createTopic(topic);
    broker.produce(topic, records);
    // The first clear read at start-up sorts the keys held then (the index): every later one
    // reads only what it removes.
    const keys = vi.spyOn(LRUCache.prototype, 'keys');
    const fresh = await openReady();
    expect(keys).toHaveBeenCalledTimes(1);
    expect([...fresh.keys()]).toEqual(['ns1:item:late']);
    keys.mockClear();

    for (let i = 0; i < 500; i++) await fresh.set(`user:${i}`, i);
    await fresh.namespace('user:').clearPrefix('1');
    await fresh.namespace('user:').clear();
    await fresh.clearPrefix('nothing:');
    broker.produce(topic, [rawClear('ns1:'), rawClear('other:')]);
    await fresh.flush();
    await vi.waitFor(() => expect(fresh.has('ns1:item:late')).toBe(false), { timeout: 5000 });
    expect(keys).not.toHaveBeenCalled();
    expect([...fresh.keys()]).toEqual([]);
  });

  it('the index follows sets, deletes, evictions and values over maxBytes', async () => {
    const cache = await openReady({ max: 40, maxBytes: 4000 });
    const random = prng(11);
    const key = (): string => `${['a', 'b', 'c'][Math.floor(random() * 3)]}${['/', ':', ''][Math.floor(random() * 3)]}${Math.floor(random() * 60)}`;
    await cache.clearPrefix('x'); // reads every key
    await cache.clearPrefix('y'); // builds the index
    for (let step = 0; step < 3000; step++) {
      const r = random();
      if (r < 0.75) await cache.set(key(), 'v'.repeat(random() < 0.02 ? 5000 : Math.floor(random() * 80)));
      else if (r < 0.9) await cache.delete(key());
      else {
        const prefix = key().slice(0, 1 + Math.floor(random() * 2));
        const before = [...cache.keys()];
        await cache.clearPrefix(prefix);
        const after = [...cache.keys()];
        expect(after.filter((k) => k.startsWith(prefix))).toEqual([]);
        expect(after.sort()).toEqual(before.filter((k) => !k.startsWith(prefix)).sort());
      }
    }
  });

  it('an entry expired when the index is built, then set again, is still removed by a later clear', async () => {
    const a = await openReady();
    const b = await openReady();
    await a.clearPrefix('x'); // the first prefix clear reads every key
    await a.set('b0', 1, { ttl: 1 });
    // Expired, not read since: the LRU still holds it but no longer lists it.
    await vi.waitFor(() => expect([...a.keys()]).toEqual([]), { timeout: 5000, interval: 1 });
    await a.clearPrefix('b'); // the second builds the index
    await a.set('b0', 2);
    await a.flush();
    await b.clearPrefix('b');
    await b.flush();
    await vi.waitFor(() => expect(a.has('b0')).toBe(false), { timeout: 5000 });
  });

  it('an index that costs more than it serves goes, and comes back when clears do', async () => {
    const cache = await openReady({ max: 100 });
    for (let i = 0; i < 100; i++) await cache.set(`a:${i}`, i);
    const keys = vi.spyOn(LRUCache.prototype, 'keys');
    await cache.clearPrefix('a:1'); // reads every key
    await cache.clearPrefix('a:2'); // builds the index
    expect(keys).toHaveBeenCalledTimes(2);
    keys.mockClear();
    for (let i = 0; i < 100; i++) await cache.set(`b:${i}`, i);
    await cache.clearPrefix('b:1');
    expect(keys).not.toHaveBeenCalled();
    // Many new keys (each evicting another) and no clear: the index goes.
    for (let i = 0; i < 3000; i++) await cache.set(`c:${i}`, i);
    await cache.clearPrefix('c:299'); // reads every key again
    expect(keys).toHaveBeenCalledTimes(1);
    await cache.clearPrefix('c:298'); // and builds the index again
    await cache.clearPrefix('c:297');
    expect(keys).toHaveBeenCalledTimes(2);
    keys.mockRestore();
    const left = Array.from({ length: 70 }, (_, i) => `c:${2900 + i}`);
    expect([...cache.keys()].sort()).toEqual(left.sort());
  });
});
