import { describe, expect, it } from 'vitest';
import {
  createNearCache,
  encodeHttpEntry,
  httpEntryBytes,
  HttpPathIndex,
  httpPathByteBudget,
  HttpResponseStore,
  InProcessBroker,
  inProcessLog,
  InvalidArgumentError,
  silentLogger,
  type HttpStoreSettings,
} from '../src/index.js';
import { waitFor } from './helpers.js';

const SETTINGS: HttpStoreSettings = { storedHeaders: ['content-type'], maxBodyBytes: 1024 * 1024, maxPathEntries: 0, maxPathBytes: 0, ttl: undefined };

function open(topic: string, broker = new InProcessBroker()) {
  return createNearCache<any>({ topic, log: inProcessLog(broker), logger: silentLogger, maxBytes: 64 * 1024 * 1024 });
}

function messages(): { debug: string[]; warn: string[]; log: { debug(m: string): void; warn(m: string): void } } {
  const debug: string[] = [];
  const warn: string[] = [];
  return { debug, warn, log: { debug: (m) => void debug.push(m), warn: (m) => void warn.push(m) } };
}

const response = (body: string, headers: Record<string, string> = { 'content-type': 'text/plain' }) => ({
  status: 200,
  body: Buffer.from(body),
  header: (name: string) => headers[name.toLowerCase()],
});

describe('httpEntryBytes', () => {
  it('is what the cache counts for an entry: its key and its encoded value', async () => {
    const cache = open('bytes');
    await cache.ready();
    try {
      const key = 'http:GET /p?q=1 http://h';
      const entry = encodeHttpEntry({ status: 200, headers: { 'content-type': 'text/plain; charset=utf-8', etag: '"x"' }, body: Buffer.from('é'.repeat(300)) });
      await cache.set(key, entry);
      expect(cache.stats().bytes).toBe(httpEntryBytes(key, entry));
    } finally {
      await cache.close();
    }
  });

  it('the byte budget option is 0 (none) or a positive integer', () => {
    expect(httpPathByteBudget(undefined)).toBe(0);
    expect(httpPathByteBudget(65536)).toBe(65536);
    expect(() => httpPathByteBudget(-1)).toThrow(InvalidArgumentError);
    expect(() => httpPathByteBudget(1.5)).toThrow(/option "maxPathBytes" must be an integer from 0 \(no budget\)/);
  });
});

describe('HttpResponseStore', () => {
  it('stores a miss with a strong ETag, serves it as a hit with the status header, and refuses what core refuses', async () => {
    const cache = open('store');
    await cache.ready();
    try {
      const { log, debug } = messages();
      const store = new HttpResponseStore(cache, ['content-type'], log);
      const miss = { base: 'http:GET /p http://h', requestHeaders: {}, credentials: [], route: 'GET /p' };
      const stored = store.store(miss, response('hello'), SETTINGS);
      expect(stored).toEqual({ etag: expect.stringMatching(/^"/), written: true });
      const hit = store.lookup(miss.base, {}, store.admit({}, { headers: [], ignoredCookies: new Set() }));
      expect(hit?.body.toString()).toBe('hello');
      const answer = store.answer(hit!, { method: 'GET', headers: {} }, 'X-Cache');
      expect(answer.headers).toContainEqual(['etag', stored!.etag]);
      expect(answer.headers.at(-1)).toEqual(['X-Cache', 'HIT']);
      expect(store.store({ ...miss, base: 'http:GET /q http://h' }, response('x', { 'set-cookie': 'a=1' }), SETTINGS)).toBeUndefined();
      expect(store.store({ ...miss, base: 'http:GET /r http://h' }, response('x'.repeat(11)), { ...SETTINGS, maxBodyBytes: 10 })).toBeUndefined();
      expect(debug).toEqual(['not stored (Set-Cookie)', 'not stored (body of 11 bytes above maxBodyBytes 10)']);
    } finally {
      await cache.close();
    }
  });

  it('a path budget by bytes admits responses while the path stays within it; replacements and other paths still pass', async () => {
    const cache = open('budget');
    await cache.ready();
    try {
      const store = new HttpResponseStore(cache, [], messages().log);
      const settings = { ...SETTINGS, maxPathBytes: 4000 };
      const body = 'b'.repeat(900);
      const key = (q: number) => `http:GET /s?q=${q} http://h`;
      const outcomes = [];
      for (let q = 0; q < 10; q++)
        outcomes.push(store.store({ base: key(q), requestHeaders: {}, credentials: [], route: 'r' }, response(body), settings)?.written);
      const held = [...cache.keys()];
      const bytes = held.reduce((sum, k) => sum + httpEntryBytes(k, cache.get(k)), 0);
      expect(bytes).toBeLessThanOrEqual(4000);
      expect(held.length).toBeGreaterThan(1);
      expect(outcomes.filter((written) => written === false)).toHaveLength(10 - held.length);
      expect(HttpPathIndex.of(cache).bytes(key(0))).toBe(bytes);
      // A replacement of an entry held, and another path, are admitted.
      expect(store.store({ base: key(0), requestHeaders: {}, credentials: [], route: 'r' }, response(body), settings)?.written).toBe(true);
      expect(store.store({ base: 'http:GET /t http://h', requestHeaders: {}, credentials: [], route: 'r' }, response(body), settings)?.written).toBe(true);
    } finally {
      await cache.close();
    }
  });

  it('entries from another instance count too, at the size of the response being admitted', async () => {
    const broker = new InProcessBroker();
    const a = open('remote', broker);
    const b = open('remote', broker);
    await Promise.all([a.ready(), b.ready()]);
    try {
      const onA = new HttpResponseStore(a, [], messages().log);
      const onB = new HttpResponseStore(b, [], messages().log);
      const settings = { ...SETTINGS, maxPathBytes: 5000 };
      const body = 'r'.repeat(900);
      for (let q = 0; q < 3; q++) onB.store({ base: `http:GET /s?q=${q} http://h`, requestHeaders: {}, credentials: [], route: 'r' }, response(body), settings);
      await b.flush();
      await waitFor(() => a.has('http:GET /s?q=2 http://h'), { message: "B's entries on A" });
      const results = [];
      for (let q = 3; q < 8; q++)
        results.push(onA.store({ base: `http:GET /s?q=${q} http://h`, requestHeaders: {}, credentials: [], route: 'r' }, response(body), settings)?.written);
      const held = [...a.keys()];
      expect(held.reduce((sum, k) => sum + httpEntryBytes(k, a.get(k)), 0)).toBeLessThanOrEqual(5000);
      expect(results).toContain(false);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('HttpResponseStore: fenced stores', () => {
  const admitAll = { headers: [], ignoredCookies: new Set<string>() };
  const varying = (body: string) => response(body, { 'content-type': 'text/plain', vary: 'Accept-Language' });

  it('a store through the leases of its miss: refused when another instance deleted the key after the miss, else stored', async () => {
    const broker = new InProcessBroker();
    const a = open('fenced', broker);
    const b = open('fenced', broker);
    await Promise.all([a.ready(), b.ready()]);
    try {
      const store = new HttpResponseStore(a, [], messages().log);
      const base = 'http:GET /p http://h';
      const load = store.begin(base, {});
      expect(load).toBeDefined();
      await b.delete(base, { durable: true });
      await b.set('marker', 1, { durable: true });
      await waitFor(() => a.has('marker'), { message: "B's delete on A" });
      const miss = { base, requestHeaders: {}, credentials: [], route: 'r', load };
      expect(store.store(miss, response('old'), SETTINGS)).toEqual({ etag: expect.any(String), written: false });
      expect(a.has(base)).toBe(false);
      // A second miss, with no write in its way, stores.
      expect(store.store({ ...miss, load: store.begin(base, {}) }, response('new'), SETTINGS)?.written).toBe(true);
      await a.flush();
      await waitFor(() => b.has(base), { message: 'the response on B' });
      expect(store.lookup(base, {}, store.admit({}, admitAll))?.body.toString()).toBe('new');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('a Vary response: the variant the held index selects is leased at the miss; a write of it alone keeps both the variant and the index from being stored', async () => {
    const broker = new InProcessBroker();
    const a = open('fenced-vary', broker);
    const b = open('fenced-vary', broker);
    await Promise.all([a.ready(), b.ready()]);
    try {
      const store = new HttpResponseStore(a, [], messages().log);
      const base = 'http:GET /v http://h';
      const fr = { 'accept-language': 'fr' };
      const de = { 'accept-language': 'de' };
      // No index held yet: the variant is leased when the response is stored.
      expect(store.store({ base, requestHeaders: fr, credentials: [], route: 'r', load: store.begin(base, fr) }, varying('fr'), SETTINGS)?.written).toBe(true);
      const index = a.get(base);
      expect(store.lookup(base, fr, store.admit(fr, admitAll))?.body.toString()).toBe('fr');
      const load = store.begin(base, de);
      const variant = 'http:GET /v http://h accept-language=de';
      await b.delete(variant, { durable: true });
      await b.set('marker', 1, { durable: true });
      await waitFor(() => a.has('marker'), { message: "B's delete on A" });
      expect(store.store({ base, requestHeaders: de, credentials: [], route: 'r', load }, varying('de'), SETTINGS)?.written).toBe(false);
      expect(a.has(variant)).toBe(false);
      expect(a.get(base)).toBe(index);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
