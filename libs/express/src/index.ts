export { cacheResponses } from './middleware.js';
export { DEFAULT_STORED_HEADERS, type CacheableMethod, type CacheResponsesOptions } from './options.js';
export { createRequestCache, nearCache, type NearCacheRequestOptions, type RequestCache } from './request.js';
export { invalidatePrefix, invalidateRoute, responseKey, type InvalidateOptions, type InvalidateRouteOptions } from './invalidate.js';
// The entry format, keys and conditional helpers live in @nearcache/core (`HttpCachedResponse`,
// `httpCacheKey`, `decodeHttpEntry`, `computeEtag`, `ifNoneMatchMatches`...), shared with
// @nearcache/nestjs; `responseKey(url, prefix)` is kept here as a shorthand of `httpCacheKey('GET', url, prefix)`.
