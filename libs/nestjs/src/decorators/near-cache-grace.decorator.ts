import { httpGraceSettings, InvalidArgumentError, InvalidOptionError } from '@nearcache/core';
import { SetMetadata, type CustomDecorator } from '@nestjs/common';

/** Metadata key of `@NearCacheGrace()`. */
export const NEAR_CACHE_GRACE_METADATA = 'nearcache:route-grace';

/**
 * Grace of the responses `NearCacheInterceptor` caches on a route (method) or every route of a
 * controller (class), over the interceptor's `grace` and `softTimeout` settings: a stored response
 * is kept `grace` ms past its expiry, and when the handler of a request that missed fails (throws
 * an error other than a 4xx `HttpException`) or, with `softTimeout`, runs longer than that, the
 * response in grace answers instead (`X-Cache: STALE`). `0` turns grace off for the route.
 *
 * ```ts
 * @Get(':id') @NearCacheTtl(30_000) @NearCacheGrace(600_000, { softTimeout: 500 })
 * ```
 */
export function NearCacheGrace(grace: number, options?: { softTimeout?: number }): CustomDecorator<string> {
  try {
    return SetMetadata(NEAR_CACHE_GRACE_METADATA, httpGraceSettings({ grace, softTimeout: options?.softTimeout }));
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw new InvalidOptionError(`@NearCacheGrace(): ${error.message}`, { cause: error });
    throw error;
  }
}
