import { booleanOption, httpCacheKey, HTTP_DEFAULT_PREFIX, InvalidArgumentError, type NearCache } from '@nearcache/core';
import { checkCache, checkOptionsObject, checkPrefix, scoped } from './options.js';

/**
 * The key of the response to `GET url` (and `HEAD url`) under `prefix`: `<prefix>GET <url>`.
 * The same as `httpCacheKey('GET', url, prefix)` of `@nearcache/core`.
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

const OPTION_NAMES = ['prefix', 'durable'] as const;

function resolve(scope: string, cache: unknown, url: unknown, options: unknown): { cache: NearCache<unknown>; base: string; durable: boolean } {
  const checked = checkCache(scope, cache);
  if (typeof url !== 'string' || !url.startsWith('/')) {
    throw new InvalidArgumentError(`${scope}: the URL must be a string starting with "/", such as "/products/1", got ${typeof url === 'string' ? JSON.stringify(url) : typeof url}`);
  }
  const given = checkOptionsObject(scope, options, OPTION_NAMES);
  const prefix = checkPrefix(scope, given.prefix);
  const durable = scoped(scope, () => booleanOption('durable', given.durable, false));
  return { cache: checked, base: httpCacheKey('GET', url, prefix), durable };
}

/**
 * Removes the cached responses of one URL on every instance: the entry of `url` itself, its
 * `Vary` variants and, when `url` has no query string, the entries of `url` with any query
 * string (`/products/1?fields=name`). Does not touch other paths (`/products/10` stays).
 * Costs one tombstone and one or two clear records (a clear record goes to every partition).
 * Only default keys are covered; a custom `key` option needs its own `cache.delete`.
 */
export function invalidateRoute(cache: NearCache<any>, url: string, options?: InvalidateOptions): Promise<void> {
  let target;
  try {
    target = resolve('invalidateRoute', cache, url, options);
  } catch (error) {
    return Promise.reject(error);
  }
  const write = target.durable ? { durable: true } : undefined;
  const operations = [target.cache.delete(target.base, write), target.cache.clearPrefix(`${target.base} `, write)];
  if (!url.includes('?')) operations.push(target.cache.clearPrefix(`${target.base}?`, write));
  return Promise.all(operations).then(() => undefined);
}

/**
 * Removes the cached responses of every URL starting with `urlPrefix` on every instance
 * (`'/products/'` removes `/products/1`, `/products/2?x=1`...; `'/'` removes every response).
 * One clear record.
 */
export function invalidatePrefix(cache: NearCache<any>, urlPrefix: string, options?: InvalidateOptions): Promise<void> {
  let target;
  try {
    target = resolve('invalidatePrefix', cache, urlPrefix, options);
  } catch (error) {
    return Promise.reject(error);
  }
  return target.cache.clearPrefix(target.base, target.durable ? { durable: true } : undefined);
}
