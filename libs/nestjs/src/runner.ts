// Over 400 lines: the one runner of @Cached, @CachePut and @CacheEvict. Each call's single flight,
// lease (fenced loads), grace and timeouts, tags and re-entrancy guard interact within one call,
// so they are kept in one place; key building and option checks live in keys.ts and decorators/.
import { AsyncLocalStorage } from 'node:async_hooks';
import { Logger } from '@nestjs/common';
import type { CacheLease, FleetTurn, NearCache } from '@nearcache/core';
import { Observable } from 'rxjs';
import {
  cachedKey,
  isObservable,
  isStream,
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

/** What one execution of a `@Cached` method produced, for the calls that waited on it. */
interface Outcome {
  readonly value: unknown;
  /** False for a stream: each waiting caller runs the method itself rather than share it. */
  readonly shareable: boolean;
}

/**
 * The loads running in the current asynchronous context, so that a method that re-enters its
 * own key (a retry by recursion, an override calling `super`) runs instead of waiting on itself.
 * Tracked only while a load runs somewhere in the process: when none does, the storage is
 * disabled, so that an application pays for asynchronous context tracking only during loads.
 */
/** What `#read` returns when the cache could not be read: the method runs uncached. */
const READ_FAILED: unique symbol = Symbol('read failed');
const loading = new AsyncLocalStorage<ReadonlySet<string>>();
let loadsInFlight = 0;
let runnerSerial = 0;

function enterLoad(): void {
  loadsInFlight++;
}

function leaveLoad(): void {
  if (--loadsInFlight === 0) loading.disable();
}

/** Runs `fn` in a context marking the load `id` as running. */
function inLoad<T>(id: string, fn: () => T): T {
  const outer = loading.getStore();
  return loading.run(outer === undefined ? new Set([id]) : new Set(outer).add(id), fn);
}

/** The logger context of the decorators of cache `name`: the context the cache itself logs under. */
export function loggerContext(name: string): string {
  return `NearCache:${name}`;
}

/**
 * Runs `@Cached`, `@CacheEvict` and `@CachePut` for one application. The cache never breaks a
 * method: when it fails (a key that cannot be built, a value the codec refuses, a full write
 * queue), a warning names the decorator, the class and method and the key (once per method and
 * kind of failure; repeats go to debug), and the method runs as if it were not decorated.
 */
export class CacheOperationRunner implements OperationRunner {
  readonly #warned = new Set<string>();
  readonly #loggers = new Map<string, Pick<Logger, 'warn' | 'debug'>>();
  /** Shapes learned from a first call, for methods whose declaration does not say. */
  readonly #shapes = new WeakMap<CacheOperation, 'async' | 'sync'>();
  /** Running loads, by `<runner>\0<cache>\0<key>`. */
  readonly #loads = new Map<string, Promise<Outcome>>();
  readonly #id = ++runnerSerial;

  constructor(
    private readonly resolve: CacheResolver,
    private readonly logger?: (cache: string) => Pick<Logger, 'warn' | 'debug'>,
  ) {}

  run(operation: CacheOperation, self: object, original: Method, args: unknown[]): unknown {
    try {
      if (operation.condition && !operation.condition(...args)) return original.apply(self, args);
    } catch (error) {
      this.#warn(operation, 'condition', 'its condition function threw; the method runs without the cache', error);
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

  #cached(operation: CachedOperation, self: object, original: Method, args: unknown[]): unknown {
    let cache: NearCache;
    let key: string;
    try {
      cache = this.resolve(operation.cache);
      key = cachedKey(operation, self, args);
    } catch (error) {
      this.#warn(operation, 'key', 'no key could be built; the method runs uncached', error);
      return original.apply(self, args);
    }
    const id = `${this.#id}\0${operation.cache}\0${key}`;
    // A call made by the method's own execution for the same key: run it, never wait on itself.
    if (loading.getStore()?.has(id)) return original.apply(self, args);
    const shape = this.#shapes.get(operation) ?? operation.shape;
    if (shape === 'async') {
      const hit = this.#read(operation, cache, key, args);
      if (hit === READ_FAILED) return original.apply(self, args);
      const guard = operation.guard;
      if (hit !== undefined) {
        if (guard?.refreshAhead !== undefined) this.#refreshAhead(operation, cache, key, id, self, original, args);
        return Promise.resolve(hit);
      }
      const load = this.#load(operation, cache, key, id, () => original.apply(self, args), false, self, original, args, true);
      // Grace and loader timeouts, as `wrap` has them (docs/consistency.md, sections 14 and 15).
      return guard === undefined ? load : cache.guardLoad(key, load, guard);
    }
    if (shape === 'sync') {
      const hit = this.#read(operation, cache, key, args);
      if (hit === READ_FAILED) return original.apply(self, args);
      if (hit !== undefined) return hit;
      // Fenced: the result is cached only if no write of the key came after this point.
      const lease = this.#lease(cache, key);
      let result: unknown;
      try {
        result = original.apply(self, args);
      } catch (error) {
        lease?.release(error);
        throw error;
      }
      if (!isThenable(result)) {
        this.#settle(operation, cache, key, lease, result, args);
        return result;
      }
      // Declared otherwise, but returns a promise: from now on it is treated as async.
      this.#shapes.set(operation, 'async');
      enterLoad();
      return this.#load(operation, cache, key, id, () => result, lease, self, original, args);
    }
    // The first call of a method whose declaration does not say what it returns: run it to learn
    // (a hit must have the method's shape, also for an entry another instance wrote).
    enterLoad();
    const lease = this.#lease(cache, key);
    let result: unknown;
    try {
      result = inLoad(id, () => original.apply(self, args));
    } catch (error) {
      lease?.release(error);
      leaveLoad();
      throw error;
    }
    if (isThenable(result)) {
      this.#shapes.set(operation, 'async');
      return this.#load(operation, cache, key, id, () => result, lease, self, original, args);
    }
    leaveLoad();
    this.#shapes.set(operation, 'sync');
    this.#settle(operation, cache, key, lease, result, args);
    return result;
  }

  /**
   * Runs `start` (the method) as the one load of `key`; concurrent calls for the key wait on it.
   * `started`: the method already runs (a first call that learned its shape), counted as a load,
   * with the lease taken before it began (or undefined when none could be taken); `false`: a
   * lease is taken here, unless the call joins a running load. `fleet`: a miss that may wait for
   * another instance's call of the method (`fleetWait`, docs/consistency.md, section 18).
   */
  #load(
    operation: CachedOperation,
    cache: NearCache,
    key: string,
    id: string,
    start: () => unknown,
    started: CacheLease | undefined | false,
    self: object,
    original: Method,
    args: unknown[],
    fleet = false,
  ): Promise<unknown> {
    const running = started === false ? this.#loads.get(id) : undefined;
    // Join it; a stream is not shared: each waiting caller runs the method itself.
    if (running !== undefined) return running.then((outcome) => (outcome.shareable ? outcome.value : original.apply(self, args)));
    // With a turn to wait for, the lease is taken once the turn says this instance loads.
    const turn = fleet ? this.#turn(operation, cache, key) : undefined;
    let lease = started === false ? (turn === undefined ? this.#lease(cache, key) : undefined) : started;
    if (started === false) enterLoad();
    // `let`, not `const`: a method that throws before its first await reaches the `finally` below
    // before `load` is assigned, which must read undefined rather than throw.
    let load: Promise<Outcome> | undefined;
    // eslint-disable-next-line prefer-const
    load = (async (): Promise<Outcome> => {
      let mine: FleetTurn<unknown> | undefined;
      try {
        if (turn !== undefined) {
          mine = await turn;
          // Another instance's call of the method for this key: its result, through the log.
          if (mine.value !== undefined) return { value: mine.value, shareable: true };
          lease = this.#lease(cache, key);
        }
        const value = await (started !== false ? start() : inLoad(id, start));
        if (value === undefined) return { value, shareable: true };
        if (isStream(value)) {
          this.#cacheable(operation, value, args);
          return { value, shareable: false };
        }
        this.#settle(operation, cache, key, lease, value, args);
        return { value, shareable: true };
      } catch (error) {
        // The method failed: its load ends with the error (the lease's trace on nearcache:load).
        lease?.release(error);
        throw error;
      } finally {
        lease?.release();
        // After the result was queued (by its lease's fill): the release of the claim follows it in the log.
        mine?.done();
        if (this.#loads.get(id) === load) this.#loads.delete(id);
        leaveLoad();
      }
    })();
    this.#loads.set(id, load);
    return load.then((outcome) => outcome.value);
  }

  /** Early refresh: a hit past `refreshAhead` of its ttl starts one background call of the method, unless one runs. */
  #refreshAhead(operation: CachedOperation, cache: NearCache, key: string, id: string, self: object, original: Method, args: unknown[]): void {
    if (this.#loads.has(id)) return;
    try {
      if (cache.remainingTtl(key) > operation.ttl! * (1 - operation.guard!.refreshAhead!)) return;
    } catch {
      return;
    }
    // A failed refresh changes nothing: the entry stays until it expires.
    this.#load(operation, cache, key, id, () => original.apply(self, args), false, self, original, args).catch(() => undefined);
  }

  /**
   * The cached value of `key` (a miss when it is not as fresh as `maxStaleness` and `after` ask),
   * or `READ_FAILED` (warned once per method) when the cache could not be read.
   */
  #read(operation: CachedOperation, cache: NearCache, key: string, args: unknown[]): unknown {
    try {
      if (operation.maxStaleness === undefined && operation.after === undefined) return cache.get(key);
      return cache.get(key, { maxStaleness: operation.maxStaleness, after: operation.after?.(...args) });
    } catch (error) {
      this.#warn(operation, 'read', `the cache failed for key "${key}"; the method runs uncached`, error);
      return READ_FAILED;
    }
  }

  /** This call's turn in a fleet-wide single flight of `key`, or undefined when it runs the method at once (the option off, or the fleet cannot be asked). */
  #turn(operation: CachedOperation, cache: NearCache, key: string): Promise<FleetTurn<unknown>> | undefined {
    try {
      return cache.fleetTurn(key, operation.fleetWait === undefined ? undefined : { fleetWait: operation.fleetWait });
    } catch {
      return undefined;
    }
  }

  /** A lease on `key` taken before a load (see `NearCache.lease`), or undefined when the cache cannot give one. */
  #lease(cache: NearCache, key: string): CacheLease | undefined {
    try {
      return cache.lease(key);
    } catch {
      // An invalid key: storing the result reports it.
      return undefined;
    }
  }

  /** Caches a loaded result through its lease if it may be cached; ends the lease either way. */
  #settle(operation: CachedOperation, cache: NearCache, key: string, lease: CacheLease | undefined, value: unknown, args: unknown[]): void {
    if (value === undefined || !this.#cacheable(operation, value, args)) {
      lease?.release();
      return;
    }
    let tags: string[] | undefined;
    try {
      tags = operation.tags?.(args);
    } catch (error) {
      // Stored without its tags, the value would outlive their invalidation.
      lease?.release();
      this.#warn(operation, 'key', `no tags could be built; the value for key "${key}" is not cached`, error);
      return;
    }
    if (lease === undefined || cache.state === 'closed') {
      lease?.release();
      void this.#store(operation, cache, key, value, tags);
      return;
    }
    const grace = operation.guard?.grace;
    const options = operation.ttl === undefined && tags === undefined && grace === undefined ? undefined : { ttl: operation.ttl, tags, grace };
    lease
      .fill(value, options)
      .catch((error: unknown) => this.#warn(operation, 'store', `the value for key "${key}" is not cached (it is returned all the same)`, error));
  }

  /** Stores a result; a failure is reported once per method and kind, naming the key. */
  #store(operation: CachedOperation | PutOperation, cache: NearCache, key: string, value: unknown, tags?: string[]): Promise<void> {
    if (cache.state === 'closed') return Promise.resolve();
    const options = operation.ttl === undefined && tags === undefined ? undefined : { ttl: operation.ttl, tags };
    return cache
      .set(key, value, options)
      .catch((error: unknown) => this.#warn(operation, 'store', `the value for key "${key}" is not cached (it is returned all the same)`, error));
  }

  /** Whether a result may be stored: not an observable, a stream or a function, and not vetoed by `unless`. */
  #cacheable(operation: CachedOperation | PutOperation, value: unknown, args: unknown[]): boolean {
    if (isUncacheable(value)) {
      const what = isObservable(value) ? 'an Observable' : isStream(value) ? 'a stream or an iterator' : `a ${typeof value}`;
      this.#warn(operation, 'shape', `its result is ${what}, which is never cached; it is returned uncached`);
      return false;
    }
    try {
      return !(operation.unless && operation.unless(value, ...args));
    } catch (error) {
      this.#warn(operation, 'unless', 'its unless function threw; the result is not cached', error);
      return false;
    }
  }

  #evict(operation: EvictOperation, self: object, original: Method, args: unknown[]): unknown {
    const evict = (): Promise<void> => {
      let keys: string[] = [];
      let prefix: string | undefined;
      let tags: string[] | undefined;
      let cache: NearCache;
      try {
        cache = this.resolve(operation.cache);
        if (!operation.allEntries) {
          keys = operation.keys?.(args) ?? [];
          prefix = operation.prefix?.(args);
          tags = operation.tags?.(args);
        }
      } catch (error) {
        this.#warn(operation, 'key', 'no key could be built; nothing is evicted and stale entries may remain', error);
        return Promise.resolve();
      }
      try {
        if (operation.allEntries)
          return cache.clear().catch((error: unknown) => this.#warn(operation, 'evict', 'clearing the cache failed; stale entries may remain', error));
        const writes: Array<Promise<void>> = [];
        if (prefix !== undefined) writes.push(cache.clearPrefix(prefix));
        if (tags !== undefined) writes.push(cache.invalidateTags(tags));
        for (const key of keys) writes.push(cache.delete(key));
        return Promise.all(writes).then(
          () => undefined,
          (error: unknown) => this.#warn(operation, 'evict', `evicting ${describe(keys, prefix, tags)} failed; stale entries may remain`, error),
        );
      } catch (error) {
        this.#warn(operation, 'evict', `evicting ${describe(keys, prefix, tags)} failed; stale entries may remain`, error);
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
    if (isThenable(result))
      return Promise.resolve(result).then(async (value) => {
        await evict();
        return value;
      });
    if (isObservable(result)) return evictOnComplete(result, evict);
    void evict();
    return result;
  }

  #put(operation: PutOperation, self: object, original: Method, args: unknown[]): unknown {
    const store = (value: unknown): Promise<void> => {
      if (value === undefined) return Promise.resolve();
      let cache: NearCache;
      let key: string;
      let tags: string[] | undefined;
      try {
        cache = this.resolve(operation.cache);
        key = operation.key(...args);
        tags = operation.tags?.(args);
      } catch (error) {
        this.#warn(operation, 'key', 'no key or tags could be built; the result is not stored', error);
        return Promise.resolve();
      }
      if (!this.#cacheable(operation, value, args)) return Promise.resolve();
      return this.#store(operation, cache, key, value, tags);
    };
    const result = original.apply(self, args);
    if (isThenable(result))
      return Promise.resolve(result).then(async (value) => {
        await store(value);
        return value;
      });
    void store(result);
    return result;
  }

  /**
   * Logs a warning under the context of the operation's cache, once per method and kind of
   * failure (and error code); repeats go to debug, so a broken cache does not flood the logs.
   */
  #warn(operation: CacheOperation, kind: string, what: string, error?: unknown): void {
    const code = (error as { code?: unknown } | undefined)?.code;
    const detail = error === undefined ? '' : `: ${(error as Error)?.message ?? String(error)}${typeof code === 'string' ? ` (${code})` : ''}`;
    const once = `${operation.where}|${operation.kind}|${kind}|${typeof code === 'string' ? code : ((error as Error | undefined)?.name ?? '')}`;
    const message = `${decoratorName(operation)} on ${operation.where}: ${what}${detail}`;
    const logger = this.#logger(operation.cache);
    if (this.#warned.has(once)) {
      logger.debug(message);
      return;
    }
    this.#warned.add(once);
    logger.warn(`${message}; further failures of this kind on this method are logged at debug level`);
  }

  #logger(cache: string): Pick<Logger, 'warn' | 'debug'> {
    let logger = this.#loggers.get(cache);
    if (logger === undefined) {
      logger = this.logger?.(cache) ?? new Logger(loggerContext(cache));
      this.#loggers.set(cache, logger);
    }
    return logger;
  }
}

/** An Observable that mirrors `source` and, when it completes (not when it errors), evicts before completing. */
function evictOnComplete(source: { subscribe: Function }, evict: () => Promise<void>): Observable<unknown> {
  return new Observable<unknown>((subscriber) => {
    const subscription = (source as Observable<unknown>).subscribe({
      next: (value) => subscriber.next(value),
      error: (error: unknown) => subscriber.error(error),
      complete: () => {
        void evict().then(() => subscriber.complete());
      },
    });
    return () => subscription.unsubscribe();
  });
}

function describe(keys: readonly string[], prefix: string | undefined, tags?: readonly string[]): string {
  const parts = keys.map((key) => `key "${key}"`);
  if (prefix !== undefined) parts.push(`prefix "${prefix}"`);
  for (const tag of tags ?? []) parts.push(`tag "${tag}"`);
  return parts.join(', ') || 'every entry';
}

function decoratorName(operation: CacheOperation): string {
  return operation.kind === 'cached' ? '@Cached' : operation.kind === 'evict' ? '@CacheEvict' : '@CachePut';
}
