import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { InstanceContext, type InstanceOptions, type RunningInstance } from '../shared/instance.js';
import { AppModule } from './app.module.js';

/**
 * Starts the Nest app: resolves once it listens, which is after its cache caught up with the
 * topic (`waitForReady`), so the first request already sees what other instances cached.
 */
export async function startNestInstance(options: InstanceOptions): Promise<RunningInstance & { app: INestApplication }> {
  const instance = new InstanceContext(options.name, 'nest', options);
  const app = await NestFactory.create(AppModule.register(instance, options), {
    logger: options.quiet ? false : ['log', 'warn', 'error'],
    abortOnError: false,
  });
  app.use(instance.tracker.middleware());
  try {
    await app.listen(options.port, options.host ?? '127.0.0.1');
  } catch (error) {
    await app.close().catch(() => undefined);
    throw error;
  }
  instance.listening();
  const address = app.getHttpServer().address() as { port: number };
  let closing: Promise<void> | undefined;
  return {
    name: options.name,
    framework: 'nest',
    url: `http://${options.host ?? '127.0.0.1'}:${address.port}`,
    port: address.port,
    cache: instance.cache,
    catalog: instance.catalog,
    app,
    close: () => (closing ??= app.close().then(() => instance.metrics.close())),
  };
}
