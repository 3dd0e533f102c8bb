export { cacheResponses } from './middleware.js';
export { DEFAULT_STORED_HEADERS, type CacheableMethod, type CacheResponsesOptions } from './options.js';
export { createRequestCache, nearCache, type NearCacheRequestOptions, type RequestCache } from './request.js';
export {
  invalidatePrefix,
  invalidateResponseTags,
  invalidateRoute,
  responseKey,
  type InvalidateOptions,
  type InvalidateResponseTagsOptions,
  type InvalidateRouteOptions,
} from './invalidate.js';
export type { CacheResponsesFreshnessOptions } from './freshness.js';
// The entry format, keys and conditional helpers live in @nearcache/core (`HttpCachedResponse`,
// `httpCacheKey`, `decodeHttpEntry`, `computeEtag`, `ifNoneMatchMatches`...), shared with
// @nearcache/nestjs; `responseKey(url, prefix)` is kept here as a shorthand of `httpCacheKey('GET', url, prefix)`.
