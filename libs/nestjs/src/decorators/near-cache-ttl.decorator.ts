import { InvalidOptionError } from '@nearcache/core';
import { SetMetadata, type CustomDecorator, type ExecutionContext } from '@nestjs/common';
import { NEAR_CACHE_TTL_METADATA } from '../constants.js';

/** A time to live in ms (0 for none), or a function of the execution context returning it. */
export type NearCacheTtlOption = number | ((context: ExecutionContext) => number);

/**
 * Sets the time to live of the responses `NearCacheInterceptor` caches, for a route (method) or
 * every route of a controller (class). The method's value wins over the class's; without
 * either, the module's `ttl` applies.
 *
 * ```ts
 * @Get(':id') @NearCacheTtl(30_000)
 * ```
 */
export function NearCacheTtl(ttl: NearCacheTtlOption): CustomDecorator<string> {
  if (typeof ttl !== 'function' && (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 0)) {
    throw new InvalidOptionError(`@NearCacheTtl() takes an integer number of ms >= 0 or a function of the execution context, got ${String(ttl)}`);
  }
  return SetMetadata(NEAR_CACHE_TTL_METADATA, ttl);
}
