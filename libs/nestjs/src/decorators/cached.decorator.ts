import { InvalidOptionError } from '@nearcache/core';
import type { CacheKeyOption } from '../keys.js';
import { decorateMethod, type CacheCondition, type CachedGuard, type CacheSessionToken, type CacheTagsOption, type CacheUnless } from '../operations.js';
import { checkCommon, checkTags, MAX_DECORATOR_TTL, optionNames } from './validate.js';

/** The largest `maxStaleness`, in ms (setTimeout's limit, as the cache's). */
const MAX_STALENESS = 2_147_483_647;

/** Options of `@Cached()`. */
export interface CachedOptions {
  /**
   * The key: a fixed string, a template such as `'user:{0}'` or `'user:{id}'`, or a function of
   * the arguments. Default: `ClassName.method:` and the stable serialisation of the arguments
   * (object keys sorted; hashed when long).
   */
  key?: CacheKeyOption;
  /** Time to live in ms, over the module's `ttl`; 0 for none. Default: the module's `ttl`. */
  ttl?: number;
  /** The named cache to use. Default: the default cache. */
  cache?: string;
  /** Use the cache for this call only when it returns true (called with the arguments). */
  condition?: CacheCondition;
  /** Do not store a result when it returns true (called with the result, then the arguments). */
  unless?: CacheUnless;
  /**
   * The staleness accepted, in ms: a cached value is used only while this instance is confirmed
   * to have applied every record the log held that long ago (docs/consistency.md, bounded
   * staleness); otherwise the method runs and its result is stored. Default: no bound.
   */
  maxStaleness?: number;
  /**
   * The call's session token, from the arguments (`(id, session) => session`): a cached value is
   * used only once this instance applied every write the token covers (docs/consistency.md,
   * session read-your-writes); otherwise the method runs and its result is stored. Returning
   * `undefined` or `''` sets no condition. A token that is not one makes the call run uncached,
   * with a warning. Default: none.
   */
  after?: CacheSessionToken;
  /**
   * Tags of the stored value (`NearCache.set`'s `tags`), for `@CacheEvict({ tags })` and
   * `invalidateTags`: fixed tags or templates with the placeholders of keys (`'user:{id}'`,
   * checked when the module initialises), or a function of the arguments returning the tags. A
   * call whose tags cannot be built (a placeholder `undefined`) returns its result uncached,
   * with a warning. Default: none.
   */
  tags?: CacheTagsOption;
  /**
   * Keep a cached result this many ms past its expiry (needs a `ttl`, here or the module's), on
   * every instance; a call whose method throws or times out then returns it instead of failing
   * (docs/consistency.md, grace). Default: 0 (none).
   */
  grace?: number;
  /** With a result in grace: return it after this many ms, while the method goes on and its result is cached when it ends. Default: none. */
  softTimeout?: number;
  /** After this many ms, return the result in grace, or reject with `LoaderTimeoutError`; the method goes on. Default: none. */
  hardTimeout?: number;
  /** Early refresh: a hit past this part of `ttl` (0 < part < 1) is returned at once while one background call refreshes it. Needs `ttl`. Default: none. */
  refreshAhead?: number;
  /**
   * Fleet-wide single flight, for methods that return a promise: on a miss, wait up to this many
   * ms for another instance's call of the method for the key (its result comes through the log)
   * instead of running it here; at the end of the wait the method runs here. 0 turns it off for
   * this method. Default: the cache's `fleetWait` option (0: off). See docs/consistency.md, section 18.
   */
  fleetWait?: number;
}

/** Checks grace, timeouts and early refresh; returns them, or undefined when none is set. */
function checkGuard(options: CachedOptions): CachedGuard | undefined {
  const { grace, softTimeout, hardTimeout, refreshAhead, ttl } = options;
  if (grace === undefined && softTimeout === undefined && hardTimeout === undefined && refreshAhead === undefined) return undefined;
  if (grace !== undefined && (typeof grace !== 'number' || !Number.isInteger(grace) || grace < 0 || grace > MAX_DECORATOR_TTL)) {
    throw new InvalidOptionError(`@Cached(): grace must be an integer number of ms from 0 (none) to ${MAX_DECORATOR_TTL} (100 years), got ${String(grace)}`);
  }
  for (const [name, value] of [
    ['softTimeout', softTimeout],
    ['hardTimeout', hardTimeout],
  ] as const) {
    if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_STALENESS)) {
      throw new InvalidOptionError(`@Cached(): ${name} must be an integer number of ms from 1 to ${MAX_STALENESS}, got ${String(value)}`);
    }
  }
  if (softTimeout !== undefined && hardTimeout !== undefined && softTimeout >= hardTimeout) {
    throw new InvalidOptionError(`@Cached(): softTimeout (${softTimeout}) must be shorter than hardTimeout (${hardTimeout})`);
  }
  if (refreshAhead !== undefined) {
    if (typeof refreshAhead !== 'number' || !(refreshAhead > 0 && refreshAhead < 1)) {
      throw new InvalidOptionError(
        `@Cached(): refreshAhead must be a number between 0 and 1 (exclusive), the part of ttl after which a hit refreshes, got ${String(refreshAhead)}`,
      );
    }
    if (ttl === undefined || ttl === 0) throw new InvalidOptionError('@Cached(): refreshAhead needs a ttl (a part of it)');
  }
  return { grace, softTimeout, hardTimeout, refreshAhead };
}

const CACHED_OPTIONS = optionNames<CachedOptions>()([
  'key',
  'ttl',
  'cache',
  'condition',
  'unless',
  'maxStaleness',
  'after',
  'tags',
  'grace',
  'softTimeout',
  'hardTimeout',
  'refreshAhead',
  'fleetWait',
] as const);

/**
 * Caches what the method returns, on every instance of the application: a call whose key is in
 * the cache returns the cached value without running the method, whichever instance stored it.
 *
 * - Works on any singleton provider or controller method, sync or async. A method that returns
 *   a promise returns a promise of the cached value on a hit, on every instance; concurrent calls
 *   with one key share one execution; a call re-entering its own key runs.
 * - Errors are never cached; `undefined` is not cached (`null` is); Observables, streams,
 *   iterators and functions are returned uncached.
 * - A key that cannot be built (a placeholder `undefined` for the call, an argument without a
 *   faithful serialisation) makes the call run uncached, with a warning once per method.
 * - The cache never breaks the method: if it fails, the failure is logged and the method runs.
 * - Cached values are shared objects: treat what the method returns as read-only.
 *
 * ```ts
 * @Cached({ key: 'user:{id}', ttl: 60_000, tags: ['users', 'org:{orgId}'] })
 * async findOne(id: string, orgId: string): Promise<User> { ... }
 *
 * // At most 2 s stale; fresh enough for the caller's session token when it passes one.
 * @Cached({ key: 'user:{0}', maxStaleness: 2000, after: (id: string, session?: string) => session })
 * async findFresh(id: string, session?: string): Promise<User> { ... }
 *
 * // When the source fails or takes over 200 ms, last minute's answer for up to an hour more.
 * @Cached({ key: 'rates', ttl: 60_000, grace: 3_600_000, softTimeout: 200, refreshAhead: 0.8 })
 * async rates(): Promise<Rates> { ... }
 * ```
 */
export function Cached(options: CachedOptions = {}): MethodDecorator {
  const cache = checkCommon('Cached', options, CACHED_OPTIONS);
  const { maxStaleness, after } = options;
  const guard = checkGuard(options);
  if (maxStaleness !== undefined && (typeof maxStaleness !== 'number' || !Number.isInteger(maxStaleness) || maxStaleness < 0 || maxStaleness > MAX_STALENESS)) {
    throw new InvalidOptionError(`@Cached(): maxStaleness must be an integer number of ms from 0 to ${MAX_STALENESS}, got ${String(maxStaleness)}`);
  }
  if (after !== undefined && typeof after !== 'function') {
    throw new InvalidOptionError('@Cached(): after must be a function (...args) => session token | undefined');
  }
  checkTags('Cached', options.tags);
  const { fleetWait } = options;
  if (fleetWait !== undefined && (typeof fleetWait !== 'number' || !Number.isInteger(fleetWait) || fleetWait < 0 || fleetWait > MAX_STALENESS)) {
    throw new InvalidOptionError(
      `@Cached(): fleetWait must be an integer number of ms from 0 (off) to ${MAX_STALENESS}: how long a miss waits for another instance's call, got ${String(fleetWait)}`,
    );
  }
  return (target, propertyKey, descriptor) =>
    decorateMethod('Cached', target, propertyKey, descriptor, {
      kind: 'cached',
      cache,
      key: options.key,
      ttl: options.ttl,
      condition: options.condition,
      unless: options.unless,
      maxStaleness,
      after,
      guard,
      tags: options.tags,
      fleetWait,
    }) as typeof descriptor;
}
