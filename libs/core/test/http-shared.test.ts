import { describe, expect, it } from 'vitest';
import {
  encodeHttpEntry,
  httpAdmission,
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
    expect(httpRouteInvalidation('/products/%31', 'http:')).toEqual({ deletes: [], clears: ['http:GET /products/1 ', 'http:GET /products/1?'] });
    expect(httpRouteInvalidation('/p?x=1', 'http:')).toEqual({ deletes: [], clears: ['http:GET /p?x=1 '] });
  });

  it('a route on one host: its entries by key for http and https, their variants, and the query strings', () => {
    expect(httpRouteInvalidation('/p', 'http:', 'Shop.Example')).toEqual({
      deletes: ['http:GET /p http://shop.example', 'http:GET /p https://shop.example'],
      clears: ['http:GET /p http://shop.example ', 'http:GET /p https://shop.example ', 'http:GET /p?'],
    });
    expect(() => httpRouteInvalidation('/p', 'http:', 'a b')).toThrow(InvalidArgumentError);
    expect(() => httpRouteInvalidation('p', 'http:')).toThrow(/starting with "\/"/);
  });

  it('a prefix on every host', () => {
    expect(httpPrefixInvalidation('/', 'http:')).toBe('http:GET /');
    expect(httpPrefixInvalidation('/products/', 'api:')).toBe('api:GET /products/');
  });
});
