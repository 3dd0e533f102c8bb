import { InvalidOptionError } from '@nearcache/core';
import type { CacheKeyOption } from '../keys.js';
import { decorateMethod, type CacheCondition, type CacheTagsOption } from '../operations.js';
import { checkCommon, checkTags, optionNames } from './validate.js';

/** Options of `@CacheEvict()`: give one of `key`, `keys`, `prefix`, `tags` and `allEntries`. */
export interface CacheEvictOptions {
  /** The key to remove: a fixed string, a template such as `'user:{0}'`, or a function of the arguments. */
  key?: CacheKeyOption;
  /** Several keys to remove: a list of keys or templates, or a function of the arguments returning the keys. */
  keys?: CacheKeyOption[] | ((...args: any[]) => string[]);
  /** Remove every key starting with this prefix (a string, a template or a function of the arguments). */
  prefix?: CacheKeyOption;
  /**
   * Remove every entry carrying one of these tags (`NearCache.invalidateTags`), on every instance:
   * fixed tags or templates with the placeholders of keys, or a function of the arguments
   * returning the tags.
   */
  tags?: CacheTagsOption;
  /** Remove every entry of the cache. Default false. */
  allEntries?: boolean;
  /**
   * Evict before the method runs, whatever its outcome. Default false: evict after it
   * succeeded (a method that throws evicts nothing).
   */
  beforeInvocation?: boolean;
  /** The named cache. Default: the default cache. */
  cache?: string;
  /** Evict only when it returns true (called with the arguments). */
  condition?: CacheCondition;
}

const CACHE_EVICT_OPTIONS = optionNames<CacheEvictOptions>()([
  'key',
  'keys',
  'prefix',
  'tags',
  'allEntries',
  'beforeInvocation',
  'cache',
  'condition',
] as const);

/**
 * Removes entries once the method succeeded, on every instance of the application: the removal
 * is applied here at once and replicated through the log. For a method returning a promise,
 * after it resolves (the returned promise settles after the local removal); for one returning
 * an Observable, when it completes (never when it errors); with `beforeInvocation`, before the
 * method runs.
 *
 * ```ts
 * @CacheEvict({ key: 'user:{id}' })
 * async update(id: string, changes: Partial<User>): Promise<User> { ... }
 *
 * @CacheEvict({ tags: ['org:{orgId}'] })
 * async moveOrg(orgId: string): Promise<void> { ... }
 * ```
 */
export function CacheEvict(options: CacheEvictOptions): MethodDecorator {
  const cache = checkCommon('CacheEvict', options, CACHE_EVICT_OPTIONS);
  const given = [options.key, options.keys, options.prefix, options.tags, options.allEntries === true ? true : undefined].filter((o) => o !== undefined);
  if (given.length !== 1) throw new InvalidOptionError('@CacheEvict() needs exactly one of key, keys, prefix, tags and allEntries: true');
  checkTags('CacheEvict', options.tags);
  if (options.keys !== undefined && typeof options.keys !== 'function' && !Array.isArray(options.keys)) {
    throw new InvalidOptionError('@CacheEvict(): keys must be an array of keys or templates, or a function of the arguments');
  }
  if (options.allEntries !== undefined && typeof options.allEntries !== 'boolean') throw new InvalidOptionError('@CacheEvict(): allEntries must be a boolean');
  if (options.beforeInvocation !== undefined && typeof options.beforeInvocation !== 'boolean') {
    throw new InvalidOptionError('@CacheEvict(): beforeInvocation must be a boolean');
  }
  return (target, propertyKey, descriptor) =>
    decorateMethod('CacheEvict', target, propertyKey, descriptor, {
      kind: 'evict',
      cache,
      keys: options.key !== undefined ? [options.key] : options.keys,
      prefix: options.prefix,
      tags: options.tags,
      allEntries: options.allEntries === true,
      beforeInvocation: options.beforeInvocation === true,
      condition: options.condition,
    }) as typeof descriptor;
}
