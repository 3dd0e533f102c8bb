import { Controller, Get, Injectable, Logger, Param, Scope, type INestApplication } from '@nestjs/common';
import { createNearCache, InProcessBroker, NearCache } from '@nearcache/core';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Cached, NearCacheModule } from '../src/index.js';
import { closeApps, createApp, deferred, inProcess, recordExpiry, waitFor } from './helpers.js';

const calls = new Map<string, number>();
const count = (name: string): number => calls.get(name) ?? 0;
const run = (name: string): number => {
  calls.set(name, count(name) + 1);
  return count(name);
};

@Injectable()
class UsersService {
  gate: Promise<void> | undefined;

  @Cached()
  async find(id: number, filter?: object): Promise<{ id: number; filter?: object; run: number }> {
    return { id, filter, run: run('find') };
  }

  @Cached({ key: 'user:{id}' })
  async byTemplate(id: string): Promise<string> {
    run('byTemplate');
    return `user ${id}`;
  }

  @Cached({ key: (a: number, b: number) => `sum:${a}+${b}` })
  sum(a: number, b: number): number {
    run('sum');
    return a + b;
  }

  @Cached()
  async slow(id: number): Promise<string> {
    run('slow');
    await this.gate;
    return `slow ${id}`;
  }

  @Cached()
  async flaky(id: number): Promise<string> {
    if (run('flaky') === 1) throw new Error('the first call fails');
    return `flaky ${id}`;
  }

  @Cached()
  flakySync(id: number): string {
    if (run('flakySync') === 1) throw new Error('the first call fails');
    return `flakySync ${id}`;
  }

  @Cached({ condition: (id: number) => id > 0 })
  async conditional(id: number): Promise<number> {
    return run('conditional');
  }

  @Cached({ unless: (result: string[]) => result.length === 0 })
  async search(query: string): Promise<string[]> {
    run('search');
    return query === 'none' ? [] : [query];
  }

  @Cached({ unless: (result: number) => result < 0 })
  signSync(n: number): number {
    run('signSync');
    return n;
  }

  @Cached({ ttl: 5000 })
  async short(): Promise<string> {
    return 'short';
  }

  @Cached()
  async long(): Promise<string> {
    return 'long';
  }

  @Cached()
  async nothing(): Promise<undefined> {
    run('nothing');
    return undefined;
  }

  @Cached({ key: (key: string) => key })
  async anyKey(key: string): Promise<string> {
    run('anyKey');
    return 'value';
  }

  @Cached({
    key: () => {
      throw new Error('no key for you');
    },
  })
  async brokenKey(): Promise<string> {
    run('brokenKey');
    return 'value';
  }
}

@Injectable()
class PricesService {
  /** Not `async`, but declared to return a promise. */
  @Cached({ key: 'price:{0}' })
  price(sku: string): Promise<number> {
    run('price');
    return Promise.resolve(sku.length);
  }

  @Cached({ key: 'label:{0}' })
  label(sku: string): string {
    run('label');
    return `SKU ${sku}`;
  }
}

class ReportsService {
  @Cached()
  async monthly(month: string): Promise<string> {
    run('monthly');
    return `report ${month}`;
  }
}

@Injectable({ scope: Scope.REQUEST })
class PerRequestService {
  @Cached()
  async compute(n: number): Promise<number> {
    run('perRequest');
    return n * 2;
  }
}

@Controller('items')
class ItemsController {
  @Cached()
  @Get(':id')
  async item(@Param('id') id: string): Promise<{ id: string; run: number }> {
    return { id, run: run('item') };
  }

  @Get(':id/details')
  @Cached({ key: 'details:{id}' })
  async details(@Param('id') id: string): Promise<{ id: string; run: number }> {
    return { id, run: run('details') };
  }
}

describe('@Cached', () => {
  let broker: InProcessBroker;
  let app: INestApplication;
  let users: UsersService;
  let cache: NearCache;

  beforeEach(async () => {
    calls.clear();
    broker = new InProcessBroker();
    app = await createApp({
      imports: [NearCacheModule.forRoot({ ...inProcess(broker), ttl: 60_000 })],
      providers: [UsersService, { provide: 'REPORTS', useFactory: () => new ReportsService() }],
      controllers: [ItemsController],
    });
    users = app.get(UsersService);
    cache = app.get(NearCache);
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await closeApps();
  });

  it('derives the default key from class, method and arguments, with object keys sorted', async () => {
    const first = await users.find(1, { b: 2, a: 1 });
    expect(cache.has('UsersService.find:[1,{"a":1,"b":2}]')).toBe(true);
    // Same arguments, keys in another order: the same entry, the body does not run again.
    expect(await users.find(1, { a: 1, b: 2 })).toEqual(first);
    expect(count('find')).toBe(1);
    // Other arguments: another key.
    await users.find(2);
    expect(count('find')).toBe(2);
    expect(cache.has('UsersService.find:[2]')).toBe(true);
    // A trailing undefined argument does not make another key.
    await users.find(2, undefined);
    expect(count('find')).toBe(2);
  });

  it('uses a key template or a key function instead', async () => {
    expect(await users.byTemplate('42')).toBe('user 42');
    expect(await users.byTemplate('42')).toBe('user 42');
    expect(count('byTemplate')).toBe(1);
    expect(cache.get('user:42')).toBe('user 42');

    expect(users.sum(1, 2)).toBe(3);
    expect(cache.get('sum:1+2')).toBe(3);
  });

  it('caches a sync method synchronously: it returns values, not promises, on a miss and on a hit', async () => {
    const miss = users.sum(2, 3);
    const hit = users.sum(2, 3);
    expect(miss).toBe(5);
    expect(hit).toBe(5);
    expect(count('sum')).toBe(1);
  });

  it('runs the body once for concurrent calls with one key, and hands every caller its result', async () => {
    const gate = deferred<void>();
    users.gate = gate.promise;
    const pending = [users.slow(7), users.slow(7), users.slow(7)];
    gate.resolve();
    expect(await Promise.all(pending)).toEqual(['slow 7', 'slow 7', 'slow 7']);
    expect(count('slow')).toBe(1);
  });

  it('never caches an error, async or sync: the next call runs the body again', async () => {
    await expect(users.flaky(1)).rejects.toThrow('the first call fails');
    expect(cache.has('UsersService.flaky:[1]')).toBe(false);
    expect(await users.flaky(1)).toBe('flaky 1');
    expect(count('flaky')).toBe(2);
    expect(await users.flaky(1)).toBe('flaky 1');
    expect(count('flaky')).toBe(2);

    expect(() => users.flakySync(1)).toThrow('the first call fails');
    expect(users.flakySync(1)).toBe('flakySync 1');
    expect(count('flakySync')).toBe(2);
  });

  it('bypasses the cache when condition returns false', async () => {
    await users.conditional(-1);
    await users.conditional(-1);
    expect(count('conditional')).toBe(2);
    expect(cache.has('UsersService.conditional:[-1]')).toBe(false);

    await users.conditional(1);
    await users.conditional(1);
    expect(count('conditional')).toBe(3);
  });

  it('does not store a result that unless vetoes, async and sync, and returns it all the same', async () => {
    expect(await users.search('none')).toEqual([]);
    expect(await users.search('none')).toEqual([]);
    expect(count('search')).toBe(2);
    expect(await users.search('ada')).toEqual(['ada']);
    expect(await users.search('ada')).toEqual(['ada']);
    expect(count('search')).toBe(3);

    expect(users.signSync(-1)).toBe(-1);
    expect(users.signSync(-1)).toBe(-1);
    expect(count('signSync')).toBe(2);
    expect(users.signSync(1)).toBe(1);
    expect(users.signSync(1)).toBe(1);
    expect(count('signSync')).toBe(3);
  });

  it('does not cache a result whose key another instance wrote while the method ran (a fenced load)', async () => {
    const other = createNearCache({ ...inProcess(broker), closeTimeout: 1000 });
    try {
      await other.ready();
      const gate = deferred<void>();
      users.gate = gate.promise;
      const loading = users.slow(7);
      await other.set('UsersService.slow:[7]', 'written meanwhile', { durable: true });
      await waitFor(() => cache.get('UsersService.slow:[7]') === 'written meanwhile');
      gate.resolve();
      expect(await loading).toBe('slow 7');
      expect(cache.get('UsersService.slow:[7]')).toBe('written meanwhile');
      await cache.flush();
      expect(broker.records('test-cache')).toHaveLength(1);
      // With no write in the way, the result is cached, here and on the other instance.
      users.gate = undefined;
      expect(await users.sum(2, 3)).toBe(5);
      await cache.flush();
      await waitFor(() => other.get('sum:2+3') === 5);
    } finally {
      await other.close();
    }
  });

  it("applies the decorator's ttl over the module's default ttl", async () => {
    const before = Date.now();
    await users.short();
    await users.long();
    const after = Date.now();
    await cache.flush();
    const short = recordExpiry(broker, 'test-cache', 'UsersService.short:[]')!;
    const long = recordExpiry(broker, 'test-cache', 'UsersService.long:[]')!;
    expect(short).toBeGreaterThanOrEqual(before + 5000);
    expect(short).toBeLessThanOrEqual(after + 5000);
    expect(long).toBeGreaterThanOrEqual(before + 60_000);
    expect(long).toBeLessThanOrEqual(after + 60_000);
  });

  it('does not cache undefined', async () => {
    await users.nothing();
    await users.nothing();
    expect(count('nothing')).toBe(2);
  });

  it('fails open: when the cache refuses the key, or the key function throws, the method runs and a warning is logged', async () => {
    const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    expect(await users.anyKey('k'.repeat(5000))).toBe('value');
    expect(await users.brokenKey()).toBe('value');
    expect(count('anyKey')).toBe(1);
    expect(count('brokenKey')).toBe(1);
    const messages = warn.mock.calls.map((c) => String(c[0]));
    expect(messages.some((m) => m.includes('UsersService.anyKey') && m.includes('uncached'))).toBe(true);
    expect(messages.some((m) => m.includes('UsersService.brokenKey') && m.includes('no key for you'))).toBe(true);
  });

  it('works on a provider made with useFactory', async () => {
    const reports = app.get<ReportsService>('REPORTS');
    await reports.monthly('2026-01');
    await reports.monthly('2026-01');
    expect(count('monthly')).toBe(1);
    expect(cache.has('ReportsService.monthly:["2026-01"]')).toBe(true);
  });

  it('works on controller routes, whichever side of @Get() it is on', async () => {
    const server = app.getHttpServer();
    const first = await request(server).get('/items/1').expect(200);
    const second = await request(server).get('/items/1').expect(200);
    expect(second.body).toEqual(first.body);
    expect(count('item')).toBe(1);
    await request(server).get('/items/1/details').expect(200);
    await request(server).get('/items/1/details').expect(200);
    expect(count('details')).toBe(1);
    expect(cache.has('details:1')).toBe(true);
  });

  it('skips a request-scoped provider with a warning: its methods run uncached', async () => {
    const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const scoped = await createApp({
      imports: [NearCacheModule.forRoot(inProcess(broker, 'scoped-cache'))],
      providers: [PerRequestService],
    });
    expect(warn.mock.calls.some((c) => String(c[0]).includes('PerRequestService is request-scoped'))).toBe(true);
    const service = await scoped.resolve(PerRequestService);
    expect(await service.compute(2)).toBe(4);
    expect(await service.compute(2)).toBe(4);
    expect(count('perRequest')).toBe(2);
  });

  it('leaves a method of an object Nest did not create uncached', async () => {
    const outside = new UsersService();
    await outside.byTemplate('9');
    await outside.byTemplate('9');
    expect(count('byTemplate')).toBe(2);
  });
});

describe('@Cached across two applications on one log', () => {
  afterEach(closeApps);

  it('a value cached by A is a hit on B: the body ran once, and B returns a promise or a value as the method declares', async () => {
    calls.clear();
    const broker = new InProcessBroker();
    const [appA, appB] = [
      await createApp({ imports: [NearCacheModule.forRoot(inProcess(broker))], providers: [PricesService] }),
      await createApp({ imports: [NearCacheModule.forRoot(inProcess(broker))], providers: [PricesService] }),
    ];
    const [a, b] = [appA.get(PricesService), appB.get(PricesService)];
    expect(await a.price('abc')).toBe(3);
    expect(a.label('abc')).toBe('SKU abc');
    await waitFor(() => appB.get(NearCache).has('price:abc') && appB.get(NearCache).has('label:abc'), { message: 'the entries to reach B' });

    const price = b.price('abc');
    expect(price).toBeInstanceOf(Promise);
    expect(await price).toBe(3);
    expect(b.label('abc')).toBe('SKU abc');
    expect(count('price')).toBe(1);
    expect(count('label')).toBe(1);
  });
});
