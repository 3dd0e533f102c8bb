import { InvalidOptionError } from '@nearcache/core';
import { DEFAULT_CACHE_NAME } from '../constants.js';

/** The largest time to live a cache accepts, in ms (100 years, the limit of `NearCache.set`). */
export const MAX_DECORATOR_TTL = 100 * 365 * 24 * 60 * 60 * 1000;

/** @internal Checks a `tags` option: a list of fixed tags, templates or key functions, or a function of the arguments. */
export function checkTags(decorator: string, tags: unknown): void {
  if (tags === undefined || typeof tags === 'function') return;
  if (!Array.isArray(tags) || !tags.every((tag) => typeof tag === 'function' || (typeof tag === 'string' && tag.length > 0 && !tag.includes('\n')))) {
    throw new InvalidOptionError(
      `@${decorator}(): tags must be an array of tags or templates (non-empty strings without a newline) or key functions, or a function of the arguments returning the tags`,
    );
  }
}

/** @internal Every name of an options type, checked complete at compile time: `optionNames<CachedOptions>()([...] as const)`. */
export function optionNames<T>() {
  return <const N extends readonly (keyof T & string)[]>(names: Exclude<keyof T, N[number]> extends never ? N : never): ReadonlySet<string> => new Set(names);
}

/**
 * @internal Checks the options common to the method decorators, and that `options` has no name
 * outside `names` (a typo would otherwise be dropped in silence); returns the cache name.
 */
export function checkCommon(
  decorator: string,
  options: { cache?: unknown; condition?: unknown; ttl?: unknown; unless?: unknown },
  names: ReadonlySet<string>,
): string {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError(`@${decorator}() takes an options object`);
  for (const name of Object.keys(options)) {
    if (!names.has(name)) throw new InvalidOptionError(`@${decorator}(): unknown option "${name}"; the options are: ${[...names].join(', ')}`);
  }
  const cache = options.cache ?? DEFAULT_CACHE_NAME;
  if (typeof cache !== 'string' || cache.length === 0) throw new InvalidOptionError(`@${decorator}(): cache must be a non-empty cache name`);
  if (options.condition !== undefined && typeof options.condition !== 'function') {
    throw new InvalidOptionError(`@${decorator}(): condition must be a function (...args) => boolean`);
  }
  if (options.unless !== undefined && typeof options.unless !== 'function') {
    throw new InvalidOptionError(`@${decorator}(): unless must be a function (result, ...args) => boolean`);
  }
  if (options.ttl !== undefined && (typeof options.ttl !== 'number' || !Number.isInteger(options.ttl) || options.ttl < 0 || options.ttl > MAX_DECORATOR_TTL)) {
    throw new InvalidOptionError(
      `@${decorator}(): ttl must be an integer number of ms from 0 (none) to ${MAX_DECORATOR_TTL} (100 years), got ${String(options.ttl)}`,
    );
  }
  return cache;
}
