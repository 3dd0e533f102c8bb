import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { NearCacheExplorer } from './near-cache.explorer.js';
import { NearCacheHealthIndicator } from './near-cache.health.js';
import { NearCacheRegistry } from './near-cache.registry.js';

/**
 * @internal One per application, whatever the number of `NearCacheModule.forRoot()` calls: the
 * registry of caches, the explorer that binds decorated methods (once), the health indicator.
 * Global, so that decorated providers, the interceptor and the health indicator work in every
 * module.
 */
@Global()
@Module({
  imports: [DiscoveryModule],
  providers: [NearCacheRegistry, NearCacheExplorer, NearCacheHealthIndicator],
  exports: [NearCacheRegistry, NearCacheExplorer, NearCacheHealthIndicator],
})
export class NearCacheCoreModule {}
