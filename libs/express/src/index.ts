export { cacheResponses } from './middleware.js';
export { DEFAULT_STORED_HEADERS, type CacheableMethod, type CacheResponsesOptions } from './options.js';
export { createRequestCache, nearCache, type NearCacheRequestOptions, type RequestCache } from './request.js';
export { invalidatePrefix, invalidateRoute, type InvalidateOptions } from './invalidate.js';
export {
  HTTP_ENTRY_VERSION,
  isCachedResponse,
  isVaryIndex,
  parseVary,
  responseKey,
  variantKey,
  type CachedResponse,
  type HttpCacheEntry,
  type VaryIndex,
} from './entry.js';
export { ifNoneMatchMatches, strongEtag } from './conditional.js';
