import { Module } from '@nestjs/common';
import { ConfigurableNearCacheModule } from './near-cache.module-definition.js';

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
export class NearCacheModule extends ConfigurableNearCacheModule {}
