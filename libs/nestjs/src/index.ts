export { NearCache } from '@nearcache/core';
export {
  DEFAULT_CACHE_NAME,
  getNearCacheToken,
  NEAR_CACHE,
  NEAR_CACHE_KEY_METADATA,
  NEAR_CACHE_OPERATIONS_METADATA,
  NEAR_CACHE_TTL_METADATA,
} from './constants.js';
export { CacheEvict, type CacheEvictOptions } from './decorators/cache-evict.decorator.js';
export { CachePut, type CachePutOptions } from './decorators/cache-put.decorator.js';
export { Cached, type CachedOptions } from './decorators/cached.decorator.js';
export { InjectNearCache } from './decorators/inject-near-cache.decorator.js';
export { NearCacheKey, type NearCacheKeyOption } from './decorators/near-cache-key.decorator.js';
export { NearCacheGrace } from './decorators/near-cache-grace.decorator.js';
export { NearCacheMaxStaleness } from './decorators/near-cache-max-staleness.decorator.js';
export { NearCacheTags, type NearCacheTagsOption } from './decorators/near-cache-tags.decorator.js';
export { NearCacheTtl, type NearCacheTtlOption } from './decorators/near-cache-ttl.decorator.js';
export { DefaultKeyCollisionError, DuplicateCacheNameError, UnknownCacheError } from './errors.js';
export type { NearCacheModuleExtras, NearCacheModuleOptions, NearCacheOptionsFactory } from './interfaces.js';
export {
  compileKey,
  defaultCacheKey,
  KeyTooComplexError,
  MAX_KEY_VALUES,
  MAX_SERIALISED_ARGS,
  stableStringify,
  UnkeyableArgumentError,
  UnresolvablePlaceholderError,
  UnresolvedPlaceholderError,
  type CacheKeyFunction,
  type CacheKeyOption,
  type MethodSignature,
} from './keys.js';
export { NearCacheExplorer } from './near-cache.explorer.js';
export {
  NearCacheHealthIndicator,
  type NearCacheHealthDetails,
  type NearCacheHealthOptions,
  type NearCacheHealthResult,
  type NearCacheHealthStatus,
} from './near-cache.health.js';
export { NearCacheInterceptor } from './near-cache.interceptor.js';
export type { NearCacheInterceptorOptions } from './interceptor-settings.js';
export type { NearCacheModuleAsyncOptions, NearCacheModuleRootOptions } from './near-cache.module-definition.js';
export { NearCacheModule } from './near-cache.module.js';
export { NearCacheRegistry, nestLogger, type RegisteredNearCache } from './near-cache.registry.js';
export type { CacheCondition, CacheSessionToken, CacheTagsOption, CacheUnless } from './operations.js';
