import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { invalidOption, type NearCache, type NearCacheNamespace, type SetOptions, type WriteOptions } from '@nearcache/core';
import { invalidatePrefix, invalidateRoute, type InvalidateOptions, type InvalidateRouteOptions } from './invalidate.js';
import { checkCache, checkOptionsObject, checkPrefix, scoped } from './options.js';

/**
 * The cache as handlers see it on `req.nearCache`. Reads are local and synchronous; writes
 * apply here at once and replicate to every instance on the topic. Returned objects are the
 * cached ones, shared by every caller: treat them as read-only.
 */
export interface RequestCache {
  /** The underlying cache. */
  readonly cache: NearCache<any>;
  /** The namespace prefixed to the keys of `get`, `has`, `set`, `wrap` and `delete` ('' for none). */
  readonly namespace: string;
  /** The value of `key`, or `undefined`. */
  get<T = unknown>(key: string): T | undefined;
  /** Whether `key` has a live entry here. */
  has(key: string): boolean;
  /** Stores `value` under `key` here at once and on every instance. */
  set<T>(key: string, value: T, options?: SetOptions): Promise<void>;
  /** The cached value of `key`, or the result of `loader`, then cached. Concurrent calls share one load. */
  wrap<T>(key: string, loader: () => T | Promise<T>, options?: SetOptions): Promise<T>;
  /** Removes `key` here at once and on every instance. */
  delete(key: string, options?: WriteOptions): Promise<void>;
  /** Removes the cached responses of one URL on every instance; see `invalidateRoute`. */
  invalidateRoute(url: string, options?: Omit<InvalidateRouteOptions, 'prefix'>): Promise<void>;
  /** Removes the cached responses of every URL starting with `urlPrefix` on every instance; see `invalidatePrefix`. */
  invalidatePrefix(urlPrefix: string, options?: Omit<InvalidateOptions, 'prefix'>): Promise<void>;
}

declare global {
  // Express's own extension point: @types/express 4 and 5 both declare `Request` as extending
  // `Express.Request`, so this merges into either without importing express-serve-static-core.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /**
       * The replicated cache, set by `cacheResponses()` and `nearCache()` for the requests that
       * pass through them (undefined elsewhere).
       */
      nearCache: RequestCache;
    }
  }
}

/** Options of `nearCache(cache, options)`. */
export interface NearCacheRequestOptions {
  /** Prefix of the keys that `req.nearCache.get/has/set/wrap/delete` use. Default `''` (none). */
  namespace?: string;
  /** The key prefix of cached responses, for `req.nearCache.invalidateRoute/invalidatePrefix`: the `prefix` of `cacheResponses`. Default `'http:'`. */
  prefix?: string;
}

class BoundRequestCache implements RequestCache {
  readonly #target: NearCache<any> | NearCacheNamespace<any>;

  constructor(
    readonly cache: NearCache<any>,
    readonly namespace: string,
    readonly responsePrefix: string,
  ) {
    this.#target = namespace === '' ? cache : cache.namespace(namespace);
  }

  get<T = unknown>(key: string): T | undefined {
    return this.#target.get(key) as T | undefined;
  }

  has(key: string): boolean {
    return this.#target.has(key);
  }

  set<T>(key: string, value: T, options?: SetOptions): Promise<void> {
    return this.#target.set(key, value, options);
  }

  wrap<T>(key: string, loader: () => T | Promise<T>, options?: SetOptions): Promise<T> {
    return this.#target.wrap(key, loader, options) as Promise<T>;
  }

  delete(key: string, options?: WriteOptions): Promise<void> {
    return this.#target.delete(key, options);
  }

  invalidateRoute(url: string, options?: Omit<InvalidateRouteOptions, 'prefix'>): Promise<void> {
    return invalidateRoute(this.cache, url, { ...options, prefix: this.responsePrefix });
  }

  invalidatePrefix(urlPrefix: string, options?: Omit<InvalidateOptions, 'prefix'>): Promise<void> {
    return invalidatePrefix(this.cache, urlPrefix, { ...options, prefix: this.responsePrefix });
  }
}

/** A `RequestCache` over `cache`. One object serves every request: it holds nothing per request. */
export function createRequestCache(cache: NearCache<any>, namespace = '', responsePrefix = 'http:'): RequestCache {
  return new BoundRequestCache(cache, namespace, responsePrefix);
}

/**
 * Middleware that sets `req.nearCache` (and caches no response): for handlers that use the
 * cache directly. `cacheResponses()` also sets `req.nearCache` when no earlier middleware did.
 */
export function nearCache(cache: NearCache<any>, options?: NearCacheRequestOptions): RequestHandler {
  const scope = 'nearCache';
  checkCache(scope, cache);
  const given = checkOptionsObject(scope, options, ['namespace', 'prefix']);
  if (given.namespace !== undefined && (typeof given.namespace !== 'string' || given.namespace.startsWith('\u0000'))) {
    scoped(scope, () => invalidOption('namespace', 'a string not starting with U+0000', given.namespace));
  }
  const requestCache = createRequestCache(cache, (given.namespace as string | undefined) ?? '', checkPrefix(scope, given.prefix));
  return function nearCacheRequest(req: Request, _res: Response, next: NextFunction): void {
    req.nearCache = requestCache;
    next();
  };
}
