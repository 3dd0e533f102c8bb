import express, { type Express } from 'express';
import request from 'supertest';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createNearCache, silentLogger, type NearCache } from '@nearcache/core';
import { cacheResponses, invalidateRoute, responseKey } from '@nearcache/express';
import { KafkaTestClient } from '../helpers/kafka.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Two Express apps, each with its own cache and its own Kafka connections (as two services
 * would have), on one compacted topic of a real broker. Handler call counters prove when a
 * response came from the cache.
 */
describe('express: two apps on one topic of a real broker', () => {
  const client = new KafkaTestClient();
  const caches: NearCache[] = [];
  let calls: { a: Record<string, number>; b: Record<string, number> };
  let cacheA: NearCache;
  let cacheB: NearCache;
  let appA: Express;
  let appB: Express;

  function open(topic: string): NearCache {
    const cache = createNearCache({ topic, kafka: { brokers: client.brokers, logLevel: 'nothing', shareConnection: false }, logger: silentLogger });
    caches.push(cache);
    return cache;
  }

  function build(cache: NearCache, counter: Record<string, number>): Express {
    const count = (name: string): void => {
      counter[name] = (counter[name] ?? 0) + 1;
    };
    const app = express();
    app.use(cacheResponses(cache));
    app.get('/products/:id', (req, res) => {
      count('product');
      res.json({ id: req.params.id, name: 'Lamp', version: counter.product });
    });
    app.put('/products/:id', async (req, res) => {
      await req.nearCache.invalidateRoute(`/products/${req.params.id}`);
      res.status(204).end();
    });
    app.get('/private', (_req, res) => {
      count('private');
      res.set('Cache-Control', 'no-store').json({ secret: counter.private });
    });
    app.get('/flaky', (_req, res) => {
      count('flaky');
      res.status(503).json({ error: 'busy' });
    });
    app.get('/sentinel/:n', (req, res) => void res.json({ n: req.params.n }));
    return app;
  }

  /**
   * The topic has one partition, so B applies records in the order A wrote them: once B holds
   * the sentinel A wrote last, B would hold anything A wrote before it. That turns "B never
   * got X" into something a test can wait for.
   */
  async function sentinelReached(n: number): Promise<void> {
    await request(appA).get(`/sentinel/${n}`).expect(200);
    await waitFor(() => cacheB.has(responseKey(`http://127.0.0.1/sentinel/${n}`)), { timeout: 30_000, message: `sentinel ${n} on B` });
  }

  beforeEach(async () => {
    const topic = await client.createTopic({ partitions: 1 });
    cacheA = open(topic);
    cacheB = open(topic);
    await Promise.all([cacheA.ready(), cacheB.ready()]);
    calls = { a: {}, b: {} };
    appA = build(cacheA, calls.a);
    appB = build(cacheB, calls.b);
  });

  afterEach(async () => {
    await Promise.all(caches.splice(0).map((cache) => cache.close()));
  });
  afterAll(() => client.close());

  it('a GET cached on A is a HIT on B without B running the handler', async () => {
    const miss = await request(appA).get('/products/1').expect(200);
    expect(miss.headers['x-cache']).toBe('MISS');
    await waitFor(() => cacheB.has(responseKey('http://127.0.0.1/products/1')), { timeout: 30_000, message: 'the entry on B' });

    const hit = await request(appB).get('/products/1').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.body).toEqual({ id: '1', name: 'Lamp', version: 1 });
    expect(hit.headers.etag).toBe(miss.headers.etag);
    expect(hit.headers['content-type']).toBe(miss.headers['content-type']);
    expect(calls.b.product).toBeUndefined();
    expect(calls.a.product).toBe(1);
  });

  it('an invalidation on B makes A miss', async () => {
    await request(appA).get('/products/1').expect(200);
    await request(appA).get('/products/2').expect(200);
    await waitFor(() => cacheB.has(responseKey('http://127.0.0.1/products/1')) && cacheB.has(responseKey('http://127.0.0.1/products/2')), {
      timeout: 30_000,
      message: 'the entries on B',
    });
    expect((await request(appB).get('/products/1')).headers['x-cache']).toBe('HIT');

    await request(appB).put('/products/1').expect(204);
    await waitFor(() => !cacheA.has(responseKey('http://127.0.0.1/products/1')), { timeout: 30_000, message: 'the invalidation on A' });

    const after = await request(appA).get('/products/1').expect(200);
    expect(after.headers['x-cache']).toBe('MISS');
    expect(after.body.version).toBe(3);
    expect(calls.a.product).toBe(3);
    // Another route is untouched.
    expect((await request(appA).get('/products/2')).headers['x-cache']).toBe('HIT');
    expect(calls.a.product).toBe(3);
  });

  it('the helper invalidateRoute(cache, url) on B reaches A too', async () => {
    await request(appA).get('/products/9').expect(200);
    await waitFor(() => cacheB.has(responseKey('http://127.0.0.1/products/9')), { timeout: 30_000, message: 'the entry on B' });
    await invalidateRoute(cacheB, '/products/9', { durable: true });
    await waitFor(() => !cacheA.has(responseKey('http://127.0.0.1/products/9')), { timeout: 30_000, message: 'the invalidation on A' });
    expect((await request(appA).get('/products/9')).headers['x-cache']).toBe('MISS');
  });

  it('a matching If-None-Match gets a 304 from the entry, on the instance that stored it and on the other', async () => {
    const first = await request(appA).get('/products/5').expect(200);
    const etag = first.headers.etag!;
    expect(etag).toBeTruthy();
    await waitFor(() => cacheB.has(responseKey('http://127.0.0.1/products/5')), { timeout: 30_000, message: 'the entry on B' });

    const onB = await request(appB).get('/products/5').set('If-None-Match', etag).expect(304);
    expect(onB.headers['x-cache']).toBe('HIT');
    expect(onB.headers.etag).toBe(etag);
    expect(onB.text).toBe('');
    const onA = await request(appA).get('/products/5').set('If-None-Match', `"other", ${etag}`).expect(304);
    expect(onA.headers['x-cache']).toBe('HIT');
    await request(appB).get('/products/5').set('If-None-Match', '"other"').expect(200);
    expect(calls.b.product).toBeUndefined();
    expect(calls.a.product).toBe(1);
  });

  it('no-store is honoured: such a response is stored nowhere, and a no-store request bypasses the cache', async () => {
    await request(appA).get('/private').expect(200, { secret: 1 });
    await request(appA).get('/private').expect(200, { secret: 2 });
    await sentinelReached(1);
    expect(cacheA.has(responseKey('http://127.0.0.1/private'))).toBe(false);
    expect(cacheB.has(responseKey('http://127.0.0.1/private'))).toBe(false);
    await request(appB).get('/private').expect(200, { secret: 1 });
    expect(calls.a.private).toBe(2);

    await request(appA).get('/products/3').set('Cache-Control', 'no-store').expect(200);
    await sentinelReached(2);
    expect(cacheB.has(responseKey('http://127.0.0.1/products/3'))).toBe(false);
    const missOnB = await request(appB).get('/products/3').expect(200);
    expect(missOnB.headers['x-cache']).toBe('MISS');
    expect(calls.b.product).toBe(1);
  });

  it('a 5xx is never cached', async () => {
    const first = await request(appA).get('/flaky').expect(503);
    expect(first.headers['x-cache']).toBe('MISS');
    await request(appA).get('/flaky').expect(503);
    expect(calls.a.flaky).toBe(2);
    await sentinelReached(3);
    expect(cacheB.has(responseKey('http://127.0.0.1/flaky'))).toBe(false);
    await request(appB).get('/flaky').expect(503);
    expect(calls.b.flaky).toBe(1);
  });
});
