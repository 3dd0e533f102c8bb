import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import {
  CacheClosedError,
  createNearCache,
  InvalidOptionError,
  formatLogLine,
  NEAR_CACHE_OPTION_NAMES,
  type Logger as NearCacheLogger,
  type NearCache,
  type NearCacheOptions,
} from '@nearcache/core';
import { DEFAULT_CACHE_NAME } from './constants.js';
import { DuplicateCacheNameError, UnknownCacheError } from './errors.js';
import { checkInterceptorOptions, type NearCacheInterceptorOptions } from './interceptor-settings.js';
import type { NearCacheModuleExtras, NearCacheModuleOptions } from './interfaces.js';

const NEST_OPTION_NAMES = ['waitForReady', 'readyTimeout', 'interceptor'] as const satisfies ReadonlyArray<
  Exclude<keyof NearCacheModuleOptions, keyof NearCacheOptions>
>;
const EXTRA_OPTION_NAMES = ['isGlobal', 'name'] as const satisfies ReadonlyArray<keyof NearCacheModuleExtras>;

/** Every option `NearCacheModule.forRoot()` takes, for the message about an unknown one. */
export const MODULE_OPTION_NAMES: readonly string[] = [...NEAR_CACHE_OPTION_NAMES, ...NEST_OPTION_NAMES, ...EXTRA_OPTION_NAMES];

/** A cache of the application, with how its start is awaited. */
export interface RegisteredNearCache {
  readonly name: string;
  readonly cache: NearCache;
  readonly waitForReady: boolean;
  readonly readyTimeout: number | undefined;
}

/**
 * The caches of one application, by name. Creates them (they start connecting at once), waits
 * for them on module init, and closes them on application shutdown. Inject it to reach a cache
 * by a name known only at run time.
 */
@Injectable()
export class NearCacheRegistry implements OnModuleInit, OnApplicationShutdown {
  readonly #caches = new Map<string, RegisteredNearCache>();
  readonly #logger = new Logger('NearCache');
  #closing: Promise<void> | undefined;
  /** Set once the start failed on an error of the module: no cache is created any more. */
  #aborted = false;
  /** The `interceptor` option, and the cache that gave it (one per application). */
  #interceptor: { from: string; options: NearCacheInterceptorOptions } | undefined;

  /**
   * @internal Creates and registers the cache `name` (called by `NearCacheModule`'s providers).
   * Throws `DuplicateCacheNameError` when the application has a cache of that name already, and
   * `InvalidOptionError` for bad options.
   */
  create(name: string, options: NearCacheModuleOptions): NearCache {
    if (this.#aborted) throw new CacheClosedError(`the application failed to start: cache "${String(name)}" is not created`);
    if (typeof name !== 'string' || name.length === 0) throw new InvalidOptionError('a NearCacheModule cache name must be a non-empty string');
    if (this.#caches.has(name)) throw duplicateCacheName(name);
    if (typeof options !== 'object' || options === null) throw new InvalidOptionError(`the options of cache "${name}" must be an object`);
    for (const key of Object.keys(options)) {
      if ((EXTRA_OPTION_NAMES as readonly string[]).includes(key)) {
        // forRoot() takes them out of the options; only a forRootAsync() factory returns them here.
        throw new InvalidOptionError(
          `option "${key}" of cache "${name}" has no effect in what a forRootAsync() factory returns: give it to forRootAsync({ ${key}, useFactory, ... }) itself`,
        );
      }
      if (!MODULE_OPTION_NAMES.includes(key)) {
        throw new InvalidOptionError(`unknown option "${key}" of cache "${name}"; the options are: ${MODULE_OPTION_NAMES.join(', ')}`);
      }
    }
    const { waitForReady = true, readyTimeout, interceptor, ...cacheOptions } = options;
    const interceptorOptions = checkInterceptorOptions(`option "interceptor" of cache "${name}"`, interceptor);
    if (interceptorOptions !== undefined && this.#interceptor !== undefined) {
      throw new InvalidOptionError(
        `option "interceptor" of cache "${name}": the application's NearCacheInterceptor settings were given already, by cache "${this.#interceptor.from}"; give them to one NearCacheModule.forRoot() only`,
      );
    }
    if (typeof waitForReady !== 'boolean') throw new InvalidOptionError(`waitForReady of cache "${name}" must be a boolean, got ${typeof waitForReady}`);
    if (readyTimeout !== undefined && (!Number.isInteger(readyTimeout) || readyTimeout < 1)) {
      throw new InvalidOptionError(`readyTimeout of cache "${name}" must be an integer >= 1 (ms), got ${String(readyTimeout)}`);
    }
    const cache = createNearCache({ ...cacheOptions, logger: cacheOptions.logger ?? nestLogger(new Logger(`NearCache:${name}`)) });
    this.#caches.set(name, { name, cache, waitForReady, readyTimeout });
    if (interceptorOptions !== undefined) this.#interceptor = { from: name, options: interceptorOptions };
    return cache;
  }

  /** @internal The `interceptor` option a `NearCacheModule.forRoot()` of the application gave (checked), or `undefined`. */
  interceptorOptions(): NearCacheInterceptorOptions | undefined {
    return this.#interceptor?.options;
  }

  /**
   * @internal `create`, and when it throws, closes every cache created so far before throwing:
   * a failed start must leave nothing connected, or the process would not exit.
   */
  async createOrAbort(name: string, options: NearCacheModuleOptions, before?: () => void): Promise<NearCache> {
    try {
      before?.();
      return this.create(name, options);
    } catch (error) {
      await this.abort();
      throw error;
    }
  }

  /**
   * @internal The start failed on an error of the module: creates no more caches, and closes
   * every cache created (each within its `closeTimeout`).
   */
  abort(): Promise<void> {
    this.#aborted = true;
    return this.#closeAll();
  }

  /** The cache `name` (default: the default cache). Throws `UnknownCacheError` when the application has none of that name. */
  get<V = unknown>(name: string = DEFAULT_CACHE_NAME): NearCache<V> {
    const entry = this.#caches.get(name);
    if (!entry) {
      const known = [...this.#caches.keys()].map((n) => `"${n}"`).join(', ') || 'none';
      throw new UnknownCacheError(
        `no cache named "${name}" is registered (registered: ${known}); add NearCacheModule.forRoot(${name === DEFAULT_CACHE_NAME ? '' : `{ name: '${name}', ... }`})`,
      );
    }
    return entry.cache as NearCache<V>;
  }

  has(name: string = DEFAULT_CACHE_NAME): boolean {
    return this.#caches.has(name);
  }

  /** Every registered cache, in registration order. */
  entries(): RegisteredNearCache[] {
    return [...this.#caches.values()];
  }

  /**
   * Waits until every cache with `waitForReady` caught up with its topic, so that the
   * application does not finish starting before. If one is not ready by its deadline, closes all
   * of them and fails the start with that error.
   */
  async onModuleInit(): Promise<void> {
    const waiting = this.entries().filter((entry) => entry.waitForReady);
    if (waiting.length === 0) return;
    const started = Date.now();
    const results = await Promise.allSettled(
      waiting.map(async (entry) => {
        await entry.cache.ready(entry.readyTimeout === undefined ? {} : { timeout: entry.readyTimeout });
        new Logger(`NearCache:${entry.name}`).log(
          `cache "${entry.name}" is ready: topic "${entry.cache.topic}", ${entry.cache.size} entries, in ${Date.now() - started} ms`,
        );
      }),
    );
    const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failure) {
      const error = failure.reason as Error;
      // Closed by abort(): the error that failed the start is raised by whoever aborted.
      if (this.#aborted) return;
      this.#logger.error(`a cache was not ready, the application does not start: ${error.message}`);
      await this.#closeAll();
      throw error;
    }
  }

  /** Flushes queued writes (each cache waits at most its `closeTimeout`) and closes every cache. */
  async onApplicationShutdown(): Promise<void> {
    await this.#closeAll();
  }

  #closeAll(): Promise<void> {
    this.#closing ??= Promise.all(
      this.entries().map(async (entry) => {
        try {
          await entry.cache.close();
        } catch (error) {
          this.#logger.warn(`closing cache "${entry.name}" failed: ${(error as Error).message}`);
        }
      }),
    ).then(() => undefined);
    return this.#closing;
  }
}

/** @internal The error of a second cache called `name`. */
export function duplicateCacheName(name: string): DuplicateCacheNameError {
  const described = name === DEFAULT_CACHE_NAME ? `"${name}" (the name of a NearCacheModule.forRoot() without one)` : `"${name}"`;
  return new DuplicateCacheNameError(`a cache named ${described} is already registered: give each NearCacheModule.forRoot() of the application its own name`);
}

/** Routes nearcache's logging to a Nest logger. */
export function nestLogger(logger: Logger): NearCacheLogger {
  return {
    debug: (message, context) => logger.debug(formatLogLine(message, context)),
    info: (message, context) => logger.log(formatLogLine(message, context)),
    warn: (message, context) => logger.warn(formatLogLine(message, context)),
    error: (message, context) => logger.error(formatLogLine(message, context)),
  };
}
