import type { Logger } from '@nestjs/common';
import type { NearCache } from '@nearcache/core';
import {
  cachedKey,
  isThenable,
  isUncacheable,
  type CachedOperation,
  type CacheOperation,
  type CacheResolver,
  type EvictOperation,
  type OperationRunner,
  type PutOperation,
} from './operations.js';

type Method = (...args: unknown[]) => unknown;

/** The method's own error, carried through `NearCache.wrap` so it is told apart from a cache error. */
class MethodFailure {
  constructor(readonly error: unknown) {}
}

/** A result `unless` vetoed: rejected through `wrap` (never cached) and handed back to every waiting caller. */
class Vetoed {
  constructor(readonly value: unknown) {}
}

/**
 * Runs `@Cached`, `@CacheEvict` and `@CachePut` for one application. The cache never breaks a
 * method: when it fails (an invalid key, a key function that throws, a value the codec refuses),
 * the failure is logged and the method runs as if it were not decorated.
 */
export class CacheOperationRunner implements OperationRunner {
  readonly #warned = new Set<string>();

  constructor(
    private readonly resolve: CacheResolver,
    private readonly logger: Logger,
  ) {}

  run(operation: CacheOperation, self: object, original: Method, args: unknown[]): unknown {
    try {
      if (operation.condition && !operation.condition(...args)) return original.apply(self, args);
    } catch (error) {
      this.#warn(operation, 'its condition function threw; the method runs without the cache', error);
      return original.apply(self, args);
    }
    switch (operation.kind) {
      case 'cached':
        return this.#cached(operation, self, original, args);
      case 'evict':
        return this.#evict(operation, self, original, args);
      case 'put':
        return this.#put(operation, self, original, args);
    }
  }

  #isAsync(operation: CacheOperation): boolean {
    operation.async ??= operation.detectAsync();
    return operation.async;
  }

  #cached(operation: CachedOperation, self: object, original: Method, args: unknown[]): unknown {
    let cache: NearCache;
    let key: string;
    try {
      cache = this.resolve(operation.cache);
      key = cachedKey(operation, self, args);
    } catch (error) {
      this.#warn(operation, 'no key could be built; the method runs uncached', error);
      return original.apply(self, args);
    }
    const options = operation.ttl === undefined ? undefined : { ttl: operation.ttl };
    if (this.#isAsync(operation)) {
      const loader = async (): Promise<unknown> => {
        let result: unknown;
        try {
          result = await original.apply(self, args);
        } catch (error) {
          throw new MethodFailure(error);
        }
        if (result !== undefined && !this.#cacheable(operation, result, args)) throw new Vetoed(result);
        return result;
      };
      let called = false;
      return cache
        .wrap(key, () => {
          called = true;
          return loader();
        }, options)
        .catch((error: unknown) => {
          if (error instanceof MethodFailure) throw error.error;
          if (error instanceof Vetoed) return error.value;
          if (called) throw error;
          // The cache refused the call before running the loader (an invalid key, for example).
          this.#warn(operation, `the cache failed for key "${key}"; the method runs uncached`, error);
          return original.apply(self, args);
        });
    }
    let hit: unknown;
    try {
      hit = cache.get(key);
    } catch (error) {
      this.#warn(operation, `the cache failed for key "${key}"; the method runs uncached`, error);
      return original.apply(self, args);
    }
    if (hit !== undefined) return hit;
    const result = original.apply(self, args);
    if (isThenable(result)) {
      // Declared sync, returns a promise: from now on it is treated as async.
      operation.async = true;
      return Promise.resolve(result).then((value) => {
        this.#store(operation, cache, key, value, args, options);
        return value;
      });
    }
    this.#store(operation, cache, key, result, args, options);
    return result;
  }

  #store(operation: CachedOperation | PutOperation, cache: NearCache, key: string, value: unknown, args: unknown[], options: { ttl: number } | undefined): Promise<void> {
    if (value === undefined || !this.#cacheable(operation, value, args)) return Promise.resolve();
    return cache.set(key, value, options).catch((error: unknown) => this.#warn(operation, `storing key "${key}" failed; the result is returned uncached`, error));
  }

  /** Whether a result may be stored: not an observable or a stream, and not vetoed by `unless`. */
  #cacheable(operation: CachedOperation | PutOperation, value: unknown, args: unknown[]): boolean {
    if (isUncacheable(value)) {
      this.#warn(operation, 'its result is an observable, a stream or a function, which cannot be cached; it is returned uncached');
      return false;
    }
    try {
      return !(operation.unless && operation.unless(value, ...args));
    } catch (error) {
      this.#warn(operation, 'its unless function threw; the result is not cached', error);
      return false;
    }
  }

  #evict(operation: EvictOperation, self: object, original: Method, args: unknown[]): unknown {
    const evict = (): Promise<void> => {
      try {
        const cache = this.resolve(operation.cache);
        if (operation.allEntries) return cache.clear().catch((error: unknown) => this.#warn(operation, 'clearing the cache failed; stale entries may remain', error));
        const writes: Array<Promise<void>> = [];
        if (operation.prefix) writes.push(cache.clearPrefix(operation.prefix(...args)));
        for (const key of operation.keys?.(args) ?? []) writes.push(cache.delete(key));
        return Promise.all(writes).then(
          () => undefined,
          (error: unknown) => this.#warn(operation, 'evicting failed; stale entries may remain', error),
        );
      } catch (error) {
        this.#warn(operation, 'evicting failed; stale entries may remain', error);
        return Promise.resolve();
      }
    };
    if (operation.beforeInvocation) {
      // The local effect is immediate; replication follows.
      const evicted = evict();
      const result = original.apply(self, args);
      return isThenable(result) ? evicted.then(() => result) : result;
    }
    const result = original.apply(self, args);
    if (isThenable(result)) return Promise.resolve(result).then(async (value) => {
      await evict();
      return value;
    });
    void evict();
    return result;
  }

  #put(operation: PutOperation, self: object, original: Method, args: unknown[]): unknown {
    const store = (value: unknown): Promise<void> => {
      let cache: NearCache;
      let key: string;
      try {
        cache = this.resolve(operation.cache);
        key = operation.key(...args);
      } catch (error) {
        this.#warn(operation, 'no key could be built; the result is not stored', error);
        return Promise.resolve();
      }
      return this.#store(operation, cache, key, value, args, operation.ttl === undefined ? undefined : { ttl: operation.ttl });
    };
    const result = original.apply(self, args);
    if (isThenable(result)) return Promise.resolve(result).then(async (value) => {
      await store(value);
      return value;
    });
    void store(result);
    return result;
  }

  #warn(operation: CacheOperation, what: string, error?: unknown): void {
    const detail = error === undefined ? '' : `: ${(error as Error)?.message ?? String(error)}`;
    const once = `${operation.where}|${what}|${(error as { code?: string })?.code ?? (error as Error)?.name ?? ''}`;
    const message = `${decoratorName(operation)} on ${operation.where}: ${what}${detail}`;
    // Repeats of the same failure go to debug, so a broken cache does not flood the logs.
    if (this.#warned.has(once)) {
      this.logger.debug?.(message);
      return;
    }
    this.#warned.add(once);
    this.logger.warn(message);
  }
}

function decoratorName(operation: CacheOperation): string {
  return operation.kind === 'cached' ? '@Cached' : operation.kind === 'evict' ? '@CacheEvict' : '@CachePut';
}
