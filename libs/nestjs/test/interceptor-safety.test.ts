import { Controller, Get, Header, Headers, Injectable, Logger, Param, Req, UseInterceptors } from '@nestjs/common';
import { encodeHttpEntry, httpCacheKey, InProcessBroker, invalidateHttpPrefix, invalidateHttpRoute, InvalidOptionError, NearCache } from '@nearcache/core';
import request from 'supertest';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NearCacheInterceptor, NearCacheModule } from '../src/index.js';
import { closeApps, createApp, inProcess, waitFor } from './helpers.js';

/**
 * The interceptor's cache is shared by every instance: it applies core's shared-cache rules
 * (credentials, the origin in the key, normalised targets, served headers). Each test runs two
 * applications on one in-process topic (A and B) and plays a user or an attacker against them.
 */
let runs = 0;

const who = (cookie: string | undefined, apiKey?: string): string => /sid=(\w+)/.exec(cookie ?? '')?.[1] ?? apiKey ?? 'nobody';

@Controller('s')
@UseInterceptors(NearCacheInterceptor)
class SafetyController {
  @Get('account')
  account(@Headers('cookie') cookie: string | undefined, @Headers('x-api-key') apiKey: string | undefined): string {
    runs++;
    return `account of ${who(cookie, apiKey)}`;
  }

  @Get('public')
  @Header('Cache-Control', 'public, max-age=60')
  public(@Headers('cookie') cookie: string | undefined): string {
    runs++;
    return `catalogue seen by ${who(cookie)}`;
  }

  @Get('per-user')
  @Header('Vary', 'Cookie')
  perUser(@Headers('cookie') cookie: string | undefined): string {
    runs++;
    return `page of ${who(cookie)}`;
  }

  @Get('links')
  links(@Req() req: { protocol: string; hostname: string }): string {
    runs++;
    return `<a href="${req.protocol}://${req.hostname}/home">home</a>`;
  }

  @Get('products/:id')
  product(@Param('id') id: string): { id: string; run: number } {
    runs++;
    return { id, run: runs };
  }
}

@Injectable()
class AnalyticsTolerantInterceptor extends NearCacheInterceptor {
  protected override ignoreCookies = ['_ga'];
  protected override query = ['page'];
}

@Controller('t')
@UseInterceptors(AnalyticsTolerantInterceptor)
class TolerantController {
  @Get('account')
  account(@Headers('cookie') cookie: string | undefined): string {
    runs++;
    return `account of ${who(cookie)}`;
  }
}

@Injectable()
class BudgetInterceptor extends NearCacheInterceptor {
  protected override maxPathEntries = 3;
}

@Controller('b')
@UseInterceptors(BudgetInterceptor)
class BudgetController {
  @Get('search')
  search(@Req() req: { query: Record<string, string> }): string {
    runs++;
    return `results for ${req.query.q}`;
  }
}

@Injectable()
class BadCredentialsInterceptor extends NearCacheInterceptor {
  protected override credentialHeaders = ['bad header'];
}

@Controller('bad')
@UseInterceptors(BadCredentialsInterceptor)
class BadController {
  @Get()
  get(): string {
    return 'never';
  }
}

const local = (path: string): string => httpCacheKey('GET', `http://127.0.0.1${path}`);

async function twoInstances(): Promise<{ a: ReturnType<typeof request>; b: ReturnType<typeof request>; cacheA: NearCache; cacheB: NearCache }> {
  const broker = new InProcessBroker();
  const topic = `safety-${Math.random().toString(36).slice(2, 10)}`;
  const start = () =>
    createApp({ imports: [NearCacheModule.forRoot(inProcess(broker, topic))], controllers: [SafetyController, TolerantController, BudgetController] });
  const appA = await start();
  const appB = await start();
  return { a: request(appA.getHttpServer()), b: request(appB.getHttpServer()), cacheA: appA.get(NearCache), cacheB: appB.get(NearCache) };
}

const responseKeys = (cache: NearCache): string[] => [...cache.keys()].filter((key) => key.startsWith('http:')).sort();

describe('NearCacheInterceptor: a shared cache', () => {
  afterEach(async () => {
    runs = 0;
    vi.restoreAllMocks();
    await closeApps();
  });

  it("a request with a session cookie or an API key is neither stored nor served: nobody gets alice's account", async () => {
    const { a, b, cacheA } = await twoInstances();
    await a.get('/s/account').set('Cookie', 'sid=alice').expect(200, 'account of alice');
    const bob = await b.get('/s/account').set('Cookie', 'sid=bob').expect(200, 'account of bob');
    expect(bob.headers['x-cache']).toBe('MISS');
    await a.get('/s/account').set('X-Api-Key', 'alice-key').expect(200, 'account of alice-key');
    await b.get('/s/account').expect(200, 'account of nobody');
    expect(responseKeys(cacheA).filter((key) => key.includes('account'))).toHaveLength(responseKeys(cacheA).length);
    await waitFor(() => responseKeys(cacheA).length === 1, { message: 'the anonymous entry on A' });
    // The anonymous entry is not served to a request with credentials.
    const alice = await a.get('/s/account').set('Authorization', 'Bearer alice').set('Cookie', 'sid=alice').expect(200, 'account of alice');
    expect(alice.headers['x-cache']).toBe('MISS');
    expect(runs).toBe(5);
  });

  it('opt-ins: Cache-Control: public is shared with everyone, Vary: Cookie gives each session its own entry, ignored cookies are anonymous', async () => {
    const { a, b, cacheB } = await twoInstances();
    await a.get('/s/public').set('Cookie', 'sid=alice').expect(200, 'catalogue seen by alice');
    await a.get('/s/per-user').set('Cookie', 'sid=alice').expect(200, 'page of alice');
    await a.get('/s/per-user').set('Cookie', 'sid=bob').expect(200, 'page of bob');
    await a.get('/t/account').set('Cookie', '_ga=GA1.1').expect(200, 'account of nobody');
    await waitFor(() => responseKeys(cacheB).length === 5, { message: 'the entries on B' });
    const shared = await b.get('/s/public').set('Cookie', 'sid=bob').expect(200, 'catalogue seen by alice');
    const alice = await b.get('/s/per-user').set('Cookie', 'sid=alice').expect(200, 'page of alice');
    const bob = await b.get('/s/per-user').set('Cookie', 'sid=bob').expect(200, 'page of bob');
    const tolerant = await b.get('/t/account').expect(200, 'account of nobody');
    expect([shared, alice, bob, tolerant].map((response) => response.headers['x-cache'])).toEqual(['HIT', 'HIT', 'HIT', 'HIT']);
    expect(responseKeys(cacheB).some((key) => key.includes('alice') || key.includes('bob'))).toBe(false);
    expect(runs).toBe(4);
  });

  it('a hit serves only the headers the reader would have stored; an unsigned topic is reported once at start-up', async () => {
    const warn = vi.spyOn(Logger.prototype, 'warn');
    const { a, cacheB } = await twoInstances();
    expect(warn.mock.calls.filter(([message]) => /not signed/.test(String(message)))).toHaveLength(2);
    const forged = encodeHttpEntry({
      status: 200,
      headers: { 'content-type': 'text/html', refresh: '0; url=https://evil.example/', 'access-control-allow-origin': '*', 'x-frame-options': undefined },
      body: Buffer.from('<script>forged</script>'),
    });
    await cacheB.set(local('/s/account'), forged);
    await waitFor(() => cacheB.has(local('/s/account')), { message: 'the forged entry' });
    const hit = await a.get('/s/account').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers).not.toHaveProperty('refresh');
    expect(hit.headers).not.toHaveProperty('access-control-allow-origin');
    expect(hit.headers['content-type']).toMatch(/^text\/html/);
  });

  it('the key holds the host: one site never gets the page of another', async () => {
    const { a, b, cacheB } = await twoInstances();
    await a.get('/s/links').set('Host', 'a.example').expect(200, '<a href="http://a.example/home">home</a>');
    const other = await b.get('/s/links').set('Host', 'b.example').expect(200, '<a href="http://b.example/home">home</a>');
    expect(other.headers['x-cache']).toBe('MISS');
    await waitFor(() => cacheB.has('http:GET /s/links http://a.example'), { message: "A's entry on B" });
    expect((await b.get('/s/links').set('Host', 'a.example').expect(200)).headers['x-cache']).toBe('HIT');
  });

  it("the key's scheme and host are Express's req.protocol and req.hostname, with and without trust proxy and forwarding headers", async () => {
    const broker = new InProcessBroker();
    const topic = `origin-${Math.random().toString(36).slice(2, 10)}`;
    const start = () => createApp({ imports: [NearCacheModule.forRoot(inProcess(broker, topic))], controllers: [SafetyController] });
    const plain = await start();
    const trusting = await start();
    (trusting.getHttpAdapter().getInstance() as { set(name: string, value: unknown): void }).set('trust proxy', true);
    const cases: Array<{ app: typeof plain; headers: Record<string, string> }> = [
      { app: plain, headers: { Host: 'shop.example:8080' } },
      { app: plain, headers: { Host: '[::1]:3000' } },
      { app: plain, headers: { Host: 'direct.example', 'X-Forwarded-Host': 'evil.example', 'X-Forwarded-Proto': 'https' } },
      { app: trusting, headers: { Host: 'behind.example', 'X-Forwarded-Host': 'fwd.example, proxy.example', 'X-Forwarded-Proto': 'https' } },
      { app: trusting, headers: { Host: 'inner.example', 'X-Forwarded-Proto': 'https' } },
      { app: trusting, headers: { Host: 'inner.example', 'X-Forwarded-Host': 'only-host.example' } },
    ];
    for (const { app, headers } of cases) {
      const cache = app.get(NearCache);
      const before = new Set(cache.keys());
      let call = request(app.getHttpServer()).get('/s/links');
      for (const [name, value] of Object.entries(headers)) call = call.set(name, value);
      const response = await call.expect(200);
      const origin = /href="([^"]*)\/home"/.exec(response.text)?.[1];
      const added = [...cache.keys()].filter((key) => !before.has(key));
      expect(added, JSON.stringify(headers)).toEqual([`http:GET /s/links ${origin}`]);
      let again = request(app.getHttpServer()).get('/s/links');
      for (const [name, value] of Object.entries(headers)) again = again.set(name, value);
      expect((await again.expect(200, response.text)).headers['x-cache']).toBe('HIT');
      await waitFor(() => [plain, trusting].every((each) => each.get(NearCache).has(`http:GET /s/links ${origin}`)), { message: 'the entry on both apps' });
    }
  });

  it('one URL, one key: /s/products/%31 is /s/products/1; query allow-list of a subclass', async () => {
    const { a, cacheA } = await twoInstances();
    const first = await a.get('/s/products/1').expect(200);
    const encoded = await a.get('/s/products/%31').expect(200);
    expect(encoded.headers['x-cache']).toBe('HIT');
    expect(encoded.text).toBe(first.text);
    await a.get('/t/account?page=2&utm=x').expect(200);
    expect((await a.get('/t/account?utm=y&page=2').expect(200)).headers['x-cache']).toBe('HIT');
    expect(responseKeys(cacheA)).toEqual([local('/s/products/1'), local('/t/account?page=2')].sort());
  });

  it('maxPathEntries bounds the entries of one path: hundreds of query strings store no more, the first ones stay hits', async () => {
    const { a, b, cacheB } = await twoInstances();
    for (let i = 0; i < 200; i++) await (i % 2 === 0 ? a : b).get(`/b/search?q=${i}`).expect(200, `results for ${i}`);
    await waitFor(() => cacheB.has(local('/b/search?q=0')), { message: 'the first entry on B' });
    const held = responseKeys(cacheB).filter((key) => key.startsWith('http:GET /b/search'));
    expect(held.length).toBeLessThanOrEqual(4); // the budget, and at most one concurrent store of the other instance
    expect((await b.get('/b/search?q=0').expect(200, 'results for 0')).headers['x-cache']).toBe('HIT');
    expect((await a.get('/b/search?q=199').expect(200, 'results for 199')).headers['x-cache']).toBe('MISS');
  });

  it('a subclass with a bad credential, query or budget setting fails the start with InvalidOptionError', async () => {
    await expect(createApp({ imports: [NearCacheModule.forRoot(inProcess(new InProcessBroker()))], controllers: [BadController] })).rejects.toThrow(
      /NearCacheInterceptor \(BadCredentialsInterceptor\): option "credentialHeaders" must be an array of request header names/,
    );
    await expect(createApp({ imports: [NearCacheModule.forRoot(inProcess(new InProcessBroker()))], controllers: [BadController] })).rejects.toThrow(
      InvalidOptionError,
    );
  });

  it("core's invalidation helpers remove the interceptor's entries on every instance: one host, every host, every spelling", async () => {
    const { a, cacheA, cacheB } = await twoInstances();
    for (const host of ['a.example', 'b.example']) {
      await a.get('/s/products/1').set('Host', host).expect(200);
      await a.get('/s/products/1?lang=fr').set('Host', host).expect(200);
      await a.get('/s/products/%32').set('Host', host).expect(200);
    }
    await waitFor(() => responseKeys(cacheB).length === 6, { message: 'the entries on B' });
    await invalidateHttpRoute(cacheB, '/s/products/1', { host: 'a.example' });
    await waitFor(() => !cacheA.has('http:GET /s/products/1 http://a.example'), { message: 'the host invalidation on A' });
    expect(responseKeys(cacheA)).toEqual([
      'http:GET /s/products/1 http://b.example',
      'http:GET /s/products/2 http://a.example',
      'http:GET /s/products/2 http://b.example',
    ]);
    await invalidateHttpRoute(cacheB, '/s/products/%32');
    await waitFor(() => responseKeys(cacheA).length === 1, { message: 'the invalidation of every host on A' });
    await invalidateHttpPrefix(cacheB, '/s/');
    await waitFor(() => responseKeys(cacheA).length === 0, { message: 'the prefix invalidation on A' });
  });
});
