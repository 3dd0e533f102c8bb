import { Controller, Get, NotFoundException, Post, UseInterceptors } from '@nestjs/common';
import { InProcessBroker, inProcessLog, InvalidOptionError, NearCache, silentLogger, type Clock, type StaleServed } from '@nearcache/core';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NearCacheGrace, NearCacheInterceptor, NearCacheModule, NearCacheTags, NearCacheTtl, type NearCacheInterceptorOptions } from '../src/index.js';
import { resolveInterceptorSettings } from '../src/interceptor-settings.js';
import { closePlatformApps, createOn, PLATFORMS, type Platform } from './interceptor-platforms.js';
import { loadEnds } from '../../../test/helpers/load-trace.js';
import { deferred, waitFor } from './helpers.js';

// Grace and tags of NearCacheInterceptor (docs/nestjs.md, "Grace" and "Tags"), on the in-process
// log with a clock the tests move (a response in grace is judged by it).

/** A clock moved by hand (timers are the system's). */
class ManualClock implements Clock {
  time = 1_800_000_000_000;
  now = (): number => this.time;
}

/** What the handlers do: answer their run count, fail, throw a 404, or wait. */
const state = { runs: 0, failing: false, missing: false, slow: undefined as Promise<void> | undefined };

@Controller('pages')
@UseInterceptors(NearCacheInterceptor)
class PagesController {
  constructor(private readonly cache: NearCache) {}

  @Get('graced')
  @NearCacheTtl(1000)
  @NearCacheGrace(10_000)
  @NearCacheTags(['pages'])
  async graced(): Promise<{ run: number }> {
    state.runs++;
    if (state.slow !== undefined) await state.slow;
    if (state.missing) throw new NotFoundException('no such page');
    if (state.failing) throw new Error('the database is down');
    return { run: state.runs };
  }

  @Get('slow')
  @NearCacheTtl(1000)
  @NearCacheGrace(10_000, { softTimeout: 50 })
  async slowPage(): Promise<{ run: number }> {
    state.runs++;
    if (state.slow !== undefined) await state.slow;
    return { run: state.runs };
  }

  @Get('plain')
  @NearCacheTtl(1000)
  plain(): { run: number } {
    state.runs++;
    if (state.failing) throw new Error('the database is down');
    return { run: state.runs };
  }

  @Get('users/:id')
  @NearCacheTags((context) => [`user:${String(context.switchToHttp().getRequest<{ params: { id: string } }>().params.id)}`])
  user(): { run: number } {
    return { run: ++state.runs };
  }

  @Post('invalidate')
  async invalidate(): Promise<void> {
    await this.cache.invalidateTags(['pages']);
  }
}

const key = (path: string): string => `http:GET ${path} http://127.0.0.1`;

describe.each(PLATFORMS)('NearCacheInterceptor on %s: grace and tags', (platform: Platform) => {
  let clock: ManualClock;

  beforeEach(() => {
    clock = new ManualClock();
    Object.assign(state, { runs: 0, failing: false, missing: false, slow: undefined });
  });

  afterEach(() => closePlatformApps());

  async function two(interceptor?: NearCacheInterceptorOptions) {
    const broker = new InProcessBroker();
    const options = { topic: 'freshness-test', logger: silentLogger, clock, interceptor };
    const open = () => createOn(platform, { imports: [NearCacheModule.forRoot({ ...options, log: inProcessLog(broker) })], controllers: [PagesController] });
    const [a, b] = [await open(), await open()];
    return { a: a.getHttpServer(), b: b.getHttpServer(), cacheA: a.get(NearCache), cacheB: b.get(NearCache) };
  }

  it('another instance answers a failing handler with the response in grace (STALE, counted); the failure is not stored', async () => {
    const { a, b, cacheB } = await two();
    const stale: StaleServed[] = [];
    cacheB.on('stale', (served) => stale.push(served));
    expect((await request(a).get('/pages/graced').expect(200)).body).toEqual({ run: 1 });
    await waitFor(() => cacheB.has(key('/pages/graced')), { timeout: 5000 });
    clock.time += 2000;
    state.failing = true;
    const served = await request(b).get('/pages/graced').expect(200);
    expect([served.headers['x-cache'], served.body]).toEqual(['STALE', { run: 1 }]);
    expect(stale).toEqual([expect.objectContaining({ key: key('/pages/graced'), reason: 'loader-failed' })]);
    expect(cacheB.stats().staleServed).toBe(1);
    expect((await request(b).get('/pages/graced').expect(200)).headers['x-cache']).toBe('STALE');
    expect(state.runs).toBe(3);
    // A client error is no failure: it answers as it is.
    state.missing = true;
    await request(b).get('/pages/graced').expect(404);
    // Past grace, the failure answers.
    state.missing = false;
    clock.time += 10_000;
    await request(b).get('/pages/graced').expect(500);
    expect(cacheB.stats().staleServed).toBe(2);
  });

  it("the load of a miss under grace ends with the handler's failure, answered in grace or not; a client error is none", async () => {
    const { a, b, cacheB } = await two();
    expect((await request(a).get('/pages/graced').expect(200)).body).toEqual({ run: 1 });
    await waitFor(() => cacheB.has(key('/pages/graced')), { timeout: 5000 });
    const { ends, stop } = loadEnds(cacheB, () => 'load');
    try {
      clock.time += 2000;
      state.failing = true;
      expect((await request(b).get('/pages/graced').expect(200)).headers['x-cache']).toBe('STALE');
      state.missing = true;
      await request(b).get('/pages/graced').expect(404);
      state.missing = false;
      clock.time += 10_000;
      await request(b).get('/pages/graced').expect(500);
      await waitFor(() => ends.length === 3, { timeout: 5000 });
      expect(ends).toEqual(['load error: the database is down', 'load', 'load error: the database is down']);
    } finally {
      stop();
    }
  });

  it('without grace a failing handler answers its failure', async () => {
    const { a } = await two();
    await request(a).get('/pages/plain').expect(200);
    clock.time += 2000;
    state.failing = true;
    // The entry has no grace: on the system clock it is still fresh, so wait for it to expire there.
    await waitFor(async () => (await request(a).get('/pages/plain')).status === 500, { timeout: 5000 });
  });

  it('answers a handler slower than softTimeout with the response in grace', async () => {
    const { a, cacheA } = await two();
    await request(a).get('/pages/slow').expect(200);
    clock.time += 2000;
    const gate = deferred<void>();
    state.slow = gate.promise;
    try {
      const served = await request(a).get('/pages/slow').timeout(5000).expect(200);
      expect([served.headers['x-cache'], served.body]).toEqual(['STALE', { run: 1 }]);
      expect(cacheA.stats().staleServed).toBe(1);
    } finally {
      gate.resolve();
    }
  });

  it('module grace applies to routes without @NearCacheGrace, and is checked up front', async () => {
    expect(() => resolveInterceptorSettings({ grace: -1 })).toThrow(InvalidOptionError);
    expect(() => resolveInterceptorSettings({ softTimeout: 10 })).toThrow(/softTimeout" needs a "grace"/);
    expect(() => NearCacheGrace(1.5)).toThrow(/@NearCacheGrace\(\): option "grace"/);
    expect(() => NearCacheTags(['ok', ''])).toThrow(InvalidOptionError);
    const { a } = await two({ grace: 10_000 });
    await request(a).get('/pages/plain').expect(200);
    clock.time += 2000;
    state.failing = true;
    expect((await request(a).get('/pages/plain').expect(200)).headers['x-cache']).toBe('STALE');
  });

  it('tags a route responses; invalidateTags on one instance removes them on the other', async () => {
    const { a, b, cacheB } = await two();
    await request(a).get('/pages/graced').expect(200);
    await request(a).get('/pages/users/1').expect(200);
    await request(a).get('/pages/users/2').expect(200);
    await waitFor(() => cacheB.has(key('/pages/graced')) && cacheB.has(key('/pages/users/2')), { timeout: 5000 });
    expect((await request(b).get('/pages/graced')).headers['x-cache']).toBe('HIT');
    await request(a).post('/pages/invalidate').expect(201);
    await waitFor(() => !cacheB.has(key('/pages/graced')), { timeout: 5000 });
    expect((await request(b).get('/pages/graced')).headers['x-cache']).toBe('MISS');
    await cacheB.invalidateTags(['user:1']);
    expect(cacheB.has(key('/pages/users/1'))).toBe(false);
    expect(cacheB.has(key('/pages/users/2'))).toBe(true);
  });
});
