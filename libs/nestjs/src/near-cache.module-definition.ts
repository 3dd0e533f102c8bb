import { ConfigurableModuleBuilder, type Provider } from '@nestjs/common';
import { NearCache } from '@nearcache/core';
import { DEFAULT_CACHE_NAME, getNearCacheToken, NEAR_CACHE, NEAR_CACHE_NAME } from './constants.js';
import type { NearCacheModuleExtras, NearCacheModuleOptions } from './interfaces.js';
import { NearCacheCoreModule } from './near-cache-core.module.js';
import { NearCacheExplorer } from './near-cache.explorer.js';
import { NearCacheRegistry } from './near-cache.registry.js';

export const {
  ConfigurableModuleClass: ConfigurableNearCacheModule,
  MODULE_OPTIONS_TOKEN: NEAR_CACHE_MODULE_OPTIONS,
  OPTIONS_TYPE: NEAR_CACHE_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: NEAR_CACHE_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<NearCacheModuleOptions>({ moduleName: 'NearCache' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createNearCacheOptions')
  .setExtras<NearCacheModuleExtras>({ isGlobal: false, name: DEFAULT_CACHE_NAME }, (definition, extras) => {
    const name = extras.name ?? DEFAULT_CACHE_NAME;
    const token = getNearCacheToken(name);
    const providers: Provider[] = [
      { provide: NEAR_CACHE_NAME, useValue: name },
      {
        provide: token,
        // The decorators are checked before the first cache connects.
        useFactory: (options: NearCacheModuleOptions, registry: NearCacheRegistry, explorer: NearCacheExplorer) =>
          registry.createOrAbort(name, options, () => explorer.precheck()),
        inject: [NEAR_CACHE_MODULE_OPTIONS, NearCacheRegistry, NearCacheExplorer],
      },
    ];
    const exports: Array<string | typeof NearCache> = [token];
    if (token === NEAR_CACHE) {
      // The default cache is also injectable by its class: `constructor(cache: NearCache)`.
      providers.push({ provide: NearCache, useExisting: NEAR_CACHE });
      exports.push(NearCache);
    }
    return {
      ...definition,
      global: extras.isGlobal === true,
      imports: [...(definition.imports ?? []), NearCacheCoreModule],
      providers: [...(definition.providers ?? []), ...providers],
      exports: [...(definition.exports ?? []), ...exports],
    };
  })
  .build();

/** What `NearCacheModule.forRoot()` takes: the cache options, plus `name` and `isGlobal`. */
export type NearCacheModuleRootOptions = typeof NEAR_CACHE_OPTIONS_TYPE;

/** What `NearCacheModule.forRootAsync()` takes: `imports`, `inject` and `useFactory` (or `useClass` / `useExisting`), plus `name` and `isGlobal`. */
export type NearCacheModuleAsyncOptions = typeof NEAR_CACHE_ASYNC_OPTIONS_TYPE;
