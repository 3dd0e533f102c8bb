// The entry format, keys and conditional helpers live in @nearcache/core (`HttpCachedResponse`,
// `httpCacheKey`, `decodeHttpEntry`, `computeEtag`, `ifNoneMatchMatches`...), shared with
// @nearcache/nestjs; `responseKey(url, prefix)` is kept here as a shorthand of `httpCacheKey('GET', url, prefix)`.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import {
  booleanOption,
  describeValue,
  httpCacheKey,
  httpTagsOf,
  httpTagsOption,
  InvalidArgumentError,
  InvalidOptionError,
  httpPrefixInvalidation,
  httpRouteInvalidation,
  HTTP_DEFAULT_PREFIX,
  runHttpInvalidation,
  type NearCache,
} from '@nearcache/core';
import { checkCache, checkOptionsObject, checkPrefix, maxKeyBytesOf, scoped } from './options.js';

/**
 * The key of the response to `GET url` (and `HEAD url`) under `prefix`, where `url` is absolute
 * (`https://shop.example/products/1`): `<prefix>GET /products/1 https://shop.example`. The same
 * as `httpCacheKey('GET', url, prefix)` of `@nearcache/core`.
 */
export function responseKey(url: string, prefix: string = HTTP_DEFAULT_PREFIX): string {
  return httpCacheKey('GET', url, prefix);
}

/** Options of `invalidateRoute` and `invalidatePrefix`. */
export interface InvalidateOptions {
  /** The key prefix the responses were stored under: the `prefix` of `cacheResponses`. Default `'http:'`. */
  prefix?: string;
  /** Resolve only once the log acknowledged the invalidation (rejects with `ReplicationTimeoutError` after the cache's `flushTimeout`). Default `false`. */
  durable?: boolean;
}

/** Options of `invalidateRoute`. */
export interface InvalidateRouteOptions extends InvalidateOptions {
  /**
   * Only the responses of this host (a host name as `req.hostname` gives it, such as
   * `'shop.example'`), for http and https. Default: every host. The responses of the path with
   * a query string are removed on every host all the same.
   */
  host?: string;
}

function resolve(
  scope: string,
  cache: unknown,
  options: unknown,
  names: readonly string[],
): { cache: NearCache<unknown>; prefix: string; durable: boolean; host: unknown } {
  const checked = checkCache(scope, cache);
  const given = checkOptionsObject(scope, options, names);
  const prefix = checkPrefix(scope, given.prefix);
  const durable = scoped(scope, () => booleanOption('durable', given.durable, false));
  return { cache: checked, prefix, durable, host: given.host };
}

/**
 * Removes the cached responses of one URL on every instance: the entry of `url` itself on every
 * host (or on `host`), its `Vary` variants and, when `url` has no query string, the entries of
 * `url` with any query string (`/products/1?fields=name`). Does not touch other paths
 * (`/products/10` stays). The URL is normalised as keys are (`/products/%31` is `/products/1`).
 * Writes one or two clear records (with `host`, two tombstones and three clear records; a clear
 * record goes to every partition, and compaction keeps the latest of each prefix), which also
 * remove variants another instance stored before them in the log; on an instance that holds
 * every key (`cache.holdsEveryKey`), also one tombstone per key it removes (up to
 * `HTTP_INVALIDATION_MAX_DELETES`). Only default keys are covered; a custom `key` option needs
 * its own `cache.delete`.
 */
export function invalidateRoute(cache: NearCache<any>, url: string, options?: InvalidateRouteOptions): Promise<void> {
  try {
    const target = resolve('invalidateRoute', cache, options, ['prefix', 'durable', 'host']);
    return runHttpInvalidation(target.cache, httpRouteInvalidation(url, target.prefix, target.host), target.durable);
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Removes the cached responses of every URL starting with `urlPrefix` on every instance and every
 * host (`'/products/'` removes `/products/1`, `/products/2?x=1`...; `'/'` removes every
 * response). One clear record, and tombstones of the keys it removes on an instance that holds
 * every key (up to `HTTP_INVALIDATION_MAX_DELETES`).
 */
export function invalidatePrefix(cache: NearCache<any>, urlPrefix: string, options?: InvalidateOptions): Promise<void> {
  try {
    const target = resolve('invalidatePrefix', cache, options, ['prefix', 'durable']);
    return runHttpInvalidation(target.cache, { deletes: [], clears: [httpPrefixInvalidation(urlPrefix, target.prefix)] }, target.durable);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Options of `invalidateResponseTags`. */
export interface InvalidateResponseTagsOptions {
  /** Send the response only once the log acknowledged the invalidation (at most the cache's `flushTimeout`; then it is sent all the same, and the failure logged). Default `false`. */
  durable?: boolean;
}

type AnyFunction = (...args: unknown[]) => unknown;

/**
 * Middleware for the routes that change what tagged responses show (POST, PUT, PATCH, DELETE):
 * when the handler ends its response with a status below 400, removes every cached response (and
 * every other entry) carrying one of `tags` with core's `invalidateTags`, here at once, before the
 * response goes out, and on every instance (docs/consistency.md, section 17). `tags`: an array of
 * tags, or a function of the request returning them (or `undefined` for none). A failed response
 * invalidates nothing. The same as calling `cache.invalidateTags(tags)` in the handler. Options are
 * checked at once (`InvalidOptionError`); an invalidation that fails is logged, and the response
 * goes out.
 */
export function invalidateResponseTags(
  cache: NearCache<any>,
  tags: readonly string[] | ((req: Request) => readonly string[] | undefined),
  options?: InvalidateResponseTagsOptions,
): RequestHandler {
  const scope = 'invalidateResponseTags';
  const checked = checkCache(scope, cache);
  const maxKeyBytes = maxKeyBytesOf(checked);
  if (tags === undefined || (typeof tags !== 'function' && !Array.isArray(tags))) {
    throw new InvalidOptionError(`${scope}: tags must be an array of tags or a function of the request returning them, got ${describeValue(tags)}`);
  }
  const option = scoped(scope, () => {
    try {
      return httpTagsOption<Request>('tags', tags, maxKeyBytes);
    } catch (error) {
      if (error instanceof InvalidArgumentError) throw new InvalidOptionError(error.message, { cause: error });
      throw error;
    }
  });
  const given = checkOptionsObject(scope, options, ['durable']);
  const durable = scoped(scope, () => booleanOption('durable', given.durable, false));
  const log = checked.logger;

  return function invalidateTagsOnSuccess(req: Request, res: Response, next: NextFunction): void {
    const originalEnd = res.end as unknown as AnyFunction;
    res.end = function end(this: Response, ...args: unknown[]): Response {
      res.end = originalEnd as unknown as Response['end'];
      if (this.statusCode >= 400) return originalEnd.apply(this, args) as Response;
      let invalidated: Promise<void>;
      try {
        const list = httpTagsOf(option, req, maxKeyBytes);
        if (list === undefined) return originalEnd.apply(this, args) as Response;
        // Removed here at once; the record goes to the log.
        invalidated = checked.invalidateTags(list, { durable });
      } catch (error) {
        invalidated = Promise.reject(error);
      }
      const failed = (error: unknown): void => log.warn(`${scope}: invalidating the tags failed: ${error instanceof Error ? error.message : String(error)}`);
      if (!durable) {
        invalidated.catch(failed);
        return originalEnd.apply(this, args) as Response;
      }
      invalidated.catch(failed).finally(() => originalEnd.apply(this, args));
      return this;
    } as unknown as Response['end'];
    next();
  };
}
