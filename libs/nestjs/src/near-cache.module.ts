import { Module, type DynamicModule } from '@nestjs/common';
import { InvalidOptionError } from '@nearcache/core';
import { ConfigurableNearCacheModule, type NearCacheModuleAsyncOptions } from './near-cache.module-definition.js';

/** What `forRootAsync()` itself takes; the cache's options come from its factory. */
const ASYNC_OPTION_NAMES = ['imports', 'inject', 'useFactory', 'useClass', 'useExisting', 'provideInjectionTokensFrom', 'isGlobal', 'name'] as const;

/**
 * A replicated cache for a Nest application.
 *
 * ```ts
 * NearCacheModule.forRoot({ topic: 'app-cache', kafka: { brokers: ['kafka:9092'] } })
 * NearCacheModule.forRootAsync({ imports: [ConfigModule], inject: [ConfigService], useFactory: (config) => ({ ... }) })
 * NearCacheModule.forRoot({ name: 'sessions', topic: 'sessions-cache', ... }) // a second, named cache
 * ```
 *
 * The cache starts connecting when the module is created; module init waits until it caught up
 * with its topic (`waitForReady`, `readyTimeout`); application shutdown flushes and closes it.
 * `isGlobal` makes the cache injectable from every module; `@Cached`, `@CacheEvict`, `@CachePut`,
 * `NearCacheInterceptor` and `NearCacheHealthIndicator` work everywhere in any case.
 */
@Module({})
export class NearCacheModule extends ConfigurableNearCacheModule {
  /**
   * The cache with options built at start-up: `useFactory` (with `inject` and `imports`),
   * `useClass` or `useExisting`, plus `name` and `isGlobal`. Throws `InvalidOptionError` for an
   * option it does not take (the cache's own options go in what the factory returns).
   */
  static override forRootAsync(options: NearCacheModuleAsyncOptions): DynamicModule {
    if (typeof options === 'object' && options !== null) {
      for (const key of Object.keys(options)) {
        if (!(ASYNC_OPTION_NAMES as readonly string[]).includes(key)) {
          throw new InvalidOptionError(
            `unknown option "${key}" of NearCacheModule.forRootAsync(); its options are: ${ASYNC_OPTION_NAMES.join(', ')} (the cache's options go in what the factory returns)`,
          );
        }
      }
    }
    return super.forRootAsync(options);
  }
}
