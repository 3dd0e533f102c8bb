// A small Nest service on nearcache, as a user writes one; the compat runner starts it twice on
// one topic (PORT, TOPIC, KAFKA_BROKERS; PLATFORM express or fastify) and drives it over HTTP.
import 'reflect-metadata';
import { Controller, Delete, Get, Injectable, Module, NotFoundException, Param, Put, Query, UseInterceptors } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Cached, CacheEvict, NearCache, NearCacheHealthIndicator, NearCacheInterceptor, NearCacheModule } from '@nearcache/nestjs';

let runs = 0;

@Injectable()
class ProductsService {
  @Cached({ key: 'product:{0}' })
  async product(id: string): Promise<{ id: string; by: number }> {
    return { id, by: process.pid };
  }

  @CacheEvict({ key: 'product:{0}' })
  async evict(id: string): Promise<{ evicted: string }> {
    return { evicted: id };
  }
}

@Controller()
class AppController {
  constructor(
    private readonly products: ProductsService,
    private readonly cache: NearCache,
  ) {}

  @Get('page/:id')
  @UseInterceptors(NearCacheInterceptor)
  page(@Param('id') id: string): { page: string; by: number; runs: number } {
    runs += 1;
    return { page: id, by: process.pid, runs };
  }

  @Get('product/:id')
  product(@Param('id') id: string) {
    return this.products.product(id);
  }

  @Delete('product/:id')
  evictProduct(@Param('id') id: string) {
    return this.products.evict(id);
  }

  /** Entries this process holds: how the runner waits for a write of the other process to arrive. */
  @Get('size')
  size(): { size: number } {
    return { size: this.cache.size };
  }

  @Put('value/:key')
  async put(@Param('key') key: string, @Query('v') v: string) {
    await this.cache.set(key, v);
    return { key, v };
  }

  @Get('value/:key')
  value(@Param('key') key: string) {
    const v = this.cache.get(key);
    if (v === undefined) throw new NotFoundException(`no value ${key}`);
    return { key, v };
  }

  @Delete('value/:key')
  async remove(@Param('key') key: string) {
    await this.cache.delete(key);
    return { deleted: key };
  }
}

/** The health check as docs/nestjs.md writes it: it must compile against the terminus of each Nest major. */
@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly nearCache: NearCacheHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.nearCache.isHealthy('nearcache')]);
  }
}

@Module({
  imports: [TerminusModule, NearCacheModule.forRoot({ topic: process.env.TOPIC!, kafka: { brokers: process.env.KAFKA_BROKERS!.split(',') }, ttl: 60_000 })],
  controllers: [AppController, HealthController],
  providers: [ProductsService],
})
class AppModule {}

async function main(): Promise<void> {
  const options = { logger: ['error', 'warn'] as ('error' | 'warn')[] };
  const app =
    process.env.PLATFORM === 'fastify' ? await NestFactory.create(AppModule, new FastifyAdapter(), options) : await NestFactory.create(AppModule, options);
  app.enableShutdownHooks();
  const port = Number(process.env.PORT);
  await app.listen(port, '127.0.0.1');
  console.log(`ready ${port}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
