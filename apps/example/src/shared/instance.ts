import { performance } from 'node:perf_hooks';
import type { CacheChange, NearCache, ReplicationLogFactory } from '@nearcache/core';
import { Catalog, MemoryProductStore, type ProductStore } from '../catalog/catalog.js';
import { PrometheusMetrics } from './metrics.js';
import { RequestTracker, type ServedStats } from './tracker.js';

/** Options of `startNestInstance` and `startExpressInstance`. */
export interface InstanceOptions {
  /** The instance's name, shown in its stats and logs. */
  name: string;
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** Address to listen on. Default 127.0.0.1. */
  host?: string;
  /** The cache topic; every instance on it shares the cache. */
  topic: string;
  /** Kafka brokers (`host:port,...`). Give this or `log`. */
  brokers?: string | string[];
  /** Another replication log, such as `inProcessLog(broker)`. Give this or `brokers`. */
  log?: ReplicationLogFactory;
  /** Where the products live. Default: a store in this process's memory. */
  store?: ProductStore;
  /** Time each data-source call takes, in ms. Default 50. */
  dataDelayMs?: number;
  /** Time to live of cached products and pages, in ms. Default 300000 (5 minutes). */
  ttl?: number;
  /** Log nothing (for tests and for instances sharing a process). Default false. */
  quiet?: boolean;
  /** When this instance started, ms since the epoch, for its start-up time. Default: now. */
  startedAt?: number;
}

/** A running instance of the example. */
export interface RunningInstance {
  readonly name: string;
  readonly framework: 'nest' | 'express';
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly cache: NearCache;
  readonly catalog: Catalog;
  /** Stops serving, flushes and closes the cache. */
  close(): Promise<void>;
}

/** The last change of a key on this instance, with its time (ms since the epoch, sub-ms precision). */
export interface KeyChange {
  op: CacheChange['op'];
  source: CacheChange['source'];
  at: number;
}

/** Start-up times of an instance. */
export interface StartupStats {
  /** From the instance's start (for a process: the process start) to listening, ms. */
  startToListeningMs: number | null;
  /** From the cache's creation to `ready()`: connecting, then reading the topic up to its end, ms. */
  cacheReadyMs: number | null;
  /** Records read from the topic when `ready()` resolved. */
  recordsAtReady: number | null;
  /** Entries held when `ready()` resolved. */
  entriesAtReady: number | null;
}

/** ms since the epoch with sub-millisecond precision, comparable between processes of one machine. */
export const now = (): number => performance.timeOrigin + performance.now();

const MAX_TRACKED_KEYS = 10_000;

/**
 * What an instance measures about itself, for `/internal/*`: the data source it calls, where
 * its product pages came from, when each key last changed here, and its start-up times.
 */
export class InstanceContext {
  readonly tracker = new RequestTracker();
  /** The cache's metrics, for `GET /metrics` (Prometheus text format). */
  readonly metrics = new PrometheusMetrics();
  readonly catalog: Catalog;
  readonly startedAt: number;
  readonly #changes = new Map<string, KeyChange>();
  #cache: NearCache | undefined;
  #cacheCreatedAt: number | null = null;
  #readyAt: number | null = null;
  #listeningAt: number | null = null;
  #recordsAtReady: number | null = null;
  #entriesAtReady: number | null = null;

  constructor(
    readonly name: string,
    readonly framework: 'nest' | 'express',
    options: Pick<InstanceOptions, 'store' | 'dataDelayMs' | 'startedAt'>,
  ) {
    this.startedAt = options.startedAt ?? now();
    this.catalog = new Catalog(options.store ?? new MemoryProductStore(), {
      ...(options.dataDelayMs === undefined ? {} : { delayMs: options.dataDelayMs }),
      onRead: () => this.tracker.dataSourceCalled(),
    });
  }

  get cache(): NearCache {
    if (!this.#cache) throw new Error(`instance ${this.name} has no cache yet`);
    return this.#cache;
  }

  /** Call right after the cache is created: records its changes and when it becomes ready. */
  watch(cache: NearCache): void {
    this.#cache = cache;
    this.#cacheCreatedAt = now();
    this.metrics.instrument(cache, 'catalog');
    cache.on('change', (change) => {
      this.#changes.delete(change.key);
      this.#changes.set(change.key, { op: change.op, source: change.source, at: now() });
      if (this.#changes.size > MAX_TRACKED_KEYS) this.#changes.delete(this.#changes.keys().next().value!);
    });
    const ready = () => {
      this.#readyAt = now();
      const stats = cache.stats();
      this.#recordsAtReady = stats.records.applied;
      this.#entriesAtReady = stats.entries;
    };
    if (cache.state === 'live') ready();
    else cache.once('ready', ready);
  }

  listening(): void {
    this.#listeningAt = now();
  }

  /** `GET /internal/stats` */
  stats(): {
    instance: string;
    framework: string;
    pid: number;
    cache: ReturnType<NearCache['stats']>;
    dataSource: { reads: number; writes: number; delayMs: number };
    served: ServedStats;
    startup: StartupStats;
  } {
    const ms = (from: number | null, to: number | null) => (from === null || to === null ? null : Math.round((to - from) * 1000) / 1000);
    return {
      instance: this.name,
      framework: this.framework,
      pid: process.pid,
      cache: this.cache.stats(),
      dataSource: { reads: this.catalog.reads, writes: this.catalog.writes, delayMs: this.catalog.delayMs },
      served: this.tracker.stats(),
      startup: {
        startToListeningMs: ms(this.startedAt, this.#listeningAt),
        cacheReadyMs: ms(this.#cacheCreatedAt, this.#readyAt),
        recordsAtReady: this.#recordsAtReady,
        entriesAtReady: this.#entriesAtReady,
      },
    };
  }

  /** `GET /internal/entry?key=...`: whether this instance holds `key`, and its last change here. */
  entry(key: string): { key: string; present: boolean; lastChange: KeyChange | null } {
    return { key, present: this.cache.has(key), lastChange: this.#changes.get(key) ?? null };
  }
}
