import express, { type Express } from 'express';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { createNearCache, inProcessLog, silentLogger, type NearCache } from '@nearcache/core';
import { chaos } from '../../../test/helpers/chaos.js';
import { cacheResponses, invalidateRoute } from '../src/index.js';
import { Caches, localKey, uniqueTopic, waitFor } from './helpers.js';

const caches = new Caches();
afterEach(() => caches.closeAll());

function app(cache: NearCache<any>): Express {
  let runs = 0;
  const instance = express();
  instance.use(cacheResponses(cache));
  instance.get('/products/:id', (req, res) => {
    runs++;
    res.json({ id: req.params.id, run: runs });
  });
  return instance;
}

/** Whether `cache` answers `path` (with `host`) from the cache. */
async function serves(cache: NearCache<any>, path: string, host?: string): Promise<boolean> {
  const call = request(app(cache)).get(path);
  if (host !== undefined) void call.set('Host', host);
  const response = await call.expect(200);
  return response.headers['x-cache'] === 'HIT';
}

describe('an invalidation removes variants stored elsewhere while it was on its way', () => {
  it('B stores variants of a route A does not know yet; after A invalidates the route, no instance serves them, nor does a fresh one', async () => {
    const topic = uniqueTopic('race');
    const held = chaos(inProcessLog(caches.broker));
    const a = createNearCache<any>({ topic, log: held, logger: silentLogger });
    await a.ready({ timeout: 5000 });
    const b = await caches.open(topic);
    try {
      expect(await serves(b, '/products/1')).toBe(false);
      await b.flush();
      await waitFor(() => a.has(localKey('/products/1')), { message: 'the page on A' });
      expect(a.holdsEveryKey).toBe(true);

      // A falls behind the log: B stores two variants of the route (another query string, another
      // host), appended before A's invalidation, which A knows nothing of when it invalidates.
      held.last!.hold();
      expect(await serves(b, '/products/1?lang=fr')).toBe(false);
      expect(await serves(b, '/products/1', 'other.example')).toBe(false);
      await b.flush();
      const variants = [localKey('/products/1?lang=fr'), 'http:GET /products/1 http://other.example'];
      expect(variants.every((key) => b.has(key))).toBe(true);
      await invalidateRoute(a, '/products/1', { durable: true });
      held.last!.release();

      await waitFor(() => variants.every((key) => !a.has(key) && !b.has(key)) && !b.has(localKey('/products/1')), {
        message: 'the variants gone from A and B',
      });
      await a.flush();
      const fresh = await caches.open(topic);
      for (const cache of [a, b, fresh]) expect(variants.filter((key) => cache.has(key))).toEqual([]);
      // A miss stores the page again everywhere: one request per variant, on two instances.
      expect(await serves(fresh, '/products/1?lang=fr')).toBe(false);
      expect(await serves(b, '/products/1', 'other.example')).toBe(false);
    } finally {
      await a.close();
    }
  });
});
