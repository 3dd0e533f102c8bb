import { httpCacheKey } from '@nearcache/core';

/**
 * The cache keys of the example. The Nest app and the Express app share one topic, and so one
 * key space:
 *
 * | Key                       | Value                    | Written by |
 * |---------------------------|--------------------------|------------|
 * | `product:<id>`            | the product              | Nest `@Cached`, Express `req.nearCache.wrap` |
 * | `http:GET /products/<id> <scheme>://<host>` | the page (an HTTP entry) | Nest `NearCacheInterceptor`, Express `cacheResponses` |
 *
 * Both frameworks store pages in the same format under the same key, so a page one computed is
 * served by the other. An update removes both keys, from either app.
 */

/** The key of a product's value. */
export const productKey = (id: string): string => `product:${id}`;

/** The path of a product's page. */
export const productPath = (id: string): string => `/products/${encodeURIComponent(id)}`;

/** The key of a product's page served at `origin`, as the interceptor and the middleware store it. */
export const pageKey = (id: string, origin = 'http://127.0.0.1'): string => httpCacheKey('GET', `${origin}${productPath(id)}`);

/** Product pages, the requests the example measures. */
export const PRODUCT_PAGE = /^\/products\/[^/]+$/;
