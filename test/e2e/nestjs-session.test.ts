import { Controller, Get, HttpCode, Param, Post, Put, UseInterceptors, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { invalidateHttpRoute, kafkaLog, NearCache, parseSessionToken, silentLogger } from '@nearcache/core';
import { chaos, type ChaosLog } from '@nearcache/core/conformance';
import { NearCacheInterceptor, NearCacheMaxStaleness, NearCacheModule, type NearCacheInterceptorOptions } from '@nearcache/nestjs';
import request from 'supertest';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { KafkaTestClient } from '../helpers/kafka.js';
import { sleep, waitFor } from '../helpers/wait.js';

/** The database both applications share, and the GET handler runs per application. */
const db = new Map<string, number>();
const runs = new Map<NearCache, number>();

@Controller('items')
@UseInterceptors(NearCacheInterceptor)
class ItemsController {
  constructor(private readonly cache: NearCache) {}

  @Get(':id')
  item(@Param('id') id: string): { id: string; version: number } {
    runs.set(this.cache, (runs.get(this.cache) ?? 0) + 1);
    return { id, version: db.get(id) ?? 0 };
  }

  @Get('bounded/:id')
  @NearCacheMaxStaleness(500)
  bounded(@Param('id') id: string): { id: string; version: number } {
    return this.item(id);
  }

  @Put(':id')
  async update(@Param('id') id: string): Promise<{ version: number }> {
    const version = (db.get(id) ?? 0) + 1;
    db.set(id, version);
    // The write itself (a data key), and the cached response it makes stale.
    await this.cache.set(`item:${id}`, version);
    await invalidateHttpRoute(this.cache, `/items/${id}`);
    return { version };
  }

  @Post('noop')
  @HttpCode(204)
  noop(): void {}
}

/**
 * Session tokens and bounded staleness through `NearCacheInterceptor`: two Nest applications,
 * each with its own cache on one topic of a real broker; B's log is wrapped so that the test can
 * hold B behind the log or stall it.
 */
describe('nestjs: session tokens and maxStaleness across two applications', () => {
  const client = new KafkaTestClient();
  const apps: INestApplication[] = [];
  const HEADER = 'nearcache-session';

  async function start(topic: string, interceptor: NearCacheInterceptorOptions, log?: ReturnType<typeof chaos>): Promise<INestApplication> {
    const kafka = { brokers: client.brokers, logLevel: 'nothing' as const };
    const moduleRef = await Test.createTestingModule({
      imports: [NearCacheModule.forRoot({ topic, ...(log ? { log } : { kafka }), logger: silentLogger, lagPollInterval: 100, interceptor })],
      controllers: [ItemsController],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    apps.push(app);
    await app.init();
    return app;
  }

  async function pair(options: NearCacheInterceptorOptions, readerOptions: NearCacheInterceptorOptions = options) {
    const topic = await client.createTopic({ partitions: 2 });
    const factory = chaos(kafkaLog({ brokers: client.brokers, logLevel: 'nothing' }));
    const a = await start(topic, options);
    const b = await start(topic, readerOptions, factory);
    return { a: a.getHttpServer(), b: b.getHttpServer(), cacheA: a.get(NearCache), cacheB: b.get(NearCache), log: factory.last as ChaosLog };
  }

  /** Reads `path` through `server` until it is a hit. */
  async function cached(server: unknown, path: string): Promise<void> {
    await waitFor(async () => (await request(server as never).get(path)).headers['x-cache'] === 'HIT', { timeout: 10_000, message: `${path} cached` });
  }

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
    db.clear();
  });
  afterAll(() => client.close());

  it('a client that writes through A and reads through B with the token sees its own write, every time; without it, B serves the stale entry', async () => {
    const { a, b, cacheB, log } = await pair({ sessionHeader: true, sessionWait: 10_000 });
    let stale = 0;
    const rounds = 8;
    for (let round = 1; round <= rounds; round++) {
      const id = `n${round % 3}`;
      const before = await request(b).get(`/items/${id}`).expect(200);
      await cached(b, `/items/${id}`);
      // A holds the entry too: its invalidation removes what it holds.
      await cached(a, `/items/${id}`);
      log.hold();
      const write = await request(a).put(`/items/${id}`).expect(200);
      const token = write.headers[HEADER] as string | undefined;
      expect(token, 'the write response carries a token').toBeDefined();
      expect(cacheB.isCaughtUpTo(token!)).toBe(false);

      const withoutToken = await request(b).get(`/items/${id}`).expect(200);
      if (withoutToken.body.version < write.body.version) stale++;
      expect(withoutToken.body).toEqual(before.body);

      const reading = request(b).get(`/items/${id}`).set(HEADER, token!);
      const released = sleep(50).then(() => log.release());
      const withToken = await reading;
      await released;
      expect(withToken.status).toBe(200);
      expect(withToken.body.version).toBe(write.body.version);
      expect(withToken.headers['x-cache']).toBe('MISS');
    }
    // The test can fail: without the token, every read through the held-back B was stale.
    expect(stale).toBe(rounds);
  });

  it('a write that wrote nothing sends back the request token, or none; bad tokens are ignored as if absent', async () => {
    const { a, b } = await pair({ sessionHeader: 'X-Session' });
    expect((await request(a).post('/items/noop').expect(204)).headers['x-session']).toBeUndefined();
    const token = (await request(b).put('/items/q').expect(200)).headers['x-session'] as string;
    expect(() => parseSessionToken(token)).not.toThrow();
    expect((await request(a).post('/items/noop').set('X-Session', token).expect(204)).headers['x-session']).toBe(token);
    // Bad tokens: ignored on a write (none sent back) and on a read (the hit is served).
    expect((await request(a).post('/items/noop').set('X-Session', 'garbage').expect(204)).headers['x-session']).toBeUndefined();
    await request(a).get('/items/q').expect(200);
    await cached(a, '/items/q');
    const topic = parseSessionToken(token).topic;
    for (const bad of ['garbage', 'v1.zzzzzz.0-5', `v1.${topic}.9-5`, `v1.${topic}.1-1.0-1`]) {
      const read = await request(a).get('/items/q').set('X-Session', bad);
      expect(read.status, bad).toBe(200);
      expect(read.headers['x-cache'], bad).toBe('HIT');
    }
  });

  it('when B does not reach the token within sessionWait, the handler answers, bypassing the cache', async () => {
    const { a, b, log } = await pair({ sessionHeader: true }, { sessionHeader: true, sessionWait: 200 });
    await request(b).get('/items/t').expect(200);
    await cached(b, '/items/t');
    await cached(a, '/items/t');
    log.hold();
    const write = await request(a).put('/items/t').expect(200);
    const read = await request(b)
      .get('/items/t')
      .set(HEADER, write.headers[HEADER] as string)
      .expect(200);
    expect(read.body.version).toBe(write.body.version);
    expect(read.headers['x-cache']).toBe('MISS');
    // Not stored over B's entry: without the token B is still stale.
    expect((await request(b).get('/items/t').expect(200)).body.version).toBe(write.body.version - 1);
    log.release();
  });

  it('@NearCacheMaxStaleness: a stalled B answers from the handler; other routes still hit; B hits again once it reads', async () => {
    const { b, cacheA, cacheB, log } = await pair({});
    await cached(b, '/items/bounded/s');
    await cached(b, '/items/s');
    log.stall();
    await cacheA.set('other', 1, { durable: true });
    await waitFor(() => cacheB.staleness() > 500, { timeout: 10_000 });
    const before = runs.get(cacheB) ?? 0;
    expect((await request(b).get('/items/bounded/s').expect(200)).headers['x-cache']).toBe('MISS');
    expect(runs.get(cacheB)).toBe(before + 1);
    expect((await request(b).get('/items/s').expect(200)).headers['x-cache']).toBe('HIT');
    await log.unstall();
    await cached(b, '/items/bounded/s');
  });

  it('checks the settings when the module starts', async () => {
    const topic = await client.createTopic();
    await expect(start(topic, { sessionWait: 0 })).rejects.toThrow(/option "sessionWait" must be an integer from 1 to 60000, got 0/);
    await expect(start(topic, { sessionHeader: 'a b' })).rejects.toThrow(/option "sessionHeader" must be true/);
    expect(() => NearCacheMaxStaleness(-1)).toThrow(/@NearCacheMaxStaleness\(\) takes an integer number of ms from 0/);
  });
});
