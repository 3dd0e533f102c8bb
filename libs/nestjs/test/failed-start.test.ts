import { Injectable, Module, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { InProcessBroker, InvalidOptionError, isNearCacheError, type NearCache } from '@nearcache/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  Cached,
  DefaultKeyCollisionError,
  DuplicateCacheNameError,
  NearCacheModule,
  NearCacheRegistry,
  UnknownCacheError,
  UnresolvablePlaceholderError,
} from '../src/index.js';
import { inProcess } from './helpers.js';

@Injectable()
class WrongPlaceholder {
  @Cached({ key: 'p:{productId}' })
  async find(id: string): Promise<string> {
    return id;
  }
}

@Injectable()
class DefaultKeys {
  @Cached()
  async find(id: string): Promise<string> {
    return id;
  }
}

@Injectable()
class MissingCache {
  @Cached({ cache: 'sessions' })
  async find(id: string): Promise<string> {
    return id;
  }
}

/**
 * Starts an application context from `module` the way an application's `main` does, with the
 * error caught; returns the error and every cache the registry created.
 */
async function failedStart(module: Type): Promise<{ error: unknown; caches: NearCache[] }> {
  const create = vi.spyOn(NearCacheRegistry.prototype, 'create');
  let error: unknown;
  try {
    const app = await NestFactory.createApplicationContext(module, { abortOnError: false, logger: false });
    await app.close();
  } catch (caught) {
    error = caught;
  }
  const caches = create.mock.results.filter((r) => r.type === 'return').map((r) => r.value as NearCache);
  create.mockRestore();
  return { error, caches };
}

describe('a start that fails on an error of the module closes every cache first', () => {
  const broker = new InProcessBroker();
  afterEach(() => vi.restoreAllMocks());

  it('a placeholder that can never resolve', async () => {
    @Module({ imports: [NearCacheModule.forRoot(inProcess(broker, 'placeholder'))], providers: [WrongPlaceholder] })
    class App {}
    const { error, caches } = await failedStart(App);
    expect(error).toBeInstanceOf(UnresolvablePlaceholderError);
    expect(error).toMatchObject({ code: 'NC_UNRESOLVABLE_PLACEHOLDER' });
    // Found before any cache connected.
    expect(caches).toHaveLength(0);
  });

  it('two providers sharing default keys', async () => {
    @Module({
      imports: [NearCacheModule.forRoot(inProcess(broker, 'collision')), NearCacheModule.forRoot({ name: 'other', ...inProcess(broker, 'collision-other') })],
      providers: [DefaultKeys, { provide: 'SECOND', useClass: DefaultKeys }],
    })
    class App {}
    const { error, caches } = await failedStart(App);
    expect(error).toBeInstanceOf(DefaultKeyCollisionError);
    expect(error).toMatchObject({
      code: 'NC_DEFAULT_KEY_COLLISION',
      message: expect.stringMatching(/DefaultKeys\.find.*provider DefaultKeys.*provider SECOND/),
    });
    expect(caches).toHaveLength(2);
    expect(caches.map((cache) => cache.state)).toEqual(['closed', 'closed']);
  });

  it('two caches named "default"', async () => {
    @Module({ imports: [NearCacheModule.forRoot(inProcess(broker, 'first')), NearCacheModule.forRoot(inProcess(broker, 'second'))] })
    class App {}
    const { error, caches } = await failedStart(App);
    expect(error).toBeInstanceOf(DuplicateCacheNameError);
    expect(error).toMatchObject({ code: 'NC_DUPLICATE_CACHE_NAME', message: expect.stringMatching(/a cache named "default" .* is already registered/) });
    expect(caches).toHaveLength(0);
  });

  it('a decorator naming a cache no module registers', async () => {
    @Module({ imports: [NearCacheModule.forRoot(inProcess(broker, 'no-sessions'))], providers: [MissingCache] })
    class App {}
    const { error, caches } = await failedStart(App);
    expect(error).toBeInstanceOf(UnknownCacheError);
    expect(error).toMatchObject({ code: 'NC_UNKNOWN_CACHE', message: expect.stringMatching(/MissingCache\.find uses cache "sessions"/) });
    expect(caches).toHaveLength(0);
  });

  it('bad options of a second cache', async () => {
    @Module({
      imports: [NearCacheModule.forRoot(inProcess(broker, 'good')), NearCacheModule.forRoot({ name: 'bad', ...inProcess(broker, 'bad topic') })],
    })
    class App {}
    const { error, caches } = await failedStart(App);
    expect(isNearCacheError(error, 'NC_INVALID_OPTION')).toBe(true);
    expect(caches.map((cache) => cache.state)).toEqual(['closed']);
  });
});

describe('NearCacheRegistry errors', () => {
  it('get() of a cache no module registers throws UnknownCacheError', () => {
    const registry = new NearCacheRegistry();
    expect(() => registry.get('sessions')).toThrow(UnknownCacheError);
    expect(() => registry.get('sessions')).toThrow(/no cache named "sessions" is registered \(registered: none\)/);
  });
});

describe('unknown options of NearCacheModule', () => {
  const broker = new InProcessBroker();
  const everyName = /the options are: topic, kafka, log, .*signing, clock, snapshot, waitForReady, readyTimeout, interceptor, isGlobal, name$/;

  it.each([['readyTimout'], ['isGlobl']])('forRoot({ %s }) lists every option of the module', async (typo) => {
    @Module({ imports: [NearCacheModule.forRoot({ ...inProcess(broker, 'typo'), [typo]: 1 } as never)] })
    class App {}
    const { error, caches } = await failedStart(App);
    expect(error).toMatchObject({ code: 'NC_INVALID_OPTION', message: expect.stringMatching(new RegExp(`unknown option "${typo}" of cache "default"`)) });
    expect((error as Error).message).toMatch(everyName);
    expect(caches).toHaveLength(0);
  });

  it('forRootAsync: a typo in what the factory returns lists every option', async () => {
    @Module({ imports: [NearCacheModule.forRootAsync({ useFactory: () => ({ ...inProcess(broker, 'typo'), waitForRedy: false }) as never })] })
    class App {}
    const { error } = await failedStart(App);
    expect(error).toMatchObject({ code: 'NC_INVALID_OPTION', message: expect.stringMatching(/unknown option "waitForRedy"/) });
    expect((error as Error).message).toMatch(everyName);
  });

  it('forRootAsync: isGlobal returned by the factory is refused with where it belongs', async () => {
    @Module({ imports: [NearCacheModule.forRootAsync({ useFactory: () => ({ ...inProcess(broker, 'typo'), isGlobal: true }) as never })] })
    class App {}
    const { error } = await failedStart(App);
    expect(error).toMatchObject({
      code: 'NC_INVALID_OPTION',
      message: expect.stringMatching(/option "isGlobal" .* give it to forRootAsync\(\{ isGlobal, useFactory, \.\.\. \}\) itself/),
    });
  });
});

describe('unknown options of forRootAsync itself', () => {
  it('a typo beside useFactory throws InvalidOptionError listing what forRootAsync takes', () => {
    const call = (): unknown => NearCacheModule.forRootAsync({ isGlobl: true, useFactory: () => ({ topic: 't' }) } as never);
    expect(call).toThrow(InvalidOptionError);
    expect(call).toThrow(
      /unknown option "isGlobl" of NearCacheModule\.forRootAsync\(\); its options are: imports, inject, useFactory, useClass, useExisting, provideInjectionTokensFrom, isGlobal, name/,
    );
  });

  it('a cache option beside useFactory says where it goes', () => {
    expect(() => NearCacheModule.forRootAsync({ ttl: 5, useFactory: () => ({ topic: 't' }) } as never)).toThrow(
      /unknown option "ttl" .*the cache's options go in what the factory returns/,
    );
  });
});
