import { Controller, Get, Headers, Injectable, Req, UseInterceptors, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import express, { type Express } from 'express';
import request from 'supertest';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createNearCache, encodeHttpEntry, httpCacheKey, NearCache, silentLogger } from '@nearcache/core';
import { cacheResponses, invalidatePrefix, invalidateRoute } from '@nearcache/express';
import { NearCacheInterceptor, NearCacheModule } from '@nearcache/nestjs';
import { KafkaTestClient } from '../helpers/kafka.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The HTTP caches are shared caches, across instances and across frameworks: an Express
 * instance and a Nest instance on one topic of a real broker, played against as a user and as
 * an attacker would.
 */
const nestRuns: Record<string, number> = {};
const who = (cookie: string | undefined): string => /sid=(\w+)/.exec(cookie ?? '')?.[1] ?? 'nobody';

@Controller()
@UseInterceptors(NearCacheInterceptor)
class AccountController {
  @Get('account')
  account(@Headers('cookie') cookie: string | undefined): string {
    nestRuns.account = (nestRuns.account ?? 0) + 1;
    return `account of ${who(cookie)}`;
  }

  @Get('links')
  links(@Req() req: { protocol: string; hostname: string }): string {
    return `<a href="${req.protocol}://${req.hostname}/home">home</a>`;
  }
}

@Injectable()
class BudgetInterceptor extends NearCacheInterceptor {
  protected override maxPathEntries = 10;
}

@Controller()
class SearchController {
  @Get('search')
  @UseInterceptors(BudgetInterceptor)
  search(@Req() req: { query: Record<string, string> }): string {
    return `results for ${req.query.q}`;
  }
}

describe('shared HTTP caches on a real broker: Express and Nest instances', () => {
  const client = new KafkaTestClient();
  let nestApp: INestApplication;
  let nestCache: NearCache;
  let expressCache: NearCache;
  let expressApp: Express;
  let expressRuns = 0;
  let topicName: string;

  beforeEach(async () => {
    for (const name of Object.keys(nestRuns)) delete nestRuns[name];
    expressRuns = 0;
    const topic = await client.createTopic({ partitions: 2 });
    const kafka = { brokers: client.brokers, logLevel: 'nothing' as const };
    const moduleRef = await Test.createTestingModule({
      imports: [NearCacheModule.forRoot({ topic, kafka, logger: silentLogger })],
      controllers: [AccountController, SearchController],
    }).compile();
    nestApp = moduleRef.createNestApplication({ logger: false });
    nestCache = nestApp.get(NearCache);
    await nestApp.init();

    expressCache = createNearCache({ topic, kafka, logger: silentLogger });
    expressApp = express();
    expressApp.use(cacheResponses(expressCache, { logger: silentLogger }));
    expressApp.get('/account', (req, res) => {
      expressRuns++;
      res.type('text/html').send(`account of ${who(req.headers.cookie)}`);
    });
    expressApp.get('/links', (req, res) => void res.type('text/html').send(`<a href="${req.protocol}://${req.hostname}/home">home</a>`));
    expressApp.get(
      '/search',
      cacheResponses(expressCache, { maxPathEntries: 10, logger: silentLogger }),
      (req, res) => void res.type('text/html').send(`results for ${String(req.query.q)}`),
    );
    expressApp.get('/products/:id', (req, res) => void res.json({ id: req.params.id }));
    await expressCache.ready();
    topicName = topic;
  });

  afterEach(async () => {
    await Promise.all([nestApp.close(), expressCache.close()]);
  });
  afterAll(() => client.close());

  const local = (path: string): string => httpCacheKey('GET', `http://127.0.0.1${path}`);

  it("alice's page is never stored: bob gets his own on both instances, the anonymous page stays anonymous", async () => {
    await request(expressApp).get('/account').set('Cookie', 'sid=alice').expect(200, 'account of alice');
    await request(nestApp.getHttpServer()).get('/account').set('Cookie', 'sid=alice').expect(200, 'account of alice');
    // An anonymous page, stored by Nest, proves the topic carried what was stored (and only that).
    await request(nestApp.getHttpServer()).get('/account').expect(200, 'account of nobody');
    await waitFor(() => expressCache.has(local('/account')), { timeout: 30_000, message: "Nest's anonymous entry on the Express instance" });
    const bob = await request(expressApp).get('/account').set('Cookie', 'sid=bob').expect(200, 'account of bob');
    expect(bob.headers['x-cache']).toBe('MISS');
    const anonymous = await request(expressApp).get('/account').expect(200, 'account of nobody');
    expect(anonymous.headers['x-cache']).toBe('HIT');
    expect({ express: expressRuns, nest: nestRuns.account }).toEqual({ express: 2, nest: 2 });
  });

  it("one host's page is never served to another host, across instances", async () => {
    await request(nestApp.getHttpServer()).get('/links').set('Host', 'a.example').expect(200, '<a href="http://a.example/home">home</a>');
    await waitFor(() => expressCache.has('http:GET /links http://a.example'), { timeout: 30_000, message: "Nest's entry on the Express instance" });
    const other = await request(expressApp).get('/links').set('Host', 'b.example').expect(200, '<a href="http://b.example/home">home</a>');
    expect(other.headers['x-cache']).toBe('MISS');
    const same = await request(expressApp).get('/links').set('Host', 'a.example').expect(200, '<a href="http://a.example/home">home</a>');
    expect(same.headers['x-cache']).toBe('HIT');
  });

  it('a record forged onto the topic is served without the headers the readers would not store', async () => {
    const forged = encodeHttpEntry({
      status: 200,
      headers: { 'content-type': 'text/html', refresh: '0; url=https://evil.example/', 'access-control-allow-origin': '*' },
      body: Buffer.from('forged'),
    });
    // Any writer of the topic: here the Express instance's cache, used directly.
    await expressCache.set(local('/links'), forged, { durable: true });
    await waitFor(() => nestCache.has(local('/links')), { timeout: 30_000, message: 'the forged record on the Nest instance' });
    for (const server of [expressApp, nestApp.getHttpServer()]) {
      const hit = await request(server).get('/links').expect(200, 'forged');
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(hit.headers).not.toHaveProperty('refresh');
      expect(hit.headers).not.toHaveProperty('access-control-allow-origin');
    }
  });

  it('a flood of query strings on both instances stores at most the path budget; a fresh instance holds no more', async () => {
    for (let i = 0; i < 150; i++)
      await request(i % 2 === 0 ? expressApp : nestApp.getHttpServer())
        .get(`/search?q=${i}`)
        .expect(200, `results for ${i}`);
    await expressCache.flush();
    await nestCache.flush();
    const searchKeys = (cache: NearCache): string[] => [...cache.keys()].filter((key) => key.startsWith('http:GET /search?'));
    await waitFor(() => searchKeys(expressCache).length === searchKeys(nestCache).length, { timeout: 30_000, message: 'both instances to agree' });
    // Each instance enforces the budget on what it has seen: with two writers, at most twice the
    // budget (stores racing within the replication lag), and far fewer than the 150 requested.
    for (const cache of [expressCache, nestCache]) expect(searchKeys(cache).length).toBeLessThanOrEqual(20);
    expect((await request(nestApp.getHttpServer()).get('/search?q=0').expect(200)).headers['x-cache']).toBe('HIT');
    const fresh = createNearCache({ topic: topicName, kafka: { brokers: client.brokers, logLevel: 'nothing' as const }, logger: silentLogger });
    try {
      await fresh.ready({ timeout: 30_000 });
      expect(searchKeys(fresh).length).toBeLessThanOrEqual(20);
    } finally {
      await fresh.close();
    }
  });

  it('invalidations write tombstones and clear records keyed by prefix, and reach the other instance', async () => {
    for (let i = 0; i < 5; i++) {
      await request(nestApp.getHttpServer()).get(`/products/${i}`).expect(404); // Nest has no such route: nothing stored
      await request(expressApp).get(`/products/${i}`).expect(200);
      await request(expressApp).get(`/products/${i}?lang=fr`).expect(200);
    }
    const productKeys = (cache: NearCache): string[] => [...cache.keys()].filter((key) => key.startsWith('http:GET /products/'));
    await waitFor(() => productKeys(nestCache).length === 10, { timeout: 30_000, message: 'the entries on the Nest instance' });
    for (let round = 0; round < 20; round++) await invalidateRoute(nestCache, `/products/${round % 5}`, { durable: true });
    await invalidatePrefix(nestCache, '/', { durable: true });
    await waitFor(() => productKeys(expressCache).length === 0, { timeout: 30_000, message: 'the invalidations on the Express instance' });
    const records = await client.readAll(topicName);
    const clears = records.map((record) => (record.key === null ? '' : Buffer.from(record.key).toString())).filter((key) => key.startsWith('\u0000nc:clear:'));
    // One key per prefix (four per route, one for the URL prefix), whatever the number of invalidations: the cleaner keeps the latest of each.
    expect(new Set(clears).size).toBe(5 * 4 + 1);
  });
});
