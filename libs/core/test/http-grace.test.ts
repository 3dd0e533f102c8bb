import { afterEach, describe, expect, it } from 'vitest';
import {
  createNearCache,
  encodeHttpEntry,
  httpAdmission,
  httpGraceSettings,
  HttpResponseStore,
  httpWriteOptions,
  InProcessBroker,
  inProcessLog,
  InvalidArgumentError,
  silentLogger,
  type Clock,
  type HttpStoreSettings,
  type HttpVaryIndex,
  type NearCache,
} from '../src/index.js';
import { waitFor } from './helpers.js';

// Grace and tags of core's HTTP store (http/grace.ts), on the in-process log with a clock the
// tests move.

class ManualClock implements Clock {
  time = 1_800_000_000_000;
  now = (): number => this.time;
}

const SETTINGS: HttpStoreSettings = {
  storedHeaders: ['content-type', 'vary'],
  maxBodyBytes: 1024 * 1024,
  maxPathEntries: 0,
  maxPathBytes: 0,
  ttl: 1000,
  grace: 10_000,
};
const log = { debug: () => undefined, warn: () => undefined };
const opened: NearCache<any>[] = [];

async function open(clock: Clock, broker = new InProcessBroker()): Promise<NearCache<any>> {
  const cache = createNearCache<any>({ topic: 'grace-http', log: inProcessLog(broker), logger: silentLogger, clock });
  opened.push(cache);
  await cache.ready();
  return cache;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((cache) => cache.close()));
});

const response = (body: string, headers: Record<string, string>) => ({
  status: 200,
  body: Buffer.from(body),
  header: (name: string) => headers[name.toLowerCase()],
});
const failed = (): Promise<never> => Promise.reject(new Error('the handler failed'));

describe('HttpResponseStore: grace', () => {
  it('answers a failure with the variant in grace the request selects through its Vary index, and only within grace', async () => {
    const clock = new ManualClock();
    const cache = await open(clock);
    const store = new HttpResponseStore(cache, SETTINGS.storedHeaders, log);
    const base = 'http:GET /p http://h';
    for (const lang of ['en', 'fr']) {
      const headers = { 'accept-language': lang };
      const stored = store.store(
        { base, requestHeaders: headers, credentials: [], route: '/p', load: store.begin(base, headers) },
        response(`hello ${lang}`, { 'content-type': 'text/plain', vary: 'Accept-Language' }),
        SETTINGS,
      );
      expect(stored?.written).toBe(true);
    }
    clock.time += 2000;
    const fr = { 'accept-language': 'fr' };
    expect(store.lookup(base, fr, httpAdmission(fr))).toBeUndefined();
    const guarded = await store.guard(base, fr, httpAdmission(fr), failed(), httpGraceSettings({ grace: 10_000 }));
    expect(guarded.stale?.body.toString()).toBe('hello fr');
    const answer = store.answer(guarded.stale!, { method: 'GET', headers: fr }, 'X-Cache', { stale: true });
    expect(answer.headers).toContainEqual(['X-Cache', 'STALE']);
    expect(cache.stats().staleServed).toBe(1);
    // A fresh outcome wins over the entry in grace.
    expect(await store.guard(base, fr, httpAdmission(fr), Promise.resolve('new'), httpGraceSettings({ grace: 10_000 }))).toEqual({ fresh: 'new' });
    // Without grace asked, or past grace, the failure is passed on.
    await expect(store.guard(base, fr, httpAdmission(fr), failed(), httpGraceSettings({}))).rejects.toThrow('the handler failed');
    clock.time += 10_000;
    await expect(store.guard(base, fr, httpAdmission(fr), failed(), httpGraceSettings({ grace: 10_000 }))).rejects.toThrow('the handler failed');
    expect(cache.stats().staleServed).toBe(1);
  });

  it('keeps the Vary index past the expiry of its variants (on the system clock), so a request still finds its variant in grace', async () => {
    const cache = await open({ now: () => Date.now() });
    const store = new HttpResponseStore(cache, SETTINGS.storedHeaders, log);
    const base = 'http:GET /v http://h';
    const en = { 'accept-language': 'en' };
    const start = Date.now();
    store.store(
      { base, requestHeaders: en, credentials: [], route: '/v', load: store.begin(base, en) },
      response('hello en', { 'content-type': 'text/plain', vary: 'Accept-Language' }),
      { ...SETTINGS, ttl: 50, grace: 60_000 },
    );
    // Well past the ttl of the variant (and of an index that would live only as long).
    await waitFor(() => Date.now() > start + 250 && store.lookup(base, en, httpAdmission(en)) === undefined, { timeout: 5000 });
    const guarded = await store.guard(base, en, httpAdmission(en), failed(), httpGraceSettings({ grace: 60_000 }));
    expect(guarded.stale?.body.toString()).toBe('hello en');
  });

  it('never answers a request carrying credentials with an entry not keyed on them', async () => {
    const clock = new ManualClock();
    const cache = await open(clock);
    const store = new HttpResponseStore(cache, SETTINGS.storedHeaders, log);
    const base = 'http:GET /q http://h';
    store.store(
      { base, requestHeaders: {}, credentials: [], route: '/q', load: store.begin(base, {}) },
      response('public page', { 'content-type': 'text/plain' }),
      SETTINGS,
    );
    clock.time += 2000;
    const personal = { authorization: 'Bearer x' };
    await expect(store.guard(base, personal, httpAdmission(personal), failed(), httpGraceSettings({ grace: 10_000 }))).rejects.toThrow('the handler failed');
    expect(cache.stats().staleServed).toBe(0);
    expect((await store.guard(base, {}, httpAdmission({}), failed(), httpGraceSettings({ grace: 10_000 }))).stale?.body.toString()).toBe('public page');
  });

  it('replicates the grace period: another instance answers with the entry in grace', async () => {
    const clock = new ManualClock();
    const broker = new InProcessBroker();
    const a = await open(clock, broker);
    const b = await open(clock, broker);
    const base = 'http:GET /r http://h';
    const storeA = new HttpResponseStore(a, SETTINGS.storedHeaders, log);
    storeA.store(
      { base, requestHeaders: {}, credentials: [], route: '/r', load: storeA.begin(base, {}) },
      response('from A', { 'content-type': 'text/plain' }),
      SETTINGS,
    );
    await a.flush();
    const storeB = new HttpResponseStore(b, SETTINGS.storedHeaders, log);
    await expect.poll(() => b.has(base)).toBe(true);
    clock.time += 2000;
    expect((await storeB.guard(base, {}, httpAdmission({}), failed(), httpGraceSettings({ grace: 10_000 }))).stale?.body.toString()).toBe('from A');
  });

  it('stores a response with its tags: invalidateTags removes it and its Vary index', async () => {
    const cache = await open(new ManualClock());
    const store = new HttpResponseStore(cache, SETTINGS.storedHeaders, log);
    const base = 'http:GET /t http://h';
    const headers = { 'accept-language': 'en' };
    store.store(
      { base, requestHeaders: headers, credentials: [], route: '/t', load: store.begin(base, headers) },
      response('tagged', { 'content-type': 'text/plain', vary: 'Accept-Language' }),
      { ...SETTINGS, grace: 0, tags: ['pages'] },
    );
    expect(store.lookup(base, headers, httpAdmission(headers))?.body.toString()).toBe('tagged');
    await cache.invalidateTags(['pages']);
    expect(cache.has(base)).toBe(false);
    expect(store.lookup(base, headers, httpAdmission(headers))).toBeUndefined();
  });
});

describe('grace and tag options', () => {
  it('the Vary index of a response in grace lives ttl + grace, with no grace of its own; without a known ttl it carries none', () => {
    const index: HttpVaryIndex = { v: 1, vary: ['accept-language'], storedAt: 0 };
    const entry = encodeHttpEntry({ status: 200, headers: {}, body: Buffer.from('x') });
    expect(httpWriteOptions(index, 1000, 500, ['t'])).toEqual({ ttl: 1500, tags: ['t'] });
    expect(httpWriteOptions(entry, 1000, 500, undefined)).toEqual({ ttl: 1000, grace: 500 });
    expect(httpWriteOptions(index, undefined, 500, undefined)).toBeUndefined();
    expect(httpWriteOptions(entry, undefined, 0, undefined)).toBeUndefined();
  });

  it('grace and softTimeout are checked', () => {
    expect(httpGraceSettings({})).toEqual({ grace: 0, softTimeout: undefined });
    expect(httpGraceSettings({ grace: 5000, softTimeout: 100 })).toEqual({ grace: 5000, softTimeout: 100 });
    expect(() => httpGraceSettings({ grace: -1 })).toThrow(InvalidArgumentError);
    expect(() => httpGraceSettings({ grace: 10, softTimeout: 0 })).toThrow(/option "softTimeout"/);
    expect(() => httpGraceSettings({ softTimeout: 10 })).toThrow(/needs a "grace" above 0/);
  });
});
