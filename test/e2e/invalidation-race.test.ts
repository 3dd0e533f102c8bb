import express, { type Express } from 'express';
import request from 'supertest';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createNearCache, kafkaLog, silentLogger, type NearCache } from '@nearcache/core';
import { cacheResponses, invalidateRoute } from '@nearcache/express';
import { chaos } from '../helpers/chaos.js';
import { KafkaTestClient } from '../helpers/kafka.js';
import { waitFor } from '../helpers/wait.js';

/**
 * An invalidation removes the variants of its route that another instance stored just before it
 * in the log, which the invalidating instance had not read yet: on a real broker, three
 * partitions, A's consumer held back while B stores them.
 */
describe('an invalidation on a real broker removes variants stored elsewhere while it was on its way', () => {
  const client = new KafkaTestClient();
  const caches: NearCache[] = [];
  const kafka = { brokers: client.brokers, logLevel: 'nothing' as const };
  afterEach(async () => {
    await Promise.all(caches.splice(0).map((cache) => cache.close()));
  });
  afterAll(() => client.close());

  function app(cache: NearCache): Express {
    const instance = express();
    instance.use(cacheResponses(cache));
    instance.get('/products/:id', (req, res) => {
      res.json({ id: req.params.id });
    });
    return instance;
  }

  async function hit(cache: NearCache, path: string, host = 'shop.example'): Promise<boolean> {
    const response = await request(app(cache)).get(path).set('Host', host).expect(200);
    return response.headers['x-cache'] === 'HIT';
  }

  it('after A invalidates a route, neither A, B nor a fresh instance serves the variants B stored while A was behind', async () => {
    const topic = await client.createTopic({ partitions: 3 });
    const held = chaos(kafkaLog(kafka));
    const a = createNearCache({ topic, log: held, logger: silentLogger });
    const b = createNearCache({ topic, kafka, logger: silentLogger });
    caches.push(a, b);
    await Promise.all([a.ready({ timeout: 30_000 }), b.ready({ timeout: 30_000 })]);

    expect(await hit(b, '/products/1')).toBe(false);
    await b.flush();
    const page = 'http:GET /products/1 http://shop.example';
    await waitFor(() => a.has(page), { timeout: 30_000, message: 'the page on A' });
    expect(a.holdsEveryKey).toBe(true);

    held.last!.hold();
    expect(await hit(b, '/products/1?lang=fr')).toBe(false);
    expect(await hit(b, '/products/1', 'other.example')).toBe(false);
    await b.flush();
    const variants = ['http:GET /products/1?lang=fr http://shop.example', 'http:GET /products/1 http://other.example'];
    expect(variants.every((key) => b.has(key) && !a.has(key))).toBe(true);
    await invalidateRoute(a, '/products/1', { durable: true });
    held.last!.release();

    await waitFor(() => [a, b].every((cache) => !cache.has(page) && variants.every((key) => !cache.has(key))), {
      timeout: 30_000,
      message: 'the page and its variants gone from A and B',
    });
    const fresh = createNearCache({ topic, kafka, logger: silentLogger });
    caches.push(fresh);
    await fresh.ready({ timeout: 30_000 });
    for (const cache of [a, b, fresh]) expect([page, ...variants].filter((key) => cache.has(key))).toEqual([]);
    // A miss stores the page again everywhere: one request per variant, on two instances.
    expect(await hit(fresh, '/products/1?lang=fr')).toBe(false);
    expect(await hit(b, '/products/1', 'other.example')).toBe(false);
  });
});
