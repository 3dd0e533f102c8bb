import { Module, type DynamicModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { NearCache, silentLogger } from '@nearcache/core';
import { NearCacheModule, type NearCacheModuleOptions } from '@nearcache/nestjs';
import { Catalog } from '../catalog/catalog.js';
import { InstanceContext, type InstanceOptions } from '../shared/instance.js';
import { HealthController } from './health.controller.js';
import { InternalController } from './internal.controller.js';
import { MetricsController } from './metrics.controller.js';
import { ProductsController } from './products.controller.js';
import { ProductsService } from './products.service.js';

const WATCH_CACHE = Symbol('WATCH_CACHE');

/** The catalogue service: cached product pages, replicated evictions, a health endpoint. */
@Module({})
export class AppModule {
  static register(instance: InstanceContext, options: InstanceOptions): DynamicModule {
    const cacheOptions: NearCacheModuleOptions = {
      topic: options.topic,
      ttl: options.ttl ?? 300_000,
      readyTimeout: 60_000, // application start waits for the cache to catch up with the topic
      ...(options.log ? { log: options.log } : { kafka: { brokers: options.brokers ?? [], partitions: 3, clientId: `catalog-${options.name}` } }),
      ...(options.quiet ? { logger: silentLogger } : {}),
    };
    return {
      module: AppModule,
      imports: [TerminusModule.forRoot({ logger: !options.quiet }), NearCacheModule.forRoot(cacheOptions)],
      controllers: [ProductsController, HealthController, InternalController, MetricsController],
      providers: [
        ProductsService,
        { provide: Catalog, useValue: instance.catalog },
        { provide: InstanceContext, useValue: instance },
        // Created right after the cache: starts the clock of its bootstrap.
        { provide: WATCH_CACHE, inject: [NearCache], useFactory: (cache: NearCache) => instance.watch(cache) },
      ],
    };
  }
}
