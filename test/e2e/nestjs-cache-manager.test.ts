import { CACHE_MANAGER, CacheInterceptor, CacheModule } from '@nestjs/cache-manager';
import { Controller, Get, UseInterceptors, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { NearCache, NearCacheKeyvStore, silentLogger } from '@nearcache/core';
import { NearCacheModule } from '@nearcache/nestjs';
import type { Cache } from 'cache-manager';
import Keyv from 'keyv';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaTestClient } from '../helpers/kafka.js';
import { waitFor } from '../helpers/wait.js';

let rendered = 0;

/** A controller cached with @nestjs/cache-manager's own interceptor. */
@Controller('news')
@UseInterceptors(CacheInterceptor)
class NewsController {
  @Get()
  latest(): { headline: string; rendered: number } {
    return { headline: 'Replicated caching arrives', rendered: ++rendered };
  }
}

/**
 * An application already on @nestjs/cache-manager switches to the replicated cache by changing
 * its store: two applications, each with its own cache on one topic of a real broker, share
 * what they write through CACHE_MANAGER.
 */
describe('@nestjs/cache-manager over NearCacheKeyvStore on a real broker', () => {
  const client = new KafkaTestClient();
  const apps: INestApplication[] = [];
  let appA: INestApplication;
  let appB: INestApplication;
  let managerA: Cache;
  let managerB: Cache;

  async function start(topic: string): Promise<INestApplication> {
    const moduleRef = await Test.createTestingModule({
      imports: [
        NearCacheModule.forRoot({ isGlobal: true, topic, kafka: { brokers: client.brokers, logLevel: 'nothing' }, logger: silentLogger }),
        CacheModule.registerAsync({
          inject: [NearCache],
          useFactory: (cache: NearCache) => ({ stores: [new Keyv({ store: new NearCacheKeyvStore(cache) })] }),
        }),
      ],
      controllers: [NewsController],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    apps.push(app);
    await app.init();
    return app;
  }

  beforeAll(async () => {
    const topic = await client.createTopic();
    [appA, appB] = await Promise.all([start(topic), start(topic)]);
    managerA = appA.get(CACHE_MANAGER);
    managerB = appB.get(CACHE_MANAGER);
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await client.close();
  });

  it('a value set through CACHE_MANAGER on A is read on B; a del on B reaches A', async () => {
    await managerA.set('greeting', { text: 'hello' }, 60_000);
    await waitFor(async () => (await managerB.get('greeting')) !== undefined, { message: 'greeting to reach B' });
    expect(await managerB.get('greeting')).toEqual({ text: 'hello' });
    expect(await managerB.ttl('greeting')).toBeGreaterThan(Date.now());

    await managerB.del('greeting');
    await waitFor(async () => (await managerA.get('greeting')) === undefined, { message: 'the delete to reach A' });
  });

  it('wrap() on A computes once; B gets the value without computing', async () => {
    let computed = 0;
    const compute = async (): Promise<number> => ++computed;
    expect(await managerA.wrap('answer', compute, 60_000)).toBe(1);
    await waitFor(async () => (await managerB.get('answer')) !== undefined, { message: 'answer to reach B' });
    expect(await managerB.wrap('answer', compute, 60_000)).toBe(1);
    expect(computed).toBe(1);
  });

  it("cache-manager's CacheInterceptor on B serves a response A computed", async () => {
    const first = await request(appA.getHttpServer()).get('/news').expect(200);
    await waitFor(async () => (await managerB.get('/news')) !== undefined, { message: 'the response to reach B' });
    const second = await request(appB.getHttpServer()).get('/news').expect(200);
    expect(second.body).toEqual(first.body);
    expect(rendered).toBe(1);
  });
});
