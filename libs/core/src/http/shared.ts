import { InvalidArgumentError } from '../errors.js';
import { HttpPathIndex, type HttpIndexedCache } from './budget.js';
import { parseCacheControl } from './conditional.js';
import {
  decodeHttpEntry,
  HTTP_DEFAULT_PREFIX,
  HTTP_STORED_HEADERS,
  type HttpCacheMethod,
  httpVariantKey,
  isHttpVaryIndex,
  type DecodedHttpResponse,
  type HttpHeaderValue,
  type HttpRequestHeaders,
} from './entry.js';

/**
 * The rules of a shared cache, applied by every adapter (`cacheResponses` of
 * `@nearcache/express`, `NearCacheInterceptor` of `@nearcache/nestjs`). Every instance on a
 * topic serves what any instance stored, so the adapters stand where a CDN stands (RFC 9111,
 * shared caches). This module decides:
 * - which requests may be served from and stored into the cache (credentials, see
 *   `httpAdmission`);
 * - the key of a request: the method, the path and query normalised the way a router matches
 *   them, then the scheme and host (`httpRequestKey`);
 * - which response headers a reader serves from an entry (`servedHttpHeaders`);
 * - whether an instance caching HTTP responses on an unsigned topic was told so (`warnUnsignedHttpCache`).
 */

/** Request headers that carry credentials by default: a request with one is personal, and is neither served from nor stored into the cache unless the route opts in. */
export const HTTP_CREDENTIAL_HEADERS: readonly string[] = Object.freeze([
  'authorization',
  'proxy-authorization',
  'cookie',
  'x-api-key',
  'x-auth-token',
  'x-access-token',
]);

/** Directives of a response's `Cache-Control` that make it shared: it may be stored for, and served to, requests carrying credentials. */
const SHARED_DIRECTIVES = ['public', 's-maxage'] as const;

/** How an adapter treats credentials: its `credentialHeaders` and `ignoreCookies` options. */
export interface HttpCredentialPolicy {
  /** Request headers that carry credentials, lower-case. Default `HTTP_CREDENTIAL_HEADERS`. */
  readonly headers: readonly string[];
  /** Cookies that do not personalise responses (consent, analytics): a `Cookie` made only of these does not count as a credential. Default none. */
  readonly ignoredCookies: ReadonlySet<string>;
}

/** The default credential policy: `HTTP_CREDENTIAL_HEADERS`, no ignored cookie. */
export const HTTP_DEFAULT_CREDENTIAL_POLICY: HttpCredentialPolicy = Object.freeze({ headers: HTTP_CREDENTIAL_HEADERS, ignoredCookies: new Set<string>() });

/** What `httpAdmission` decided for a request. */
export interface HttpAdmission {
  /** True when the request must neither be served from nor stored into the cache (`Cache-Control: no-store`). */
  bypass: boolean;
  /**
   * The credential headers the request carries (lower-case, sorted). When not empty, only an
   * entry that is shared (`Cache-Control: public` or `s-maxage`) or keyed on every one of
   * these headers by its `Vary` is served, and only such a response is stored.
   */
  credentials: readonly string[];
}

function cookieNames(header: string | string[]): string[] {
  const text = Array.isArray(header) ? header.join(';') : header;
  const names: string[] = [];
  for (const part of text.split(';')) {
    const at = part.indexOf('=');
    const name = (at < 0 ? part : part.slice(0, at)).trim();
    if (name !== '') names.push(name);
  }
  return names;
}

/** The credential headers `requestHeaders` carries under `policy`, sorted. A `Cookie` whose cookies are all ignored does not count. */
export function httpRequestCredentials(requestHeaders: HttpRequestHeaders, policy: HttpCredentialPolicy = HTTP_DEFAULT_CREDENTIAL_POLICY): string[] {
  return carriedCredentials(requestHeaders, policy) ?? [];
}

/** `httpRequestCredentials`, or `undefined` for none (without allocating). */
function carriedCredentials(requestHeaders: HttpRequestHeaders, policy: HttpCredentialPolicy): string[] | undefined {
  let found: string[] | undefined;
  for (const name of policy.headers) {
    const value = requestHeaders[name];
    if (value === undefined || (typeof value === 'string' && value.trim() === '')) continue;
    if (name === 'cookie' && policy.ignoredCookies.size > 0 && cookieNames(value).every((cookie) => policy.ignoredCookies.has(cookie))) continue;
    (found ??= []).push(name);
  }
  return found?.sort();
}

/** The admission of a request without `Cache-Control` and without credentials, the most common one: shared, never changed. */
const ANONYMOUS: HttpAdmission = Object.freeze({ bypass: false, credentials: Object.freeze([]) as readonly string[] });

/** How a request may use the cache: bypass it (`Cache-Control: no-store`), or which credentials it carries. */
export function httpAdmission(requestHeaders: HttpRequestHeaders, policy: HttpCredentialPolicy = HTTP_DEFAULT_CREDENTIAL_POLICY): HttpAdmission {
  const cacheControl = requestHeaders['cache-control'];
  const credentials = carriedCredentials(requestHeaders, policy);
  if (cacheControl === undefined && credentials === undefined) return ANONYMOUS;
  return { bypass: cacheControl !== undefined && parseCacheControl(cacheControl).has('no-store'), credentials: credentials ?? [] };
}

/** Checks and normalises a credential policy given as options; throws `InvalidArgumentError` naming the option. */
export function httpCredentialPolicy(headers: unknown, ignoredCookies: unknown): HttpCredentialPolicy {
  let names = HTTP_CREDENTIAL_HEADERS;
  if (headers !== undefined) {
    if (!Array.isArray(headers) || headers.some((h) => typeof h !== 'string' || !TOKEN.test(h))) {
      throw new InvalidArgumentError(`option "credentialHeaders" must be an array of request header names, got ${JSON.stringify(headers)}`);
    }
    names = [...new Set((headers as string[]).map((h) => h.toLowerCase()))];
  }
  let cookies = new Set<string>();
  if (ignoredCookies !== undefined) {
    if (!Array.isArray(ignoredCookies) || ignoredCookies.some((c) => typeof c !== 'string' || c.trim() === '' || /[;=,\s]/.test(c))) {
      throw new InvalidArgumentError(
        `option "ignoreCookies" must be an array of cookie names (no ';', '=', ',' or spaces), got ${JSON.stringify(ignoredCookies)}`,
      );
    }
    cookies = new Set(ignoredCookies as string[]);
  }
  return { headers: names, ignoredCookies: cookies };
}

/** True when a response's `Cache-Control` says it is the same for everyone (`public` or `s-maxage`). */
export function isSharedResponse(cacheControl: HttpHeaderValue | undefined): boolean {
  const directives = parseCacheControl(cacheControl);
  return SHARED_DIRECTIVES.some((directive) => directives.has(directive));
}

/**
 * Why a response to a request carrying `credentials` must not be stored, or `undefined` if it
 * may be: it may when it is shared (`Cache-Control: public` or `s-maxage`), or when its `Vary`
 * names every credential header the request carries (each user then has an entry of their own).
 */
export function httpCredentialRefusal(credentials: readonly string[], cacheControl: HttpHeaderValue | undefined, vary: readonly string[]): string | undefined {
  if (credentials.length === 0 || isSharedResponse(cacheControl)) return undefined;
  const missing = credentials.filter((name) => !vary.includes(name));
  if (missing.length === 0) return undefined;
  return `the request carries credentials (${missing.join(', ')}) and the response is neither Cache-Control: public nor varies on them`;
}

/**
 * The cached response for a request that `admission` admitted, under the base key `base`;
 * `undefined` on a miss. Without credentials, any entry; with credentials, only an entry that is
 * shared (`Cache-Control: public` / `s-maxage`) or a variant keyed on every credential the
 * request carries.
 */
export function lookupSharedHttpEntry(
  get: (key: string) => unknown,
  base: string,
  requestHeaders: HttpRequestHeaders,
  admission: HttpAdmission,
): DecodedHttpResponse | undefined {
  const value = get(base);
  if (value === undefined) return undefined;
  const direct = decodeHttpEntry(value);
  if (direct !== undefined) return admission.credentials.length === 0 || isSharedResponse(direct.entry.headers['cache-control']) ? direct : undefined;
  if (!isHttpVaryIndex(value)) return undefined;
  const variant = decodeHttpEntry(get(httpVariantKey(base, value.vary, requestHeaders)));
  if (variant === undefined) return undefined;
  if (admission.credentials.length === 0 || admission.credentials.every((name) => value.vary.includes(name))) return variant;
  return isSharedResponse(variant.entry.headers['cache-control']) ? variant : undefined;
}

// ---------------------------------------------------------------------------------------------
// Keys

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// A path of visible ASCII without `%`, `#` or `?`, optionally followed by a non-empty query of visible ASCII without `%` or `#`.
const NORMAL_PATH = /^\/[\x21\x22\x24\x26-\x3e\x40-\x7e]*$/;
const NORMAL_TARGET = /^\/[\x21\x22\x24\x26-\x3e\x40-\x7e]*(?:\?[\x21\x22\x24\x26-\x7e]+)?$/;
const UNRESERVED = /[A-Za-z0-9\-._~]/;
const HOST = /^(?:[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?$/;

/** Which query parameters select a response: `true` all of them (default), `false` none, or the names that matter (the others are left out of the key). */
export type HttpQueryKeyPolicy = boolean | readonly string[];

/** Checks the `query` option; throws `InvalidArgumentError`. */
export function httpQueryPolicy(value: unknown): HttpQueryKeyPolicy {
  if (value === undefined) return true;
  if (typeof value === 'boolean') return value;
  if (Array.isArray(value) && value.every((name) => typeof name === 'string' && name !== '')) return Object.freeze([...new Set(value as string[])].sort());
  throw new InvalidArgumentError(
    `option "query" must be true (every query parameter is part of the key), false (none is) or an array of parameter names, got ${JSON.stringify(value)}`,
  );
}

/**
 * RFC 3986 6.2.2 normalisation of a path or query: percent-encoded unreserved characters are
 * decoded (`%31` is `1`), other escapes upper-cased, and characters that cannot stand in a
 * request target (spaces, controls, non-ASCII) percent-encoded, so that no key holds a space.
 */
function normaliseComponent(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    const code = text.charCodeAt(i);
    if (char === '%' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      const decoded = String.fromCharCode(Number.parseInt(text.slice(i + 1, i + 3), 16));
      out += UNRESERVED.test(decoded) ? decoded : `%${text.slice(i + 1, i + 3).toUpperCase()}`;
      i += 2;
    } else if (code <= 0x20 || code === 0x7f) {
      out += `%${code.toString(16).toUpperCase().padStart(2, '0')}`;
    } else if (code <= 0xff && code > 0x7e) {
      out += `%${code.toString(16).toUpperCase()}`;
    } else if (code > 0xff) {
      // Characters beyond Latin-1 (a URL given as a JS string, not bytes): UTF-8, a surrogate pair as one character.
      const next = text.charCodeAt(i + 1);
      const pair = code >= 0xd800 && code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff;
      if (pair) i++;
      out += code >= 0xd800 && code <= 0xdfff && !pair ? '%EF%BF%BD' : encodeURIComponent(pair ? text.slice(i - 1, i + 1) : char);
    } else {
      out += char;
    }
  }
  return out;
}

function filterQuery(query: string, policy: HttpQueryKeyPolicy): string {
  if (policy === true) return query;
  if (policy === false) return '';
  const kept: Array<[string, string]> = [];
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const at = pair.indexOf('=');
    const rawName = at < 0 ? pair : pair.slice(0, at);
    let name: string;
    try {
      name = decodeURIComponent(rawName.replace(/\+/g, ' '));
    } catch {
      name = rawName;
    }
    if (policy.includes(name)) kept.push([name, pair]);
  }
  // Allow-listed parameters are put in name order (stable for one name): `?a=1&b=2` and `?b=2&a=1` are one entry.
  kept.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return kept.map(([, pair]) => pair).join('&');
}

/**
 * The normalised path and query of a request target, the part of the key the router matches:
 * the fragment dropped, an absolute-form target (`http://host/p`) reduced to its path,
 * percent-encoding normalised, an empty query dropped, the query filtered by `query`.
 * `undefined` for a target that is not a path (`*`, an authority).
 */
export function normaliseHttpTarget(url: string, query: HttpQueryKeyPolicy = true): string | undefined {
  // Most targets are already in normal form: a path (and, when every query parameter is kept, a
  // query) of visible ASCII without `%` or `#`, which the steps below would leave as it is.
  if (query === true ? NORMAL_TARGET.test(url) : NORMAL_PATH.test(url)) return url;
  let target = url;
  const hash = target.indexOf('#');
  if (hash >= 0) target = target.slice(0, hash);
  const absolute = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?]*/.exec(target);
  if (absolute !== null) {
    target = target.slice(absolute[0].length);
    if (!target.startsWith('/')) target = `/${target}`;
  }
  if (!target.startsWith('/')) return undefined;
  const mark = target.indexOf('?');
  const path = normaliseComponent(mark < 0 ? target : target.slice(0, mark));
  const rawQuery = mark < 0 ? '' : normaliseComponent(target.slice(mark + 1));
  const kept = rawQuery === '' ? '' : filterQuery(rawQuery, query);
  return kept === '' ? path : `${path}?${kept}`;
}

/**
 * The origin part of a key, `<scheme>://<host>`: the scheme (`http` or `https`) and host as the
 * application sees them (after its trust-proxy settings), lower-case, without the default port
 * or a trailing dot. `undefined` when either is not a valid scheme or host name: such a request
 * is not cached.
 */
export function httpOrigin(scheme: unknown, host: unknown): string | undefined {
  if (typeof scheme !== 'string' || typeof host !== 'string') return undefined;
  // The origins of the hosts seen lately, by scheme as the app gives it (`http` or `https`).
  const known = scheme === 'http' ? httpOrigins : scheme === 'https' ? httpsOrigins : undefined;
  if (known !== undefined) {
    let origin = known.get(host);
    if (origin === undefined) {
      origin = originOf(scheme, host) ?? null;
      // Host names come from clients: the memory is bounded.
      if (known.size >= MAX_KNOWN_ORIGINS) known.clear();
      known.set(host, origin);
    }
    return origin ?? undefined;
  }
  return originOf(scheme, host);
}

const MAX_KNOWN_ORIGINS = 256;
const httpOrigins = new Map<string, string | null>();
const httpsOrigins = new Map<string, string | null>();

function originOf(scheme: string, host: string): string | undefined {
  const s = scheme.toLowerCase();
  if (s !== 'http' && s !== 'https') return undefined;
  let h = host.trim().toLowerCase();
  if (h.endsWith('.')) h = h.slice(0, -1);
  if ((s === 'http' && h.endsWith(':80')) || (s === 'https' && h.endsWith(':443'))) h = h.slice(0, h.lastIndexOf(':'));
  if (h === '' || h.length > 255 || !HOST.test(h)) return undefined;
  return `${s}://${h}`;
}

/** What `httpRequestKey` takes: the request as the application sees it. */
export interface HttpKeyRequest {
  /** `GET` or `HEAD` (a HEAD maps to the key of its GET). */
  method: string;
  /** `http` or `https`, after the trust-proxy settings (`req.protocol`). */
  scheme: unknown;
  /** The host name, after the trust-proxy settings (`req.hostname`). */
  host: unknown;
  /** The request target as sent (`req.originalUrl`). */
  url: unknown;
}

/**
 * The default key of a request, after the prefix: `GET <path>[?<query>] <scheme>://<host>`
 * (`GET /products/1?lang=fr https://shop.example`); `undefined` when the request cannot be
 * keyed (not GET or HEAD, no valid scheme, host or path): it is then not cached. The path and
 * query are normalised as `normaliseHttpTarget` says, so that the spellings a router treats as
 * one URL are one entry; the origin keeps one site's pages from being served to another.
 */
export function httpRequestKey(request: HttpKeyRequest, query: HttpQueryKeyPolicy = true): string | undefined {
  const method = typeof request.method === 'string' ? request.method.toUpperCase() : '';
  if (method !== 'GET' && method !== 'HEAD') return undefined;
  if (typeof request.url !== 'string') return undefined;
  const target = normaliseHttpTarget(request.url, query);
  const origin = httpOrigin(request.scheme, request.host);
  if (target === undefined || origin === undefined) return undefined;
  return `GET ${target} ${origin}`;
}

/**
 * The key of the response to `GET absoluteUrl` (and its HEAD) under `prefix`, as the adapters
 * store it by default: `httpCacheKey('GET', 'https://shop.example/products/1')` is
 * `http:GET /products/1 https://shop.example`. Throws `InvalidArgumentError` for a URL without
 * scheme and host.
 */
export function httpUrlKey(absoluteUrl: string, prefix: string): string {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/.exec(absoluteUrl);
  const key = match === null ? undefined : httpRequestKey({ method: 'GET', scheme: match[1], host: match[2], url: match[3] === '' ? '/' : match[3] });
  if (key === undefined) {
    throw new InvalidArgumentError(
      `httpCacheKey: the URL must be absolute, with an http or https scheme and a host, such as "https://shop.example/products/1", got ${JSON.stringify(absoluteUrl)}`,
    );
  }
  return prefix + key;
}

/**
 * The key of the response to `method url` under `prefix`, as the adapters store it by default:
 * `<prefix>GET <path>[?<query>] <scheme>://<host>`. `url` is absolute (scheme, host, path and
 * query: `httpCacheKey('GET', 'https://shop.example/products/1')` is
 * `http:GET /products/1 https://shop.example`); its path and query are normalised the way a
 * router matches them (see `httpRequestKey`). A HEAD maps to the key of its GET (only GET
 * responses are stored). Throws `InvalidArgumentError` for another method or a URL without an
 * http(s) scheme and a host.
 */
export function httpCacheKey(method: HttpCacheMethod, url: string, prefix: string = HTTP_DEFAULT_PREFIX): string {
  if (method !== 'GET' && method !== 'HEAD') throw new InvalidArgumentError(`httpCacheKey: only GET and HEAD responses have keys, got ${String(method)}`);
  return httpUrlKey(url, prefix);
}

// ---------------------------------------------------------------------------------------------
// Headers served from an entry

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

// ---------------------------------------------------------------------------------------------
// Unsigned topics

const warnedCaches = new WeakSet<object>();

/**
 * Tells, once per cache, that HTTP responses are cached on a topic whose records are not
 * signed: whoever can write to the topic can then serve any content for any URL. Does nothing
 * when the cache signs its records.
 */
export function warnUnsignedHttpCache(cache: object, warn: (message: string) => void): boolean {
  if (warnedCaches.has(cache)) return false;
  let signed: unknown;
  let topic: unknown;
  try {
    ({ signed, topic } = cache as { signed?: unknown; topic?: unknown });
  } catch {
    // A wrapper or a test double that throws on reads: nothing to tell.
    return false;
  }
  if (signed === true) return false;
  warnedCaches.add(cache);
  warn(
    `HTTP responses are cached on topic "${String(topic)}" whose records are not signed: anyone who can write to the topic can serve any content for any cached URL, ` +
      'on every instance. Restrict writes with topic ACLs and turn on record signing (the signing option); see docs/reliability.md',
  );
  return true;
}

// ---------------------------------------------------------------------------------------------
// Invalidation

/** What removes the cached responses of a URL: keys to delete, prefixes to clear. */
export interface HttpInvalidation {
  deletes: string[];
  clears: string[];
}

function invalidationTarget(scope: string, url: unknown): string {
  const target = typeof url === 'string' && url.startsWith('/') ? normaliseHttpTarget(url) : undefined;
  if (target === undefined) {
    throw new InvalidArgumentError(
      `${scope}: the URL must be a string starting with "/", such as "/products/1", got ${typeof url === 'string' ? JSON.stringify(url) : typeof url}`,
    );
  }
  return target;
}

/**
 * The keys and prefixes that remove the cached responses of `url` (a path with or without a
 * query string), stored under the default keys with `prefix`:
 * - without `host`, on every host: the entry of `url` and its `Vary` variants (one clear of
 *   `<prefix>GET <url> `), and when `url` has no query string, the entries of `url` with any
 *   query string (a clear of `<prefix>GET <path>?`);
 * - with `host` (a host name, as `req.hostname` gives it), the entry of `url` on that host, for
 *   http and https (deleted by key), and its variants; the entries of the path with a query
 *   string are still cleared on every host (a key holds the host after the query, so no prefix
 *   selects one host's query strings).
 * A path without a trailing slash covers the same path with one (`/p/`, which a router that
 * ignores trailing slashes answers as `/p`).
 * Throws `InvalidArgumentError` for a URL not starting with "/" or a host that is not a host name.
 */
export function httpRouteInvalidation(url: unknown, prefix: string, host?: unknown): HttpInvalidation {
  const target = invalidationTarget('invalidateRoute', url);
  const invalidation: HttpInvalidation = { deletes: [], clears: [] };
  const origins: string[] = [];
  if (host !== undefined) {
    for (const scheme of ['http', 'https']) {
      const origin = httpOrigin(scheme, host);
      if (origin === undefined)
        throw new InvalidArgumentError(`invalidateRoute: option "host" must be a host name such as "shop.example", got ${JSON.stringify(host)}`);
      origins.push(origin);
    }
  }
  // A router that ignores a trailing slash (Express's default) answers `/p/` as `/p`: remove it too.
  const targets = target.includes('?') || target.endsWith('/') ? [target] : [target, `${target}/`];
  for (const path of targets) {
    const base = `${prefix}GET ${path}`;
    if (host === undefined) {
      invalidation.clears.push(`${base} `);
    } else {
      for (const origin of origins) {
        invalidation.deletes.push(`${base} ${origin}`);
        invalidation.clears.push(`${base} ${origin} `);
      }
    }
    if (!path.includes('?')) invalidation.clears.push(`${base}?`);
  }
  return invalidation;
}

/**
 * The prefix to clear to remove the cached responses of every URL starting with `urlPrefix`
 * (`'/products/'`; `'/'` for every response), on every host, stored under the default keys
 * with `prefix`. Throws `InvalidArgumentError` for a prefix not starting with "/".
 */
export function httpPrefixInvalidation(urlPrefix: unknown, prefix: string): string {
  return `${prefix}GET ${invalidationTarget('invalidatePrefix', urlPrefix)}`;
}

/** What the invalidation helpers need of a cache (a `NearCache`). */
export interface HttpInvalidationTarget {
  delete(key: string, options?: { durable?: boolean }): Promise<void>;
  clearPrefix(prefix: string, options?: { durable?: boolean }): Promise<void>;
  /** `NearCache.holdsEveryKey`: when true, the keys under a prefix are also deleted one by one (tombstones), beside the clear. */
  readonly holdsEveryKey?: boolean;
  keys?(): Iterable<string>;
  has?(key: string): boolean;
  on?(event: 'change', listener: (change: { op: 'set' | 'delete' | 'clear'; key: string }) => void): unknown;
}

/** Above this many keys, an invalidation writes a prefix clear rather than one tombstone per key. */
export const HTTP_INVALIDATION_MAX_DELETES = 1000;

/**
 * The writes that carry out `invalidation` on `cache`: its clears (one record per prefix and
 * partition, which compaction keeps once per prefix, and which removes what any instance stored
 * before it in the log, variants this one has not seen yet included) and, when the cache holds
 * every key it read (`holdsEveryKey`: no eviction, no filter) and the prefixes cover at most
 * `HTTP_INVALIDATION_MAX_DELETES` keys, tombstones of the keys they remove, so that compaction
 * drops those entries from the log and no later start-up reads them.
 */
export function httpInvalidationWrites(cache: HttpInvalidationTarget, invalidation: HttpInvalidation): HttpInvalidation {
  if (invalidation.clears.length === 0 || !readsAllKeys(cache)) return invalidation;
  const index = HttpPathIndex.of(cache as HttpIndexedCache);
  const deletes = new Set(invalidation.deletes);
  for (const prefix of invalidation.clears) {
    const keys = index.keysUnder(prefix, HTTP_INVALIDATION_MAX_DELETES);
    if (keys === undefined) return invalidation;
    for (const key of keys) deletes.add(key);
    if (deletes.size > HTTP_INVALIDATION_MAX_DELETES + invalidation.deletes.length) return invalidation;
  }
  return { deletes: [...deletes], clears: invalidation.clears };
}

function readsAllKeys(cache: HttpInvalidationTarget): boolean {
  try {
    return cache.holdsEveryKey === true && typeof cache.keys === 'function' && typeof cache.has === 'function' && typeof cache.on === 'function';
  } catch {
    return false;
  }
}

/** Runs the writes of `invalidation` (see `httpInvalidationWrites`). */
export function runHttpInvalidation(cache: HttpInvalidationTarget, invalidation: HttpInvalidation, durable: boolean): Promise<void> {
  const { deletes, clears } = httpInvalidationWrites(cache, invalidation);
  const write = durable ? { durable: true } : undefined;
  return Promise.all([...deletes.map((key) => cache.delete(key, write)), ...clears.map((prefix) => cache.clearPrefix(prefix, write))]).then(() => undefined);
}

/** Options of `invalidateHttpRoute` and `invalidateHttpPrefix`. */
export interface HttpInvalidateOptions {
  /** The key prefix of the responses. Default `'http:'`. */
  prefix?: string;
  /** `invalidateHttpRoute` only: the host whose responses to remove (see `httpRouteInvalidation`). Default: every host. */
  host?: string;
  /** Resolve once the log acknowledged the writes. Default `false`. */
  durable?: boolean;
}

/**
 * Removes the cached responses of one URL (stored under the default keys) on every instance:
 * what `httpRouteInvalidation` lists. For Nest applications (`@nearcache/express` has
 * `invalidateRoute`, which checks its options first).
 */
export function invalidateHttpRoute(cache: HttpInvalidationTarget, url: string, options: HttpInvalidateOptions = {}): Promise<void> {
  try {
    return runHttpInvalidation(cache, httpRouteInvalidation(url, options.prefix ?? HTTP_DEFAULT_PREFIX, options.host), options.durable === true);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Removes the cached responses of every URL starting with `urlPrefix`, on every host and every instance (one clear record). */
export function invalidateHttpPrefix(cache: HttpInvalidationTarget, urlPrefix: string, options: Omit<HttpInvalidateOptions, 'host'> = {}): Promise<void> {
  try {
    return runHttpInvalidation(
      cache,
      { deletes: [], clears: [httpPrefixInvalidation(urlPrefix, options.prefix ?? HTTP_DEFAULT_PREFIX)] },
      options.durable === true,
    );
  } catch (error) {
    return Promise.reject(error);
  }
}
