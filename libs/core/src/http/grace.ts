import { checkLoadOptions, checkTags } from '../cache/input.js';
import type { FillOptions, WrapOptions } from '../cache/types.js';
import { InvalidArgumentError } from '../errors.js';
import type { HttpAdmission } from './credentials.js';
import { decodeHttpEntry, httpVariantKey, isHttpVaryIndex, type DecodedHttpResponse, type HttpCacheEntry, type HttpRequestHeaders } from './entry.js';

/**
 * Grace and tags over HTTP (docs/consistency.md, sections 14 and 17), shared by the adapters:
 * - a response stored with a grace period is kept that long past its expiry (the grace end
 *   travels in its record, `nc-grace`, as for `wrap`); a request that misses runs its handler, and
 *   when the handler fails (or, where the adapter can tell, takes longer than `softTimeout`) the
 *   response in grace answers instead, through core's `guardLoad`: the `stale` event and the
 *   `staleServed` count are core's own;
 * - a response stored with tags is removed by `invalidateTags` on every instance.
 *
 * A response whose `Vary` makes it a variant is found through its URL's index: with grace, the
 * index is stored to live as long as its variants' grace (`ttl + grace`, no grace of its own), so
 * that a request can still find which variant would answer it. Without a known `ttl` (the
 * cache's own), the index expires with the variants and they are not served in grace.
 */

/** The grace settings of a route, checked (`httpGraceSettings`). */
export interface HttpGraceSettings {
  /** How long past its expiry a stored response may answer for a failing handler, in ms; 0 for none. */
  readonly grace: number;
  /** With a response in grace: after this many ms of a running handler, answer with it (where the adapter supports it). */
  readonly softTimeout: number | undefined;
}

/** No grace: the default. */
export const HTTP_NO_GRACE: HttpGraceSettings = Object.freeze({ grace: 0, softTimeout: undefined });

/**
 * Checks `grace` (an integer number of ms from 0, the default, to 100 years) and `softTimeout`
 * (an integer number of ms from 1, only with a grace); throws `InvalidArgumentError` naming the
 * option.
 */
export function httpGraceSettings(options: { grace?: unknown; softTimeout?: unknown }): HttpGraceSettings {
  const { grace, softTimeout } = options;
  if (grace === undefined && softTimeout === undefined) return HTTP_NO_GRACE;
  try {
    checkLoadOptions({ grace, softTimeout });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new InvalidArgumentError(`option "${message.split(' ')[0]}": ${message}`, { cause: error });
  }
  if (softTimeout !== undefined && (grace === undefined || grace === 0)) {
    throw new InvalidArgumentError(
      `option "softTimeout" needs a "grace" above 0 (a response in grace is what answers a slow handler), got grace ${String(grace)}`,
    );
  }
  return Object.freeze({ grace: (grace as number | undefined) ?? 0, softTimeout: softTimeout as number | undefined });
}

/** Tags of a stored response, given as an option: static tags, or a function of the request giving them. */
export type HttpTagsOption<R> = readonly string[] | ((request: R) => readonly string[] | undefined);

/**
 * Checks a `tags` option: an array of tags (as `set`'s `tags`: at most 32 non-empty strings
 * without a newline, each at most `maxKeyBytes` UTF-8 bytes), or a function. Throws
 * `InvalidArgumentError` naming the option.
 */
export function httpTagsOption<R>(name: string, value: unknown, maxKeyBytes: number): HttpTagsOption<R> | undefined {
  if (value === undefined || typeof value === 'function') return value as HttpTagsOption<R> | undefined;
  try {
    return checkTags(value, maxKeyBytes) ?? [];
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new InvalidArgumentError(`option "${name}" must be an array of tags or a function of the request returning them: ${message}`, { cause: error });
  }
}

/**
 * The tags of one response: static ones, or what the function gives for `request`, checked
 * (`InvalidArgumentError` when the function returns something that is not tags: the response is
 * then not stored, as `@Cached` does with tags it cannot build).
 */
export function httpTagsOf<R>(option: HttpTagsOption<R> | undefined, request: R, maxKeyBytes: number): readonly string[] | undefined {
  if (option === undefined) return undefined;
  if (typeof option !== 'function') return option.length === 0 ? undefined : option;
  const tags = (option as (request: R) => unknown)(request);
  if (tags === undefined) return undefined;
  try {
    return checkTags(tags, maxKeyBytes);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new InvalidArgumentError(`the tags function must return an array of tags or undefined: ${message}`, { cause: error });
  }
}

/**
 * The write options of each entry of a stored response: the entry itself with its `ttl`, `grace`
 * and `tags`; a `Vary` index, when the response has a grace and a known `ttl`, living `ttl + grace`
 * without a grace of its own (see above), and without a known `ttl` no grace at all.
 */
export function httpWriteOptions(value: HttpCacheEntry, ttl: number | undefined, grace: number, tags: readonly string[] | undefined): FillOptions | undefined {
  const withTags = tags === undefined ? undefined : { tags };
  if (grace === 0) return ttl === undefined ? withTags : { ttl, ...withTags };
  if (!isHttpVaryIndex(value)) return ttl === undefined ? { grace, ...withTags } : { ttl, grace, ...withTags };
  if (ttl === undefined) return withTags;
  return { ttl: ttl === 0 ? 0 : ttl + grace, ...withTags };
}

/** What a cache offers the guard (a `NearCache`). */
export interface HttpGuardingCache {
  get(key: string): unknown;
  has?(key: string): boolean;
  guardLoad?<T>(key: string, load: Promise<T>, options: Pick<WrapOptions, 'grace' | 'softTimeout'>): Promise<T>;
}

/** What a guarded handler gave: its own outcome, or the response in grace that answered instead. */
export type HttpGuarded<T> = { readonly fresh: T; readonly stale?: undefined } | { readonly fresh?: undefined; readonly stale: DecodedHttpResponse };

/** The handler's own outcome, told apart from a value in grace. */
class Fresh<T> {
  constructor(readonly value: T) {}
}

/**
 * The key of the entry in grace that may answer the request, or `undefined`: the base key, or the
 * variant its `Vary` index selects. A request carrying credentials is answered in grace only by a
 * variant keyed on every one of them (its own entry); never by an entry it may not be sure of.
 */
export function httpStaleKey(get: (key: string) => unknown, base: string, requestHeaders: HttpRequestHeaders, admission: HttpAdmission): string | undefined {
  const held = get(base);
  if (isHttpVaryIndex(held)) {
    const credentials = admission.credentials;
    if (credentials.length > 0 && !credentials.every((name) => held.vary.includes(name))) return undefined;
    return httpVariantKey(base, held.vary, requestHeaders);
  }
  // A fresh entry at the base (a hit the lookup did not serve) is not for this request.
  if (held !== undefined || admission.credentials.length > 0) return undefined;
  return base;
}

/**
 * Guards a request's `outcome` (a promise of the handler's result, rejected when the handler
 * failed) with the response in grace of the request, through core's `guardLoad`: resolves with
 * `{ fresh }` (the outcome), or `{ stale }` when the handler failed (or `softTimeout` passed)
 * and a response in grace answers instead (counted as core counts it: the `stale` event,
 * `staleServed`); rejects with the handler's failure when none does. Without a grace, it is the
 * outcome itself.
 */
export function guardHttpResponse<T>(
  cache: HttpGuardingCache,
  base: string,
  requestHeaders: HttpRequestHeaders,
  admission: HttpAdmission,
  outcome: Promise<T>,
  settings: HttpGraceSettings,
): Promise<HttpGuarded<T>> {
  const plain = (): Promise<HttpGuarded<T>> => outcome.then((fresh) => ({ fresh }));
  if (settings.grace === 0 || typeof cache.guardLoad !== 'function') return plain();
  // `has` first: a plain miss does not count as a second miss of the cache.
  const key = httpStaleKey((k) => (cache.has?.(k) === false ? undefined : cache.get(k)), base, requestHeaders, admission);
  if (key === undefined) return plain();
  const options = settings.softTimeout === undefined ? { grace: settings.grace } : { grace: settings.grace, softTimeout: settings.softTimeout };
  const marked = outcome.then((value) => new Fresh(value));
  return cache.guardLoad<unknown>(key, marked, options).then((value) => {
    if (value instanceof Fresh) return { fresh: value.value as T };
    const stale = decodeHttpEntry(value);
    // Not a response (a forged entry): the handler's own outcome answers.
    return stale === undefined ? plain() : { stale };
  });
}
