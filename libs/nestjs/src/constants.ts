/** The name of the cache registered without a `name`. */
export const DEFAULT_CACHE_NAME = 'default';

/** Injection token of the default cache. The `NearCache` class is an alias of it. */
export const NEAR_CACHE = 'NEAR_CACHE';

/** @internal Token of a provider of each `NearCacheModule` holding its cache's name, found before any cache is created. */
export const NEAR_CACHE_NAME = 'NEAR_CACHE_NAME';

/** Metadata key of the `@NearCacheKey()` route decorator. */
export const NEAR_CACHE_KEY_METADATA = 'nearcache:route-key';

/** Metadata key of the `@NearCacheTtl()` route decorator. */
export const NEAR_CACHE_TTL_METADATA = 'nearcache:route-ttl';
/** Metadata key of `@NearCacheMaxStaleness()`. */
export const NEAR_CACHE_MAX_STALENESS_METADATA = 'nearcache:max-staleness';

/** Metadata key holding the caching operations of a method wrapped by `@Cached`, `@CacheEvict` or `@CachePut`. */
export const NEAR_CACHE_OPERATIONS_METADATA = 'nearcache:operations';

/**
 * The injection token of the cache called `name`: `NEAR_CACHE` for the default cache, else
 * `NEAR_CACHE:<name>`.
 */
export function getNearCacheToken(name: string = DEFAULT_CACHE_NAME): string {
  return name === DEFAULT_CACHE_NAME ? NEAR_CACHE : `${NEAR_CACHE}:${name}`;
}
