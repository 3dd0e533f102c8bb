import type { Request } from 'express';
import {
  HTTP_NO_GRACE,
  consoleLogger,
  describeValue,
  HTTP_DEFAULT_CREDENTIAL_POLICY,
  httpCredentialPolicy,
  httpPathBudget,
  httpPathByteBudget,
  httpQueryPolicy,
  httpRequestKey,
  httpSessionSettings,
  type HttpCredentialPolicy,
  type HttpSessionSettings,
  type HttpQueryKeyPolicy,
  HTTP_DEFAULT_PREFIX,
  HTTP_ENTRY_OVERHEAD_BYTES,
  HTTP_NEVER_SERVED_HEADERS,
  HTTP_STORED_HEADERS,
  integerOption,
  invalidOption,
  InvalidArgumentError,
  InvalidOptionError,
  largestHttpBody,
  rejectUnknownOptions,
  stringOption,
  type Logger,
  type NearCache,
} from '@nearcache/core';
import { checkFreshnessOptions, type CacheResponsesFreshnessOptions, type ResolvedFreshness } from './freshness.js';

/** Methods whose responses can be served from the cache. */
export type CacheableMethod = 'GET' | 'HEAD';

/** Options of `cacheResponses(cache, options)`. Every one is checked when the middleware is created. `grace` and `tags`: see `CacheResponsesFreshnessOptions`. */
export interface CacheResponsesOptions extends CacheResponsesFreshnessOptions {
  /**
   * Time to live of the stored responses, in ms; `0` for none. Default: the cache's own `ttl`
   * option (itself `0` by default). Set it per route by calling `cacheResponses` per route.
   */
  ttl?: number;
  /**
   * Prefix of every response key. Default `'http:'`. Adapters and the invalidation helpers
   * must use the same prefix to see each other's entries.
   */
  prefix?: string;
  /**
   * Methods answered from the cache. Default `['GET', 'HEAD']`. Only GET responses are stored;
   * a HEAD is answered from the GET entry of the same URL.
   */
  methods?: CacheableMethod[];
  /**
   * The key of a request, after the prefix; `undefined` to neither look up nor store this
   * request. Called for GET and HEAD alike (a HEAD must map to the key of its GET).
   * Default: `GET <path>[?<query>] <scheme>://<host>`: `req.originalUrl` normalised the way
   * the router matches it, then `req.protocol` and `req.hostname` (both follow the app's
   * `trust proxy` setting); see `httpRequestKey` of `@nearcache/core`. A custom key replaces
   * all of it: include the host yourself if the app answers several.
   */
  key?: (req: Request) => string | undefined;
  /**
   * Which query parameters are part of the default key: `true` every one (default), `false`
   * none (every query string of a path shares one entry), or the names that select the
   * response (the others are left out of the key, and the allow-listed ones put in name order).
   * Leaving parameters out is a promise that they do not change the response.
   */
  query?: boolean | string[];
  /**
   * Request headers that carry credentials. A request carrying one is neither served from nor
   * stored into the cache, unless the response says `Cache-Control: public` (or `s-maxage`), or
   * its `Vary` names every credential header the request carries (one entry per user).
   * Default `HTTP_CREDENTIAL_HEADERS`: authorization, proxy-authorization, cookie, x-api-key,
   * x-auth-token, x-access-token.
   */
  credentialHeaders?: string[];
  /**
   * Cookies that do not personalise responses (consent, analytics, A/B bucket read client-side):
   * a request whose `Cookie` holds only these counts as anonymous. Default `[]`.
   */
  ignoreCookies?: string[];
  /**
   * Largest body stored, in bytes; bigger responses pass through uncached. Default `262144`
   * (256 KiB), or less when the cache's `maxValueBytes` cannot hold an entry that large. The
   * stored entry holds the body in base64 (4/3 of its size) plus headers (up to
   * `HTTP_ENTRY_OVERHEAD_BYTES` reserved): a value whose entry cannot fit in the cache's
   * `maxValueBytes` (512 KiB by default) throws `InvalidOptionError`.
   */
  maxBodyBytes?: number;
  /**
   * Most entries one path may hold (every query string, host and `Vary` variant of it): a
   * response of a path that holds as many is sent and not stored, so a client requesting one
   * route with endless distinct query strings cannot fill the cache. `0` for no budget. Default
   * `0`. Set it per route by calling `cacheResponses` per route.
   */
  maxPathEntries?: number;
  /**
   * Most bytes the entries of one path may take (every query string, host and `Vary` variant of
   * it), counted the way the cache counts an entry's bytes (its key and its encoded entry, see
   * `httpEntryBytes`): a response that would take its path above it is sent and not stored, so a
   * flood of distinct query strings on one route cannot take more than this of the cache. `0` for
   * no budget. Default `0`. Set it per route by calling `cacheResponses` per route.
   */
  maxPathBytes?: number;
  /** Response statuses that are stored; each 200 to 299 except 206. Default `[200, 203, 204]`. */
  statuses?: number[];
  /**
   * More response headers to store and replay, beyond the defaults (content-type,
   * content-language, content-encoding, content-disposition, content-location,
   * cache-control, expires, last-modified, etag, link, location, vary). Default `[]`.
   * `set-cookie` and connection-level headers are refused.
   */
  headers?: string[];
  /** Name of the response header telling `HIT` or `MISS`; `false` for none. Default `'X-Cache'`. */
  statusHeader?: string | false;
  /** Where cache errors are reported (the request goes on without the cache). Default: the cache's own logger (`cache.logger`). */
  logger?: Logger;
  /**
   * Session tokens over HTTP (docs/consistency.md, "Session read-your-writes over HTTP"): the
   * header that carries them, `true` for `NearCache-Session`, a header name, or `false` for none.
   * With it, the response to a POST, PUT, PATCH or DELETE that wrote to the cache carries the
   * token of those writes (merged with the request's own token); a GET or HEAD carrying a token
   * waits, at most `sessionWait`, until this instance reached it before it reads the cache.
   * Mount the middleware app-wide (or on the mutating routes too) for their responses to carry
   * tokens. Default `false`.
   */
  sessionHeader?: boolean | string;
  /**
   * How long a request carrying a session token waits for this instance to reach it, in ms
   * (then it goes to the handler, bypassing the cache, rather than being answered stale); and how
   * long a mutating response waits for the log to acknowledge its writes (then it carries the
   * request's token, or none). From 1 to 60000. Default `1000`.
   */
  sessionWait?: number;
  /**
   * The staleness a hit may have, in ms (core's read option `maxStaleness`): a hit is served only
   * while this instance is confirmed to have applied every record the log held that long ago;
   * else the request goes to the handler as a miss (and its response is stored). Default: none.
   */
  maxStaleness?: number;
}

export interface ResolvedResponseOptions extends ResolvedFreshness {
  ttl: number | undefined;
  prefix: string;
  methods: ReadonlySet<string>;
  key: (req: Request) => string | undefined;
  query: HttpQueryKeyPolicy;
  credentials: HttpCredentialPolicy;
  maxBodyBytes: number;
  maxPathEntries: number;
  maxPathBytes: number;
  statuses: ReadonlySet<number>;
  headers: readonly string[];
  statusHeader: string | undefined;
  logger: Logger;
  /** Session tokens and `maxStaleness`; read by the middleware that looks the request up (route refinements do not change them). */
  session: HttpSessionSettings;
}

/** Headers stored with every response unless absent: core's `HTTP_STORED_HEADERS`, the ones every adapter stores. */
export const DEFAULT_STORED_HEADERS: readonly string[] = HTTP_STORED_HEADERS;

// Headers never stored (per-user or connection-level), set-cookie first as the one people try.
const REFUSED_HEADERS = ['set-cookie', ...[...HTTP_NEVER_SERVED_HEADERS].filter((name) => name !== 'set-cookie')];
const OPTION_NAMES = [
  'ttl',
  'prefix',
  'methods',
  'key',
  'query',
  'credentialHeaders',
  'ignoreCookies',
  'maxBodyBytes',
  'maxPathEntries',
  'maxPathBytes',
  'statuses',
  'headers',
  'statusHeader',
  'logger',
  'sessionHeader',
  'sessionWait',
  'maxStaleness',
  'grace',
  'tags',
] as const;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const MAX_TTL = 100 * 365 * 24 * 60 * 60 * 1000;
const MAX_BODY_BYTES = 64 * 1024 * 1024;
const DEFAULT_MAX_BODY_BYTES = 256 * 1024;
const PREFIX = /^(?!\u0000)[\s\S]{1,256}$/;

/**
 * Runs option checks made with core's helpers (`integerOption`, `invalidOption`...) and puts
 * `scope` in front of their messages: `cacheResponses: option "ttl" must be ...`.
 */
export function scoped<T>(scope: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof InvalidOptionError) throw new InvalidOptionError(`${scope}: ${error.message}`, { cause: error });
    throw error;
  }
}

/** The options object of `scope` (empty when `undefined`), with only `allowed` names; throws `InvalidOptionError`. */
export function checkOptionsObject(scope: string, options: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidOptionError(`${scope}: options must be an object, got ${describeValue(options)}`);
  }
  scoped(scope, () => rejectUnknownOptions('', options, allowed));
  return options as Record<string, unknown>;
}

function prefixOption(value: unknown): string {
  return stringOption('prefix', value, HTTP_DEFAULT_PREFIX, PREFIX, 'a non-empty string of at most 256 characters, not starting with U+0000');
}

/** The response key prefix: default `'http:'`; 1 to 256 characters, not starting with U+0000. */
export function checkPrefix(scope: string, value: unknown): string {
  return scoped(scope, () => prefixOption(value));
}

function checkLogger(value: unknown): Logger {
  if (
    typeof value !== 'object' ||
    value === null ||
    ['debug', 'info', 'warn', 'error'].some((m) => typeof (value as Record<string, unknown>)[m] !== 'function')
  ) {
    invalidOption('logger', 'an object with debug, info, warn and error methods', value);
  }
  return value as Logger;
}

/** Throws `InvalidArgumentError` unless `cache` looks like a `NearCache`. */
export function checkCache(scope: string, cache: unknown): NearCache<unknown> {
  const methods = ['get', 'has', 'set', 'delete', 'clearPrefix', 'wrap'];
  if (typeof cache !== 'object' || cache === null || methods.some((m) => typeof (cache as Record<string, unknown>)[m] !== 'function')) {
    throw new InvalidArgumentError(`${scope}: the first argument must be a NearCache (from createNearCache()), got ${describeValue(cache)}`);
  }
  return cache as NearCache<unknown>;
}

/** Options given explicitly, checked; used both for a full resolution and for route-level refinements. */
export function checkResponseOptions(input: unknown, maxKeyBytes: number): Partial<ResolvedResponseOptions> {
  const scope = 'cacheResponses';
  const options = checkOptionsObject(scope, input, OPTION_NAMES);
  return scoped(scope, () => {
    const out: Partial<ResolvedResponseOptions> = checkFreshnessOptions(options, maxKeyBytes);
    if (options.ttl !== undefined) out.ttl = integerOption('ttl', options.ttl, 0, 0, MAX_TTL);
    if (options.prefix !== undefined) out.prefix = prefixOption(options.prefix);
    if (options.methods !== undefined) {
      const methods = options.methods;
      listOption('methods', 'a non-empty array of "GET" and "HEAD"', methods, (m) => m === 'GET' || m === 'HEAD', true);
      out.methods = new Set(methods as string[]);
    }
    if (options.key !== undefined) {
      if (typeof options.key !== 'function') invalidOption('key', 'a function (req) => string | undefined', options.key);
      out.key = options.key as (req: Request) => string | undefined;
    }
    if (options.query !== undefined) out.query = coreOption(() => httpQueryPolicy(options.query));
    if (options.credentialHeaders !== undefined || options.ignoreCookies !== undefined) {
      out.credentials = coreOption(() => httpCredentialPolicy(options.credentialHeaders, options.ignoreCookies));
    }
    if (options.maxPathEntries !== undefined) out.maxPathEntries = coreOption(() => httpPathBudget(options.maxPathEntries));
    if (options.maxPathBytes !== undefined) out.maxPathBytes = coreOption(() => httpPathByteBudget(options.maxPathBytes));
    if (options.maxBodyBytes !== undefined) out.maxBodyBytes = integerOption('maxBodyBytes', options.maxBodyBytes, 0, 0, MAX_BODY_BYTES);
    if (options.statuses !== undefined) {
      const statuses = options.statuses;
      listOption(
        'statuses',
        'a non-empty array of statuses from 200 to 299 except 206 (other responses, and 5xx above all, are never cached)',
        statuses,
        isStorableStatus,
        true,
      );
      out.statuses = new Set(statuses as number[]);
    }
    if (options.headers !== undefined) {
      const headers = options.headers;
      const header = (h: unknown): boolean => typeof h === 'string' && TOKEN.test(h) && !HTTP_NEVER_SERVED_HEADERS.has(h.toLowerCase());
      listOption('headers', `an array of header names, none of ${REFUSED_HEADERS.join(', ')}`, headers, header, false);
      out.headers = (headers as string[]).map((h) => h.toLowerCase());
    }
    if (options.statusHeader !== undefined) {
      const header = options.statusHeader;
      if (header !== false && (typeof header !== 'string' || !TOKEN.test(header))) invalidOption('statusHeader', 'a header name or false', header);
      out.statusHeader = header === false ? undefined : header;
    }
    if (options.logger !== undefined) out.logger = checkLogger(options.logger);
    if (options.sessionHeader !== undefined || options.sessionWait !== undefined || options.maxStaleness !== undefined) {
      out.session = httpSessionSettings({ sessionHeader: options.sessionHeader, sessionWait: options.sessionWait, maxStaleness: options.maxStaleness });
    }
    return out;
  });
}

function isStorableStatus(status: unknown): boolean {
  return typeof status === 'number' && Number.isInteger(status) && status >= 200 && status <= 299 && status !== 206;
}

/**
 * Checks a list option: an array (a non-empty one when `nonEmpty`) of items `ok` accepts. Throws
 * `InvalidOptionError` naming what is wrong: the value when it is no array, an empty array, or
 * the first item refused and its index.
 */
function listOption(name: string, expected: string, value: unknown, ok: (item: unknown) => boolean, nonEmpty: boolean): void {
  if (!Array.isArray(value)) invalidOption(name, expected, value);
  if (nonEmpty && value.length === 0) throw new InvalidOptionError(`option "${name}" must be ${expected}, got an empty array`);
  const index = value.findIndex((item) => !ok(item));
  if (index >= 0) throw new InvalidOptionError(`option "${name}" must be ${expected}, got ${describeValue(value[index])} at index ${index}`);
}

/**
 * Checks `options` and fills in defaults; throws `InvalidOptionError` on the first problem.
 * `cache` gives the defaults of `logger` (the cache's logger) and `maxBodyBytes`, and the limit
 * `maxBodyBytes` must fit in: an explicit `maxBodyBytes` whose entry could not fit in the
 * cache's `maxValueBytes` throws; the default is lowered to what fits.
 */
export function resolveResponseOptions(
  input: unknown,
  cache: NearCache<unknown>,
): { resolved: ResolvedResponseOptions; given: Partial<ResolvedResponseOptions> } {
  const given = checkResponseOptions(input, maxKeyBytesOf(cache));
  const largest = largestStorableBody(cache);
  if (given.maxBodyBytes !== undefined && given.maxBodyBytes > largest) {
    throw new InvalidOptionError(
      `cacheResponses: option "maxBodyBytes" (${given.maxBodyBytes}) is more than the cache can store: an entry holds the body in base64 (4/3 of its size) ` +
        `plus up to ${HTTP_ENTRY_OVERHEAD_BYTES} bytes of headers, and must fit in the cache's maxValueBytes (${cache.limits.maxValueBytes}); ` +
        `use at most ${largest}, or raise maxValueBytes`,
    );
  }
  const resolved: ResolvedResponseOptions = {
    ttl: given.ttl,
    prefix: given.prefix ?? HTTP_DEFAULT_PREFIX,
    methods: given.methods ?? new Set(['GET', 'HEAD']),
    key: given.key ?? defaultKey(given.query ?? true),
    query: given.query ?? true,
    credentials: given.credentials ?? HTTP_DEFAULT_CREDENTIAL_POLICY,
    maxBodyBytes: given.maxBodyBytes ?? Math.min(DEFAULT_MAX_BODY_BYTES, largest),
    maxPathEntries: given.maxPathEntries ?? 0,
    maxPathBytes: given.maxPathBytes ?? 0,
    statuses: given.statuses ?? new Set([200, 203, 204]),
    headers: [...new Set([...DEFAULT_STORED_HEADERS, ...(given.headers ?? [])])],
    statusHeader: 'statusHeader' in given ? given.statusHeader : 'X-Cache',
    logger: given.logger ?? (readProperty(cache, 'logger') as Logger | undefined) ?? consoleLogger,
    session: given.session ?? httpSessionSettings({}),
    grace: given.grace ?? HTTP_NO_GRACE,
    tags: given.tags,
  };
  return { resolved, given };
}

/** The default key: `GET <normalised path and query> <scheme>://<host>` as the app sees them (`trust proxy` applies). */
function defaultKey(query: HttpQueryKeyPolicy): (req: Request) => string | undefined {
  return (req) => httpRequestKey({ method: req.method, scheme: req.protocol, host: req.hostname, url: req.originalUrl ?? req.url }, query);
}

/** Core's checks throw `InvalidArgumentError`; options get `InvalidOptionError`. */
function coreOption<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw new InvalidOptionError(error.message, { cause: error });
    throw error;
  }
}

/** The largest body an entry of `cache` can hold (core's `largestHttpBody`), at most the largest `maxBodyBytes`. */
function largestStorableBody(cache: NearCache<unknown>): number {
  return Math.min(largestHttpBody(cache), MAX_BODY_BYTES);
}

/** The cache's `maxKeyBytes` (what tags are checked against), or core's default when it does not say. */
export function maxKeyBytesOf(cache: NearCache<unknown>): number {
  try {
    const max = cache.limits?.maxKeyBytes;
    return typeof max === 'number' ? max : 1024;
  } catch {
    return 1024;
  }
}

/** A property of something that looks like a NearCache (a wrapper or a test double may lack it, or throw). */
function readProperty(cache: NearCache<unknown>, name: 'logger'): unknown {
  try {
    return cache[name];
  } catch {
    return undefined;
  }
}
