import { randomUUID } from 'node:crypto';
import {
  createNearCache,
  httpCacheKey,
  InProcessBroker,
  inProcessLog,
  silentLogger,
  type Logger,
  type NearCache,
  type NearCacheOptions,
} from '@nearcache/core';

export { waitFor } from '../../../test/helpers/wait.js';

export function uniqueTopic(prefix = 'express'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** Opens caches on one in-process broker and closes them all in `closeAll`. */
export class Caches {
  readonly broker = new InProcessBroker();
  readonly #open: NearCache<any>[] = [];

  async open(topic: string, options: Partial<NearCacheOptions<any>> = {}): Promise<NearCache<any>> {
    const cache = createNearCache<any>({ topic, log: inProcessLog(this.broker), logger: silentLogger, ...options });
    this.#open.push(cache);
    await cache.ready({ timeout: 5000 });
    return cache;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.#open.splice(0).map((cache) => cache.close()));
  }
}

/** A logger that keeps what it is told. */
export function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    warnings,
    debug() {},
    info() {},
    warn(message: string) {
      warnings.push(message);
    },
    error(message: string) {
      warnings.push(message);
    },
  };
}

/** The default key of `GET path` as supertest sends it (`Host: 127.0.0.1:<port>`, plain http). */
export function localKey(path: string, prefix?: string): string {
  return httpCacheKey('GET', `http://127.0.0.1${path}`, prefix);
}
