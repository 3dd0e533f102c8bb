import { HTTP_STORED_HEADERS } from './entry.js';

/**
 * The registry of the response headers served from entries: a reader serves from an entry only
 * the headers some adapter of this process on this cache would have stored.
 */

const registeredHeaders = new WeakMap<object, Set<string>>();

/**
 * Records that an adapter on `cache` stores `headers` (lower-case): a reader serves from an
 * entry only the headers some adapter of this process on this cache would have stored, so a
 * record forged onto the topic cannot add others (`Refresh`, `Access-Control-Allow-Origin`...).
 */
export function registerStoredHttpHeaders(cache: object, headers: Iterable<string>): void {
  let set = registeredHeaders.get(cache);
  if (set === undefined) {
    set = new Set(HTTP_STORED_HEADERS);
    registeredHeaders.set(cache, set);
  }
  for (const name of headers) set.add(name.toLowerCase());
}

/** The headers served from entries of `cache`: `HTTP_STORED_HEADERS` and those adapters registered. */
export function servedHttpHeaders(cache: object): ReadonlySet<string> {
  return registeredHeaders.get(cache) ?? DEFAULT_SERVED;
}

const DEFAULT_SERVED: ReadonlySet<string> = new Set(HTTP_STORED_HEADERS);
