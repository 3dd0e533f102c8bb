import { InvalidOptionError } from '@nearcache/core';
import type { CacheKeyOption } from '../keys.js';
import { decorateMethod, type CacheCondition, type CacheTagsOption, type CacheUnless } from '../operations.js';
import { checkCommon, checkTags, optionNames } from './validate.js';

/** Options of `@CachePut()`. */
export interface CachePutOptions {
  /** The key to store under: a fixed string, a template such as `'user:{0.id}'`, or a function of the arguments. */
  key: CacheKeyOption;
  /** Time to live in ms, over the module's `ttl`; 0 for none. Default: the module's `ttl`. */
  ttl?: number;
  /** The named cache. Default: the default cache. */
  cache?: string;
  /** Store only when it returns true (called with the arguments). */
  condition?: CacheCondition;
  /** Do not store a result when it returns true (called with the result, then the arguments). */
  unless?: CacheUnless;
  /** Tags of the stored value, as for `@Cached`. Default: none (a value stored without tags loses those of the value it replaces). */
  tags?: CacheTagsOption;
}

const CACHE_PUT_OPTIONS = optionNames<CachePutOptions>()(['key', 'ttl', 'cache', 'condition', 'unless', 'tags'] as const);

/**
 * Always runs the method, then stores its result under `key`, on every instance of the
 * application: refresh an entry that `@Cached` reads. Errors and `undefined` are not stored.
 *
 * ```ts
 * @CachePut({ key: 'user:{0}' })
 * async rename(id: string, name: string): Promise<User> { ... }
 * ```
 */
export function CachePut(options: CachePutOptions): MethodDecorator {
  const cache = checkCommon('CachePut', options, CACHE_PUT_OPTIONS);
  if (options.key === undefined) throw new InvalidOptionError('@CachePut() needs a key');
  checkTags('CachePut', options.tags);
  return (target, propertyKey, descriptor) =>
    decorateMethod('CachePut', target, propertyKey, descriptor, {
      kind: 'put',
      cache,
      key: options.key,
      ttl: options.ttl,
      condition: options.condition,
      unless: options.unless,
      tags: options.tags,
    }) as typeof descriptor;
}
