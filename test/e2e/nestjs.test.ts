import { Controller, Get, Injectable, Param, UseInterceptors, type INestApplication } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import { kafkaLog, NearCache, silentLogger, type KafkaLogOptions, type ReplicationLogFactory } from '@nearcache/core';
import { CacheEvict, Cached, NearCacheHealthIndicator, NearCacheInterceptor, NearCacheModule, type NearCacheModuleOptions } from '@nearcache/nestjs';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ChaosLog } from '../helpers/chaos.js';
import { KafkaTestClient } from '../helpers/kafka.js';
import { waitFor } from '../helpers/wait.js';

/** Method bodies run, counted over both applications (they share these classes). */
const runs = { product: 0, page: 0 };

@Injectable()
class CatalogService {
  readonly names = new Map<string, string>([['1', 'Lamp']]);

  @Cached({ key: 'product:{id}' })
  async product(id: string): Promise<{ id: string; name: string | undefined }> {
    runs.product++;
    return { id, name: this.names.get(id) };
  }

  @CacheEvict({ key: 'product:{id}' })
  async rename(id: string, name: string): Promise<void> {
    this.names.set(id, name);
  }
}

@Controller('pages')
@UseInterceptors(NearCacheInterceptor)
class PagesController {
  @Get(':slug')
  page(@Param('slug') slug: string): { slug: string; rendered: number } {
    runs.page++;
    return { slug, rendered: runs.page };
  }
}

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly nearCache: NearCacheHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.nearCache.isHealthy('nearcache')]);
  }
}

/**
 * Two Nest applications (as two instances of one service would be), each with its own cache and
 * Kafka connections, on one compacted topic of a real broker.
 */
describe('nestjs: two applications on one topic of a real broker', () => {
  const client = new KafkaTestClient();
  const kafka: KafkaLogOptions = { brokers: client.brokers, logLevel: 'nothing' };
  const apps: INestApplication[] = [];
  let topic: string;
  let appA: INestApplication;
  let appB: INestApplication;

  async function start(options: Partial<NearCacheModuleOptions> = {}, init = true): Promise<INestApplication> {
    const moduleRef = await Test.createTestingModule({
      imports: [TerminusModule, NearCacheModule.forRoot({ topic, kafka, logger: silentLogger, ...options })],
      providers: [CatalogService],
      controllers: [PagesController, HealthController],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    apps.push(app);
    if (init) await app.init();
    return app;
  }

  beforeAll(async () => {
    topic = await client.createTopic();
    appA = await start();
    // A writes before B starts: B's start waits for its bootstrap, so B starts warm.
    await appA.get(NearCache).set('written-before-b-started', 'A');
    await appA.get(NearCache).flush();
    appB = await start();
  });
  afterEach(() => {
    runs.product = 0;
    runs.page = 0;
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await client.close();
  });

  it('B did not finish starting before its cache caught up with the topic', () => {
    expect(appB.get(NearCache).state).toBe('live');
    expect(appB.get(NearCache).get('written-before-b-started')).toBe('A');
  });

  it('a @Cached method called on A is a hit on B: its body ran once across both', async () => {
    const [a, b] = [appA.get(CatalogService), appB.get(CatalogService)];
    expect(await a.product('1')).toEqual({ id: '1', name: 'Lamp' });
    expect(runs.product).toBe(1);
    await waitFor(() => appB.get(NearCache).has('product:1'), { message: 'product:1 to reach B' });
    expect(await b.product('1')).toEqual({ id: '1', name: 'Lamp' });
    expect(runs.product).toBe(1);
  });

  it('@CacheEvict on B makes A miss', async () => {
    const [a, b] = [appA.get(CatalogService), appB.get(CatalogService)];
    await a.product('1');
    await waitFor(() => appB.get(NearCache).has('product:1'), { message: 'product:1 to reach B' });
    const before = runs.product;

    await b.rename('1', 'Desk lamp');
    await waitFor(() => !appA.get(NearCache).has('product:1'), { message: 'the eviction to reach A' });
    a.names.set('1', 'Desk lamp'); // A's own data source, as a shared database would be
    expect(await a.product('1')).toEqual({ id: '1', name: 'Desk lamp' });
    expect(runs.product).toBe(before + 1);
  });

  it('the interceptor answers HIT on B for a GET first served by A', async () => {
    const first = await request(appA.getHttpServer()).get('/pages/about?lang=en').expect(200);
    expect(first.headers['x-cache']).toBe('MISS');
    await waitFor(() => appB.get(NearCache).has('http:GET /pages/about?lang=en http://127.0.0.1'), { message: 'the response to reach B' });
    const second = await request(appB.getHttpServer()).get('/pages/about?lang=en').expect(200);
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.body).toEqual(first.body);
    expect(runs.page).toBe(1);
  });

  it('the health indicator reports down during bootstrap and up after', async () => {
    // A third instance whose consumer holds every batch until released: it stays bootstrapping.
    let log: ChaosLog | undefined;
    const factory: ReplicationLogFactory = (context) => {
      log = new ChaosLog(kafkaLog(kafka)(context));
      log.hold();
      return log;
    };
    const appC = await start({ kafka: undefined, log: factory, waitForReady: false });
    const cacheC = appC.get(NearCache);
    expect(cacheC.state).not.toBe('live');

    const down = await request(appC.getHttpServer()).get('/health').expect(503);
    expect(down.body.error.nearcache).toMatchObject({ status: 'down' });
    expect(['starting', 'bootstrapping']).toContain(down.body.error.nearcache.state);

    log!.release();
    await cacheC.ready({ timeout: 60_000 });
    const up = await request(appC.getHttpServer()).get('/health').expect(200);
    expect(up.body.info.nearcache).toMatchObject({ status: 'up', state: 'live' });
    expect(cacheC.get('written-before-b-started')).toBe('A');
  });
});
