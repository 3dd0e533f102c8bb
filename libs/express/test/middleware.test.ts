import express, { type Express, type RequestHandler } from 'express';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bufferCodec, isHttpCachedResponse, isHttpVaryIndex, type HttpCachedResponse, type NearCache } from '@nearcache/core';
import { cacheResponses } from '../src/index.js';
import { Caches, localKey, recordingLogger, uniqueTopic, waitFor } from './helpers.js';

const caches = new Caches();
let cache: NearCache<any>;
let topic: string;
let calls: Record<string, number>;

/** Counts handler runs per name: the proof that a hit did not run the handler. */
function counted(name: string, handler: RequestHandler): RequestHandler {
  return (req, res, next) => {
    calls[name] = (calls[name] ?? 0) + 1;
    return handler(req, res, next);
  };
}

beforeEach(async () => {
  topic = uniqueTopic();
  cache = await caches.open(topic);
  calls = {};
});

afterEach(() => caches.closeAll());

function app(setup: (app: Express) => void): Express {
  const instance = express();
  setup(instance);
  return instance;
}

describe('hits and misses', () => {
  it('a GET is a MISS that runs the handler, then a HIT that does not, with status, body and headers', async () => {
    const server = app((a) => {
      a.use(cacheResponses(cache));
      a.get(
        '/products/:id',
        counted('product', (req, res) => {
          res.status(200).set('Content-Language', 'en').json({ id: req.params.id, name: 'Lamp' });
        }),
      );
    });
    const miss = await request(server).get('/products/1').expect(200);
    expect(miss.headers['x-cache']).toBe('MISS');
    const hit = await request(server).get('/products/1').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.body).toEqual({ id: '1', name: 'Lamp' });
    expect(hit.headers['content-type']).toBe(miss.headers['content-type']);
    expect(hit.headers['content-language']).toBe('en');
    expect(hit.headers['content-length']).toBe(miss.headers['content-length']);
    expect(hit.headers.age).toMatch(/^\d+$/);
    expect(calls.product).toBe(1);
  });

  it('stores the documented entry format under GET <url>', async () => {
    const server = app((a) => a.get('/greeting', cacheResponses(cache), (_req, res) => void res.type('text/plain').send('hello')));
    const before = Date.now();
    await request(server).get('/greeting').expect(200, 'hello');
    const entry = cache.get(localKey('/greeting')) as HttpCachedResponse;
    expect(isHttpCachedResponse(entry)).toBe(true);
    expect(Object.keys(entry).sort()).toEqual(['body', 'headers', 'status', 'storedAt', 'v']);
    expect(entry.v).toBe(1);
    expect(entry.status).toBe(200);
    expect(Buffer.from(entry.body, 'base64').toString()).toBe('hello');
    expect(entry.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(entry.headers.etag).toMatch(/^W\/".+"$/);
    expect(entry.headers).not.toHaveProperty('content-length');
    expect(entry.headers).not.toHaveProperty('x-cache');
    expect(entry.storedAt).toBeGreaterThanOrEqual(before);
  });

  it('serves an entry written by another writer of the same format, with its Age', async () => {
    await cache.set(localKey('/shared'), {
      v: 1,
      status: 200,
      headers: { 'content-type': 'application/json; charset=utf-8', etag: '"abc"' },
      body: Buffer.from('{"from":"elsewhere"}').toString('base64'),
      storedAt: Date.now() - 30_000,
    } satisfies HttpCachedResponse);
    const server = app((a) =>
      a.get(
        '/shared',
        cacheResponses(cache),
        counted('shared', (_req, res) => void res.json({ from: 'handler' })),
      ),
    );
    const hit = await request(server).get('/shared').expect(200);
    expect(hit.body).toEqual({ from: 'elsewhere' });
    expect(hit.headers.etag).toBe('"abc"');
    expect(Number(hit.headers.age)).toBeGreaterThanOrEqual(30);
    expect(calls.shared).toBeUndefined();
  });

  it('a HEAD is answered from the GET entry, without a body; a HEAD miss stores nothing', async () => {
    const server = app((a) =>
      a.get(
        '/doc',
        cacheResponses(cache),
        counted('doc', (_req, res) => void res.send('0123456789')),
      ),
    );
    const headMiss = await request(server).head('/doc').expect(200);
    expect(headMiss.headers['x-cache']).toBe('MISS');
    expect(cache.has(localKey('/doc'))).toBe(false);
    await request(server).get('/doc').expect(200, '0123456789');
    expect(calls.doc).toBe(2);
    const head = await request(server).head('/doc').expect(200);
    expect(head.headers['x-cache']).toBe('HIT');
    expect(head.headers['content-length']).toBe('10');
    expect(head.text).toBeUndefined();
    expect(calls.doc).toBe(2);
  });

  it("with methods: ['GET'], a HEAD is not answered from the cache", async () => {
    const server = app((a) =>
      a.get(
        '/doc',
        cacheResponses(cache, { methods: ['GET'] }),
        counted('doc', (_req, res) => void res.send('body')),
      ),
    );
    await request(server).get('/doc');
    expect((await request(server).get('/doc')).headers['x-cache']).toBe('HIT');
    const head = await request(server).head('/doc').expect(200);
    expect(head.headers['x-cache']).toBeUndefined();
    expect(calls.doc).toBe(2);
  });

  it('passes through when an earlier middleware already sent the headers, even with an entry in the cache', async () => {
    const server = app((a) =>
      a.get(
        '/x',
        (req, res, next) => {
          if (req.query.flush !== undefined) res.flushHeaders();
          next();
        },
        cacheResponses(cache, { key: () => 'GET /x' }),
        counted('x', (_req, res) => void res.end('x')),
      ),
    );
    await request(server).get('/x').expect(200, 'x');
    expect((await request(server).get('/x')).headers['x-cache']).toBe('HIT');
    await request(server).get('/x?flush=1').timeout(5000).expect(200, 'x');
    expect(calls.x).toBe(2);
  });

  it('keys on the query string: another query is another entry', async () => {
    const server = app((a) =>
      a.get(
        '/items',
        cacheResponses(cache),
        counted('items', (req, res) => void res.json({ page: req.query.page })),
      ),
    );
    await request(server).get('/items?page=1').expect(200);
    const other = await request(server).get('/items?page=2').expect(200);
    expect(other.headers['x-cache']).toBe('MISS');
    expect(other.body).toEqual({ page: '2' });
    expect((await request(server).get('/items?page=1')).headers['x-cache']).toBe('HIT');
    expect(calls.items).toBe(2);
  });

  it('a custom key can ignore the query string, or return undefined to skip the cache', async () => {
    const server = app((a) => {
      a.get(
        '/search',
        cacheResponses(cache, { key: (req) => `GET ${req.path}` }),
        counted('search', (_req, res) => void res.send('results')),
      );
      a.get(
        '/random',
        cacheResponses(cache, { key: () => undefined }),
        counted('random', (_req, res) => void res.send('r')),
      );
    });
    await request(server).get('/search?utm=a').expect(200);
    expect((await request(server).get('/search?utm=b')).headers['x-cache']).toBe('HIT');
    expect(calls.search).toBe(1);
    await request(server).get('/random').expect(200);
    const second = await request(server).get('/random').expect(200);
    expect(second.headers['x-cache']).toBeUndefined();
    expect(calls.random).toBe(2);
  });

  it('does not touch other methods', async () => {
    const server = app((a) => {
      a.use(cacheResponses(cache));
      a.post(
        '/orders',
        counted('orders', (_req, res) => void res.json({ ok: true })),
      );
    });
    const first = await request(server).post('/orders').expect(200);
    await request(server).post('/orders').expect(200);
    expect(first.headers['x-cache']).toBeUndefined();
    expect(calls.orders).toBe(2);
    expect(cache.size).toBe(0);
  });

  it('caches a 204 and replays it without a body', async () => {
    const server = app((a) =>
      a.get(
        '/empty',
        cacheResponses(cache),
        counted('empty', (_req, res) => void res.status(204).end()),
      ),
    );
    await request(server).get('/empty').expect(204);
    const hit = await request(server).get('/empty').expect(204);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(calls.empty).toBe(1);
  });

  it('names the status header as told, or sends none', async () => {
    const server = app((a) => {
      a.get('/a', cacheResponses(cache, { statusHeader: 'X-Near-Cache' }), (_req, res) => void res.send('a'));
      a.get('/b', cacheResponses(cache, { statusHeader: false }), (_req, res) => void res.send('b'));
    });
    await request(server).get('/a');
    expect((await request(server).get('/a')).headers['x-near-cache']).toBe('HIT');
    await request(server).get('/b');
    const b = await request(server).get('/b');
    expect(b.headers['x-cache']).toBeUndefined();
    expect(b.headers.age).toBeDefined();
  });

  it('stores extra headers named by the headers option', async () => {
    const server = app((a) =>
      a.get('/tagged', cacheResponses(cache, { headers: ['X-Build'] }), (_req, res) => void res.set({ 'X-Build': '42', 'X-Request': 'r1' }).send('t')),
    );
    await request(server).get('/tagged');
    const hit = await request(server).get('/tagged');
    expect(hit.headers['x-build']).toBe('42');
    expect(hit.headers['x-request']).toBeUndefined();
  });
});

describe('entity tags and conditional requests', () => {
  function etagApp(setup?: (a: Express) => void): Express {
    return app((a) => {
      setup?.(a);
      a.get(
        '/v',
        cacheResponses(cache),
        counted('v', (_req, res) => void res.set('ETag', '"v1"').set('Last-Modified', 'Tue, 01 Sep 2026 10:00:00 GMT').send('version one')),
      );
    });
  }

  it('keeps the ETag Express generated: the MISS and the HIT carry the same one', async () => {
    const server = app((a) => a.get('/e', cacheResponses(cache), (_req, res) => void res.send('etagged')));
    const miss = await request(server).get('/e');
    const hit = await request(server).get('/e');
    expect(miss.headers.etag).toMatch(/^W\//);
    expect(hit.headers.etag).toBe(miss.headers.etag);
  });

  it('generates a strong ETag when the handler set none', async () => {
    const server = app((a) => {
      a.set('etag', false);
      a.get('/plain', cacheResponses(cache), (_req, res) => void res.end('raw body'));
    });
    const miss = await request(server).get('/plain');
    expect(miss.headers.etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    const hit = await request(server).get('/plain');
    expect(hit.headers.etag).toBe(miss.headers.etag);
    await request(server).get('/plain').set('If-None-Match', miss.headers.etag!).expect(304);
  });

  it.each([
    ['the exact tag', '"v1"'],
    ['a list holding it', '"v0", "v1", "v2"'],
    ['its weak form (weak comparison)', 'W/"v1"'],
    ['*', '*'],
  ])('answers If-None-Match with %s by a 304 from the cached entry', async (_name, header) => {
    const server = etagApp();
    await request(server).get('/v').expect(200);
    const response = await request(server).get('/v').set('If-None-Match', header).expect(304);
    expect(response.headers['x-cache']).toBe('HIT');
    expect(response.headers.etag).toBe('"v1"');
    expect(response.text).toBe('');
    expect(calls.v).toBe(1);
  });

  it('answers a non-matching If-None-Match with the full response', async () => {
    const server = etagApp();
    await request(server).get('/v');
    const response = await request(server).get('/v').set('If-None-Match', '"v0", W/"v2"').expect(200);
    expect(response.text).toBe('version one');
    expect(response.headers['x-cache']).toBe('HIT');
  });

  it('on a MISS, stores the full response and answers the conditional itself', async () => {
    const server = etagApp();
    // Without hiding the conditional from the handler, res.send would answer 304 and nothing would be stored.
    const first = await request(server).get('/v').set('If-None-Match', '"v1"').expect(304);
    expect(first.headers['x-cache']).toBe('MISS');
    expect(first.text).toBe('');
    const second = await request(server).get('/v').expect(200);
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.text).toBe('version one');
    expect(calls.v).toBe(1);
  });

  it('answers If-Modified-Since from Last-Modified, and prefers If-None-Match', async () => {
    const server = etagApp();
    await request(server).get('/v');
    await request(server).get('/v').set('If-Modified-Since', 'Tue, 01 Sep 2026 10:00:00 GMT').expect(304);
    await request(server).get('/v').set('If-Modified-Since', 'Mon, 31 Aug 2026 10:00:00 GMT').expect(200, 'version one');
    await request(server).get('/v').set('If-Modified-Since', 'Tue, 01 Sep 2026 10:00:00 GMT').set('If-None-Match', '"other"').expect(200);
    expect(calls.v).toBe(1);
  });

  it('lets the handler see conditionals again when it streams', async () => {
    const seen: Array<string | undefined> = [];
    const server = app((a) =>
      a.get('/stream', cacheResponses(cache), (req, res) => {
        res.write('part 1, ');
        seen.push(req.headers['if-none-match']);
        res.end('part 2');
      }),
    );
    await request(server).get('/stream').set('If-None-Match', '"x"').expect(200, 'part 1, part 2');
    expect(seen).toEqual(['"x"']);
  });
});

describe('Vary', () => {
  function greeting(): Express {
    return app((a) =>
      a.get(
        '/greeting',
        cacheResponses(cache),
        counted('greeting', (req, res) => {
          res.vary('Accept-Language');
          res.send(req.acceptsLanguages('fr', 'en') === 'fr' ? 'bonjour' : 'hello');
        }),
      ),
    );
  }

  it('keys on the request headers the response varies on', async () => {
    const server = greeting();
    expect((await request(server).get('/greeting').set('Accept-Language', 'en')).text).toBe('hello');
    const fr = await request(server).get('/greeting').set('Accept-Language', 'fr');
    expect(fr.text).toBe('bonjour');
    expect(fr.headers['x-cache']).toBe('MISS');
    const enHit = await request(server).get('/greeting').set('Accept-Language', 'en');
    const frHit = await request(server).get('/greeting').set('Accept-Language', 'fr');
    expect([enHit.headers['x-cache'], enHit.text]).toEqual(['HIT', 'hello']);
    expect([frHit.headers['x-cache'], frHit.text]).toEqual(['HIT', 'bonjour']);
    expect(frHit.headers.vary).toBe('Accept-Language');
    expect(calls.greeting).toBe(2);
    expect(isHttpVaryIndex(cache.get(localKey('/greeting')))).toBe(true);
    expect(cache.get(localKey('/greeting'))).toMatchObject({ v: 1, vary: ['accept-language'] });
    expect(cache.has(`${localKey('/greeting')} accept-language=fr`)).toBe(true);
  });

  it('never caches Vary: *', async () => {
    const server = app((a) =>
      a.get(
        '/star',
        cacheResponses(cache),
        counted('star', (_req, res) => void res.set('Vary', '*').send('s')),
      ),
    );
    await request(server).get('/star');
    expect((await request(server).get('/star')).headers['x-cache']).toBe('MISS');
    expect(calls.star).toBe(2);
  });
});

describe('TTL per route', () => {
  it('a route with a short ttl expires while an app-wide entry without one stays', async () => {
    const server = app((a) => {
      a.use(cacheResponses(cache));
      a.get(
        '/fast',
        cacheResponses(cache, { ttl: 1000 }),
        counted('fast', (_req, res) => void res.send('fast')),
      );
      a.get(
        '/slow',
        counted('slow', (_req, res) => void res.send('slow')),
      );
    });
    await request(server).get('/fast');
    await request(server).get('/slow');
    expect((await request(server).get('/fast')).headers['x-cache']).toBe('HIT');
    await waitFor(() => !cache.has(localKey('/fast')), { message: 'the /fast entry to expire' });
    expect((await request(server).get('/fast')).headers['x-cache']).toBe('MISS');
    expect((await request(server).get('/slow')).headers['x-cache']).toBe('HIT');
    expect(calls).toEqual({ fast: 2, slow: 1 });
  });
});

describe('a route-level cacheResponses after an app-wide one', () => {
  it('says once which of its options it cannot apply, and how to apply them', async () => {
    const logger = recordingLogger();
    const server = app((a) => {
      a.use(cacheResponses(cache));
      a.get(
        '/fresh',
        cacheResponses(cache, { ttl: 60_000, maxStaleness: 100, query: false, logger }),
        counted('fresh', (_req, res) => void res.send('fresh')),
      );
    });
    await request(server).get('/fresh');
    await request(server).get('/fresh?x=1');
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]).toContain('"maxStaleness", "query"');
    expect(logger.warnings[0]).toContain('GET /fresh');
    expect(logger.warnings[0]).toContain('mounted before the app-wide one');
  });

  it('says nothing when it only refines what is stored', async () => {
    const logger = recordingLogger();
    const server = app((a) => {
      a.use(cacheResponses(cache));
      a.get(
        '/refined',
        cacheResponses(cache, { ttl: 60_000, statuses: [200], logger }),
        counted('refined', (_req, res) => void res.send('r')),
      );
    });
    await request(server).get('/refined');
    expect((await request(server).get('/refined')).headers['x-cache']).toBe('HIT');
    expect(logger.warnings).toEqual([]);
  });
});

describe('what is never cached', () => {
  const cases: Array<[string, RequestHandler, Record<string, string>?]> = [
    ['Cache-Control: no-store', (_req, res) => void res.set('Cache-Control', 'no-store').send('x')],
    ['Cache-Control: private', (_req, res) => void res.set('Cache-Control', 'private, max-age=60').send('x')],
    ['Cache-Control: no-cache', (_req, res) => void res.set('Cache-Control', 'no-cache').send('x')],
    ['Set-Cookie', (_req, res) => void res.cookie('session', 'abc').send('x')],
    ['a 500', (_req, res) => void res.status(500).send('boom')],
    ['a 503', (_req, res) => void res.status(503).send('busy')],
    [
      'a thrown error (500 from Express)',
      () => {
        throw new Error('handler failed');
      },
    ],
    ['a 404', (_req, res) => void res.status(404).send('none')],
    ['a 201 (not in the default statuses)', (_req, res) => void res.status(201).send('x')],
    ['a 206', (_req, res) => void res.status(206).set('Content-Range', 'bytes 0-0/2').send('x')],
    ['a response to an authorized request without public', (_req, res) => void res.send('mine'), { Authorization: 'Bearer t' }],
  ];

  it.each(cases)('%s', async (_name, handler, headers = {}) => {
    const server = app((a) => {
      a.get('/x', cacheResponses(cache), counted('x', handler));
      a.use(((_error, _req, res, _next) => void res.status(500).send('error')) as express.ErrorRequestHandler);
    });
    await request(server).get('/x').set(headers);
    const second = await request(server).get('/x').set(headers);
    expect(second.headers['x-cache']).toBe('MISS');
    expect(calls.x).toBe(2);
    expect(cache.size).toBe(0);
  });

  it('caches a response to an authorized request marked public', async () => {
    const server = app((a) =>
      a.get(
        '/x',
        cacheResponses(cache),
        counted('x', (_req, res) => void res.set('Cache-Control', 'public, max-age=5').send('shared')),
      ),
    );
    await request(server).get('/x').set('Authorization', 'Bearer t');
    expect((await request(server).get('/x').set('Authorization', 'Bearer u')).headers['x-cache']).toBe('HIT');
    expect(calls.x).toBe(1);
  });

  it('a request with Cache-Control: no-store is neither served from nor stored in the cache', async () => {
    const server = app((a) =>
      a.get(
        '/x',
        cacheResponses(cache),
        counted('x', (_req, res) => void res.send(`call ${calls.x}`)),
      ),
    );
    await request(server).get('/x').set('Cache-Control', 'no-store').expect(200, 'call 1');
    expect(cache.size).toBe(0);
    await request(server).get('/x').expect(200, 'call 2');
    const bypass = await request(server).get('/x').set('Cache-Control', 'no-store').expect(200, 'call 3');
    expect(bypass.headers['x-cache']).toBe('MISS');
    expect((await request(server).get('/x')).text).toBe('call 2');
  });

  it('a body above maxBodyBytes passes through whole and uncached; one at the limit is cached', async () => {
    const server = app((a) => {
      a.get(
        '/big',
        cacheResponses(cache, { maxBodyBytes: 10 }),
        counted('big', (_req, res) => void res.send('12345678901')),
      );
      a.get(
        '/fits',
        cacheResponses(cache, { maxBodyBytes: 10 }),
        counted('fits', (_req, res) => void res.send('1234567890')),
      );
    });
    await request(server).get('/big').expect(200, '12345678901');
    await request(server).get('/big').expect(200, '12345678901');
    await request(server).get('/fits');
    expect((await request(server).get('/fits')).headers['x-cache']).toBe('HIT');
    expect(calls).toEqual({ big: 2, fits: 1 });
  });

  const streams: Array<[string, RequestHandler]> = [
    // Each sets an ETag first, so that nothing else (such as setting one after the headers left) stops the store.
    [
      'res.write before res.end',
      (_req, res) => {
        res.type('text/plain').set('ETag', '"s"');
        res.write('a');
        res.write('b');
        res.end('c');
      },
    ],
    [
      'res.flushHeaders before res.end',
      (_req, res) => {
        res.set('ETag', '"s"');
        res.flushHeaders();
        res.end('abc');
      },
    ],
    [
      'res.writeHead before res.end',
      (_req, res) => {
        res.set('ETag', '"s"');
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end('abc');
      },
    ],
    [
      'Transfer-Encoding: chunked',
      (_req, res) => {
        res.set('ETag', '"s"');
        res.setHeader('Transfer-Encoding', 'chunked');
        res.end('abc');
      },
    ],
  ];

  it.each(streams)('a streamed response passes through uncached: %s', async (_name, handler) => {
    const server = app((a) => a.get('/s', cacheResponses(cache), counted('s', handler)));
    await request(server).get('/s').expect(200, 'abc');
    await request(server).get('/s').expect(200, 'abc');
    expect(calls.s).toBe(2);
    expect(cache.size).toBe(0);
  });

  it('a file sent with res.sendFile streams through uncached', async () => {
    const server = app((a) =>
      a.get(
        '/file',
        cacheResponses(cache),
        counted('file', (_req, res) => void res.sendFile(new URL(import.meta.url).pathname)),
      ),
    );
    const first = await request(server).get('/file').buffer(true).expect(200);
    expect(String(first.text ?? first.body)).toContain('sendFile');
    await request(server).get('/file').expect(200);
    expect(calls.file).toBe(2);
    expect(cache.size).toBe(0);
  });
});

describe('fails open', () => {
  it('serves from the handler when the cache is closed, and logs', async () => {
    const logger = recordingLogger();
    const server = app((a) =>
      a.get(
        '/x',
        cacheResponses(cache, { logger }),
        counted('x', (_req, res) => void res.send('still here')),
      ),
    );
    await cache.close();
    await request(server).get('/x').expect(200, 'still here');
    await request(server).get('/x').expect(200, 'still here');
    expect(calls.x).toBe(2);
    await waitFor(() => logger.warnings.length >= 1, { message: 'a warning' });
    expect(logger.warnings.find((w) => /storing the response failed/.test(w))).toMatch(/storing the response failed.*closed/);
  });

  it('runs the handler when the lookup throws', async () => {
    const logger = recordingLogger();
    const broken = new Proxy(cache, {
      get(target, property, receiver) {
        if (property === 'get')
          return () => {
            throw new Error('lookup exploded');
          };
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const server = app((a) =>
      a.get(
        '/x',
        cacheResponses(broken, { logger }),
        counted('x', (_req, res) => void res.send('ok')),
      ),
    );
    await request(server).get('/x').expect(200, 'ok');
    await request(server).get('/x').expect(200, 'ok');
    expect(calls.x).toBe(2);
    expect(logger.warnings.some((w) => w.includes('lookup exploded'))).toBe(true);
  });

  it('serves the response when the codec cannot store it', async () => {
    const bytesOnly = await caches.open(uniqueTopic(), { codec: bufferCodec() });
    const logger = recordingLogger();
    const server = app((a) => a.get('/x', cacheResponses(bytesOnly, { logger }), (_req, res) => void res.send('ok')));
    await request(server).get('/x').expect(200, 'ok');
    await waitFor(() => logger.warnings.length > 0, { message: 'a warning' });
    expect(logger.warnings.find((w) => /storing the response failed/.test(w))).toBeDefined();
  });

  it('treats a value of another shape under the key as a miss and replaces it', async () => {
    await cache.set(localKey('/x'), 'not a response');
    await cache.set(`${localKey('/y')}`, { v: 1, status: 200, headers: { 'bad header': 'x' }, body: '', storedAt: 0 });
    const server = app((a) => {
      a.use(cacheResponses(cache));
      a.get(
        '/x',
        counted('x', (_req, res) => void res.send('x')),
      );
      a.get(
        '/y',
        counted('y', (_req, res) => void res.send('y')),
      );
    });
    expect((await request(server).get('/x').expect(200, 'x')).headers['x-cache']).toBe('MISS');
    expect((await request(server).get('/y').expect(200, 'y')).headers['x-cache']).toBe('MISS');
    expect(isHttpCachedResponse(cache.get(localKey('/x')))).toBe(true);
    expect(calls).toEqual({ x: 1, y: 1 });
  });
});

describe('replication between two apps on one in-process topic', () => {
  it('a GET cached by app A is a HIT on app B', async () => {
    const other = await caches.open(topic);
    const build = (c: NearCache<any>, name: string) =>
      app((a) =>
        a.get(
          '/p',
          cacheResponses(c),
          counted(name, (_req, res) => void res.json({ by: name })),
        ),
      );
    const [a, b] = [build(cache, 'a'), build(other, 'b')];
    await request(a).get('/p').expect(200);
    await waitFor(() => other.has(localKey('/p')), { message: 'the entry on B' });
    const hit = await request(b).get('/p').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.body).toEqual({ by: 'a' });
    expect(calls).toEqual({ a: 1 });
  });
});
