import { NearCacheError } from '@nearcache/core';

/**
 * Two `NearCacheModule.forRoot()` / `forRootAsync()` of one application register caches of one
 * name (both without `name` registers two `default` caches). Raised while the application starts;
 * the caches already created are closed first.
 */
export class DuplicateCacheNameError extends NearCacheError {
  static override readonly code = 'NC_DUPLICATE_CACHE_NAME';
}

/**
 * A decorator (`@Cached`, `@CacheEvict`, `@CachePut`) or `NearCacheRegistry.get()` names a cache
 * that no `NearCacheModule.forRoot({ name })` of the application registers. From a decorator, the
 * start fails with it, after the caches already created are closed.
 */
export class UnknownCacheError extends NearCacheError {
  static override readonly code = 'NC_UNKNOWN_CACHE';
}

/**
 * `@Cached()` without a key on a method of two different providers of one class name (a class
 * provided twice, or two classes of one name in two modules): both would build the same default
 * keys `ClassName.method:<arguments>` and serve each other's results. The start fails with it,
 * after the caches already created are closed.
 */
export class DefaultKeyCollisionError extends NearCacheError {
  static override readonly code = 'NC_DEFAULT_KEY_COLLISION';
}
