import { httpTagsOption, InvalidArgumentError, InvalidOptionError } from '@nearcache/core';
import { SetMetadata, type CustomDecorator, type ExecutionContext } from '@nestjs/common';

/** Metadata key of `@NearCacheTags()`. */
export const NEAR_CACHE_TAGS_METADATA = 'nearcache:route-tags';

/** Tags of a route's responses: an array of tags, or a function of the execution context returning them (or `undefined` for none). */
export type NearCacheTagsOption = readonly string[] | ((context: ExecutionContext) => readonly string[] | undefined);

/** The longest tag checked here: core's largest `maxKeyBytes`; the cache's own limit applies when a response is stored. */
const MAX_TAG_BYTES = 65_536;

/**
 * Tags the responses `NearCacheInterceptor` caches, for a route (method) or every route of a
 * controller (class); the method's tags win over the class's. `NearCache.invalidateTags` (or
 * `@CacheEvict({ tags })`) then removes them on every instance (docs/consistency.md, section 17).
 * Tags follow `set`'s rules (at most 32 non-empty strings without a newline); a function whose
 * result is not tags makes the response not stored (warned).
 *
 * ```ts
 * @Get(':id') @NearCacheTags((context) => [`product:${context.switchToHttp().getRequest().params.id}`, 'products'])
 * ```
 */
export function NearCacheTags(tags: NearCacheTagsOption): CustomDecorator<string> {
  try {
    if (typeof tags !== 'function' && !Array.isArray(tags)) throw new InvalidArgumentError(`got ${tags === null ? 'null' : typeof tags}`);
    return SetMetadata(NEAR_CACHE_TAGS_METADATA, httpTagsOption<ExecutionContext>('tags', tags, MAX_TAG_BYTES));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new InvalidOptionError(`@NearCacheTags() takes an array of tags or a function of the execution context returning them: ${message}`, {
      cause: error,
    });
  }
}
