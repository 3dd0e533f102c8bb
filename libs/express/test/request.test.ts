import express, { type Express } from 'express';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, type NearCache } from '@nearcache/core';
import { cacheResponses, invalidatePrefix, invalidateRoute, nearCache, type RequestCache } from '../src/index.js';
import { Caches, localKey, uniqueTopic, waitFor } from './helpers.js';

const caches = new Caches();
let topic: string;
let a: NearCache<any>;
let b: NearCache<any>;

beforeEach(async () => {
  topic = uniqueTopic('req');
  a = await caches.open(topic);
  b = await caches.open(topic);
});

afterEach(() => caches.closeAll());

interface Product {
  id: string;
  name: string;
}

describe('req.nearCache', () => {
  it('gives handlers typed get, set, wrap and delete on the replicated cache', async () => {
    let loads = 0;
    const server = express();
    server.use(nearCache(a));
    server.get('/products/:id', async (req, res) => {
      const product = await req.nearCache.wrap<Product>(`product:${req.params.id}`, () => {
        loads++;
        return { id: String(req.params.id), name: 'Lamp' };
      });
      res.json(product);
    });
    server.put('/counter', async (req, res) => {
      const current = req.nearCache.get<number>('counter') ?? 0;
      await req.nearCache.set('counter', current + 1);
      res.json({ counter: req.nearCache.get<number>('counter'), has: req.nearCache.has('counter') });
    });
    server.delete('/counter', async (req, res) => {
      await req.nearCache.delete('counter');
      res.json({ has: req.nearCache.has('counter') });
    });

    await request(server).get('/products/7').expect(200, { id: '7', name: 'Lamp' });
    await request(server).get('/products/7').expect(200, { id: '7', name: 'Lamp' });
    expect(loads).toBe(1);
    await waitFor(() => b.get('product:7') !== undefined, { message: 'product:7 replicated' });
    expect(b.get('product:7')).toEqual({ id: '7', name: 'Lamp' });

    await request(server).put('/counter').expect(200, { counter: 1, has: true });
    await request(server).put('/counter').expect(200, { counter: 2, has: true });
    await request(server).delete('/counter').expect(200, { has: false });
  });

  it('scopes keys under a namespace', async () => {
    const server = express();
    server.use(nearCache(a, { namespace: 'app:' }));
    server.get('/', async (req, res) => {
      await req.nearCache.set('k', 'v');
      res.json({ namespace: req.nearCache.namespace, value: req.nearCache.get('k') });
    });
    await request(server).get('/').expect(200, { namespace: 'app:', value: 'v' });
    expect(a.get('app:k')).toBe('v');
    expect(a.has('k')).toBe(false);
  });

  it('is set by cacheResponses when nothing set it before, and not replaced when something did', async () => {
    const seen: RequestCache[] = [];
    const plain = express();
    plain.get('/x', cacheResponses(a), (req, res) => {
      seen.push(req.nearCache);
      res.send('x');
    });
    const scoped = express();
    scoped.use(nearCache(a, { namespace: 'scoped:' }));
    scoped.get('/y', cacheResponses(a), (req, res) => {
      seen.push(req.nearCache);
      res.send('x');
    });
    await request(plain).get('/x');
    await request(scoped).get('/y');
    expect(seen[0]!.cache).toBe(a);
    expect(seen[0]!.namespace).toBe('');
    expect(seen[1]!.namespace).toBe('scoped:');
  });
});

describe('invalidation', () => {
  let calls: Record<string, number>;
  function productApp(cache: NearCache<any>): Express {
    const server = express();
    server.use(cacheResponses(cache));
    server.get(['/products/:id', '/users/:id'], (req, res) => {
      calls[req.path] = (calls[req.path] ?? 0) + 1;
      if (req.query.lang !== undefined) res.vary('Accept-Language');
      res.json({ path: req.path, call: calls[req.path] });
    });
    server.put('/products/:id', async (req, res) => {
      await req.nearCache.invalidateRoute(`/products/${req.params.id}`);
      res.status(204).end();
    });
    return server;
  }

  beforeEach(() => {
    calls = {};
  });

  const urls = ['/products/1', '/products/1?fields=name', '/products/1?lang=x', '/products/10', '/users/1'];

  async function fill(server: Express): Promise<void> {
    for (const url of urls) await request(server).get(url).set('Accept-Language', 'fr').expect(200);
    for (const url of urls) expect((await request(server).get(url).set('Accept-Language', 'fr')).headers['x-cache']).toBe('HIT');
  }

  it('invalidateRoute removes one URL with its query strings and Vary variants, on every instance, and nothing else', async () => {
    const serverA = productApp(a);
    await fill(serverA);
    await waitFor(() => urls.every((url) => b.has(localKey(url))), { message: 'the entries on b' });
    expect(b.has(`${localKey('/products/1?lang=x')} accept-language=fr`)).toBe(true);

    await invalidateRoute(b, '/products/1');
    expect(b.has(localKey('/products/1'))).toBe(false);
    expect(b.has(localKey('/products/1?fields=name'))).toBe(false);
    expect(b.has(`${localKey('/products/1?lang=x')} accept-language=fr`)).toBe(false);
    await waitFor(
      () => !a.has(localKey('/products/1')) && !a.has(localKey('/products/1?fields=name')) && !a.has(`${localKey('/products/1?lang=x')} accept-language=fr`),
      {
        message: 'the invalidation on a',
      },
    );
    const states = [];
    for (const url of urls) states.push((await request(serverA).get(url).set('Accept-Language', 'fr')).headers['x-cache']);
    expect(states).toEqual(['MISS', 'MISS', 'MISS', 'HIT', 'HIT']);
  });

  it('req.nearCache.invalidateRoute from an update handler makes the next GET miss', async () => {
    const server = productApp(a);
    await request(server).get('/products/1').expect(200, { path: '/products/1', call: 1 });
    await request(server).get('/products/1').expect(200, { path: '/products/1', call: 1 });
    await request(server).put('/products/1').expect(204);
    await request(server).get('/products/1').expect(200, { path: '/products/1', call: 2 });
  });

  it('invalidateRoute with a query string removes that URL only', async () => {
    const server = productApp(a);
    await fill(server);
    await invalidateRoute(a, '/products/1?fields=name');
    expect(a.has(localKey('/products/1?fields=name'))).toBe(false);
    expect(a.has(localKey('/products/1'))).toBe(true);
  });

  it('invalidatePrefix removes every URL under a path prefix, on every instance', async () => {
    const server = productApp(a);
    await fill(server);
    await waitFor(() => urls.every((url) => b.has(localKey(url))), { message: 'the entries on b' });
    await invalidatePrefix(a, '/products/', { durable: true });
    await waitFor(() => !b.has(localKey('/products/10')), { message: 'the clear on b' });
    expect(urls.map((url) => b.has(localKey(url)))).toEqual([false, false, false, false, true]);
    expect(urls.map((url) => a.has(localKey(url)))).toEqual([false, false, false, false, true]);
  });

  it('uses the prefix the responses were stored under', async () => {
    const server = express();
    server.get('/x', cacheResponses(a, { prefix: 'api:' }), (_req, res) => void res.send('x'));
    await request(server).get('/x');
    expect(a.has(localKey('/x', 'api:'))).toBe(true);
    await invalidateRoute(a, '/x');
    expect(a.has(localKey('/x', 'api:'))).toBe(true);
    await invalidateRoute(a, '/x', { prefix: 'api:' });
    expect(a.has(localKey('/x', 'api:'))).toBe(false);
  });

  it('rejects a URL that is not a path, and bad options, with typed errors', async () => {
    await expect(invalidateRoute(a, 'products/1')).rejects.toThrow(InvalidArgumentError);
    await expect(invalidateRoute(a, 'products/1')).rejects.toThrow(/must be a string starting with "\/"/);
    await expect(invalidatePrefix(a, 42 as unknown as string)).rejects.toThrow(InvalidArgumentError);
    await expect(invalidateRoute({} as NearCache, '/x')).rejects.toThrow(/must be a NearCache/);
    await expect(invalidateRoute(a, '/x', { durable: 'yes' as unknown as boolean })).rejects.toThrow(/"durable" must be true or false/);
    await expect(invalidateRoute(a, '/x', { ttl: 1 } as never)).rejects.toThrow(/unknown option "ttl"/);
  });
});
