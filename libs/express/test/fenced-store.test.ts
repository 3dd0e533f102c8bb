import { get as httpGet } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { createNearCache, inProcessLog, isHttpVaryIndex, silentLogger, type NearCache } from '@nearcache/core';
import { chaos } from '../../../test/helpers/chaos.js';
import { cacheResponses, invalidateRoute } from '../src/index.js';
import { Caches, localKey, uniqueTopic, waitFor } from './helpers.js';

const caches = new Caches();
afterEach(() => caches.closeAll());

/** A gate the handler waits on: `entered` resolves when the handler runs, `open()` lets it answer. */
function gate(): { entered: Promise<void>; answered: Promise<void>; wait(): Promise<void>; open(): void; done(): void } {
  let entered!: () => void;
  let open!: () => void;
  let done!: () => void;
  const enteredPromise = new Promise<void>((resolve) => (entered = resolve));
  const opened = new Promise<void>((resolve) => (open = resolve));
  const answered = new Promise<void>((resolve) => (done = resolve));
  return {
    entered: enteredPromise,
    answered,
    done,
    wait: () => {
      entered();
      return opened;
    },
    open,
  };
}

/** An app on `cache` whose `/products/:id` answers what `version()` said when it began, after `hold` when given. */
function app(cache: NearCache<any>, version: () => string, hold?: { wait(): Promise<void>; done(): void }): Express {
  const instance = express();
  instance.use(cacheResponses(cache));
  instance.get('/products/:id', async (req, res) => {
    // Reads its data, then (held) answers with it.
    const read = version();
    if (hold) await hold.wait();
    if (req.query.vary !== undefined) res.setHeader('Vary', 'Accept-Language');
    res.json({ id: req.params.id, version: read });
    hold?.done();
  });
  return instance;
}

/** Waits until every record `from` wrote so far was applied by `to` (a marker written after them comes through). */
async function caughtUp(from: NearCache<any>, to: NearCache<any>): Promise<void> {
  const marker = `marker:${Math.random()}`;
  await from.set(marker, 1, { durable: true });
  await waitFor(() => to.has(marker), { message: 'the marker replicated' });
}

/** Counts the leases taken on `cache` and not yet filled or released. */
function countLeases(cache: NearCache<any>): { open(): number; taken(): number } {
  const lease = cache.lease.bind(cache);
  let open = 0;
  let taken = 0;
  cache.lease = (key: string) => {
    const held = lease(key);
    open++;
    taken++;
    let ended = false;
    const end = () => {
      if (!ended) open--;
      ended = true;
    };
    const { fill, release } = held;
    held.fill = (value, options) => {
      end();
      return fill.call(held, value, options);
    };
    held.release = () => {
      end();
      release.call(held);
    };
    return held;
  };
  return { open: () => open, taken: () => taken };
}

describe('a response computed while its route was invalidated is not stored (fenced stores)', () => {
  it.each([
    ['invalidateRoute', (cache: NearCache<any>) => invalidateRoute(cache, '/products/1', { durable: true })],
    ['a delete of the key', (cache: NearCache<any>) => cache.delete(localKey('/products/1'), { durable: true })],
  ])('%s on another instance while the handler runs: no instance, nor a fresh one, serves the old response', async (_name, invalidate) => {
    const topic = uniqueTopic('fence');
    const a = await caches.open(topic);
    const b = await caches.open(topic);
    let version = 'old';
    const hold = gate();
    const pending = request(app(a, () => version, hold)).get('/products/1');
    const answered = pending.then((response) => response);
    await hold.entered;
    await invalidate(b);
    version = 'new';
    await caughtUp(b, a);
    hold.open();
    const response = await answered;
    // The handler began before the invalidation: its answer went to its client, not to the cache.
    expect(response.body.version).toBe('old');
    expect(response.headers['x-cache']).toBe('MISS');
    await caughtUp(a, b);
    const fresh = await caches.open(topic);
    for (const cache of [a, b, fresh]) expect(cache.has(localKey('/products/1'))).toBe(false);
    for (const cache of [fresh, b, a]) {
      const next = await request(app(cache, () => version))
        .get('/products/1')
        .expect(200);
      expect(next.body.version).toBe('new');
    }
  });

  it('the loading instance had not read the invalidation when it stored: every instance drops the response, a fresh one never serves it', async () => {
    const topic = uniqueTopic('fence-lag');
    const held = chaos(inProcessLog(caches.broker));
    const a = createNearCache<any>({ topic, log: held, logger: silentLogger });
    await a.ready({ timeout: 5000 });
    const b = await caches.open(topic);
    try {
      let version = 'old';
      const hold = gate();
      const answered = request(app(a, () => version, hold))
        .get('/products/1')
        .then((response) => response);
      await hold.entered;
      // A falls behind: it stores the old response before it reads B's invalidation.
      held.last!.hold();
      await invalidateRoute(b, '/products/1', { durable: true });
      version = 'new';
      hold.open();
      expect((await answered).body.version).toBe('old');
      expect(a.has(localKey('/products/1'))).toBe(true);
      await a.flush();
      held.last!.release();
      await waitFor(() => !a.has(localKey('/products/1')), { message: 'A drops its stale response' });
      await caughtUp(a, b);
      const fresh = await caches.open(topic);
      for (const cache of [a, b, fresh]) expect(cache.has(localKey('/products/1'))).toBe(false);
      for (const cache of [fresh, b, a])
        expect(
          (
            await request(app(cache, () => version))
              .get('/products/1')
              .expect(200)
          ).body.version,
        ).toBe('new');
    } finally {
      await a.close();
    }
  });

  it('a Vary response: neither the index nor the variant is stored when the route was invalidated meanwhile', async () => {
    const topic = uniqueTopic('fence-vary');
    const a = await caches.open(topic);
    const b = await caches.open(topic);
    let version = 'old';
    // A first response stores the index (and its variant); the next request of another language misses on its variant.
    await request(app(a, () => version))
      .get('/products/1?vary=1')
      .set('Accept-Language', 'fr')
      .expect(200);
    const base = localKey('/products/1?vary=1');
    expect(isHttpVaryIndex(a.get(base))).toBe(true);
    const hold = gate();
    const answered = request(app(a, () => version, hold))
      .get('/products/1?vary=1')
      .set('Accept-Language', 'de')
      .then((response) => response);
    await hold.entered;
    await invalidateRoute(b, '/products/1?vary=1', { durable: true });
    version = 'new';
    await caughtUp(b, a);
    hold.open();
    expect((await answered).body.version).toBe('old');
    await caughtUp(a, b);
    const fresh = await caches.open(topic);
    for (const cache of [a, b, fresh]) expect([...cache.keys()].filter((key) => key.startsWith(base))).toEqual([]);
    for (const cache of [fresh, b, a]) {
      for (const language of ['fr', 'de']) {
        const next = await request(app(cache, () => version))
          .get('/products/1?vary=1')
          .set('Accept-Language', language)
          .expect(200);
        expect(next.body.version).toBe('new');
      }
    }
  });

  it('without a write in the way, the response is stored and served everywhere; every lease ends on every path', async () => {
    const topic = uniqueTopic('fence-paths');
    const a = await caches.open(topic);
    const b = await caches.open(topic);
    const leases = countLeases(a);
    const instance = express();
    instance.use(cacheResponses(a, { maxBodyBytes: 1000 }));
    instance.get('/ok', (_req, res) => void res.json({ ok: true }));
    instance.get('/vary', (_req, res) => void res.setHeader('Vary', 'Accept-Language').json({ ok: true }));
    instance.get('/failed', (_req, res) => void res.status(500).json({ failed: true }));
    instance.get('/thrown', () => {
      throw new Error('the handler failed');
    });
    instance.get('/private', (_req, res) => void res.setHeader('Cache-Control', 'private').json({ ok: true }));
    instance.get('/large', (_req, res) => void res.send('x'.repeat(2000)));
    instance.get('/streamed', (_req, res) => {
      res.write('a');
      res.end('b');
    });
    for (const path of ['/ok', '/vary', '/vary', '/failed', '/thrown', '/private', '/large', '/streamed']) {
      await request(instance).get(path).set('Accept-Language', 'fr');
    }
    await waitFor(() => leases.open() === 0, { message: 'every lease ended' });
    expect(leases.taken()).toBeGreaterThanOrEqual(8);
    await caughtUp(a, b);
    expect(b.has(localKey('/ok'))).toBe(true);
    expect(isHttpVaryIndex(b.get(localKey('/vary')))).toBe(true);
    for (const path of ['/failed', '/thrown', '/private', '/large', '/streamed']) expect(b.has(localKey(path))).toBe(false);
  });

  it('a client that goes away while the handler runs: its lease ends then, and the late response is not stored', async () => {
    const topic = uniqueTopic('fence-abort');
    const a = await caches.open(topic);
    const leases = countLeases(a);
    const hold = gate();
    const server = app(a, () => 'old', hold).listen(0, '127.0.0.1');
    try {
      await new Promise<void>((resolve) => server.once('listening', () => resolve()));
      const { port } = server.address() as AddressInfo;
      const client = httpGet({ host: '127.0.0.1', port, path: '/products/1' });
      client.on('error', () => undefined);
      await hold.entered;
      expect(leases.open()).toBe(1);
      client.destroy();
      await waitFor(() => leases.open() === 0, { message: 'the lease ended when the client went away' });
      hold.open();
      await hold.answered;
      expect(a.has(localKey('/products/1'))).toBe(false);
    } finally {
      hold.open();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
