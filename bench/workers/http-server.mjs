// One server of the `http` scenario, as a process of its own: `node http-server.mjs <kind>`.
// Every kind serves the example's product pages (`GET /products/:id`, apps/example) over the
// example's catalogue with a 20 ms data source, behind the example's request tracker (the
// middleware tagging pages with X-Served-From and Server-Timing), on 127.0.0.1, port chosen by
// the system. Kinds:
// - `nearcache-nest`: the example's Nest app (`NearCacheInterceptor` on the route);
// - `nearcache-express`: the example's Express app (`cacheResponses` on the route);
// - `cm-memory`: the same route in Nest with @nestjs/cache-manager's `CacheInterceptor`, on its
//   default in-memory store (a Keyv over a Map, in this process: nothing is replicated);
// - `cm-redis`: the same with a Redis store (`createKeyv` of @keyv/redis, REDIS_URL);
// - `uncached`: the same route in Nest without a cache: every request waits for the data source.
// The nearcache kinds run on an in-process log: a HIT does not touch the log, so Kafka would
// change nothing on the measured path. Tells the parent `{ event: 'listening', port }` over IPC,
// answers `{ cmd: 'cpu' }` with its CPU time, and closes when the parent disconnects.
import 'reflect-metadata';
import { Controller, Get, Inject, Module, NotFoundException, Param, UseInterceptors } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CacheInterceptor, CacheModule } from '@nestjs/cache-manager';
import { createKeyv } from '@keyv/redis';
import { inProcessLog, InProcessBroker } from '@nearcache/core';
import { InstanceContext, ProductNotFoundError, startExpressInstance, startNestInstance } from '@nearcache/example';

const kind = process.argv[2];
const DATA_DELAY_MS = 20;
const TTL_MS = 300_000;

async function startCacheManagerApp(name, { cache, stores }) {
  const instance = new InstanceContext(name, 'nest', { dataDelayMs: DATA_DELAY_MS });
  class ProductsController {
    constructor(catalog) {
      this.catalog = catalog;
    }
    async getProduct(id) {
      try {
        return await this.catalog.get(id);
      } catch (error) {
        throw error instanceof ProductNotFoundError ? new NotFoundException(error.message) : error;
      }
    }
  }
  const proto = ProductsController.prototype;
  Param('id')(proto, 'getProduct', 0);
  Reflect.defineMetadata('design:paramtypes', [String], proto, 'getProduct');
  const descriptor = Object.getOwnPropertyDescriptor(proto, 'getProduct');
  const decorators = [Get(':id'), ...(cache ? [UseInterceptors(CacheInterceptor)] : [])];
  Object.defineProperty(proto, 'getProduct', Reflect.decorate(decorators, proto, 'getProduct', descriptor) ?? descriptor);
  Inject('CATALOG')(ProductsController, undefined, 0);
  Reflect.decorate([Controller('products')], ProductsController);

  class AppModule {}
  Reflect.decorate(
    [
      Module({
        imports: cache ? [CacheModule.register({ ttl: TTL_MS, ...(stores ? { stores } : {}) })] : [],
        controllers: [ProductsController],
        providers: [{ provide: 'CATALOG', useValue: instance.catalog }],
      }),
    ],
    AppModule,
  );
  const app = await NestFactory.create(AppModule, { logger: false });
  app.use(instance.tracker.middleware()); // as the example's Nest app does
  await app.listen(0, '127.0.0.1');
  return { port: app.getHttpServer().address().port, close: () => app.close() };
}

async function start() {
  const common = { name: kind, port: 0, topic: 'bench.http', log: inProcessLog(new InProcessBroker()), dataDelayMs: DATA_DELAY_MS, ttl: TTL_MS, quiet: true };
  switch (kind) {
    case 'nearcache-nest':
      return startNestInstance(common);
    case 'nearcache-express':
      return startExpressInstance(common);
    case 'cm-memory':
      return startCacheManagerApp(kind, { cache: true });
    case 'cm-redis': {
      if (!process.env.REDIS_URL) throw new Error('cm-redis needs REDIS_URL');
      const store = createKeyv(process.env.REDIS_URL, { namespace: `bench-http-${process.pid}` });
      return startCacheManagerApp(kind, { cache: true, stores: [store] });
    }
    case 'uncached':
      return startCacheManagerApp(kind, { cache: false });
    default:
      throw new Error(`unknown server kind ${JSON.stringify(kind)}`);
  }
}

const server = await start();
let closing;
const close = () => {
  closing ??= Promise.resolve(server.close()).then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('disconnect', close);
process.once('SIGTERM', close);
// `cpu`: the CPU time this process used so far (user + system, µs), to measure what a pass cost the server.
process.on('message', (message) => {
  if (message?.cmd === 'cpu') {
    const { user, system } = process.cpuUsage();
    process.send({ event: 'cpu', us: user + system });
  }
});
process.send({ event: 'listening', port: server.port });
