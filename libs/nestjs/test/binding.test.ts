import { Global, Injectable, Module, type DynamicModule, type OnModuleInit } from '@nestjs/common';
import { LazyModuleLoader } from '@nestjs/core';
import { InProcessBroker, inProcessLog, NearCache, createNearCache, silentLogger } from '@nearcache/core';
import { afterEach, describe, expect, it } from 'vitest';
import { Cached, NearCacheModule } from '../src/index.js';
import { closeApps, createApp, held, inProcess, waitFor } from './helpers.js';

afterEach(closeApps);

describe('providers that would share default keys', () => {
  @Injectable()
  class ApiClient {
    constructor(readonly region: string) {}

    @Cached()
    async rates(currency: string): Promise<string> {
      return `${this.region} ${currency}`;
    }
  }

  @Module({})
  class RegionModule {
    static register(region: string): DynamicModule {
      return { module: RegionModule, providers: [{ provide: `CLIENT_${region}`, useFactory: () => new ApiClient(region) }], exports: [`CLIENT_${region}`] };
    }
  }

  function catalogClass(origin: string) {
    // Two classes of one name, in two modules.
    @Injectable()
    class Catalog {
      @Cached()
      async item(id: string): Promise<string> {
        return `${origin} ${id}`;
      }
    }
    return Catalog;
  }

  it('one class provided twice (a module registered twice) fails the start, naming both providers', async () => {
    const app = await createApp(
      { imports: [NearCacheModule.forRoot(inProcess(new InProcessBroker())), RegionModule.register('EU'), RegionModule.register('US')] },
      { init: false },
    );
    await expect(app.init()).rejects.toThrow(/ApiClient\.rates.*CLIENT_EU.*CLIENT_US|ApiClient\.rates.*CLIENT_US.*CLIENT_EU/s);
  });

  it('two classes of one name in two modules fail the start', async () => {
    const Shop = catalogClass('shop');
    const Archive = catalogClass('archive');
    @Module({ providers: [Shop], exports: [Shop] })
    class ShopModule {}
    @Module({ providers: [Archive], exports: [Archive] })
    class ArchiveModule {}
    const app = await createApp({ imports: [NearCacheModule.forRoot(inProcess(new InProcessBroker())), ShopModule, ArchiveModule] }, { init: false });
    await expect(app.init()).rejects.toThrow(/Catalog\.item.*ShopModule.*ArchiveModule/s);
  });
});

describe('binding along the prototype chain', () => {
  class BaseRepository {
    bodies = 0;

    @Cached({ key: 'entity:{0}' })
    async find(id: string): Promise<string> {
      this.bodies++;
      return `entity ${id}`;
    }
  }

  @Injectable()
  class LoggingRepository extends BaseRepository {
    overrides = 0;

    // Not decorated: calls the decorated base method.
    override async find(id: string): Promise<string> {
      this.overrides++;
      return super.find(id);
    }
  }

  it("a subclass overriding a decorated method and calling super is bound: the base method's @Cached applies", async () => {
    const app = await createApp({ imports: [NearCacheModule.forRoot(inProcess(new InProcessBroker()))], providers: [LoggingRepository] });
    const repository = app.get(LoggingRepository);
    expect(await repository.find('1')).toBe('entity 1');
    expect(await repository.find('1')).toBe('entity 1');
    expect(repository.overrides).toBe(2);
    expect(repository.bodies).toBe(1);
    expect(app.get(NearCache).get('entity:1')).toBe('entity 1');
  });
});

describe('providers of lazily loaded modules', () => {
  @Injectable()
  class Reports {
    bodies = 0;

    @Cached({ key: 'report:{0}' })
    async monthly(month: string): Promise<string> {
      this.bodies++;
      return `report ${month}`;
    }
  }

  @Module({ providers: [Reports] })
  class ReportsModule {}

  it('are bound at their first decorated call, on every instance', async () => {
    const broker = new InProcessBroker();
    const appA = await createApp({ imports: [NearCacheModule.forRoot(inProcess(broker))] });
    const appB = await createApp({ imports: [NearCacheModule.forRoot(inProcess(broker))] });
    const reportsA = (await appA.get(LazyModuleLoader).load(() => ReportsModule)).get(Reports);
    const reportsB = (await appB.get(LazyModuleLoader).load(() => ReportsModule)).get(Reports);
    expect(await reportsA.monthly('2026-01')).toBe('report 2026-01');
    expect(await reportsA.monthly('2026-01')).toBe('report 2026-01');
    expect(reportsA.bodies).toBe(1);
    await waitFor(() => appB.get(NearCache).has('report:2026-01'), { message: 'the entry to reach B' });
    expect(await reportsB.monthly('2026-01')).toBe('report 2026-01');
    expect(reportsB.bodies).toBe(0);
  });
});

describe('a user @Global() module imported before the cache module', () => {
  const seen: { state?: string; cached?: boolean } = {};

  @Injectable()
  class Warmup implements OnModuleInit {
    bodies = 0;

    constructor(readonly cache: NearCache) {}

    @Cached({ key: 'warm:{0}' })
    async load(id: string): Promise<string> {
      this.bodies++;
      return `warm ${id}`;
    }

    async onModuleInit(): Promise<void> {
      seen.state = this.cache.state;
      seen.cached = this.cache.has('seeded');
      await this.load('1');
    }
  }

  @Global()
  @Module({ providers: [Warmup], exports: [Warmup] })
  class WarmupModule {}

  it('runs its onModuleInit after the cache caught up, with its decorated methods bound', async () => {
    const broker = new InProcessBroker();
    const seeder = createNearCache({ topic: 'warm-cache', log: inProcessLog(broker), logger: silentLogger });
    await seeder.ready();
    await seeder.set('seeded', true);
    await seeder.close();

    const log = held(inProcessLog(broker));
    const app = await createApp(
      { imports: [WarmupModule, NearCacheModule.forRoot({ isGlobal: true, topic: 'warm-cache', log, logger: silentLogger })] },
      { init: false },
    );
    const init = app.init();
    await waitFor(() => (log.last?.held ?? 0) > 0, { message: 'the bootstrap batch to be held' });
    log.last!.release();
    await init;
    expect(seen).toEqual({ state: 'live', cached: true });
    expect(app.get(NearCache).get('warm:1')).toBe('warm 1');
    expect(await app.get(Warmup).load('1')).toBe('warm 1');
    expect(app.get(Warmup).bodies).toBe(1);
  });
});
