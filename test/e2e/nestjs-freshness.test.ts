import { Controller, Get, Param, Put, UseInterceptors, type ExecutionContext, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { isHttpCachedResponse, NearCache, silentLogger, type StaleServed } from '@nearcache/core';
import { NearCacheGrace, NearCacheInterceptor, NearCacheModule, NearCacheTags, NearCacheTtl } from '@nearcache/nestjs';
import request from 'supertest';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { KafkaTestClient } from '../helpers/kafka.js';
import { waitFor } from '../helpers/wait.js';

/** What both applications read: the version of each item, and whether the database is down. */
const db = { versions: new Map<string, number>(), down: false, runs: 0 };

const itemTags = (context: ExecutionContext): string[] => [`item:${String(context.switchToHttp().getRequest<{ params: { id: string } }>().params.id)}`];

@Controller('items')
@UseInterceptors(NearCacheInterceptor)
class ItemsController {
  constructor(private readonly cache: NearCache) {}

  @Get(':id')
  @NearCacheTtl(1500)
  @NearCacheGrace(60_000)
  @NearCacheTags(itemTags)
  item(@Param('id') id: string): { id: string; version: number } {
    db.runs++;
    if (db.down) throw new Error('the database is down');
    return { id, version: db.versions.get(id) ?? 0 };
  }

  @Get('short/:id')
  @NearCacheTtl(2000)
  @NearCacheGrace(1000)
  short(@Param('id') id: string): { id: string; version: number } {
    return this.item(id);
  }

  @Put(':id')
  async update(@Param('id') id: string): Promise<{ version: number }> {
    db.versions.set(id, (db.versions.get(id) ?? 0) + 1);
    await this.cache.invalidateTags([`item:${id}`]);
    return { version: db.versions.get(id)! };
  }
}

/**
 * Grace and tags through `NearCacheInterceptor`: two Nest applications, each with its own cache on
 * one topic of a real broker. A response one stored is served in grace by the other when its
 * handler fails; a tag invalidation on one removes the tagged responses on the other.
 */
describe('nestjs: grace and tags across two applications', () => {
  const client = new KafkaTestClient();
  const apps: INestApplication[] = [];
  const key = (path: string): string => `http:GET ${path} http://127.0.0.1`;

  async function start(topic: string): Promise<{ server: unknown; cache: NearCache; stale: StaleServed[] }> {
    const moduleRef = await Test.createTestingModule({
      imports: [NearCacheModule.forRoot({ topic, kafka: { brokers: client.brokers, logLevel: 'nothing' }, logger: silentLogger })],
      controllers: [ItemsController],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    apps.push(app);
    await app.init();
    const cache = app.get(NearCache);
    const stale: StaleServed[] = [];
    cache.on('stale', (served) => stale.push(served));
    return { server: app.getHttpServer(), cache, stale };
  }

  async function pair() {
    const topic = await client.createTopic({ partitions: 2 });
    return { a: await start(topic), b: await start(topic) };
  }

  afterEach(async () => {
    Object.assign(db, { versions: new Map(), down: false, runs: 0 });
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });
  afterAll(() => client.close());

  it('B answers a failing handler with the response A stored, once it expired and within its grace; the failure is not stored', async () => {
    const { a, b } = await pair();
    db.versions.set('1', 7);
    expect(
      (
        await request(a.server as never)
          .get('/items/1')
          .expect(200)
      ).headers['x-cache'],
    ).toBe('MISS');
    await waitFor(() => b.cache.has(key('/items/1')), { timeout: 10_000, message: 'B holding the response' });
    await waitFor(() => !b.cache.has(key('/items/1')), { timeout: 10_000, message: 'the response expiring' });
    db.down = true;
    const served = await request(b.server as never)
      .get('/items/1')
      .expect(200);
    expect(served.headers['x-cache']).toBe('STALE');
    expect(served.body).toEqual({ id: '1', version: 7 });
    expect(b.stale).toEqual([expect.objectContaining({ key: key('/items/1'), reason: 'loader-failed' })]);
    expect(b.cache.stats().staleServed).toBe(1);
    expect(
      (
        await request(b.server as never)
          .get('/items/1')
          .expect(200)
      ).headers['x-cache'],
    ).toBe('STALE');
    expect(db.runs).toBe(3);
    expect(b.cache.get(key('/items/1'))).toBeUndefined();
  });

  it('past its grace, the response no longer answers: the failure is sent', async () => {
    const { a, b } = await pair();
    await request(a.server as never)
      .get('/items/short/2')
      .expect(200);
    await waitFor(() => b.cache.has(key('/items/short/2')), { timeout: 10_000, message: 'B holding the response' });
    const entry = b.cache.get(key('/items/short/2'));
    if (!isHttpCachedResponse(entry)) throw new Error('B holds no response');
    // The grace ends ttl + grace after the entry was stored (the set follows storedAt by at most a few ms).
    await waitFor(() => Date.now() > entry.storedAt + 2000 + 1000 + 250, { timeout: 10_000, message: 'the grace ending' });
    db.down = true;
    expect(
      (
        await request(b.server as never)
          .get('/items/short/2')
          .expect(500)
      ).headers['x-cache'],
    ).toBe('MISS');
    expect(b.cache.stats().staleServed).toBe(0);
  });

  it('a tag invalidation on B removes the tagged response on A, and only it', async () => {
    const { a, b } = await pair();
    await request(a.server as never)
      .get('/items/3')
      .expect(200);
    await request(a.server as never)
      .get('/items/4')
      .expect(200);
    await waitFor(() => b.cache.has(key('/items/3')) && b.cache.has(key('/items/4')), { timeout: 10_000, message: 'B holding both responses' });
    await request(b.server as never)
      .put('/items/3')
      .expect(200);
    expect(b.cache.has(key('/items/3'))).toBe(false);
    await waitFor(() => !a.cache.has(key('/items/3')), { timeout: 10_000, message: 'A dropping the tagged response' });
    expect(a.cache.has(key('/items/4'))).toBe(true);
    const fresh = await request(a.server as never)
      .get('/items/3')
      .expect(200);
    expect([fresh.headers['x-cache'], fresh.body]).toEqual(['MISS', { id: '3', version: 1 }]);
  });
});
