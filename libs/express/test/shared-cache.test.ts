import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express, type RequestHandler } from 'express';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidOptionError, type NearCache } from '@nearcache/core';
import { cacheResponses, invalidatePrefix, invalidateRoute, type CacheResponsesOptions } from '../src/index.js';
import { Caches, localKey, recordingLogger, uniqueTopic, waitFor } from './helpers.js';

/**
 * The response cache is shared by every instance: it must never serve one user's or one site's
 * page to another. Each test runs two instances (A and B: two caches on one in-process topic,
 * two apps) and plays a user or an attacker against them.
 */
const caches = new Caches();
let a: NearCache<any>;
let b: NearCache<any>;
let runs: number;

let topic: string;

beforeEach(async () => {
  topic = uniqueTopic('shared');
  a = await caches.open(topic);
  b = await caches.open(topic);
  runs = 0;
});

afterEach(() => caches.closeAll());

/** An app on `cache` whose routes render who asks (from a session cookie or an API key) and where they are. */
function app(cache: NearCache<any>, options: CacheResponsesOptions = {}, setup?: (app: Express) => void): Express {
  const instance = express();
  setup?.(instance);
  instance.use(cacheResponses(cache, { logger: recordingLogger(), ...options }));
  const account: RequestHandler = (req, res) => {
    runs++;
    const session = /sid=(\w+)/.exec(req.headers.cookie ?? '')?.[1];
    const key = req.headers['x-api-key'];
    res.type('text/plain').send(`account of ${session ?? key ?? 'nobody'}`);
  };
  instance.get('/account', account);
  instance.get('/public', (req, res) => {
    runs++;
    res
      .set('Cache-Control', 'public, max-age=60')
      .type('text/plain')
      .send(`catalogue seen by ${/sid=(\w+)/.exec(req.headers.cookie ?? '')?.[1] ?? 'nobody'}`);
  });
  instance.get('/per-user', (req, res) => {
    runs++;
    res
      .vary('Cookie')
      .type('text/plain')
      .send(`page of ${/sid=(\w+)/.exec(req.headers.cookie ?? '')?.[1] ?? 'nobody'}`);
  });
  instance.get('/links', (req, res) => {
    runs++;
    res.type('text/html').send(`<a href="${req.protocol}://${req.hostname}/home">home</a>`);
  });
  instance.get('/products/:id', (req, res) => {
    runs++;
    res.json({ id: req.params.id, run: runs });
  });
  instance.get('/list', (req, res) => {
    runs++;
    res.json({ query: req.query, run: runs });
  });
  return instance;
}

/** Every key `cache` holds under the response prefix. */
function responseKeys(cache: NearCache<any>): string[] {
  return [...cache.keys()].filter((key) => key.startsWith('http:'));
}

describe('credentials: one session page is never served to another', () => {
  it("a request with a session cookie is neither stored nor served: bob never gets alice's page, on either instance", async () => {
    const appA = app(a);
    const appB = app(b);
    const alice = await request(appA).get('/account').set('Cookie', 'sid=alice').expect(200, 'account of alice');
    expect(alice.headers['x-cache']).toBe('MISS');
    const bobOnB = await request(appB).get('/account').set('Cookie', 'sid=bob').expect(200, 'account of bob');
    const bobOnA = await request(appA).get('/account').set('Cookie', 'sid=bob').expect(200, 'account of bob');
    expect([bobOnB.headers['x-cache'], bobOnA.headers['x-cache']]).toEqual(['MISS', 'MISS']);
    expect(responseKeys(a)).toEqual([]);
    expect(runs).toBe(3);
  });

  it('an X-Api-Key request is not stored: an anonymous request gets the anonymous page', async () => {
    await request(app(a)).get('/account').set('X-Api-Key', 'alice-key').expect(200, 'account of alice-key');
    await request(app(b)).get('/account').expect(200, 'account of nobody');
    expect(runs).toBe(2);
  });

  it('the anonymous entry is not served to a request with credentials: it runs the handler and stores nothing', async () => {
    await request(app(a)).get('/account').expect(200, 'account of nobody');
    await waitFor(() => b.has(localKey('/account')), { message: 'the anonymous entry on B' });
    const alice = await request(app(b)).get('/account').set('Authorization', 'Bearer alice').set('X-Api-Key', 'alice').expect(200, 'account of alice');
    expect(alice.headers['x-cache']).toBe('MISS');
    const anonymous = await request(app(b)).get('/account').expect(200, 'account of nobody');
    expect(anonymous.headers['x-cache']).toBe('HIT');
  });

  it('a route opts in with Cache-Control: public: stored from a request with a cookie, served to everyone on every instance', async () => {
    await request(app(a)).get('/public').set('Cookie', 'sid=alice').expect(200, 'catalogue seen by alice');
    await waitFor(() => b.has(localKey('/public')), { message: 'the public entry on B' });
    const bob = await request(app(b)).get('/public').set('Cookie', 'sid=bob').expect(200, 'catalogue seen by alice');
    expect(bob.headers['x-cache']).toBe('HIT');
    expect(runs).toBe(1);
  });

  it('a route opts in with Vary: Cookie: each session its own entry, on every instance; no cookie value in any key', async () => {
    await request(app(a)).get('/per-user').set('Cookie', 'sid=alice').expect(200, 'page of alice');
    await request(app(a)).get('/per-user').set('Cookie', 'sid=bob').expect(200, 'page of bob');
    await waitFor(() => responseKeys(b).length === 3, { message: 'the index and two variants on B' });
    const alice = await request(app(b)).get('/per-user').set('Cookie', 'sid=alice').expect(200, 'page of alice');
    const bob = await request(app(b)).get('/per-user').set('Cookie', 'sid=bob').expect(200, 'page of bob');
    expect([alice.headers['x-cache'], bob.headers['x-cache']]).toEqual(['HIT', 'HIT']);
    expect(runs).toBe(2);
    expect(responseKeys(b).some((key) => key.includes('alice') || key.includes('bob'))).toBe(false);
  });

  it('cookies named in ignoreCookies do not personalise: such a request is cached and served as anonymous', async () => {
    const options = { ignoreCookies: ['_ga', 'consent'] };
    await request(app(a, options)).get('/account').set('Cookie', '_ga=GA1.2.3; consent=yes').expect(200, 'account of nobody');
    await waitFor(() => b.has(localKey('/account')), { message: 'the entry on B' });
    const hit = await request(app(b, options)).get('/account').set('Cookie', 'consent=no').expect(200, 'account of nobody');
    expect(hit.headers['x-cache']).toBe('HIT');
    // A session cookie beside them still counts.
    const alice = await request(app(b, options)).get('/account').set('Cookie', '_ga=1; sid=alice').expect(200, 'account of alice');
    expect(alice.headers['x-cache']).toBe('MISS');
  });

  it('credentialHeaders replaces the list of headers that carry credentials', async () => {
    const options = { credentialHeaders: ['X-Tenant-Token'] };
    await request(app(a, options)).get('/list').set('X-Tenant-Token', 't1').expect(200);
    expect(responseKeys(a)).toEqual([]);
    await request(app(a, options)).get('/list').expect(200);
    expect(responseKeys(a)).toHaveLength(1);
  });

  it('bad credential options throw InvalidOptionError', () => {
    expect(() => cacheResponses(a, { credentialHeaders: ['bad header'] })).toThrow(InvalidOptionError);
    expect(() => cacheResponses(a, { ignoreCookies: ['a=b'] })).toThrow(/ignoreCookies/);
    expect(() => cacheResponses(a, { query: 'yes' as never })).toThrow(/"query"/);
    expect(() => cacheResponses(a, { maxPathEntries: -1 })).toThrow(/cacheResponses: option "maxPathEntries" must be an integer from 0/);
    expect(() => cacheResponses(a, { credentialHeaders: 'cookie' as never })).toThrow(/cacheResponses: option "credentialHeaders"/);
  });
});

describe('a record forged onto the topic', () => {
  const forged = {
    v: 1,
    status: 200,
    headers: {
      'content-type': 'text/plain; charset=utf-8',
      refresh: '0; url=https://evil.example/',
      'access-control-allow-origin': '*',
      'content-security-policy': "script-src 'unsafe-inline' *",
      'x-extra': 'configured',
    },
    body: Buffer.from('forged').toString('base64'),
    storedAt: Date.now(),
  };

  it('a hit serves only the headers the reader would have stored', async () => {
    // Another writer of the topic (anyone with write access) stores the forged entry.
    await a.set(localKey('/account'), forged);
    await waitFor(() => b.has(localKey('/account')), { message: 'the forged entry on B' });
    const plain = await request(app(b)).get('/account').expect(200, 'forged');
    expect(plain.headers['x-cache']).toBe('HIT');
    for (const name of ['refresh', 'access-control-allow-origin', 'content-security-policy', 'x-extra']) expect(plain.headers).not.toHaveProperty(name);
    expect(plain.headers['content-type']).toBe('text/plain; charset=utf-8');
  });

  it('a header the reader is configured to store is served', async () => {
    await a.set(localKey('/account'), forged);
    await waitFor(() => b.has(localKey('/account')), { message: 'the forged entry on B' });
    const configured = await request(app(b, { headers: ['x-extra'] }))
      .get('/account')
      .expect(200);
    expect(configured.headers['x-extra']).toBe('configured');
    expect(configured.headers).not.toHaveProperty('refresh');
  });

  it('an instance caching responses on an unsigned topic says so once; a signed one does not', async () => {
    const logger = recordingLogger();
    cacheResponses(a, { logger });
    cacheResponses(a, { logger });
    cacheResponses(b, { logger });
    expect(logger.warnings.filter((w) => /not signed/.test(w))).toHaveLength(2);
    const signing = { keys: { k1: 'a secret of at least sixteen bytes' }, currentKeyId: 'k1' };
    const signed = await caches.open(uniqueTopic('signed'), { signing });
    const quiet = recordingLogger();
    cacheResponses(signed, { logger: quiet });
    expect(quiet.warnings).toEqual([]);
  });
});

describe('the key holds the scheme and host', () => {
  it("two sites on one service: tenant B never gets tenant A's page", async () => {
    await request(app(a)).get('/links').set('Host', 'a.example').expect(200, '<a href="http://a.example/home">home</a>');
    const other = await request(app(b)).get('/links').set('Host', 'b.example').expect(200, '<a href="http://b.example/home">home</a>');
    expect(other.headers['x-cache']).toBe('MISS');
    await waitFor(() => b.has('http:GET /links http://a.example'), { message: "A's entry on B" });
    const again = await request(app(b)).get('/links').set('Host', 'a.example').expect(200, '<a href="http://a.example/home">home</a>');
    expect(again.headers['x-cache']).toBe('HIT');
  });

  it('behind a trusted proxy, X-Forwarded-Host and X-Forwarded-Proto are part of the key: a poisoned page reaches only its sender', async () => {
    const trusted = (cache: NearCache<any>) => app(cache, {}, (instance) => instance.set('trust proxy', true));
    await request(trusted(a))
      .get('/links')
      .set('Host', 'shop.example')
      .set('X-Forwarded-Host', 'evil.example')
      .expect(200, '<a href="http://evil.example/home">home</a>');
    await request(trusted(a))
      .get('/links')
      .set('Host', 'shop.example')
      .set('X-Forwarded-Proto', 'http')
      .expect(200, '<a href="http://shop.example/home">home</a>');
    await waitFor(() => responseKeys(b).length === 2, { message: 'the entries on B' });
    const user = await request(trusted(b))
      .get('/links')
      .set('Host', 'shop.example')
      .set('X-Forwarded-Proto', 'https')
      .expect(200, '<a href="https://shop.example/home">home</a>');
    expect(user.headers['x-cache']).toBe('MISS');
    expect(responseKeys(b).sort()).toEqual([
      'http:GET /links http://evil.example',
      'http:GET /links http://shop.example',
      'http:GET /links https://shop.example',
    ]);
  });

  it('without trust proxy, X-Forwarded-Host is not the host: the key holds the Host header', async () => {
    await request(app(a))
      .get('/links')
      .set('Host', 'shop.example')
      .set('X-Forwarded-Host', 'evil.example')
      .expect(200, '<a href="http://shop.example/home">home</a>');
    expect(responseKeys(a)).toEqual(['http:GET /links http://shop.example']);
  });

  it('invalidateRoute removes one host, or every host', async () => {
    for (const host of ['a.example', 'b.example']) {
      await request(app(a)).get('/products/1').set('Host', host).expect(200);
      await request(app(a)).get('/products/1?x=1').set('Host', host).expect(200);
    }
    await waitFor(() => responseKeys(b).length === 4, { message: 'four entries on B' });
    await invalidateRoute(b, '/products/1', { host: 'a.example' });
    const left = ['http:GET /products/1 http://b.example'];
    await waitFor(() => responseKeys(a).sort().join() === left.join(), { message: "a.example's entries gone on A" });
    expect(responseKeys(b).sort()).toEqual(left);
    await invalidateRoute(b, '/products/1');
    await waitFor(() => responseKeys(a).length === 0, { message: 'every host gone on A' });
    await expect(invalidateRoute(b, '/products/1', { host: 'not a host' })).rejects.toThrow(/"host"/);
  });
});

/** Sends `GET target` as is (a fragment, an absolute-form target), which supertest would rewrite. */
function raw(server: Server, target: string): Promise<{ status: number; cache: string | undefined; body: string }> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: target, headers: { host: `127.0.0.1:${port}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, cache: res.headers['x-cache'] as string | undefined, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('one URL, one key: the key is normalised the way the router matches', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  it('/products/%31, /products/1#x and an absolute-form target are one entry, removed by invalidateRoute and invalidatePrefix', async () => {
    server = app(a).listen(0, '127.0.0.1');
    await new Promise((resolve) => server!.once('listening', resolve));
    const first = await raw(server, '/products/1');
    expect(first.cache).toBe('MISS');
    for (const spelling of ['/products/%31', '/products/1#x', 'http://127.0.0.1/products/1']) {
      const answer = await raw(server, spelling);
      expect({ spelling, cache: answer.cache, body: answer.body }).toEqual({ spelling, cache: 'HIT', body: first.body });
    }
    expect(responseKeys(a)).toEqual([localKey('/products/1')]);
    // Express ignores a trailing slash: another entry, removed with its path.
    await raw(server, '/products/1/');
    await waitFor(() => responseKeys(b).length === 2, { message: 'the entries on B' });
    await invalidateRoute(b, '/products/%31');
    await waitFor(() => responseKeys(a).length === 0, { message: 'the invalidation on A' });
    await raw(server, 'http://127.0.0.1/products/2#frag');
    await raw(server, '/products/%32?%61=1');
    expect(responseKeys(a).sort()).toEqual([localKey('/products/2'), localKey('/products/2?a=1')]);
    await waitFor(() => responseKeys(b).length === 2, { message: 'the entries on B' });
    await invalidatePrefix(b, '/');
    await waitFor(() => responseKeys(a).length === 0, { message: 'the prefix invalidation on A' });
  });
});

describe('query strings in the key', () => {
  it('query: false keys every query string of a route on one entry', async () => {
    await request(app(a, { query: false }))
      .get('/list?a=1')
      .expect(200);
    const other = await request(app(a, { query: false }))
      .get('/list?b=2&cachebuster=123')
      .expect(200);
    expect(other.headers['x-cache']).toBe('HIT');
    expect(responseKeys(a)).toEqual([localKey('/list')]);
  });

  it('query: [names] keys on those parameters only, in name order', async () => {
    const options = { query: ['page', 'sort'] };
    await request(app(a, options)).get('/list?sort=name&page=2&utm_source=x').expect(200);
    const hit = await request(app(a, options)).get('/list?page=2&utm_source=y&sort=name').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    const other = await request(app(a, options)).get('/list?page=3&sort=name').expect(200);
    expect(other.headers['x-cache']).toBe('MISS');
    expect(responseKeys(a).sort()).toEqual([localKey('/list?page=2&sort=name'), localKey('/list?page=3&sort=name')]);
  });
});

describe('invalidation that does not pile up', () => {
  /** Clear records on the topic: each one is read by every later start-up. */
  const clearKeys = (): string[] =>
    caches.broker
      .records(topic)
      .map((record) => (record.key === null ? '' : Buffer.from(record.key).toString()))
      .filter((key) => key.startsWith('\u0000nc:clear:'));
  const clearRecords = (): number => clearKeys().length;

  it('on an instance holding every key, invalidations delete the keys they remove; their clear records are one per prefix after compaction', async () => {
    for (let i = 0; i < 20; i++) {
      await request(app(a)).get(`/products/${i}`).expect(200);
      await request(app(a)).get(`/products/${i}?lang=fr`).expect(200);
    }
    await waitFor(() => responseKeys(b).length === 40, { message: 'the entries on B' });
    expect(b.holdsEveryKey).toBe(true);
    const deletes = (): number => caches.broker.records(topic).filter((record) => record.value === null).length;
    // Durable: each one appended, none coalesced with the next in the replication queue.
    for (let round = 0; round < 100; round++) await invalidateRoute(b, `/products/${round % 20}`, { durable: true });
    await invalidatePrefix(b, '/products/1');
    await invalidatePrefix(b, '/');
    await b.flush();
    await waitFor(() => responseKeys(a).length === 0, { message: 'every entry gone on A' });
    expect(responseKeys(b)).toEqual([]);
    expect(deletes()).toBeGreaterThanOrEqual(40);
    // 102 invalidations; the cleaner keeps the latest clear of each prefix: four per route
    // (`/products/1 `, `/products/1?` and the same with a trailing slash), one per URL prefix.
    expect(clearRecords()).toBeGreaterThanOrEqual(100 * 4);
    caches.broker.compact(topic);
    expect(clearRecords()).toBe(new Set(clearKeys()).size);
    expect(clearRecords()).toBe(20 * 4 + 2);
    // A fresh instance reads tombstones and clears that remove nothing: nothing comes back.
    const fresh = await caches.open(topic);
    expect(responseKeys(fresh)).toEqual([]);
  });

  it('an instance that evicted entries does not know every key: it clears the prefix, which reaches what it lost', async () => {
    const small = await caches.open(topic, { max: 3 });
    for (let i = 0; i < 6; i++) await request(app(a)).get(`/products/1?page=${i}`).expect(200);
    await waitFor(() => responseKeys(b).length === 6 && small.stats().evictions > 0, { message: 'the entries on B and evictions on the small instance' });
    expect(small.holdsEveryKey).toBe(false);
    await invalidateRoute(small, '/products/1');
    await waitFor(() => responseKeys(b).length === 0 && responseKeys(a).length === 0, { message: 'the invalidation on A and B' });
    expect(clearRecords()).toBeGreaterThan(0);
  });
});
