import type { Server } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { consoleLogger, createNearCache, silentLogger, type NearCache } from '@nearcache/core';
import { cacheResponses, nearCache } from '@nearcache/express';
import { InvalidProductChangesError, ProductNotFoundError } from '../catalog/catalog.js';
import { InstanceContext, type InstanceOptions, type RunningInstance } from '../shared/instance.js';
import { productKey, productPath } from '../shared/keys.js';

/**
 * The catalogue service as an Express app, on the same topic as the Nest app: product pages
 * cached by `cacheResponses`, the product values shared with the Nest app through
 * `req.nearCache.wrap`, and an update that invalidates everything about the product on every
 * instance.
 */
export function createExpressApp(instance: InstanceContext, cache: NearCache, options: Pick<InstanceOptions, 'ttl' | 'quiet'> = {}): express.Express {
  const ttl = options.ttl ?? 300_000;
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json());
  app.use(nearCache(cache)); // req.nearCache on every request
  app.use(instance.tracker.middleware());

  // The page of a product: a stored page is a hit, whichever instance stored it, Nest or Express;
  // on a miss, the product itself may already be cached (by @Cached on a Nest instance, say).
  app.get('/products/:id', cacheResponses(cache, { ttl, logger: options.quiet ? silentLogger : consoleLogger }), async (req, res, next) => {
    const id = String(req.params.id);
    try {
      res.json(await req.nearCache.wrap(productKey(id), () => instance.catalog.get(id), { ttl }));
    } catch (error) {
      next(error);
    }
  });

  // An update: the data source first, then every cached form of the product, on every instance.
  app.put('/products/:id', async (req, res, next) => {
    const id = String(req.params.id);
    try {
      const product = await instance.catalog.update(id, req.body);
      await Promise.all([
        req.nearCache.delete(productKey(id)), // the value (Nest @Cached and Express wrap)
        req.nearCache.invalidateRoute(productPath(id)), // its pages, with their query strings and variants
      ]);
      res.json(product);
    } catch (error) {
      next(error);
    }
  });

  app.get('/health', (_req, res) => {
    const { state, partitions } = cache.stats();
    const up = state === 'live' || state === 'degraded';
    const lagRecords = partitions.reduce((sum, p) => sum + p.lagRecords, 0);
    res
      .status(up ? 200 : 503)
      .json({ status: up ? 'ok' : 'error', info: { nearcache: { status: up ? 'up' : 'down', state, topic: cache.topic, lagRecords } } });
  });

  app.get('/metrics', (req, res) => instance.metrics.handle(req, res)); // Prometheus text format
  app.get('/internal/stats', (_req, res) => void res.json(instance.stats()));
  app.post('/internal/stats/reset', (_req, res) => {
    instance.tracker.reset();
    res.status(204).end();
  });
  app.get('/internal/entry', (req, res) => {
    const key = req.query.key;
    if (typeof key !== 'string' || key.length === 0) {
      res.status(400).json({ message: 'give ?key=<cache key>' });
      return;
    }
    res.json(instance.entry(key));
  });

  app.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    if (error instanceof ProductNotFoundError) res.status(404).json({ statusCode: 404, message: error.message });
    else if (error instanceof InvalidProductChangesError) res.status(400).json({ statusCode: 400, message: error.message });
    else if ((error as { type?: string }).type === 'entity.parse.failed') res.status(400).json({ statusCode: 400, message: 'the body is not valid JSON' });
    else {
      if (!options.quiet) console.error(error);
      res.status(500).json({ statusCode: 500, message: 'internal error' });
    }
  });
  return app;
}

/** Starts the Express app: creates the cache, waits until it caught up with the topic, then listens. */
export async function startExpressInstance(options: InstanceOptions): Promise<RunningInstance & { server: Server }> {
  const instance = new InstanceContext(options.name, 'express', options);
  const cache = createNearCache({
    topic: options.topic,
    ttl: options.ttl ?? 300_000,
    ...(options.log ? { log: options.log } : { kafka: { brokers: options.brokers ?? [], partitions: 3, clientId: `catalog-${options.name}` } }),
    logger: options.quiet ? silentLogger : consoleLogger,
  });
  instance.watch(cache);
  let server: Server | undefined;
  try {
    await cache.ready({ timeout: 60_000 }); // warm before the first request
    const app = createExpressApp(instance, cache, options);
    server = await new Promise<Server>((resolve, reject) => {
      const listening = app.listen(options.port, options.host ?? '127.0.0.1', (error?: Error) => (error ? reject(error) : resolve(listening)));
      listening.once('error', reject);
    });
  } catch (error) {
    server?.close();
    await cache.close().catch(() => undefined);
    throw error;
  }
  instance.listening();
  const port = (server.address() as { port: number }).port;
  let closing: Promise<void> | undefined;
  const open = server;
  return {
    name: options.name,
    framework: 'express',
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    port,
    cache,
    catalog: instance.catalog,
    server: open,
    close: () =>
      (closing ??= (async () => {
        await new Promise<void>((resolve) => {
          open.close(() => resolve());
          open.closeIdleConnections();
          setTimeout(() => open.closeAllConnections(), 2_000).unref(); // requests still running after 2 s
        });
        await cache.close();
        await instance.metrics.close();
      })()),
  };
}
