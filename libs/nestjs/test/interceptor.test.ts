import { Controller, Get, HttpCode, Injectable, NotFoundException, Param, Post, Query, UseInterceptors, type ExecutionContext } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { InProcessBroker, NearCache } from '@nearcache/core';
import request from 'supertest';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NearCacheInterceptor, NearCacheKey, NearCacheModule, NearCacheTtl } from '../src/index.js';
import { createOn, closePlatformApps, PLATFORMS } from './interceptor-platforms.js';
import { closeApps, inProcess, recordExpiry } from './helpers.js';

const calls = new Map<string, number>();
const run = (name: string): number => {
  calls.set(name, (calls.get(name) ?? 0) + 1);
  return calls.get(name)!;
};

@Controller('products')
@UseInterceptors(NearCacheInterceptor)
@NearCacheTtl(7000)
class ProductsController {
  @Get()
  list(@Query('page') page = '1'): { page: string; run: number } {
    return { page, run: run('list') };
  }

  @Get('featured')
  @NearCacheKey('products:featured')
  @NearCacheTtl(5000)
  featured(): { featured: boolean; run: number } {
    return { featured: true, run: run('featured') };
  }

  @Get('accepted')
  @HttpCode(202)
  accepted(): { run: number } {
    return { run: run('accepted') };
  }

  @Get('missing/:id')
  missing(@Param('id') id: string): never {
    run('missing');
    throw new NotFoundException(`no product ${id}`);
  }

  @Post()
  create(): { run: number } {
    return { run: run('create') };
  }
}

@Injectable()
class TenantInterceptor extends NearCacheInterceptor {
  protected override trackBy(context: ExecutionContext): string | undefined {
    const request = context.switchToHttp().getRequest<{ headers: Record<string, string>; originalUrl: string; method: string }>();
    if (request.method !== 'GET') return undefined;
    return `${request.headers['x-tenant'] ?? 'none'}:${request.originalUrl}`;
  }
}

@Controller('tenant')
@UseInterceptors(TenantInterceptor)
class TenantController {
  @Get()
  get(): { run: number } {
    return { run: run('tenant') };
  }
}

@Controller('global')
class GlobalController {
  @Get()
  get(): { run: number } {
    return { run: run('global') };
  }
}

describe.each(PLATFORMS)('NearCacheInterceptor on %s', (platform) => {
  afterEach(async () => {
    calls.clear();
    vi.restoreAllMocks();
    await closeApps();
    await closePlatformApps();
  });

  const start = async (broker = new InProcessBroker()) =>
    createOn(platform, { imports: [NearCacheModule.forRoot({ ...inProcess(broker), ttl: 60_000 })], controllers: [ProductsController, TenantController] });

  it('answers MISS, then HIT from the cache for the same URL, without running the handler again', async () => {
    const app = await start();
    const server = app.getHttpServer();
    const miss = await request(server).get('/products?page=2').expect(200);
    expect(miss.headers['x-cache']).toBe('MISS');
    const hit = await request(server).get('/products?page=2').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.body).toEqual(miss.body);
    expect(calls.get('list')).toBe(1);
    // The query is part of the key.
    expect((await request(server).get('/products?page=3').expect(200)).headers['x-cache']).toBe('MISS');
    // The key is the one Express's cacheResponses uses: prefix, GET and the URL as sent.
    expect(app.get(NearCache).has('http:GET /products?page=2 http://127.0.0.1')).toBe(true);
  });

  it('stores the status with the body and answers a hit with it', async () => {
    const app = await start();
    const server = app.getHttpServer();
    await request(server).get('/products/accepted').expect(202);
    expect(app.get(NearCache).get('http:GET /products/accepted http://127.0.0.1')).toMatchObject({ v: 1, status: 202 });
    const hit = await request(server).get('/products/accepted').expect(202);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.body).toEqual({ run: 1 });
    expect(calls.get('accepted')).toBe(1);
  });

  it('caches neither errors nor other methods than GET', async () => {
    const server = (await start()).getHttpServer();
    await request(server).get('/products/missing/9').expect(404);
    await request(server).get('/products/missing/9').expect(404);
    expect(calls.get('missing')).toBe(2);
    const post = await request(server).post('/products').expect(201);
    await request(server).post('/products').expect(201);
    expect(post.headers['x-cache']).toBeUndefined();
    expect(calls.get('create')).toBe(2);
  });

  it('uses the route key of @NearCacheKey, and the TTL of @NearCacheTtl (route over controller over module)', async () => {
    const broker = new InProcessBroker();
    const app = await start(broker);
    const server = app.getHttpServer();
    const before = Date.now();
    await request(server).get('/products/featured').expect(200);
    await request(server).get('/products?page=1').expect(200);
    const after = Date.now();
    const cache = app.get(NearCache);
    // The route key comes after the prefix, like every key the interceptor makes.
    expect(cache.has('http:products:featured')).toBe(true);
    await cache.flush();
    const featured = recordExpiry(broker, 'test-cache', 'http:products:featured')!;
    const list = recordExpiry(broker, 'test-cache', 'http:GET /products?page=1 http://127.0.0.1')!;
    expect(featured).toBeGreaterThanOrEqual(before + 5000);
    expect(featured).toBeLessThanOrEqual(after + 5000);
    expect(list).toBeGreaterThanOrEqual(before + 7000);
    expect(list).toBeLessThanOrEqual(after + 7000);
  });

  it('lets a subclass override trackBy', async () => {
    const server = (await start()).getHttpServer();
    await request(server).get('/tenant').set('x-tenant', 'a').expect(200);
    const otherTenant = await request(server).get('/tenant').set('x-tenant', 'b').expect(200);
    const sameTenant = await request(server).get('/tenant').set('x-tenant', 'a').expect(200);
    expect(otherTenant.headers['x-cache']).toBe('MISS');
    expect(sameTenant.headers['x-cache']).toBe('HIT');
    expect(calls.get('tenant')).toBe(2);
  });

  it('fails open: when the cache throws, the handler answers', async () => {
    const app = await start();
    vi.spyOn(app.get(NearCache), 'get').mockImplementation(() => {
      throw new Error('the cache is broken');
    });
    const server = app.getHttpServer();
    const first = await request(server).get('/products').expect(200);
    await request(server).get('/products').expect(200);
    expect(first.body).toMatchObject({ page: '1' });
    expect(first.headers['x-cache']).toBeUndefined();
    expect(calls.get('list')).toBe(2);
  });

  it('works as a global interceptor (APP_INTERCEPTOR)', async () => {
    const app = await createOn(platform, {
      imports: [NearCacheModule.forRoot(inProcess(new InProcessBroker()))],
      controllers: [GlobalController],
      providers: [{ provide: APP_INTERCEPTOR, useClass: NearCacheInterceptor }],
    });
    const server = app.getHttpServer();
    await request(server).get('/global').expect(200);
    expect((await request(server).get('/global').expect(200)).headers['x-cache']).toBe('HIT');
    expect(calls.get('global')).toBe(1);
  });
});
