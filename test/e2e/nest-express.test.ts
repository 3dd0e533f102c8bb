import { Controller, Get, HttpCode, Injectable, Param, Put, UseInterceptors, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import express, { type Express } from 'express';
import request from 'supertest';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createNearCache, httpCacheKey, isHttpCachedResponse, NearCache, silentLogger } from '@nearcache/core';
import { cacheResponses } from '@nearcache/express';
import { Cached, CacheEvict, NearCacheInterceptor, NearCacheModule } from '@nearcache/nestjs';
import { KafkaTestClient } from '../helpers/kafka.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A Nest application and an Express application, each with its own cache and Kafka
 * connections, on one topic of a real broker. Call counters prove which side ran.
 *
 * - HTTP responses: the Nest app caches its GET responses with `NearCacheInterceptor`, the
 *   Express app with `cacheResponses`. Both read and write core's HTTP entries under
 *   `http:GET <url> <scheme>://<host>`, so each serves the other's responses (see docs/nestjs.md and
 *   docs/express.md, "HTTP entries shared by Nest and Express").
 * - Values: `@Cached` / `@CacheEvict` on the Nest side and `req.nearCache` on the Express side
 *   use the same keys and plain JSON values.
 */
const nestCalls: Record<string, number> = {};
const countNest = (name: string): number => (nestCalls[name] = (nestCalls[name] ?? 0) + 1);
const pageKey = (id: string): string => httpCacheKey('GET', `http://127.0.0.1/pages/${id}`);

@Injectable()
class ProductService {
  @Cached({ key: 'product:{0}' })
  async find(id: string): Promise<{ id: string; by: string }> {
    countNest('find');
    return { id, by: 'nest' };
  }

  @CacheEvict({ key: 'product:{0}' })
  async update(id: string): Promise<void> {
    countNest('update');
    void id;
  }
}

@Injectable()
class PageService {
  /** Drops the cached response of the page, on every instance, whichever app stored it. */
  @CacheEvict({ key: (id: string) => pageKey(id) }) // the page on this host (supertest's 127.0.0.1)
  async update(id: string): Promise<void> {
    countNest('updatePage');
    void id;
  }
}

@Controller()
class ShopController {
  constructor(
    private readonly products: ProductService,
    private readonly pages: PageService,
  ) {}

  @Get('pages/:id')
  @UseInterceptors(NearCacheInterceptor)
  page(@Param('id') id: string): { page: string; by: string; run: number } {
    return { page: id, by: 'nest', run: countNest('page') };
  }

  @Put('pages/:id')
  @HttpCode(204)
  async updatePage(@Param('id') id: string): Promise<void> {
    await this.pages.update(id);
  }

  @Get('products/:id')
  product(@Param('id') id: string): Promise<{ id: string; by: string }> {
    return this.products.find(id);
  }

  @Put('products/:id')
  @HttpCode(204)
  async updateProduct(@Param('id') id: string): Promise<void> {
    await this.products.update(id);
  }
}

describe('a Nest app and an Express app on one topic of a real broker', () => {
  const client = new KafkaTestClient();
  const expressCalls: Record<string, number> = {};
  const countExpress = (name: string): number => (expressCalls[name] = (expressCalls[name] ?? 0) + 1);
  let nestApp: INestApplication;
  let nestCache: NearCache;
  let expressCache: NearCache;
  let expressApp: Express;

  beforeEach(async () => {
    for (const calls of [nestCalls, expressCalls]) for (const name of Object.keys(calls)) delete calls[name];
    const topic = await client.createTopic({ partitions: 1 });
    const kafka = { brokers: client.brokers, logLevel: 'nothing' as const };

    const moduleRef = await Test.createTestingModule({
      imports: [NearCacheModule.forRoot({ topic, kafka, logger: silentLogger })],
      controllers: [ShopController],
      providers: [ProductService, PageService],
    }).compile();
    nestApp = moduleRef.createNestApplication({ logger: false });
    nestCache = nestApp.get(NearCache);
    await nestApp.init(); // waits until the cache caught up with the topic

    expressCache = createNearCache({ topic, kafka, logger: silentLogger });
    expressApp = express();
    expressApp.use(cacheResponses(expressCache));
    expressApp.get('/pages/:id', (req, res) => void res.json({ page: req.params.id, by: 'express', run: countExpress('page') }));
    expressApp.put('/pages/:id', async (req, res) => {
      await req.nearCache.invalidateRoute(`/pages/${req.params.id}`);
      res.status(204).end();
    });
    expressApp.get('/products/:id', async (req, res) => {
      const id = String(req.params.id);
      res.json(await req.nearCache.wrap(`product:${id}`, () => ({ id, by: 'express', run: countExpress('product') })));
    });
    await expressCache.ready();
  });

  afterEach(async () => {
    await Promise.all([nestApp.close(), expressCache.close()]);
  });
  afterAll(() => client.close());

  it('a response cached by the Nest interceptor is a HIT on the Express app, and the other way round', async () => {
    const fromNest = await request(nestApp.getHttpServer()).get('/pages/1').expect(200);
    expect(fromNest.headers['x-cache']).toBe('MISS');
    expect(isHttpCachedResponse(nestCache.get(pageKey('1')))).toBe(true);
    await waitFor(() => expressCache.has(pageKey('1')), { timeout: 30_000, message: 'the Nest response on the Express side' });
    const onExpress = await request(expressApp).get('/pages/1').expect(200);
    expect(onExpress.headers['x-cache']).toBe('HIT');
    expect(onExpress.text).toBe(fromNest.text);
    expect(onExpress.body).toEqual({ page: '1', by: 'nest', run: 1 });
    expect(onExpress.headers['content-type']).toBe(fromNest.headers['content-type']);
    expect(onExpress.headers.etag).toBe(fromNest.headers.etag);
    expect(expressCalls.page).toBeUndefined();

    const fromExpress = await request(expressApp).get('/pages/2').expect(200);
    expect(fromExpress.headers['x-cache']).toBe('MISS');
    await waitFor(() => nestCache.has(pageKey('2')), { timeout: 30_000, message: 'the Express response on the Nest side' });
    const onNest = await request(nestApp.getHttpServer()).get('/pages/2').expect(200);
    expect(onNest.headers['x-cache']).toBe('HIT');
    expect(onNest.text).toBe(fromExpress.text);
    expect(onNest.body).toEqual({ page: '2', by: 'express', run: 1 });
    expect(onNest.headers['content-type']).toBe(fromExpress.headers['content-type']);
    expect(onNest.headers.etag).toBe(fromExpress.headers.etag);
    expect(nestCalls.page).toBe(1);
  });

  it('an invalidation on either app makes the other miss: invalidateRoute on Express, @CacheEvict on Nest', async () => {
    await request(nestApp.getHttpServer()).get('/pages/1').expect(200);
    await request(expressApp).get('/pages/2').expect(200);
    await waitFor(() => expressCache.has(pageKey('1')) && nestCache.has(pageKey('2')), { timeout: 30_000, message: 'each entry on the other side' });
    expect(nestCalls.page).toBe(1);
    expect(expressCalls.page).toBe(1);

    // Express invalidates the response the Nest app stored.
    await request(expressApp).put('/pages/1').expect(204);
    await waitFor(() => !nestCache.has(pageKey('1')), { timeout: 30_000, message: 'the Express invalidation on the Nest side' });
    const nestMiss = await request(nestApp.getHttpServer()).get('/pages/1').expect(200);
    expect(nestMiss.headers['x-cache']).toBe('MISS');
    expect(nestMiss.body).toEqual({ page: '1', by: 'nest', run: 2 });

    // Nest evicts the response the Express app stored.
    await request(nestApp.getHttpServer()).put('/pages/2').expect(204);
    expect(nestCalls.updatePage).toBe(1);
    await waitFor(() => !expressCache.has(pageKey('2')), { timeout: 30_000, message: 'the Nest eviction on the Express side' });
    const expressMiss = await request(expressApp).get('/pages/2').expect(200);
    expect(expressMiss.headers['x-cache']).toBe('MISS');
    expect(expressMiss.body).toEqual({ page: '2', by: 'express', run: 2 });
  });

  it('If-None-Match with the ETag one app sent gets a 304 from the other', async () => {
    const fromNest = await request(nestApp.getHttpServer()).get('/pages/3').expect(200);
    expect(fromNest.headers.etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/); // the interceptor's strong tag
    await waitFor(() => expressCache.has(pageKey('3')), { timeout: 30_000, message: 'the Nest response on the Express side' });
    const onExpress = await request(expressApp).get('/pages/3').set('If-None-Match', fromNest.headers.etag!).expect(304);
    expect(onExpress.headers['x-cache']).toBe('HIT');
    expect(onExpress.headers.etag).toBe(fromNest.headers.etag);
    expect(onExpress.text).toBe('');

    const fromExpress = await request(expressApp).get('/pages/4').expect(200);
    expect(fromExpress.headers.etag).toMatch(/^W\//); // Express's own weak tag, stored with the response
    await waitFor(() => nestCache.has(pageKey('4')), { timeout: 30_000, message: 'the Express response on the Nest side' });
    const onNest = await request(nestApp.getHttpServer()).get('/pages/4').set('If-None-Match', fromExpress.headers.etag!).expect(304);
    expect(onNest.headers['x-cache']).toBe('HIT');
    expect(onNest.headers.etag).toBe(fromExpress.headers.etag);
    expect(onNest.text).toBe('');
    // A tag that does not match gets the full response.
    await request(nestApp.getHttpServer()).get('/pages/4').set('If-None-Match', '"other"').expect(200, { page: '4', by: 'express', run: 1 });

    expect(nestCalls.page).toBe(1);
    expect(expressCalls.page).toBe(1);
  });

  it('@Cached on the Nest side reads a value req.nearCache wrote on the Express side; @CacheEvict makes Express reload it', async () => {
    // Response caching stays out of the way: distinct URLs are used for each read below.
    await request(expressApp).get('/products/7?read=1').expect(200, { id: '7', by: 'express', run: 1 });
    await waitFor(() => nestCache.get('product:7') !== undefined, { timeout: 30_000, message: 'product:7 on the Nest side' });

    const viaNest = await request(nestApp.getHttpServer()).get('/products/7?read=2').expect(200);
    expect(viaNest.body).toEqual({ id: '7', by: 'express', run: 1 });
    expect(nestCalls.find).toBeUndefined();

    await request(nestApp.getHttpServer()).put('/products/7').expect(204);
    expect(nestCalls.update).toBe(1);
    await waitFor(() => !expressCache.has('product:7'), { timeout: 30_000, message: 'the eviction on the Express side' });
    await request(expressApp).get('/products/7?read=3').expect(200, { id: '7', by: 'express', run: 2 });
  });

  it('req.nearCache on the Express side reads a value @Cached stored on the Nest side', async () => {
    await request(nestApp.getHttpServer()).get('/products/8?read=1').expect(200, { id: '8', by: 'nest' });
    expect(nestCalls.find).toBe(1);
    await waitFor(() => expressCache.get('product:8') !== undefined, { timeout: 30_000, message: 'product:8 on the Express side' });
    await request(expressApp).get('/products/8?read=2').expect(200, { id: '8', by: 'nest' });
    expect(expressCalls.product).toBeUndefined();
  });
});
