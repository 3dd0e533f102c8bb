import { Controller, Get, Injectable, Logger, Module, Req, UseInterceptors } from '@nestjs/common';
import { httpCacheKey, httpPathGroup, InProcessBroker, inProcessLog, InvalidOptionError, NearCache } from '@nearcache/core';
import request from 'supertest';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { chaos } from '../../../test/helpers/chaos.js';
import { NearCacheInterceptor, NearCacheModule, type NearCacheInterceptorOptions } from '../src/index.js';
import { closeApps, createApp, inProcess, waitFor } from './helpers.js';

/**
 * The interceptor's settings come from the module's `interceptor` option (checked when the
 * module starts); a subclass's fields still win. Its per-path byte budget keeps a flood of
 * query strings on one route within its bytes on every instance, and a cache that cannot store
 * (a full replication queue while the log is down) is warned about once per route.
 */
const BODY = 'x'.repeat(2048);

@Controller('f')
@UseInterceptors(NearCacheInterceptor)
class FloodController {
  @Get('search')
  search(@Req() req: { query: Record<string, string> }): string {
    return `${req.query.q}:${BODY}`;
  }

  @Get('other')
  other(@Req() req: { query: Record<string, string> }): string {
    return `other ${req.query.q}`;
  }
}

@Injectable()
class QuietInterceptor extends NearCacheInterceptor {
  protected override statusHeader = false as const;
}

@Controller('q')
@UseInterceptors(QuietInterceptor)
class QuietController {
  @Get()
  get(): string {
    return 'quiet';
  }
}

const local = (path: string): string => httpCacheKey('GET', `http://127.0.0.1${path}`);
const topicName = (): string => `options-${Math.random().toString(36).slice(2, 10)}`;

/** The bytes the cache counts for the entries of path `/f/search` (it holds nothing else). */
const searchBytes = (cache: NearCache): number => {
  expect([...cache.keys()].every((key) => httpPathGroup(key) === 'http:GET /f/search')).toBe(true);
  return cache.stats().bytes;
};

async function app(broker: InProcessBroker, topic: string, interceptor: NearCacheInterceptorOptions | undefined, extra: object = {}) {
  const started = await createApp({
    imports: [NearCacheModule.forRoot({ ...inProcess(broker, topic), maxBytes: 8 * 1024 * 1024, ...(interceptor ? { interceptor } : {}), ...extra })],
    controllers: [FloodController, QuietController],
  });
  return { http: request(started.getHttpServer()), cache: started.get(NearCache) };
}

describe('NearCacheInterceptor settings from NearCacheModule options', () => {
  afterEach(async () => {
    vi.restoreAllMocks();
    await closeApps();
  });

  it('the interceptor option sets the interceptor (statusHeader, prefix); a subclass field still wins', async () => {
    const { http, cache } = await app(new InProcessBroker(), topicName(), { statusHeader: 'X-Near', prefix: 'pages:' });
    const first = await http.get('/f/other?q=1').expect(200, 'other 1');
    expect(first.headers['x-near']).toBe('MISS');
    expect((await http.get('/f/other?q=1').expect(200, 'other 1')).headers['x-near']).toBe('HIT');
    expect(cache.has(`pages:GET /f/other?q=1 http://127.0.0.1`)).toBe(true);
    // QuietInterceptor sets statusHeader = false itself: no status header, whatever the module says.
    const quiet = await http.get('/q').expect(200, 'quiet');
    expect(quiet.headers['x-near']).toBeUndefined();
    expect(quiet.headers['x-cache']).toBeUndefined();
  });

  it.each([
    [{ maxPathBytes: -1 }, /option "interceptor" of cache "default": option "maxPathBytes" must be an integer from 0/],
    [{ maxPathEntries: 1.5 }, /option "maxPathEntries" must be an integer from 0/],
    [{ credentialHeaders: ['bad header'] }, /option "credentialHeaders" must be an array of request header names/],
    [{ storedHeaders: ['set-cookie'] }, /option "storedHeaders" must be an array of header names, none of/],
    [{ statusHeader: 'bad header' }, /option "statusHeader" must be a header name or false/],
    [{ maxBodyBytes: 'big' }, /option "maxBodyBytes" must be an integer from 0 to/],
    [{ prefixx: 'x' }, /unknown option "interceptor.prefixx"; the options are: prefix, maxBodyBytes/],
    ['fast', /option "interceptor" must be an object of NearCacheInterceptor's settings/],
  ])('a bad interceptor option %j fails the start with InvalidOptionError before the cache connects', async (interceptor, message) => {
    const broker = new InProcessBroker();
    const topic = topicName();
    const start = createApp({
      imports: [NearCacheModule.forRoot({ ...inProcess(broker, topic), interceptor: interceptor as never })],
      controllers: [FloodController],
    });
    await expect(start).rejects.toThrow(InvalidOptionError);
    await expect(
      createApp({ imports: [NearCacheModule.forRoot({ ...inProcess(broker, topic), interceptor: interceptor as never })], controllers: [FloodController] }),
    ).rejects.toThrow(message);
    // No cache opened the topic: the in-process broker never created it.
    expect(() => broker.records(topic)).toThrow(/does not exist/);
  });

  it('forRootAsync takes the interceptor option from its factory, and two caches may not both give it', async () => {
    const broker = new InProcessBroker();
    const { http } = await (async () => {
      const started = await createApp({
        imports: [NearCacheModule.forRootAsync({ useFactory: () => ({ ...inProcess(broker, topicName()), interceptor: { statusHeader: 'X-Async' } }) })],
        controllers: [FloodController],
      });
      return { http: request(started.getHttpServer()) };
    })();
    expect((await http.get('/f/other').expect(200)).headers['x-async']).toBe('MISS');

    @Module({
      imports: [
        NearCacheModule.forRoot({ ...inProcess(broker, topicName()), interceptor: { maxPathEntries: 5 } }),
        NearCacheModule.forRoot({ ...inProcess(broker, topicName()), name: 'second', interceptor: { maxPathEntries: 6 } }),
      ],
    })
    class TwoCaches {}
    await expect(createApp({ imports: [TwoCaches] })).rejects.toThrow(
      /option "interceptor" of cache "second": the application's NearCacheInterceptor settings were given already, by cache "default"/,
    );
  });

  it('maxPathBytes: a flood of query strings on one route keeps the path within its bytes on both instances, and the hot entry stays', async () => {
    const broker = new InProcessBroker();
    const topic = topicName();
    const budget = 40 * 1024;
    const a = await app(broker, topic, { maxPathBytes: budget });
    const b = await app(broker, topic, { maxPathBytes: budget });
    expect((await a.http.get('/f/search?q=hot').expect(200)).headers['x-cache']).toBe('MISS');
    await waitFor(() => b.cache.has(local('/f/search?q=hot')), { message: 'the hot entry on B' });
    const entry = searchBytes(a.cache);
    expect(entry).toBeGreaterThan(2048);
    for (let i = 0; i < 150; i++) {
      await (i % 2 === 0 ? a : b).http.get(`/f/search?q=${i}`).expect(200, `${i}:${BODY}`);
      if (i % 25 === 0) expect((await b.http.get('/f/search?q=hot').expect(200, `hot:${BODY}`)).headers['x-cache']).toBe('HIT');
    }
    await waitFor(() => a.cache.stats().entries === b.cache.stats().entries, { message: 'both instances to hold the same entries' });
    for (const { cache } of [a, b]) {
      // Within the budget, give or take one entry the other instance stored at the same time; nothing evicted by the cache's own bound.
      expect(searchBytes(cache)).toBeLessThanOrEqual(budget + entry);
      expect(cache.stats().evictions).toBe(0);
      expect(cache.has(local('/f/search?q=hot'))).toBe(true);
      expect(cache.has(local('/f/search?q=0'))).toBe(true);
      expect(cache.has(local('/f/search?q=149'))).toBe(false);
    }
    expect((await a.http.get('/f/search?q=hot').expect(200, `hot:${BODY}`)).headers['x-cache']).toBe('HIT');
  });

  it('a full replication queue while the log is down is warned once per route, not once per request', async () => {
    const broker = new InProcessBroker();
    const log = chaos(inProcessLog(broker));
    const started = await createApp({
      imports: [NearCacheModule.forRoot({ ...inProcess(broker, topicName()), log, maxQueuedWrites: 2 })],
      controllers: [FloodController],
    });
    const http = request(started.getHttpServer());
    const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const debug = vi.spyOn(Logger.prototype, 'debug').mockImplementation(() => undefined);
    log.last!.failAppends(1_000_000);
    for (let i = 0; i < 12; i++) await http.get(`/f/other?q=${i}`).expect(200, `other ${i}`);
    for (let i = 0; i < 12; i++) await http.get(`/f/search?q=${i}`).expect(200, `${i}:${BODY}`);
    const failures = (spy: typeof warn): string[] =>
      spy.mock.calls.map(([message]) => String(message)).filter((m) => m.includes('storing the response failed'));
    await waitFor(() => failures(debug).length >= 20, { message: 'the repeated failures at debug level' });
    const warned = failures(warn);
    expect(warned).toHaveLength(2);
    expect(warned[0]).toMatch(
      /storing the response failed: .*further failures of this kind on this route are logged at debug level \(key "http:GET \/f\/other\?q=/,
    );
    expect(warned[1]).toMatch(/\(key "http:GET \/f\/search\?q=/);
  });
});
