import express, { type Express } from 'express';
import request from 'supertest';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createNearCache, kafkaLog, silentLogger, type NearCache } from '@nearcache/core';
import { cacheResponses, invalidateRoute } from '@nearcache/express';
import { chaos } from '../helpers/chaos.js';
import { KafkaTestClient } from '../helpers/kafka.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Fenced HTTP stores on a real broker (three partitions): a response computed while another
 * instance invalidated its route is stored by no instance, also when the instance that computed
 * it had not read the invalidation yet when it stored it, and not by one that starts afterwards.
 */
describe('fenced HTTP stores on a real broker', () => {
  const client = new KafkaTestClient();
  const caches: NearCache[] = [];
  const kafka = { brokers: client.brokers, logLevel: 'nothing' as const };
  afterEach(async () => {
    await Promise.all(caches.splice(0).map((cache) => cache.close()));
  });
  afterAll(() => client.close());

  let version = 'old';
  let gate: { entered(): void; opened: Promise<void> } | undefined;

  function app(cache: NearCache): Express {
    const instance = express();
    instance.use(cacheResponses(cache));
    instance.get('/products/:id', async (req, res) => {
      // Reads its data, then (held) answers with it.
      const read = version;
      const held = gate;
      if (held !== undefined) {
        held.entered();
        await held.opened;
      }
      if (req.query.vary !== undefined) res.setHeader('Vary', 'Accept-Language');
      res.json({ id: req.params.id, version: read });
    });
    return instance;
  }

  function hold(): { entered: Promise<void>; open(): void } {
    let entered!: () => void;
    let open!: () => void;
    const enteredPromise = new Promise<void>((resolve) => (entered = resolve));
    const opened = new Promise<void>((resolve) => (open = resolve));
    gate = { entered, opened };
    return {
      entered: enteredPromise,
      open: () => {
        gate = undefined;
        open();
      },
    };
  }

  async function caughtUp(from: NearCache, to: NearCache): Promise<void> {
    const marker = `marker:${Math.random()}`;
    await from.set(marker, 1, { durable: true });
    await waitFor(() => to.has(marker), { timeout: 30_000, message: 'the marker replicated' });
  }

  async function get(cache: NearCache, path: string, language = 'fr'): Promise<request.Response> {
    return request(app(cache)).get(path).set('Host', 'shop.example').set('Accept-Language', language).expect(200);
  }

  it('A stores a response it computed while B invalidated the route, before it read the invalidation: every instance drops it, a fresh one never serves it', async () => {
    version = 'old';
    const topic = await client.createTopic({ partitions: 3 });
    const held = chaos(kafkaLog(kafka));
    const a = createNearCache({ topic, log: held, logger: silentLogger });
    const b = createNearCache({ topic, kafka, logger: silentLogger });
    caches.push(a, b);
    await Promise.all([a.ready({ timeout: 30_000 }), b.ready({ timeout: 30_000 })]);
    // A Vary route whose index A already holds (the variant of another language is leased at the miss), and a plain one.
    await get(a, '/products/2?vary=1', 'en');
    const index = 'http:GET /products/2?vary=1 http://shop.example';
    await waitFor(() => a.has(index), { timeout: 30_000, message: 'the index on A' });
    const pages = ['/products/1', '/products/2?vary=1'];
    const answered: Array<Promise<request.Response>> = [];
    const opens: Array<() => void> = [];
    for (const path of pages) {
      const gateOf = hold();
      answered.push(get(a, path));
      opens.push(gateOf.open);
      await gateOf.entered;
    }
    // A falls behind the log; B invalidates both routes; A's handlers answer and A stores what they computed.
    held.last!.hold();
    await invalidateRoute(b, '/products/1', { durable: true });
    await invalidateRoute(b, '/products/2?vary=1', { durable: true });
    version = 'new';
    for (const open of opens) open();
    for (const response of await Promise.all(answered)) expect(response.body.version).toBe('old');
    const keys = ['http:GET /products/1 http://shop.example', index, 'http:GET /products/2?vary=1 http://shop.example accept-language=fr'];
    await waitFor(() => keys.every((key) => a.has(key)), { timeout: 30_000, message: 'the responses stored on A' });
    await a.flush();
    held.last!.release();

    await waitFor(() => keys.every((key) => !a.has(key) && !b.has(key)), { timeout: 30_000, message: 'the stale responses gone from A and B' });
    await caughtUp(a, b);
    const fresh = createNearCache({ topic, kafka, logger: silentLogger });
    caches.push(fresh);
    await fresh.ready({ timeout: 30_000 });
    for (const cache of [a, b, fresh]) expect(keys.filter((key) => cache.has(key))).toEqual([]);
    for (const cache of [fresh, b, a]) for (const path of pages) expect((await get(cache, path)).body.version).toBe('new');
  });
});
