import { describe, expect, it } from 'vitest';
import {
  computeEtag,
  decodeHttpEntry,
  encodeHttpEntry,
  HTTP_ENTRY_OVERHEAD_BYTES,
  httpCacheKey,
  httpEntryWrites,
  httpDecodedBodyStats,
  httpHitResponse,
  httpRequestBypassesCache,
  httpStoreRefusal,
  httpVariantKey,
  ifNoneMatchMatches,
  InvalidArgumentError,
  isHttpCachedResponse,
  isHttpVaryIndex,
  isNotModified,
  lookupHttpEntry,
  maxHttpBodyBytes,
  parseCacheControl,
  parseVaryHeader,
  type HttpStoreCheck,
} from '../src/index.js';

const valid = { v: 1, status: 200, headers: { 'content-type': 'text/plain', link: ['<a>', '<b>'] }, body: Buffer.from('hi').toString('base64'), storedAt: 1 };

describe('the HTTP entry format', () => {
  it('accepts a well-formed response entry', () => {
    expect(isHttpCachedResponse(valid)).toBe(true);
  });

  it.each([
    ['another version', { ...valid, v: 2 }],
    ['a 5xx status', { ...valid, status: 500 }],
    ['a 304 status', { ...valid, status: 304 }],
    ['a body that is not base64', { ...valid, body: 'not base64!' }],
    ['a header name with a space', { ...valid, headers: { 'x y': 'z' } }],
    ['a header value with a line break', { ...valid, headers: { 'x-y': 'a\r\nset-cookie: s=1' } }],
    ['a header value that is a number', { ...valid, headers: { 'x-y': 1 } }],
    ['no storedAt', { ...valid, storedAt: undefined }],
    ['a string', 'hello'],
    ['null', null],
  ])('refuses %s', (_name, value) => {
    expect(isHttpCachedResponse(value)).toBe(false);
    expect(decodeHttpEntry(value)).toBeUndefined();
  });

  it('tells vary indexes from responses', () => {
    expect(isHttpVaryIndex({ v: 1, vary: ['accept-language'], storedAt: 1 })).toBe(true);
    expect(isHttpVaryIndex(valid)).toBe(false);
    expect(isHttpVaryIndex({ v: 1, vary: [], storedAt: 1 })).toBe(false);
    expect(isHttpVaryIndex({ v: 1, vary: ['bad name'], storedAt: 1 })).toBe(false);
    expect(isHttpVaryIndex({ v: 1, vary: ['*'], storedAt: 1 })).toBe(false);
  });

  it('builds keys: GET and HEAD share the GET key under the prefix', () => {
    expect(httpCacheKey('GET', 'https://shop.example/products/1?x=1')).toBe('http:GET /products/1?x=1 https://shop.example');
    expect(httpCacheKey('HEAD', 'https://shop.example/products/1?x=1')).toBe('http:GET /products/1?x=1 https://shop.example');
    expect(httpCacheKey('GET', 'http://h/p', 'api:')).toBe('api:GET /p http://h');
    expect(() => httpCacheKey('POST' as 'GET', 'http://h/p')).toThrow(InvalidArgumentError);
    expect(() => httpCacheKey('GET', '/p')).toThrow(/must be absolute/);
    expect(parseVaryHeader('Accept-Language, accept-encoding,Accept-Language')).toEqual(['accept-encoding', 'accept-language']);
    expect(parseVaryHeader(['Origin', '*'])).toEqual(['*']);
    expect(parseVaryHeader(undefined)).toEqual([]);
    expect(httpVariantKey('http:GET /g', ['accept-encoding', 'accept-language'], { 'accept-encoding': 'gzip, br', 'accept-language': 'fr=x&y' })).toBe(
      'http:GET /g accept-encoding=gzip%2Cbr&accept-language=fr%3Dx%26y',
    );
    expect(httpVariantKey('http:GET /g', ['accept-language'], {})).toBe('http:GET /g accept-language=');
  });
});

describe('encodeHttpEntry / decodeHttpEntry', () => {
  it('encodes a response that readers accept, and decodes the same bytes', () => {
    const body = Buffer.from('{"a":1}');
    const entry = encodeHttpEntry({
      status: 203,
      headers: { 'Content-Type': 'application/json; charset=utf-8', 'x-n': 7, link: ['<a>', '<b>'], skipped: undefined },
      body,
      storedAt: 5,
    });
    expect(entry).toEqual({
      v: 1,
      status: 203,
      headers: { 'content-type': 'application/json; charset=utf-8', 'x-n': '7', link: ['<a>', '<b>'] },
      body: body.toString('base64'),
      storedAt: 5,
    });
    expect(isHttpCachedResponse(entry)).toBe(true);
    // A copy that went through JSON (another instance's view of it) decodes to the same bytes.
    const copy: unknown = JSON.parse(JSON.stringify(entry));
    expect(decodeHttpEntry(copy)?.body.equals(body)).toBe(true);
    expect(decodeHttpEntry(copy)).toBe(decodeHttpEntry(copy));
  });

  it('drops headers that are never stored (set-cookie, content-length, connection-level)', () => {
    const entry = encodeHttpEntry({
      status: 200,
      headers: { 'set-cookie': 's=1', 'content-length': 3, 'transfer-encoding': 'chunked', connection: 'close', etag: '"x"' },
      body: Buffer.from('abc'),
    });
    expect(entry.headers).toEqual({ etag: '"x"' });
  });

  it('does not let the caller change the stored body by reusing its buffer', () => {
    const body = Buffer.from('abc');
    const entry = encodeHttpEntry({ status: 200, headers: {}, body });
    body.write('xyz');
    expect(decodeHttpEntry(entry)?.body.toString()).toBe('abc');
    expect(Buffer.from(entry.body, 'base64').toString()).toBe('abc');
  });

  it.each([
    ['a 404', { status: 404, headers: {} }],
    ['a 304', { status: 304, headers: {} }],
    ['a header name that is not a token', { status: 200, headers: { 'bad name': 'x' } }],
    ['a header value with a line break', { status: 200, headers: { 'x-y': 'a\r\nb' } }],
  ])('refuses to encode %s', (_name, response) => {
    expect(() => encodeHttpEntry({ ...response, body: Buffer.alloc(0) })).toThrow(InvalidArgumentError);
  });
});

describe('Vary: writes and lookups', () => {
  const entry = encodeHttpEntry({ status: 200, headers: { vary: 'Accept-Language' }, body: Buffer.from('bonjour'), storedAt: 9 });

  it('stores a response without Vary under the base key', () => {
    const plain = encodeHttpEntry({ status: 200, headers: {}, body: Buffer.from('x') });
    expect(httpEntryWrites('http:GET /g', plain, undefined, {})).toEqual([{ key: 'http:GET /g', value: plain }]);
  });

  it('stores a varying response under its variant key and an index under the base key; a lookup follows the index', () => {
    const writes = httpEntryWrites('http:GET /g', entry, 'Accept-Language', { 'accept-language': 'fr' });
    expect(writes).toEqual([
      { key: 'http:GET /g accept-language=fr', value: entry },
      { key: 'http:GET /g', value: { v: 1, vary: ['accept-language'], storedAt: 9 } },
    ]);
    const store = new Map(writes.map(({ key, value }) => [key, value]));
    const get = (key: string) => store.get(key);
    expect(lookupHttpEntry(get, 'http:GET /g', { 'accept-language': 'fr' })?.body.toString()).toBe('bonjour');
    expect(lookupHttpEntry(get, 'http:GET /g', { 'accept-language': 'en' })).toBeUndefined();
    expect(lookupHttpEntry(get, 'http:GET /other', {})).toBeUndefined();
  });

  it('stores nothing for Vary: *', () => {
    expect(httpEntryWrites('http:GET /g', entry, ['Origin', '*'], {})).toEqual([]);
  });

  it('treats a value of another shape as a miss', () => {
    expect(lookupHttpEntry(() => ({ status: 200, body: { a: 1 } }), 'http:GET /g', {})).toBeUndefined();
    expect(lookupHttpEntry(() => 'text', 'http:GET /g', {})).toBeUndefined();
  });
});

describe('conditional helpers', () => {
  it('compares entity tags weakly for If-None-Match', () => {
    expect(ifNoneMatchMatches('"a"', '"a"')).toBe(true);
    expect(ifNoneMatchMatches('W/"a"', '"a"')).toBe(true);
    expect(ifNoneMatchMatches('"a"', 'W/"a"')).toBe(true);
    expect(ifNoneMatchMatches('"x", W/"a"', '"a"')).toBe(true);
    expect(ifNoneMatchMatches('"a,b"', '"a,b"')).toBe(true);
    expect(ifNoneMatchMatches('"a"', '"b"')).toBe(false);
    expect(ifNoneMatchMatches('a', '"a"')).toBe(false);
    expect(ifNoneMatchMatches(' * ', undefined)).toBe(true);
    expect(ifNoneMatchMatches('"a"', undefined)).toBe(false);
  });

  it('makes strong tags from the body', () => {
    expect(computeEtag(Buffer.from('x'))).toBe(computeEtag(Buffer.from('x')));
    expect(computeEtag(Buffer.from('x'))).not.toBe(computeEtag(Buffer.from('y')));
    expect(computeEtag(Buffer.from('x'))).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
  });

  it('prefers If-None-Match over If-Modified-Since', () => {
    const lastModified = 'Tue, 01 Sep 2026 10:00:00 GMT';
    expect(isNotModified({ ifNoneMatch: undefined, ifModifiedSince: lastModified }, '"v"', lastModified)).toBe(true);
    expect(isNotModified({ ifNoneMatch: undefined, ifModifiedSince: 'Mon, 31 Aug 2026 10:00:00 GMT' }, '"v"', lastModified)).toBe(false);
    expect(isNotModified({ ifNoneMatch: '"other"', ifModifiedSince: lastModified }, '"v"', lastModified)).toBe(false);
    expect(isNotModified({ ifNoneMatch: undefined, ifModifiedSince: undefined }, '"v"', lastModified)).toBe(false);
  });

  it('reads Cache-Control directive names', () => {
    expect([...parseCacheControl('Public, max-age=60, NO-CACHE="x"')]).toEqual(['public', 'max-age', 'no-cache']);
    expect([...parseCacheControl(['private', 'max-age=0'])]).toEqual(['private', 'max-age']);
    expect(parseCacheControl(undefined).size).toBe(0);
  });
});

describe('the never-cache rules', () => {
  const check = (over: Partial<HttpStoreCheck> & { response?: Record<string, string | string[]> } = {}): string | undefined => {
    const response = over.response ?? {};
    return httpStoreRefusal({ status: 200, requestHeaders: {}, responseHeader: (name) => response[name.toLowerCase()], ...over });
  };

  it('lets a plain 2xx response be stored', () => {
    expect(check()).toBeUndefined();
    expect(check({ status: 202 })).toBeUndefined();
  });

  it.each([
    ['a 404', { status: 404 }, 'status 404'],
    ['a 500', { status: 500 }, 'status 500'],
    ['a 304', { status: 304 }, 'status 304'],
    ['a 206', { status: 206 }, 'status 206'],
    ['a status outside the given statuses', { status: 202, statuses: new Set([200]) }, 'status 202'],
    ['Cache-Control: no-store', { response: { 'cache-control': 'no-store' } }, 'Cache-Control: no-store'],
    ['Cache-Control: private', { response: { 'cache-control': 'max-age=60, private' } }, 'Cache-Control: private'],
    ['Cache-Control: no-cache', { response: { 'cache-control': 'no-cache' } }, 'Cache-Control: no-cache'],
    ['Set-Cookie', { response: { 'set-cookie': ['s=1'] } }, 'Set-Cookie'],
    ['Content-Range', { response: { 'content-range': 'bytes 0-1/2' } }, 'Content-Range'],
    ['Vary: *', { response: { vary: 'Origin, *' } }, 'Vary: *'],
    [
      'Authorization without public',
      { requestHeaders: { authorization: 'Bearer x' }, response: { 'cache-control': 'max-age=60' } },
      'credentials (authorization)',
    ],
    [
      'Authorization with must-revalidate only',
      { requestHeaders: { authorization: 'Bearer x' }, response: { 'cache-control': 'must-revalidate' } },
      'credentials (authorization)',
    ],
    ['a Cookie without public', { requestHeaders: { cookie: 'sid=1' } }, 'credentials (cookie)'],
    ['an X-Api-Key without public', { requestHeaders: { 'x-api-key': 'k' } }, 'credentials (x-api-key)'],
    [
      'a Cookie and an Authorization, Vary on Cookie only',
      { requestHeaders: { cookie: 'sid=1', authorization: 'B' }, response: { vary: 'Cookie' } },
      'credentials (authorization)',
    ],
  ])('refuses %s', (_name, over, reason) => {
    expect(check(over as Partial<HttpStoreCheck>)).toContain(reason);
  });

  it('stores a response to a request with credentials when marked public or s-maxage, or varying on them', () => {
    for (const directive of ['public', 's-maxage=60']) {
      expect(check({ requestHeaders: { authorization: 'Bearer x' }, response: { 'cache-control': directive } })).toBeUndefined();
      expect(check({ requestHeaders: { cookie: 'sid=1' }, response: { 'cache-control': directive } })).toBeUndefined();
    }
    expect(check({ requestHeaders: { cookie: 'sid=1', authorization: 'B' }, response: { vary: 'Cookie, Authorization' } })).toBeUndefined();
    // The adapter's admission decides which headers count (an ignored cookie does not).
    expect(check({ requestHeaders: { cookie: '_ga=1' }, credentials: [] })).toBeUndefined();
  });

  it('bypasses the cache for a request with Cache-Control: no-store only', () => {
    expect(httpRequestBypassesCache({ 'cache-control': 'no-store' })).toBe(true);
    expect(httpRequestBypassesCache({ 'cache-control': 'max-age=0' })).toBe(false);
    expect(httpRequestBypassesCache({})).toBe(false);
  });
});

describe('answering a hit', () => {
  const body = Buffer.from('hello');
  const entry = encodeHttpEntry({
    status: 203,
    headers: { 'content-type': 'text/plain; charset=utf-8', etag: '"v1"', 'last-modified': 'Tue, 01 Sep 2026 10:00:00 GMT' },
    body,
    storedAt: 10_000,
  });
  const hit = decodeHttpEntry(entry)!;

  it('sends the status, the stored headers, Age, Content-Length and the bytes', () => {
    const answer = httpHitResponse(hit, { method: 'GET', headers: {} }, 42_500);
    expect(answer.status).toBe(203);
    expect(answer.notModified).toBe(false);
    expect(Object.fromEntries(answer.headers)).toEqual({
      'content-type': 'text/plain; charset=utf-8',
      etag: '"v1"',
      'last-modified': 'Tue, 01 Sep 2026 10:00:00 GMT',
      age: '32',
      'content-length': '5',
    });
    expect(answer.body?.toString()).toBe('hello');
  });

  it('answers a HEAD without the body but with its length', () => {
    const answer = httpHitResponse(hit, { method: 'HEAD', headers: {} }, 10_000);
    expect(answer.body).toBeUndefined();
    expect(Object.fromEntries(answer.headers)['content-length']).toBe('5');
  });

  it('answers a matching If-None-Match with a 304 without body nor Content-Type', () => {
    const answer = httpHitResponse(hit, { method: 'GET', headers: { 'if-none-match': 'W/"v1"' } }, 10_000);
    expect(answer.status).toBe(304);
    expect(answer.notModified).toBe(true);
    expect(answer.body).toBeUndefined();
    expect(Object.fromEntries(answer.headers)).toEqual({ etag: '"v1"', 'last-modified': 'Tue, 01 Sep 2026 10:00:00 GMT', age: '0' });
    expect(httpHitResponse(hit, { method: 'GET', headers: { 'if-none-match': '"v0"' } }, 10_000).status).toBe(203);
  });

  it('answers a 204 without body nor Content-Length', () => {
    const empty = decodeHttpEntry(encodeHttpEntry({ status: 204, headers: {}, body: Buffer.alloc(0), storedAt: 0 }))!;
    const answer = httpHitResponse(empty, { method: 'GET', headers: {} }, 0);
    expect(answer.status).toBe(204);
    expect(answer.body).toBeUndefined();
    expect(answer.headers).toEqual([['age', '0']]);
  });

  it('never serves connection-level headers or cookies an entry holds', () => {
    const forged = decodeHttpEntry({ v: 1, status: 200, headers: { 'set-cookie': 's=1', connection: 'close', 'x-ok': 'y' }, body: '', storedAt: 0 })!;
    expect(httpHitResponse(forged, { method: 'GET', headers: {} }, 0, new Set(['x-ok', 'set-cookie', 'connection'])).headers.map(([name]) => name)).toEqual([
      'x-ok',
      'age',
      'content-length',
    ]);
  });
});

describe('a hit body as text', () => {
  it('gives the same bytes as Latin-1 text when asked, up to 16 KiB, counted against the bound of decoded bodies', () => {
    const bytes = Buffer.from([0, 1, 0x7f, 0x80, 0xc3, 0xa9, 0xff]);
    const hit = decodeHttpEntry(encodeHttpEntry({ status: 200, headers: { 'content-type': 'application/octet-stream' }, body: bytes, storedAt: 0 }))!;
    expect(httpHitResponse(hit, { method: 'GET', headers: {} }, 0).text).toBeUndefined();
    const before = httpDecodedBodyStats().bytes;
    const answer = httpHitResponse(hit, { method: 'GET', headers: {} }, 0, undefined, { text: true });
    expect(Buffer.from(answer.text!, 'latin1').equals(bytes)).toBe(true);
    expect(httpDecodedBodyStats().bytes).toBe(before + bytes.length);
    expect(httpHitResponse(hit, { method: 'HEAD', headers: {} }, 0, undefined, { text: true }).text).toBeUndefined();
    const large = decodeHttpEntry(encodeHttpEntry({ status: 200, headers: {}, body: Buffer.alloc(16 * 1024 + 1, 0xe9), storedAt: 0 }))!;
    expect(httpHitResponse(large, { method: 'GET', headers: {} }, 0, undefined, { text: true }).text).toBeUndefined();
  });
});

describe('body size against maxValueBytes', () => {
  it('the largest storable body leaves room for its base64 and the headers', () => {
    const largest = maxHttpBodyBytes(512 * 1024);
    expect(Math.ceil(largest / 3) * 4 + HTTP_ENTRY_OVERHEAD_BYTES).toBeLessThanOrEqual(512 * 1024);
    expect(Math.ceil((largest + 3) / 3) * 4 + HTTP_ENTRY_OVERHEAD_BYTES).toBeGreaterThan(512 * 1024);
    expect(maxHttpBodyBytes(HTTP_ENTRY_OVERHEAD_BYTES)).toBe(0);
    expect(maxHttpBodyBytes(10)).toBe(0);
  });
});
