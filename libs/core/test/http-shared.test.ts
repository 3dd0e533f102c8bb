import { describe, expect, it } from 'vitest';
import {
  createNearCache,
  decodeHttpEntry,
  encodeHttpEntry,
  httpAdmission,
  httpDecodedBodyStats,
  HttpPathIndex,
  httpPathGroup,
  InProcessBroker,
  inProcessLog,
  setHttpDecodedBodyBytes,
  silentLogger,
  httpCredentialPolicy,
  httpEntryWrites,
  httpOrigin,
  httpPrefixInvalidation,
  httpQueryPolicy,
  httpRequestKey,
  httpRouteInvalidation,
  httpVariantKey,
  InvalidArgumentError,
  lookupSharedHttpEntry,
  normaliseHttpTarget,
  registerStoredHttpHeaders,
  servedHttpHeaders,
  warnUnsignedHttpCache,
} from '../src/index.js';

describe('the default key: normalised target, then origin', () => {
  it.each([
    ['/products/1', '/products/1'],
    ['/products/%31', '/products/1'],
    ['/products/%7e%2f', '/products/~%2F'],
    ['/products/1#x', '/products/1'],
    ['/products/1?#x', '/products/1'],
    ['http://evil.example/products/1?a=1', '/products/1?a=1'],
    ['HTTPS://H', '/'],
    ['/p?q=%41%20b', '/p?q=A%20b'],
    ['/caf\u00e9', '/caf%E9'],
    ['/a b', '/a%20b'],
    ['/\u{1F600}', '/%F0%9F%98%80'],
    ['/x\uD800y', '/x%EF%BF%BDy'],
    ['/%zz%4', '/%zz%4'],
  ])('%s is %s', (url, target) => {
    expect(normaliseHttpTarget(url)).toBe(target);
  });

  it('a target that is not a path has no key', () => {
    expect(normaliseHttpTarget('*')).toBeUndefined();
    expect(normaliseHttpTarget('example.com:443')).toBeUndefined();
  });

  it('the query policy keeps all, none, or the allow-listed parameters in name order', () => {
    expect(normaliseHttpTarget('/p?b=2&a=1', true)).toBe('/p?b=2&a=1');
    expect(normaliseHttpTarget('/p?b=2&a=1', false)).toBe('/p');
    expect(normaliseHttpTarget('/p?utm=1&page=2&sort=x&page=3', httpQueryPolicy(['sort', 'page']))).toBe('/p?page=2&page=3&sort=x');
    expect(normaliseHttpTarget('/p?utm=1', httpQueryPolicy(['page']))).toBe('/p');
    expect(() => httpQueryPolicy('all')).toThrow(InvalidArgumentError);
  });

  it('the origin is the scheme and host, lower-case, without default port; anything else is not cached', () => {
    expect(httpOrigin('HTTPS', 'Shop.Example.')).toBe('https://shop.example');
    expect(httpOrigin('https', 'shop.example:443')).toBe('https://shop.example');
    expect(httpOrigin('http', 'shop.example:8080')).toBe('http://shop.example:8080');
    expect(httpOrigin('http', '[::1]')).toBe('http://[::1]');
    for (const host of ['evil example', 'a/b', '', 'x\r\ny', undefined]) expect(httpOrigin('http', host)).toBeUndefined();
    expect(httpOrigin('ftp', 'h')).toBeUndefined();
    expect(httpRequestKey({ method: 'HEAD', scheme: 'https', host: 'h', url: '/p%31' })).toBe('GET /p1 https://h');
    expect(httpRequestKey({ method: 'POST', scheme: 'https', host: 'h', url: '/p' })).toBeUndefined();
    expect(httpRequestKey({ method: 'GET', scheme: 'https', host: 'bad host', url: '/p' })).toBeUndefined();
  });
});

describe('credentials', () => {
  it('finds the credential headers a request carries; ignored cookies do not count', () => {
    expect(httpAdmission({}).credentials).toEqual([]);
    expect(httpAdmission({ cookie: 'sid=1', authorization: 'B', 'x-api-key': 'k' }).credentials).toEqual(['authorization', 'cookie', 'x-api-key']);
    const policy = httpCredentialPolicy(undefined, ['_ga', 'consent']);
    expect(httpAdmission({ cookie: '_ga=1; consent=yes' }, policy).credentials).toEqual([]);
    expect(httpAdmission({ cookie: '_ga=1; sid=2' }, policy).credentials).toEqual(['cookie']);
    expect(httpAdmission({ 'x-tenant': 't' }, httpCredentialPolicy(['X-Tenant'], undefined)).credentials).toEqual(['x-tenant']);
    expect(httpAdmission({ 'cache-control': 'no-store' }).bypass).toBe(true);
  });

  it('serves a request with credentials only a public entry or a variant keyed on its credentials', () => {
    const store = new Map<string, unknown>();
    const get = (key: string) => store.get(key);
    const personal = encodeHttpEntry({ status: 200, headers: {}, body: Buffer.from('x') });
    const shared = encodeHttpEntry({ status: 200, headers: { 'cache-control': 'public' }, body: Buffer.from('y') });
    store.set('k1', personal);
    store.set('k2', shared);
    const withCookie = { cookie: 'sid=alice' };
    expect(lookupSharedHttpEntry(get, 'k1', {}, httpAdmission({}))?.entry).toBe(personal);
    expect(lookupSharedHttpEntry(get, 'k1', withCookie, httpAdmission(withCookie))).toBeUndefined();
    expect(lookupSharedHttpEntry(get, 'k2', withCookie, httpAdmission(withCookie))?.entry).toBe(shared);
    for (const { key, value } of httpEntryWrites('k3', personal, 'Cookie', withCookie)) store.set(key, value);
    expect(lookupSharedHttpEntry(get, 'k3', withCookie, httpAdmission(withCookie))?.entry).toBe(personal);
    expect(lookupSharedHttpEntry(get, 'k3', { cookie: 'sid=bob' }, httpAdmission({ cookie: 'sid=bob' }))).toBeUndefined();
    const both = { cookie: 'sid=alice', authorization: 'B' };
    expect(lookupSharedHttpEntry(get, 'k3', both, httpAdmission(both))).toBeUndefined();
  });

  it('credential values are hashed in variant keys', () => {
    const key = httpVariantKey('b', ['accept-language', 'cookie'], { cookie: 'sid=alice', 'accept-language': 'fr' });
    expect(key).toMatch(/^b accept-language=fr&cookie=sha256-[A-Za-z0-9_-]{43}$/);
    expect(key).not.toContain('alice');
    expect(httpVariantKey('b', ['cookie'], {})).toBe('b cookie=');
  });
});

describe('served headers and the unsigned-topic warning', () => {
  it('serves the default stored headers, plus those an adapter registered for the cache', () => {
    const cache = {};
    expect(servedHttpHeaders(cache).has('content-type')).toBe(true);
    expect(servedHttpHeaders(cache).has('x-extra')).toBe(false);
    registerStoredHttpHeaders(cache, ['X-Extra']);
    expect(servedHttpHeaders(cache).has('x-extra')).toBe(true);
    expect(servedHttpHeaders({}).has('x-extra')).toBe(false);
  });

  it('warns once per unsigned cache, never for a signed one', () => {
    const told: string[] = [];
    const unsigned = { signed: false, topic: 't' };
    expect(warnUnsignedHttpCache(unsigned, (m) => told.push(m))).toBe(true);
    expect(warnUnsignedHttpCache(unsigned, (m) => told.push(m))).toBe(false);
    expect(warnUnsignedHttpCache({ signed: true, topic: 't' }, (m) => told.push(m))).toBe(false);
    expect(told).toHaveLength(1);
    expect(told[0]).toMatch(/topic "t".*not signed.*ACLs.*signing/);
  });
});

describe('invalidation', () => {
  it('a route on every host: its entry and variants on every host, and its query strings', () => {
    expect(httpRouteInvalidation('/products/%31', 'http:')).toEqual({
      deletes: [],
      clears: ['http:GET /products/1 ', 'http:GET /products/1?', 'http:GET /products/1/ ', 'http:GET /products/1/?'],
    });
    expect(httpRouteInvalidation('/p?x=1', 'http:')).toEqual({ deletes: [], clears: ['http:GET /p?x=1 '] });
    expect(httpRouteInvalidation('/p/', 'http:')).toEqual({ deletes: [], clears: ['http:GET /p/ ', 'http:GET /p/?'] });
  });

  it('a route on one host: its entries by key for http and https, their variants, and the query strings', () => {
    expect(httpRouteInvalidation('/p', 'http:', 'Shop.Example')).toEqual({
      deletes: ['http:GET /p http://shop.example', 'http:GET /p https://shop.example', 'http:GET /p/ http://shop.example', 'http:GET /p/ https://shop.example'],
      clears: [
        'http:GET /p http://shop.example ',
        'http:GET /p https://shop.example ',
        'http:GET /p?',
        'http:GET /p/ http://shop.example ',
        'http:GET /p/ https://shop.example ',
        'http:GET /p/?',
      ],
    });
    expect(() => httpRouteInvalidation('/p', 'http:', 'a b')).toThrow(InvalidArgumentError);
    expect(() => httpRouteInvalidation('p', 'http:')).toThrow(/starting with "\/"/);
  });

  it('a prefix on every host', () => {
    expect(httpPrefixInvalidation('/', 'http:')).toBe('http:GET /');
    expect(httpPrefixInvalidation('/products/', 'api:')).toBe('api:GET /products/');
  });
});

describe('memory: decoded bodies and per-path budgets', () => {
  it('a writer keeps no decoded copy; decoded bodies of hits are bounded by bytes', () => {
    setHttpDecodedBodyBytes(100 * 1024);
    try {
      const before = httpDecodedBodyStats().entries;
      const entries = Array.from({ length: 50 }, (_, i) => encodeHttpEntry({ status: 200, headers: {}, body: Buffer.alloc(10 * 1024, i) }));
      expect(httpDecodedBodyStats().entries).toBe(before);
      for (const entry of entries) expect(decodeHttpEntry(entry)?.body[0]).toBe(entries.indexOf(entry) % 256);
      const stats = httpDecodedBodyStats();
      expect(stats.maxBytes).toBe(100 * 1024);
      expect(stats.bytes).toBeLessThanOrEqual(100 * 1024);
      expect(stats.entries).toBeLessThan(50);
      // A body decoded again after its copy was dropped is the same.
      expect(decodeHttpEntry(entries[0])?.body.equals(Buffer.alloc(10 * 1024, 0))).toBe(true);
      expect(() => setHttpDecodedBodyBytes(0)).toThrow(InvalidArgumentError);
    } finally {
      setHttpDecodedBodyBytes(16 * 1024 * 1024);
    }
  });

  it('groups response keys by path: every query string, host and variant', () => {
    expect(httpPathGroup('http:GET /search?q=1 https://h')).toBe('http:GET /search');
    expect(httpPathGroup('http:GET /search https://h accept-language=fr')).toBe('http:GET /search');
    expect(httpPathGroup('api:GET /search')).toBe('api:GET /search');
    expect(httpPathGroup('product:1')).toBeUndefined();
  });

  it('the path index follows sets, deletes, clears and local evictions', async () => {
    const broker = new InProcessBroker();
    const cache = createNearCache<any>({ topic: 'index', log: inProcessLog(broker), logger: silentLogger, max: 5 });
    await cache.ready();
    try {
      await cache.set('http:GET /a?x=1 http://h', 1);
      const index = HttpPathIndex.of(cache);
      expect(HttpPathIndex.of(cache)).toBe(index);
      await cache.set('http:GET /a?x=2 http://h', 2);
      await cache.set('http:GET /b http://h', 3);
      expect(index.count('http:GET /a http://h')).toBe(2);
      expect(index.admits(['http:GET /a?x=3 http://h'], 2)).toBe(false);
      expect(index.admits(['http:GET /a?x=1 http://h'], 2)).toBe(true);
      await cache.delete('http:GET /a?x=1 http://h');
      expect(index.admits(['http:GET /a?x=3 http://h'], 2)).toBe(true);
      await cache.clearPrefix('http:GET /a?');
      expect(index.count('http:GET /a http://h')).toBe(0);
      // Local evictions raise no event: pruned when the budget is reached.
      for (let i = 0; i < 8; i++) await cache.set(`http:GET /c?i=${i} http://h`, i);
      expect(index.count('http:GET /c http://h')).toBe(8);
      expect(index.admits(['http:GET /c?i=9 http://h'], 6)).toBe(true);
      expect(index.count('http:GET /c http://h')).toBeLessThanOrEqual(5);
    } finally {
      await cache.close();
    }
  });
});

describe('clears of a prefix holding a path then a space or "?" read one group of keys', () => {
  it('remove exactly the keys under the prefix, locally and on another instance, after evictions and expiry too', async () => {
    const broker = new InProcessBroker();
    const open = (max = 1000, topic = 'groups') => createNearCache<any>({ topic, log: inProcessLog(broker), logger: silentLogger, max });
    const a = open();
    const b = open();
    await Promise.all([a.ready(), b.ready()]);
    try {
      const keys = [
        'http:GET /p http://h',
        'http:GET /p http://h accept-language=fr',
        'http:GET /p?x=1 http://h',
        'http:GET /p?x=2 http://h',
        'http:GET /pq http://h',
        'http:GET /p2 http://h',
        'plain:key',
        'plain:key2',
      ];
      for (const key of keys) await a.set(key, key);
      await a.set('http:GET /p?gone http://h', 1, { ttl: 1 });
      await a.flush();
      const held = (cache: typeof a) => keys.filter((key) => cache.has(key));
      await new Promise<void>((resolve) => {
        const check = () => (held(b).length === keys.length ? resolve() : setTimeout(check, 5));
        check();
      });
      await a.clearPrefix('http:GET /p?');
      await a.clearPrefix('http:GET /p http://h ');
      await a.clearPrefix('nothing /here ');
      await a.clearPrefix('http:GET /p2');
      const expected = ['http:GET /p http://h', 'http:GET /pq http://h', 'plain:key', 'plain:key2'];
      expect(held(a)).toEqual(expected);
      await a.flush();
      await new Promise<void>((resolve) => {
        const check = () => (held(b).length === expected.length ? resolve() : setTimeout(check, 5));
        check();
      });
      expect(held(b)).toEqual(expected);
      // A fresh instance applies the same clears.
      const fresh = open();
      await fresh.ready();
      expect(held(fresh)).toEqual(expected);
      await fresh.close();
      // Other prefixes are cleared by a full pass, as before.
      await a.clearPrefix('plain:');
      expect(held(a)).toEqual(expected.slice(0, 2));
      // An evicted key leaves its group: a later clear still removes what remains.
      const small = open(2, 'groups-small');
      await small.ready();
      await small.set('http:GET /e?1 http://h', 1);
      await small.set('http:GET /e?2 http://h', 2);
      await small.set('http:GET /e?3 http://h', 3);
      expect(small.stats().evictions).toBe(1);
      await small.clearPrefix('http:GET /e?');
      expect([1, 2, 3].some((i) => small.has(`http:GET /e?${i} http://h`))).toBe(false);
      await small.close();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('grouped clears agree with a plain model', () => {
  it.each([12345, 777, 2026])(
    'random sets, deletes and clears of response-shaped keys leave both instances where a Map would be (seed %i)',
    async (first) => {
      let seed = first;
      const random = (n: number): number => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed % n;
      };
      const paths = ['/p', '/p1', '/q', '/p/x'];
      const tails = ['', '?a=1', '?a=2', ' http://h', ' http://h v=1', ' https://h', '?a=1 http://h'];
      const prefixes = [
        'h:GET /p',
        'h:GET /p ',
        'h:GET /p?',
        'h:GET /p1 ',
        'h:GET /p/x?',
        'h:GET /q ',
        'h:GET /q?a=1',
        'h:GET /',
        'h:GET /p/',
        'h:',
        'nothing /x ',
        'nothing /',
      ];
      const broker = new InProcessBroker();
      const open = () => createNearCache<any>({ topic: `model-${first}`, log: inProcessLog(broker), logger: silentLogger });
      const a = open();
      const b = open();
      await Promise.all([a.ready(), b.ready()]);
      const model = new Map<string, number>();
      const all = paths.flatMap((path) => tails.map((tail) => `h:GET ${path}${tail}`));
      try {
        for (let step = 0; step < 400; step++) {
          const op = random(10);
          const writer = random(2) === 0 ? a : b;
          if (op < 6) {
            const key = all[random(all.length)]!;
            await writer.set(key, step);
            model.set(key, step);
          } else if (op < 8) {
            const key = all[random(all.length)]!;
            await writer.delete(key);
            model.delete(key);
          } else {
            const prefix = prefixes[random(prefixes.length)]!;
            await writer.clearPrefix(prefix);
            for (const key of [...model.keys()]) if (key.startsWith(prefix)) model.delete(key);
          }
          // One writer at a time, each write replicated before the next: log order is call order.
          await writer.flush();
          const expected = [...model.keys()].sort();
          for (const cache of [a, b]) {
            const deadline = Date.now() + 2000;
            while ([...cache.keys()].sort().join('|') !== expected.join('|') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 1));
            expect({ step, keys: [...cache.keys()].sort() }).toEqual({ step, keys: expected });
          }
        }
        const fresh = open();
        await fresh.ready();
        expect([...fresh.keys()].sort()).toEqual([...model.keys()].sort());
        await fresh.close();
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    },
    60_000,
  );
});
