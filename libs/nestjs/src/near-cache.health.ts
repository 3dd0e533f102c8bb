import { Injectable } from '@nestjs/common';
import type { CacheState } from '@nearcache/core';
import { DEFAULT_CACHE_NAME } from './constants.js';
import { NearCacheRegistry } from './near-cache.registry.js';

/** A status as @nestjs/terminus reads it (`degraded` needs terminus 12). */
export type NearCacheHealthStatus = 'up' | 'down' | 'degraded';

/** Options of `NearCacheHealthIndicator.isHealthy()`. */
export interface NearCacheHealthOptions<Degraded extends NearCacheHealthStatus = NearCacheHealthStatus> {
  /** Which cache. Default: the default cache. */
  cache?: string;
  /** Down when a partition has been behind the log for longer than this, in ms. Default 30000. */
  maxLagMs?: number;
  /** Down when more records than this are waiting to be applied. Default: no limit. */
  maxLagRecords?: number;
  /**
   * What to report while the cache is `degraded` (caught up once, but Kafka cannot take writes
   * or the consumer stalled; reads and local writes go on). Default `up`: an outage of Kafka
   * then does not take every instance out of service. `degraded` needs @nestjs/terminus 12:
   * without it, the result's status is typed `'up' | 'down'`, what terminus 11 accepts.
   */
  whenDegraded?: Degraded;
}

/** What the indicator reports under its key. */
export interface NearCacheHealthDetails<Status extends NearCacheHealthStatus = NearCacheHealthStatus> {
  status: Status;
  /** The cache's state: starting, bootstrapping, live, degraded, closed. */
  state: CacheState;
  topic: string;
  /** Records written to the log and not yet applied here, over all partitions. */
  lagRecords: number;
  /** How long the most lagging partition has been behind, in ms. */
  lagMs: number;
  /** Why the status is not up; while the cache starts, with the last error of the start, if any. */
  message?: string;
}

/** A health indicator result: `{ [key]: details }`, the shape @nestjs/terminus expects. */
export type NearCacheHealthResult<Key extends string = string, Status extends NearCacheHealthStatus = NearCacheHealthStatus> = Record<
  Key,
  NearCacheHealthDetails<Status>
>;

/**
 * A health indicator for @nestjs/terminus (which stays optional: this class does not import it).
 * Up when the cache is live; down while it starts or bootstraps, once closed, and when it lags
 * more than `maxLagMs` / `maxLagRecords`.
 *
 * ```ts
 * @Get('health') @HealthCheck()
 * check() { return this.health.check([() => this.nearCache.isHealthy('nearcache')]); }
 * ```
 */
@Injectable()
export class NearCacheHealthIndicator {
  constructor(private readonly registry: NearCacheRegistry) {}

  /** The status is `'up' | 'down'` (as @nestjs/terminus 11 types it) unless `whenDegraded` may say `'degraded'`. */
  async isHealthy<const Key extends string = 'nearcache', Degraded extends NearCacheHealthStatus = 'up'>(
    key?: Key,
    options: NearCacheHealthOptions<Degraded> = {},
  ): Promise<NearCacheHealthResult<Key, 'up' | 'down' | Degraded>> {
    return this.check(key ?? ('nearcache' as Key), options);
  }

  /** The same as `isHealthy`, synchronously. */
  check<const Key extends string, Degraded extends NearCacheHealthStatus = 'up'>(
    key: Key,
    options: NearCacheHealthOptions<Degraded> = {},
  ): NearCacheHealthResult<Key, 'up' | 'down' | Degraded> {
    const cache = this.registry.get(options.cache ?? DEFAULT_CACHE_NAME);
    const maxLagMs = options.maxLagMs ?? 30_000;
    const stats = cache.stats();
    const lagRecords = stats.partitions.reduce((sum, p) => sum + p.lagRecords, 0);
    const lagMs = stats.partitions.reduce((max, p) => Math.max(max, p.lagMs), 0);
    let status: NearCacheHealthStatus = 'up';
    let message: string | undefined;
    // Why the start has not got further (a broker refusing connections...), when something failed.
    const lastError = stats.startError ? `; last error: ${stats.startError.message}` : '';
    switch (stats.state) {
      case 'starting':
        status = 'down';
        message = `connecting to the log${lastError}`;
        break;
      case 'bootstrapping':
        status = 'down';
        message = `bootstrapping: reading the topic up to its end${lastError}`;
        break;
      case 'closed':
        status = 'down';
        message = 'closed';
        break;
      case 'degraded':
        status = options.whenDegraded ?? 'up';
        message = 'degraded: the log cannot take writes or the consumer stalled; reads and local writes go on';
        break;
      case 'live':
        break;
    }
    if (status !== 'down' && lagMs > maxLagMs) {
      status = 'down';
      message = `lagging: behind the log for ${lagMs} ms (limit ${maxLagMs} ms)`;
    }
    if (status !== 'down' && options.maxLagRecords !== undefined && lagRecords > options.maxLagRecords) {
      status = 'down';
      message = `lagging: ${lagRecords} records behind the log (limit ${options.maxLagRecords})`;
    }
    const details: NearCacheHealthDetails = { status, state: stats.state, topic: stats.topic, lagRecords, lagMs };
    if (message !== undefined) details.message = message;
    return { [key]: details } as NearCacheHealthResult<Key, 'up' | 'down' | Degraded>;
  }
}
