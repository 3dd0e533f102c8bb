import { InvalidOptionError } from '@nearcache/core';
import { SetMetadata, type CustomDecorator } from '@nestjs/common';
import { NEAR_CACHE_MAX_STALENESS_METADATA } from '../constants.js';

/** The largest bound, in ms (core's read option `maxStaleness`). */
const MAX_STALENESS = 2_147_483_647;

/**
 * The staleness a hit of `NearCacheInterceptor` may have on a route (method) or every route of a
 * controller (class), in ms: a hit is served only while this instance is confirmed to have
 * applied every record the log held that long ago; else the handler runs as on a miss (and its
 * response is stored). The method's value wins over the class's, which wins over the
 * interceptor's `maxStaleness` setting.
 *
 * ```ts
 * @Get(':id') @NearCacheMaxStaleness(2000)
 * ```
 */
export function NearCacheMaxStaleness(maxStaleness: number): CustomDecorator<string> {
  if (typeof maxStaleness !== 'number' || !Number.isInteger(maxStaleness) || maxStaleness < 0 || maxStaleness > MAX_STALENESS) {
    throw new InvalidOptionError(`@NearCacheMaxStaleness() takes an integer number of ms from 0 to ${MAX_STALENESS}, got ${String(maxStaleness)}`);
  }
  return SetMetadata(NEAR_CACHE_MAX_STALENESS_METADATA, Object.freeze({ maxStaleness }));
}
