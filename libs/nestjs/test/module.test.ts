import { Inject, Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { BootstrapTimeoutError, createNearCache, InProcessBroker, inProcessLog, NearCache, silentLogger } from '@nearcache/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  Cached,
  getNearCacheToken,
  InjectNearCache,
  NEAR_CACHE,
  NearCacheModule,
  NearCacheRegistry,
  type NearCacheModuleOptions,
  type NearCacheOptionsFactory,
} from '../src/index.js';
import { closeApps, createApp, held, inProcess, waitFor } from './helpers.js';

/** Writes one entry to `topic`, so that a new cache on it has something to bootstrap. */
async function seed(broker: InProcessBroker, topic: string): Promise<void> {
  const cache = createNearCache({ topic, log: inProcessLog(broker), logger: silentLogger });
  await cache.ready();
  await cache.set('seed', 1);
  await cache.close();
}

const CONFIG = 'CONFIG';

@Module({ providers: [{ provide: CONFIG, useValue: { topic: 'configured-cache', ttl: 1234 } }], exports: [CONFIG] })
class ConfigModule {}

@Injectable()
class SessionStore {
  constructor(
    @InjectNearCache('sessions') readonly sessions: NearCache,
    readonly main: NearCache,
    @Inject(NEAR_CACHE) readonly byToken: NearCache,
  ) {}

  @Cached({ cache: 'sessions', key: 'session:{0}' })
  async session(id: string): Promise<{ id: string }> {
    return { id };
  }
}

@Injectable()
class UsesMissingCache {
  @Cached({ cache: 'nope' })
  async value(): Promise<number> {
    return 1;
  }
}

@Injectable()
class NeedsCache {
  constructor(readonly cache: NearCache) {}
}

@Module({ providers: [NeedsCache], exports: [NeedsCache] })
class FeatureModule {}

describe('NearCacheModule', () => {
  afterEach(closeApps);

  it('forRootAsync takes imports, inject and useFactory', async () => {
    const broker = new InProcessBroker();
    const app = await createApp({
      imports: [
        NearCacheModule.forRootAsync({
          imports: [ConfigModule],
          inject: [CONFIG],
          useFactory: (config: { topic: string; ttl: number }): NearCacheModuleOptions => ({ ...inProcess(broker, config.topic), ttl: config.ttl }),
        }),
      ],
    });
    const cache = app.get(NearCache);
    expect(cache.topic).toBe('configured-cache');
    expect(cache.state).toBe('live');
  });

  it('forRootAsync takes a useClass options factory', async () => {
    const broker = new InProcessBroker();
    class Options implements NearCacheOptionsFactory {
      createNearCacheOptions(): NearCacheModuleOptions {
        return inProcess(broker, 'class-configured');
      }
    }
    const app = await createApp({ imports: [NearCacheModule.forRootAsync({ useClass: Options })] });
    expect(app.get(NearCache).topic).toBe('class-configured');
  });

  it('registers several named caches; @InjectNearCache(name), injection by class and by token, @Cached({ cache })', async () => {
    const broker = new InProcessBroker();
    const app = await createApp({
      imports: [
        NearCacheModule.forRoot(inProcess(broker, 'main-cache')),
        NearCacheModule.forRoot({ name: 'sessions', ...inProcess(broker, 'sessions-cache') }),
      ],
      providers: [SessionStore],
    });
    const store = app.get(SessionStore);
    expect(store.main.topic).toBe('main-cache');
    expect(store.byToken).toBe(store.main);
    expect(store.sessions.topic).toBe('sessions-cache');
    expect(app.get(getNearCacheToken('sessions'))).toBe(store.sessions);
    expect(app.get(NearCacheRegistry).get('sessions')).toBe(store.sessions);

    await store.session('s1');
    expect(store.sessions.get('session:s1')).toEqual({ id: 's1' });
    expect(store.main.has('session:s1')).toBe(false);
  });

  it('refuses two caches of one name', async () => {
    const broker = new InProcessBroker();
    const create = vi.spyOn(NearCacheRegistry.prototype, 'create');
    const moduleRef = Test.createTestingModule({
      imports: [
        NearCacheModule.forRoot({ name: 'twice', ...inProcess(broker, 'one') }),
        NearCacheModule.forRoot({ name: 'twice', ...inProcess(broker, 'two') }),
      ],
    });
    await expect(moduleRef.compile()).rejects.toThrow(/a cache named "twice" is already registered/);
    // Refused before any cache was created.
    expect(create.mock.results.filter((r) => r.type === 'return')).toHaveLength(0);
    create.mockRestore();
  });

  it('fails the start when a decorator names a cache that is not registered', async () => {
    const create = vi.spyOn(NearCacheRegistry.prototype, 'create');
    await expect(createApp({ imports: [NearCacheModule.forRoot(inProcess(new InProcessBroker()))], providers: [UsesMissingCache] })).rejects.toThrow(
      /UsesMissingCache.value uses cache "nope"/,
    );
    // Refused before the cache was created.
    expect(create.mock.results.filter((r) => r.type === 'return')).toHaveLength(0);
    create.mockRestore();
  });

  it('with isGlobal, modules that do not import it inject the cache; without, they cannot', async () => {
    const broker = new InProcessBroker();
    const app = await createApp({ imports: [NearCacheModule.forRoot({ isGlobal: true, ...inProcess(broker) }), FeatureModule] });
    expect(app.get(NeedsCache).cache).toBe(app.get(NearCache));

    const create = vi.spyOn(NearCacheRegistry.prototype, 'create');
    const local = Test.createTestingModule({ imports: [NearCacheModule.forRoot(inProcess(broker, 'local')), FeatureModule] });
    await expect(local.compile()).rejects.toThrow(/NeedsCache/);
    await Promise.all(create.mock.results.filter((r) => r.type === 'return').map((r) => (r.value as NearCache).close()));
    create.mockRestore();
  });

  it('rejects invalid options with the typed error of the core', async () => {
    const moduleRef = Test.createTestingModule({ imports: [NearCacheModule.forRoot({ topic: 'bad topic', log: inProcessLog(new InProcessBroker()) })] });
    await expect(moduleRef.compile()).rejects.toMatchObject({ code: 'NC_INVALID_OPTION' });
  });
});

describe('NearCacheModule lifecycle', () => {
  afterEach(closeApps);

  it('the application does not finish starting until the cache caught up with its topic', async () => {
    const broker = new InProcessBroker();
    await seed(broker, 'lifecycle');
    const log = held(inProcessLog(broker));
    const app = await createApp({ imports: [NearCacheModule.forRoot({ topic: 'lifecycle', log, logger: silentLogger })] }, { init: false });
    const cache = app.get(NearCache);
    let stateAtStart: string | undefined;
    const init = app.init().then(() => {
      stateAtStart = cache.state;
    });
    await waitFor(() => (log.last?.held ?? 0) > 0, { message: 'the bootstrap batch to be held' });
    expect(stateAtStart).toBeUndefined();
    log.last!.release();
    await init;
    expect(stateAtStart).toBe('live');
    expect(cache.get('seed')).toBe(1);
  });

  it('fails the start after readyTimeout, and closes the cache', async () => {
    const broker = new InProcessBroker();
    await seed(broker, 'late');
    const app = await createApp(
      { imports: [NearCacheModule.forRoot({ topic: 'late', log: held(inProcessLog(broker)), logger: silentLogger, readyTimeout: 50 })] },
      { init: false },
    );
    const cache = app.get(NearCache);
    await expect(app.init()).rejects.toBeInstanceOf(BootstrapTimeoutError);
    expect(cache.state).toBe('closed');
  });

  it('with waitForReady: false, the application starts while the cache bootstraps', async () => {
    const broker = new InProcessBroker();
    await seed(broker, 'background');
    const log = held(inProcessLog(broker));
    const app = await createApp({ imports: [NearCacheModule.forRoot({ topic: 'background', log, logger: silentLogger, waitForReady: false })] });
    const cache = app.get(NearCache);
    expect(['starting', 'bootstrapping']).toContain(cache.state);
    log.last!.release();
    await cache.ready();
    expect(cache.get('seed')).toBe(1);
  });

  it('flushes and closes the caches on application shutdown', async () => {
    const broker = new InProcessBroker();
    const app = await createApp({
      imports: [NearCacheModule.forRoot(inProcess(broker, 'main')), NearCacheModule.forRoot({ name: 'other', ...inProcess(broker, 'other') })],
    });
    const main = app.get(NearCache);
    const other = app.get<NearCache>(getNearCacheToken('other'));
    await main.set('written-just-before-shutdown', 'v');
    await app.close();
    expect(main.state).toBe('closed');
    expect(other.state).toBe('closed');
    expect(broker.records('main').some((r) => r.key !== null && Buffer.from(r.key).toString() === 'written-just-before-shutdown')).toBe(true);
  });
});
