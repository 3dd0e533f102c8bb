import { InvalidArgumentError } from '../errors.js';
import { HttpPathIndex, type HttpIndexedCache } from './budget.js';
import { HTTP_DEFAULT_PREFIX } from './entry.js';
import { httpOrigin, normaliseHttpTarget } from './keys.js';

/**
 * Invalidation of the HTTP caches: the keys and prefixes that remove the cached responses of a
 * URL or of a URL prefix, and the writes that carry them out.
 */

export interface HttpInvalidation {
  deletes: string[];
  clears: string[];
}

function invalidationTarget(scope: string, url: unknown): string {
  const target = typeof url === 'string' && url.startsWith('/') ? normaliseHttpTarget(url) : undefined;
  if (target === undefined) {
    throw new InvalidArgumentError(
      `${scope}: the URL must be a string starting with "/", such as "/products/1", got ${typeof url === 'string' ? JSON.stringify(url) : typeof url}`,
    );
  }
  return target;
}

/**
 * The keys and prefixes that remove the cached responses of `url` (a path with or without a
 * query string), stored under the default keys with `prefix`:
 * - without `host`, on every host: the entry of `url` and its `Vary` variants (one clear of
 *   `<prefix>GET <url> `), and when `url` has no query string, the entries of `url` with any
 *   query string (a clear of `<prefix>GET <path>?`);
 * - with `host` (a host name, as `req.hostname` gives it), the entry of `url` on that host, for
 *   http and https (deleted by key), and its variants; the entries of the path with a query
 *   string are still cleared on every host (a key holds the host after the query, so no prefix
 *   selects one host's query strings).
 * A path without a trailing slash covers the same path with one (`/p/`, which a router that
 * ignores trailing slashes answers as `/p`).
 * Throws `InvalidArgumentError` for a URL not starting with "/" or a host that is not a host name.
 */
export function httpRouteInvalidation(url: unknown, prefix: string, host?: unknown): HttpInvalidation {
  const target = invalidationTarget('invalidateRoute', url);
  const invalidation: HttpInvalidation = { deletes: [], clears: [] };
  const origins: string[] = [];
  if (host !== undefined) {
    for (const scheme of ['http', 'https']) {
      const origin = httpOrigin(scheme, host);
      if (origin === undefined)
        throw new InvalidArgumentError(`invalidateRoute: option "host" must be a host name such as "shop.example", got ${JSON.stringify(host)}`);
      origins.push(origin);
    }
  }
  // A router that ignores a trailing slash (Express's default) answers `/p/` as `/p`: remove it too.
  const targets = target.includes('?') || target.endsWith('/') ? [target] : [target, `${target}/`];
  for (const path of targets) {
    const base = `${prefix}GET ${path}`;
    if (host === undefined) {
      invalidation.clears.push(`${base} `);
    } else {
      for (const origin of origins) {
        invalidation.deletes.push(`${base} ${origin}`);
        invalidation.clears.push(`${base} ${origin} `);
      }
    }
    if (!path.includes('?')) invalidation.clears.push(`${base}?`);
  }
  return invalidation;
}

/**
 * The prefix to clear to remove the cached responses of every URL starting with `urlPrefix`
 * (`'/products/'`; `'/'` for every response), on every host, stored under the default keys
 * with `prefix`. Throws `InvalidArgumentError` for a prefix not starting with "/".
 */
export function httpPrefixInvalidation(urlPrefix: unknown, prefix: string): string {
  return `${prefix}GET ${invalidationTarget('invalidatePrefix', urlPrefix)}`;
}

/** What the invalidation helpers need of a cache (a `NearCache`). */
export interface HttpInvalidationTarget {
  delete(key: string, options?: { durable?: boolean }): Promise<void>;
  clearPrefix(prefix: string, options?: { durable?: boolean }): Promise<void>;
  /** `NearCache.holdsEveryKey`: when true, the keys under a prefix are also deleted one by one (tombstones), beside the clear. */
  readonly holdsEveryKey?: boolean;
  keys?(): Iterable<string>;
  has?(key: string): boolean;
  on?(event: 'change', listener: (change: { op: 'set' | 'delete' | 'clear'; key: string }) => void): unknown;
}

/** Above this many keys, an invalidation writes a prefix clear rather than one tombstone per key. */
export const HTTP_INVALIDATION_MAX_DELETES = 1000;

/**
 * The writes that carry out `invalidation` on `cache`: its clears (one record per prefix and
 * partition, which compaction keeps once per prefix, and which removes what any instance stored
 * before it in the log, variants this one has not seen yet included) and, when the cache holds
 * every key it read (`holdsEveryKey`: no eviction, no filter) and the prefixes cover at most
 * `HTTP_INVALIDATION_MAX_DELETES` keys, tombstones of the keys they remove, so that compaction
 * drops those entries from the log and no later start-up reads them.
 */
export function httpInvalidationWrites(cache: HttpInvalidationTarget, invalidation: HttpInvalidation): HttpInvalidation {
  if (invalidation.clears.length === 0 || !readsAllKeys(cache)) return invalidation;
  const index = HttpPathIndex.of(cache as HttpIndexedCache);
  const deletes = new Set(invalidation.deletes);
  for (const prefix of invalidation.clears) {
    const keys = index.keysUnder(prefix, HTTP_INVALIDATION_MAX_DELETES);
    if (keys === undefined) return invalidation;
    for (const key of keys) deletes.add(key);
    if (deletes.size > HTTP_INVALIDATION_MAX_DELETES + invalidation.deletes.length) return invalidation;
  }
  return { deletes: [...deletes], clears: invalidation.clears };
}

function readsAllKeys(cache: HttpInvalidationTarget): boolean {
  try {
    return cache.holdsEveryKey === true && typeof cache.keys === 'function' && typeof cache.has === 'function' && typeof cache.on === 'function';
  } catch {
    return false;
  }
}

/** Runs the writes of `invalidation` (see `httpInvalidationWrites`). */
export function runHttpInvalidation(cache: HttpInvalidationTarget, invalidation: HttpInvalidation, durable: boolean): Promise<void> {
  const { deletes, clears } = httpInvalidationWrites(cache, invalidation);
  const write = durable ? { durable: true } : undefined;
  return Promise.all([...deletes.map((key) => cache.delete(key, write)), ...clears.map((prefix) => cache.clearPrefix(prefix, write))]).then(() => undefined);
}

/** Options of `invalidateHttpRoute` and `invalidateHttpPrefix`. */
export interface HttpInvalidateOptions {
  /** The key prefix of the responses. Default `'http:'`. */
  prefix?: string;
  /** `invalidateHttpRoute` only: the host whose responses to remove (see `httpRouteInvalidation`). Default: every host. */
  host?: string;
  /** Resolve once the log acknowledged the writes. Default `false`. */
  durable?: boolean;
}

/**
 * Removes the cached responses of one URL (stored under the default keys) on every instance:
 * what `httpRouteInvalidation` lists. For Nest applications (`@nearcache/express` has
 * `invalidateRoute`, which checks its options first).
 */
export function invalidateHttpRoute(cache: HttpInvalidationTarget, url: string, options: HttpInvalidateOptions = {}): Promise<void> {
  try {
    return runHttpInvalidation(cache, httpRouteInvalidation(url, options.prefix ?? HTTP_DEFAULT_PREFIX, options.host), options.durable === true);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Removes the cached responses of every URL starting with `urlPrefix`, on every host and every instance (one clear record). */
export function invalidateHttpPrefix(cache: HttpInvalidationTarget, urlPrefix: string, options: Omit<HttpInvalidateOptions, 'host'> = {}): Promise<void> {
  try {
    return runHttpInvalidation(
      cache,
      { deletes: [], clears: [httpPrefixInvalidation(urlPrefix, options.prefix ?? HTTP_DEFAULT_PREFIX)] },
      options.durable === true,
    );
  } catch (error) {
    return Promise.reject(error);
  }
}
