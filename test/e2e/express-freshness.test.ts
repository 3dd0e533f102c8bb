import express, { type Express } from 'express';
import request from 'supertest';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createNearCache, isHttpCachedResponse, silentLogger, type NearCache, type StaleServed } from '@nearcache/core';
import { cacheResponses, invalidateResponseTags } from '@nearcache/express';
import { KafkaTestClient } from '../helpers/kafka.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Grace and tags through the Express middleware: two apps, each with its own cache on one topic
 * of a real broker, and one database they share (which the test can make fail). A response one
 * instance stored is served in grace by the other when its handler fails; a tag invalidation on
 * one removes the tagged responses on the other.
 */
describe('express: grace and tags across two instances', () => {
  const client = new KafkaTestClient();
  const caches: NearCache[] = [];
  const key = (path: string): string => `http:GET ${path} http://127.0.0.1`;

  interface Instance {
    cache: NearCache;
    app: Express;
    stale: StaleServed[];
  }

  /** What both apps read: the version of each item, and whether the database is down. */
  const db = { versions: new Map<string, number>(), down: false, runs: 0 };

  async function instance(topic: string, ttl: number, grace: number): Promise<Instance> {
    const cache = createNearCache({ topic, kafka: { brokers: client.brokers, logLevel: 'nothing' }, logger: silentLogger });
    caches.push(cache);
    await cache.ready();
    const stale: StaleServed[] = [];
    cache.on('stale', (served) => stale.push(served));
    const app = express();
    app.get('/items/:id', cacheResponses(cache, { ttl, grace, tags: (req) => [`item:${String(req.params.id)}`, 'items'] }), (req, res) => {
      const id = String(req.params.id);
      db.runs++;
      if (db.down) throw new Error('the database is down');
      res.json({ id, version: db.versions.get(id) ?? 0 });
    });
    app.put(
      '/items/:id',
      invalidateResponseTags(cache, (req) => [`item:${String(req.params.id)}`]),
      (req, res) => {
        const id = String(req.params.id);
        db.versions.set(id, (db.versions.get(id) ?? 0) + 1);
        res.json({ version: db.versions.get(id) });
      },
    );
    return { cache, app, stale };
  }

  async function pair(ttl: number, grace: number): Promise<{ a: Instance; b: Instance }> {
    const topic = await client.createTopic({ partitions: 2 });
    return { a: await instance(topic, ttl, grace), b: await instance(topic, ttl, grace) };
  }

  afterEach(async () => {
    Object.assign(db, { versions: new Map(), down: false, runs: 0 });
    await Promise.all(caches.splice(0).map((cache) => cache.close()));
  });
  afterAll(() => client.close());

  it('B answers a failing handler with the response A stored, once it expired and within its grace; the failure is not stored', async () => {
    const { a, b } = await pair(1500, 60_000);
    db.versions.set('1', 7);
    expect((await request(a.app).get('/items/1').expect(200)).headers['x-cache']).toBe('MISS');
    await waitFor(() => b.cache.has(key('/items/1')), { timeout: 10_000, message: 'B holding the response' });
    await waitFor(() => !b.cache.has(key('/items/1')), { timeout: 10_000, message: 'the response expiring' });
    db.down = true;
    const served = await request(b.app).get('/items/1').expect(200);
    expect(served.headers['x-cache']).toBe('STALE');
    expect(served.body).toEqual({ id: '1', version: 7 });
    expect(b.stale).toEqual([expect.objectContaining({ key: key('/items/1'), reason: 'loader-failed' })]);
    expect(b.cache.stats().staleServed).toBe(1);
    // The handler ran and failed; nothing was stored: the next request runs it again, answered in grace again.
    expect((await request(b.app).get('/items/1').expect(200)).headers['x-cache']).toBe('STALE');
    expect(db.runs).toBe(3);
    expect(b.cache.get(key('/items/1'))).toBeUndefined();
    // A recovered handler's response replaces the one in grace, on both instances.
    db.down = false;
    db.versions.set('1', 8);
    expect((await request(b.app).get('/items/1').expect(200)).body).toEqual({ id: '1', version: 8 });
    await waitFor(
      () => {
        const entry = a.cache.get(key('/items/1'));
        return isHttpCachedResponse(entry) && Buffer.from(entry.body, 'base64').toString().includes('"version":8');
      },
      { timeout: 10_000, message: 'A holding the new response' },
    );
  });

  it('past its grace, the response no longer answers: the failure is sent', async () => {
    const ttl = 2000;
    const grace = 1000;
    const { a, b } = await pair(ttl, grace);
    await request(a.app).get('/items/2').expect(200);
    await waitFor(() => b.cache.has(key('/items/2')), { timeout: 10_000, message: 'B holding the response' });
    const entry = b.cache.get(key('/items/2'));
    if (!isHttpCachedResponse(entry)) throw new Error('B holds no response');
    // The grace ends ttl + grace after the entry was stored (the set follows storedAt by at most a few ms).
    await waitFor(() => Date.now() > entry.storedAt + ttl + grace + 250, { timeout: 10_000, message: 'the grace ending' });
    db.down = true;
    expect((await request(b.app).get('/items/2').expect(500)).headers['x-cache']).toBe('MISS');
    expect(b.cache.stats().staleServed).toBe(0);
  });

  it('a tag invalidation on B (invalidateResponseTags on the PUT) removes the tagged response on A, and only it', async () => {
    const { a, b } = await pair(60_000, 0);
    await request(a.app).get('/items/3').expect(200);
    await request(a.app).get('/items/4').expect(200);
    await waitFor(() => b.cache.has(key('/items/3')) && b.cache.has(key('/items/4')), { timeout: 10_000, message: 'B holding both responses' });
    expect((await request(b.app).get('/items/3')).headers['x-cache']).toBe('HIT');
    await request(b.app).put('/items/3').expect(200);
    expect(b.cache.has(key('/items/3'))).toBe(false);
    await waitFor(() => !a.cache.has(key('/items/3')), { timeout: 10_000, message: 'A dropping the tagged response' });
    expect(a.cache.has(key('/items/4'))).toBe(true);
    const fresh = await request(a.app).get('/items/3').expect(200);
    expect([fresh.headers['x-cache'], fresh.body]).toEqual(['MISS', { id: '3', version: 1 }]);
  });
});
