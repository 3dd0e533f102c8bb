import { InvalidOptionError } from '@nearcache/core';
import { SetMetadata, type CustomDecorator, type ExecutionContext } from '@nestjs/common';
import { NEAR_CACHE_KEY_METADATA } from '../constants.js';

/** A route's cache key, or a function of the execution context returning it (undefined: do not cache). */
export type NearCacheKeyOption = string | ((context: ExecutionContext) => string | undefined);

/**
 * Sets the key `NearCacheInterceptor` caches this route's response under, instead of the URL.
 *
 * ```ts
 * @Get('featured') @NearCacheKey('products:featured')
 * ```
 */
export function NearCacheKey(key: NearCacheKeyOption): CustomDecorator<string> {
  if ((typeof key !== 'string' || key.length === 0) && typeof key !== 'function') {
    throw new InvalidOptionError('@NearCacheKey() takes a non-empty string or a function of the execution context');
  }
  return SetMetadata(NEAR_CACHE_KEY_METADATA, key);
}
