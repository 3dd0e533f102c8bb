import { afterEach, describe, expect, it, vi } from 'vitest';
import { createNearCache, HttpPathIndex, InProcessBroker, inProcessLog, invalidateHttpPrefix, invalidateHttpRoute, silentLogger } from '../src/index.js';
import { prng } from './helpers.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the path index of the HTTP caches', () => {
  it('lists the keys under any prefix as the cache holds them, through sets, deletes and clears of every shape', async () => {
    const broker = new InProcessBroker();
    const cache = createNearCache<any>({ topic: 'path-index-model', log: inProcessLog(broker), logger: silentLogger });
    await cache.ready();
    try {
      const random = prng(5);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
      const paths = ['/', '/p', '/p/', '/pq', '/p/1', '/q', '/q/1'];
      const tails = [' http://h', ' https://h', '?a=1 http://h', '?a=2 http://h', ' http://h lang=fr'];
      const keys = paths.flatMap((path) => tails.map((tail) => `h:GET ${path}${tail}`)).concat(['h:other', 'plain']);
      const prefixes = ['', 'h:', 'h:GET', 'h:GET /', 'h:GET /p', 'h:GET /p ', 'h:GET /p?', 'h:GET /p/', 'h:GET /p/1 ', 'h:GET /q?a=1', 'h:GET /pq http', 'x'];
      const index = HttpPathIndex.of(cache);
      for (let step = 0; step < 600; step++) {
        const r = random();
        if (r < 0.6) await cache.set(pick(keys), step);
        else if (r < 0.8) await cache.delete(pick(keys));
        else await cache.clearPrefix(pick(prefixes));
        const held = [...cache.keys()].filter((key) => key.includes('GET /'));
        for (const prefix of prefixes) {
          expect({ step, prefix, keys: index.keysUnder(prefix, 1_000_000)!.sort() }).toEqual({
            step,
            prefix,
            keys: held.filter((key) => key.startsWith(prefix)).sort(),
          });
        }
      }
    } finally {
      await cache.close();
    }
  });

  it('an invalidation reads the groups it removes, not every group', async () => {
    const broker = new InProcessBroker();
    const cache = createNearCache<any>({ topic: 'path-index-cost', log: inProcessLog(broker), logger: silentLogger });
    await cache.ready();
    try {
      for (let i = 0; i < 2000; i++) await cache.set(`http:GET /products/${i} http://h`, i);
      for (let i = 0; i < 10; i++) await cache.set(`http:GET /pages/${i} http://h`, i);
      const index = HttpPathIndex.of(cache);
      // Iterating a map of this many entries would be a pass over every path.
      const iterate = Map.prototype[Symbol.iterator];
      const large: number[] = [];
      vi.spyOn(Map.prototype, Symbol.iterator).mockImplementation(function (this: Map<unknown, unknown>) {
        if (this.size >= 1000) large.push(this.size);
        return iterate.call(this);
      });
      await invalidateHttpRoute(cache, '/products/7');
      await invalidateHttpPrefix(cache, '/pages/');
      await cache.clearPrefix('http:GET /products/1');
      expect(large).toEqual([]);
      vi.restoreAllMocks();
      expect(index.keysUnder('http:GET /pages/', 100)).toEqual([]);
      expect(index.keysUnder('http:GET /products/1', 10_000)).toEqual([]);
      expect(index.count('http:GET /products/2 http://h')).toBe(1);
      expect(cache.has('http:GET /products/7 http://h')).toBe(false);
    } finally {
      await cache.close();
    }
  });
});
