import { Controller, Get, HttpCode, Param, Post, Put, UseInterceptors } from '@nestjs/common';
import { InProcessBroker, inProcessLog, invalidateHttpRoute, NearCache, parseSessionToken, silentLogger } from '@nearcache/core';
import { chaos } from '@nearcache/core/conformance';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { NearCacheInterceptor, NearCacheMaxStaleness, NearCacheModule, type NearCacheInterceptorOptions } from '../src/index.js';
import { closePlatformApps, createOn, PLATFORMS, type Platform } from './interceptor-platforms.js';
import { waitFor } from './helpers.js';

/** The data both applications share. */
const db = new Map<string, number>();

@Controller('docs')
@UseInterceptors(NearCacheInterceptor)
class DocsController {
  constructor(private readonly cache: NearCache) {}

  @Get(':id')
  doc(@Param('id') id: string): { version: number } {
    return { version: db.get(id) ?? 0 };
  }

  @Get('fresh/:id')
  @NearCacheMaxStaleness(0)
  fresh(@Param('id') id: string): { version: number } {
    return { version: db.get(id) ?? 0 };
  }

  @Put(':id')
  async update(@Param('id') id: string): Promise<{ version: number }> {
    db.set(id, (db.get(id) ?? 0) + 1);
    await this.cache.set(`doc:${id}`, db.get(id));
    await invalidateHttpRoute(this.cache, `/docs/${id}`);
    return { version: db.get(id)! };
  }

  @Post('noop')
  @HttpCode(204)
  noop(): void {}
}

describe.each(PLATFORMS)('NearCacheInterceptor on %s: session tokens', (platform: Platform) => {
  afterEach(async () => {
    db.clear();
    await closePlatformApps();
  });

  async function two(interceptor: NearCacheInterceptorOptions) {
    const broker = new InProcessBroker();
    const held = chaos(inProcessLog(broker));
    const options = { topic: 'session-test', logger: silentLogger, interceptor };
    const a = await createOn(platform, { imports: [NearCacheModule.forRoot({ ...options, log: inProcessLog(broker) })], controllers: [DocsController] });
    const b = await createOn(platform, { imports: [NearCacheModule.forRoot({ ...options, log: held })], controllers: [DocsController] });
    return { a: a.getHttpServer(), b: b.getHttpServer(), cacheA: a.get(NearCache), cacheB: b.get(NearCache), log: held.last! };
  }

  it('a write through A answers with the token; B, held behind the log, answers a read carrying it with the write, once it caught up', async () => {
    const { a, b, cacheA, cacheB, log } = await two({ sessionHeader: true, sessionWait: 10_000 });
    await request(b).get('/docs/1').expect(200);
    await waitFor(() => cacheA.has('http:GET /docs/1 http://127.0.0.1'));
    log.hold();
    const write = await request(a).put('/docs/1').expect(200);
    const token = write.headers['nearcache-session'] as string;
    expect(() => parseSessionToken(token)).not.toThrow();
    expect(cacheB.isCaughtUpTo(token)).toBe(false);
    expect((await request(b).get('/docs/1').expect(200)).body).toEqual({ version: 0 });
    const reading = request(b).get('/docs/1').set('NearCache-Session', token);
    setTimeout(() => log.release(), 20);
    const read = await reading;
    expect(read.status).toBe(200);
    expect(read.body).toEqual({ version: 1 });
    expect(read.headers['x-cache']).toBe('MISS');
  });

  it('a request without cache writes gets its own valid token back, or none; a bad token is ignored as if absent', async () => {
    const { a, b } = await two({ sessionHeader: 'X-Session' });
    expect((await request(a).post('/docs/noop').expect(204)).headers['x-session']).toBeUndefined();
    const token = (await request(b).put('/docs/2').expect(200)).headers['x-session'] as string;
    expect((await request(a).post('/docs/noop').set('X-Session', token).expect(204)).headers['x-session']).toBe(token);
    expect((await request(a).post('/docs/noop').set('X-Session', 'v1.nope').expect(204)).headers['x-session']).toBeUndefined();
    await request(a).get('/docs/2').expect(200);
    for (const bad of ['junk', `v1.${parseSessionToken(token).topic}.3-1`]) {
      const hit = await request(a).get('/docs/2').set('X-Session', bad).expect(200);
      expect(hit.headers['x-cache'], bad).toBe('HIT');
    }
  });

  it('@NearCacheMaxStaleness(0) on a route: a hit only in the millisecond of a confirmation, else the handler runs; other routes hit', async () => {
    const { a } = await two({});
    await request(a).get('/docs/3').expect(200);
    await request(a).get('/docs/fresh/3').expect(200);
    expect((await request(a).get('/docs/3').expect(200)).headers['x-cache']).toBe('HIT');
    // With a 0 ms bound, the reads wait for nothing: most are misses.
    const statuses: string[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await request(a).get('/docs/fresh/3').expect(200)).headers['x-cache'] as string);
    expect(statuses).toContain('MISS');
  });
});
