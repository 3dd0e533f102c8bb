import express, { type Express } from 'express';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidOptionError, type Clock, type NearCache, type StaleServed } from '@nearcache/core';
import { cacheResponses, invalidateResponseTags } from '../src/index.js';
import { Caches, localKey, uniqueTopic, waitFor } from './helpers.js';

// Grace and tags of cacheResponses (docs/express.md, "Grace" and "Tags"), on the in-process log
// with a clock the tests move: no test waits for time to pass.

/** A clock moved by hand. */
class ManualClock implements Clock {
  time = 1_800_000_000_000;
  now = (): number => this.time;
}

const caches = new Caches();
let clock: ManualClock;
let topic: string;

beforeEach(() => {
  clock = new ManualClock();
  topic = uniqueTopic('fresh');
});

afterEach(() => caches.closeAll());

/** An app whose `/page` answers `page <n>` until `failing.now` makes it throw (Express answers 500). */
function pageApp(cache: NearCache<any>, failing: { now: boolean; runs: number }, options: Parameters<typeof cacheResponses>[1]): Express {
  const app = express();
  app.get('/page', cacheResponses(cache, options), (_req, res) => {
    failing.runs++;
    if (failing.now) throw new Error('the database is down');
    res.type('text/plain').send(`page ${failing.runs}`);
  });
  app.post('/page', invalidateResponseTags(cache, ['pages']), (_req, res) => void res.status(204).end());
  app.post('/broken', invalidateResponseTags(cache, ['pages']), (_req, res) => void res.status(500).end());
  return app;
}

describe('grace', () => {
  it('serves the expired response with X-Cache: STALE when the handler fails within grace, counts it, and stores no failure', async () => {
    const cache = await caches.open(topic, { clock });
    const stale: StaleServed[] = [];
    cache.on('stale', (served) => stale.push(served));
    const failing = { now: false, runs: 0 };
    const app = pageApp(cache, failing, { ttl: 1000, grace: 10_000 });
    expect((await request(app).get('/page').expect(200)).text).toBe('page 1');
    clock.time += 2000;
    failing.now = true;
    const served = await request(app).get('/page').expect(200);
    expect(served.headers['x-cache']).toBe('STALE');
    // The status line is the stored response's, not the failure's (Express's error handler sets its reason phrase).
    expect((served as unknown as { res: { statusMessage: string } }).res.statusMessage).toBe('OK'); // supertest's types omit the raw response
    expect(served.text).toBe('page 1');
    expect(served.headers['content-type']).toMatch(/^text\/plain/);
    expect(stale).toEqual([expect.objectContaining({ key: localKey('/page'), reason: 'loader-failed' })]);
    expect(cache.stats().staleServed).toBe(1);
    // The failure was not stored: the next request runs the handler again and is answered in grace again.
    expect((await request(app).get('/page').expect(200)).headers['x-cache']).toBe('STALE');
    expect(failing.runs).toBe(3);
    // The handler recovers: its response replaces the one in grace.
    failing.now = false;
    const fresh = await request(app).get('/page').expect(200);
    expect([fresh.headers['x-cache'], fresh.text]).toEqual(['MISS', 'page 4']);
    expect((await request(app).get('/page').expect(200)).headers['x-cache']).toBe('HIT');
  });

  it('sends the failure once grace is over, and without grace', async () => {
    const cache = await caches.open(topic, { clock });
    const failing = { now: false, runs: 0 };
    const graced = pageApp(cache, failing, { ttl: 1000, grace: 5000 });
    await request(graced).get('/page').expect(200);
    clock.time += 1000 + 5000;
    failing.now = true;
    expect((await request(graced).get('/page').expect(500)).headers['x-cache']).toBe('MISS');

    // Without grace (and on the system clock: an entry without grace expires on the LRU's own timer).
    const other = await caches.open(uniqueTopic('fresh'));
    const plain = pageApp(other, ((failing.now = false), failing), { ttl: 50 });
    await request(plain).get('/page').expect(200);
    await waitFor(() => !other.has(localKey('/page')), { timeout: 5000 });
    failing.now = true;
    await request(plain).get('/page').expect(500);
    expect(other.stats().staleServed).toBe(0);
  });

  it('replicates grace: another instance on the topic serves the response in grace', async () => {
    const a = await caches.open(topic, { clock });
    const b = await caches.open(topic, { clock });
    const failing = { now: false, runs: 0 };
    await request(pageApp(a, failing, { ttl: 1000, grace: 10_000 }))
      .get('/page')
      .expect(200);
    await waitFor(() => b.has(localKey('/page')), { timeout: 5000 });
    clock.time += 2000;
    failing.now = true;
    const served = await request(pageApp(b, failing, { ttl: 1000, grace: 10_000 }))
      .get('/page')
      .expect(200);
    expect([served.headers['x-cache'], served.text]).toEqual(['STALE', 'page 1']);
    expect(b.stats().staleServed).toBe(1);
  });

  it('checks grace up front', () => {
    expect(() => cacheResponses({} as never)).toThrow();
    return caches.open(topic).then((cache) => {
      expect(() => cacheResponses(cache, { grace: -1 })).toThrow(InvalidOptionError);
      expect(() => cacheResponses(cache, { grace: 1.5 })).toThrow(/cacheResponses: option "grace": grace must be an integer/);
      expect(() => cacheResponses(cache, { tags: ['ok', ''] })).toThrow(/option "tags"/);
      expect(() => cacheResponses(cache, { tags: 'pages' as never })).toThrow(InvalidOptionError);
      expect(() => invalidateResponseTags(cache, undefined as never)).toThrow(/invalidateResponseTags: tags must be/);
    });
  });
});

describe('tags', () => {
  it('tags responses, static and per request; invalidateResponseTags on a mutating route removes them on every instance', async () => {
    const a = await caches.open(topic);
    const b = await caches.open(topic);
    const failing = { now: false, runs: 0 };
    const appA = pageApp(a, failing, { ttl: 60_000, tags: ['pages'] });
    const appB = pageApp(b, failing, { ttl: 60_000, tags: ['pages'] });
    await request(appA).get('/page').expect(200);
    await waitFor(() => b.has(localKey('/page')), { timeout: 5000 });
    expect((await request(appB).get('/page')).headers['x-cache']).toBe('HIT');
    // A failed mutation invalidates nothing.
    await request(appA).post('/broken').expect(500);
    expect(a.has(localKey('/page'))).toBe(true);
    await request(appA).post('/page').expect(204);
    expect(a.has(localKey('/page'))).toBe(false);
    await waitFor(() => !b.has(localKey('/page')), { timeout: 5000 });
    expect((await request(appB).get('/page')).headers['x-cache']).toBe('MISS');
  });

  it('takes per-request tags from a function of the request, and core invalidateTags removes only those', async () => {
    const cache = await caches.open(topic);
    const app = express();
    app.get('/users/:id', cacheResponses(cache, { tags: (req) => [`user:${String(req.params.id)}`] }), (req, res) => void res.send(`user ${req.params.id}`));
    await request(app).get('/users/1').expect(200);
    await request(app).get('/users/2').expect(200);
    await cache.invalidateTags(['user:1']);
    expect(cache.has(localKey('/users/1'))).toBe(false);
    expect(cache.has(localKey('/users/2'))).toBe(true);
  });

  it('does not store a response whose tags function gives no tags it can use', async () => {
    const cache = await caches.open(topic);
    const app = express();
    app.get('/bad', cacheResponses(cache, { tags: () => [''] }), (_req, res) => void res.send('ok'));
    await request(app).get('/bad').expect(200);
    expect(cache.has(localKey('/bad'))).toBe(false);
  });
});
