import {
  HTTP_CREDENTIAL_HEADERS,
  HTTP_DEFAULT_PREFIX,
  HTTP_NEVER_SERVED_HEADERS,
  HTTP_STORED_HEADERS,
  httpCredentialPolicy,
  httpGraceSettings,
  type HttpGraceSettings,
  httpPathBudget,
  httpPathByteBudget,
  httpQueryPolicy,
  httpSessionSettings,
  integerOption,
  InvalidArgumentError,
  invalidOption,
  InvalidOptionError,
  rejectUnknownOptions,
  stringOption,
  type HttpCredentialPolicy,
  type HttpQueryKeyPolicy,
  type HttpSessionSettings,
} from '@nearcache/core';

/**
 * The settings of `NearCacheInterceptor`: the `interceptor` option of `NearCacheModule.forRoot()`
 * (checked when the module starts), and the protected fields a subclass may set (checked when
 * the interceptor starts). A field a subclass sets wins over the module option, which wins over
 * the default.
 */

/** Settings of `NearCacheInterceptor`, the `interceptor` option of `NearCacheModule.forRoot()` / `forRootAsync()`. */
export interface NearCacheInterceptorOptions {
  /** Prefix of every key, the `prefix` of Express's `cacheResponses`: apps that share entries use the same one. Default `'http:'`. */
  prefix?: string;
  /** Largest body stored, in bytes (and at most what the cache's `maxValueBytes` can hold); bigger responses are sent uncached. Default `262144`. */
  maxBodyBytes?: number;
  /** Response header set to `HIT` or `MISS`; `false` for none. Default `'X-Cache'`. */
  statusHeader?: string | false;
  /** Response headers stored and replayed with the body. Default: core's `HTTP_STORED_HEADERS`, the ones Express stores. */
  storedHeaders?: readonly string[];
  /**
   * Request headers that carry credentials: a request with one is neither served from nor
   * stored into the cache, unless the response says `Cache-Control: public` (or `s-maxage`) or
   * varies on every credential the request carries. Default core's `HTTP_CREDENTIAL_HEADERS`.
   */
  credentialHeaders?: readonly string[];
  /** Cookies that do not personalise responses: a `Cookie` holding only these counts as anonymous. Default `[]`. */
  ignoreCookies?: readonly string[];
  /** Query parameters in the default key: `true` all (default), `false` none, or the names that select the response. */
  query?: boolean | readonly string[];
  /** Most entries one path may hold (its query strings, hosts and variants); a response beyond it is not stored. `0` for no budget. Default `0`. */
  maxPathEntries?: number;
  /** Most bytes one path's entries may take, counted as the cache counts an entry (core's `httpEntryBytes`); a response beyond it is not stored. `0` for no budget. Default `0`. */
  maxPathBytes?: number;
  /**
   * The header carrying session tokens: `true` for `NearCache-Session`, a header name, or `false`
   * for none. With it, the response to a POST, PUT, PATCH or DELETE that wrote to the cache carries
   * the token of those writes (merged with the request's own); a GET carrying a token waits, at
   * most `sessionWait`, until this instance reached it before it reads the cache. Default `false`.
   */
  sessionHeader?: boolean | string;
  /**
   * How long a request carrying a session token waits for this instance to reach it, in ms (then
   * the handler answers, bypassing the cache); and how long a mutating response waits for the log
   * to acknowledge its writes (then it carries the request's token, or none). 1 to 60000. Default `1000`.
   */
  sessionWait?: number;
  /**
   * The staleness a hit may have, in ms (core's read option `maxStaleness`): a hit is served only
   * while this instance is confirmed to have applied every record the log held that long ago;
   * else the handler runs as on a miss. A route's `@NearCacheMaxStaleness()` wins. Default: none.
   */
  maxStaleness?: number;
  /**
   * How long a stored response is kept past its expiry, in ms, to answer for a failing handler:
   * when the handler of a GET that missed throws (an error other than a 4xx `HttpException`), the
   * response in grace is sent instead, with `X-Cache: STALE` (core's `stale` event,
   * `staleServed`); the failure is never stored. Needs a time to live (`@NearCacheTtl()` or the
   * module's `ttl`). A route's `@NearCacheGrace()` wins. Default `0` (none).
   */
  grace?: number;
  /**
   * With a response in grace: after this many ms of a running handler, answer with it (the
   * handler goes on; its result is not stored). Needs `grace`. Default: none.
   */
  softTimeout?: number;
}

/** The names of `NearCacheInterceptorOptions`. */
export const INTERCEPTOR_OPTION_NAMES = [
  'prefix',
  'maxBodyBytes',
  'statusHeader',
  'storedHeaders',
  'credentialHeaders',
  'ignoreCookies',
  'query',
  'maxPathEntries',
  'maxPathBytes',
  'sessionHeader',
  'sessionWait',
  'maxStaleness',
  'grace',
  'softTimeout',
] as const satisfies ReadonlyArray<keyof NearCacheInterceptorOptions>;

/** The checked settings of an interceptor. */
export interface InterceptorSettings {
  prefix: string;
  maxBodyBytes: number;
  statusHeader: string | undefined;
  /** Lower-case, without duplicates. */
  storedHeaders: readonly string[];
  credentials: HttpCredentialPolicy;
  query: HttpQueryKeyPolicy;
  maxPathEntries: number;
  maxPathBytes: number;
  /** Session tokens and `maxStaleness`. */
  session: HttpSessionSettings;
  /** `grace` and `softTimeout`. */
  grace: HttpGraceSettings;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const PREFIX = /^(?!\u0000)[\s\S]{1,256}$/;
const MAX_BODY_BYTES = 64 * 1024 * 1024;

/**
 * Checks the settings and fills in the defaults; throws `InvalidOptionError` naming the option,
 * what it got and what is allowed. `fields` (the fields a subclass set; `undefined` ones left
 * out) win over `moduleOptions` (the module's `interceptor` option).
 */
export function resolveInterceptorSettings(moduleOptions: NearCacheInterceptorOptions | undefined, fields?: NearCacheInterceptorOptions): InterceptorSettings {
  const options: Record<string, unknown> = { ...moduleOptions };
  for (const [name, value] of Object.entries(fields ?? {})) if (value !== undefined) options[name] = value;
  return checkSettings(options as NearCacheInterceptorOptions);
}

function checkSettings(options: NearCacheInterceptorOptions): InterceptorSettings {
  const prefix = stringOption('prefix', options.prefix, HTTP_DEFAULT_PREFIX, PREFIX, 'a non-empty string of at most 256 characters, not starting with U+0000');
  const maxBodyBytes = integerOption('maxBodyBytes', options.maxBodyBytes, 256 * 1024, 0, MAX_BODY_BYTES);
  const statusHeader = options.statusHeader ?? 'X-Cache';
  if (statusHeader !== false && (typeof statusHeader !== 'string' || !TOKEN.test(statusHeader)))
    invalidOption('statusHeader', 'a header name or false', statusHeader);
  const storedHeaders = options.storedHeaders ?? HTTP_STORED_HEADERS;
  if (!Array.isArray(storedHeaders) || storedHeaders.some((h) => typeof h !== 'string' || !TOKEN.test(h) || HTTP_NEVER_SERVED_HEADERS.has(h.toLowerCase()))) {
    invalidOption('storedHeaders', `an array of header names, none of ${[...HTTP_NEVER_SERVED_HEADERS].join(', ')}`, storedHeaders);
  }
  try {
    return {
      prefix,
      maxBodyBytes,
      statusHeader: statusHeader === false ? undefined : statusHeader,
      storedHeaders: [...new Set((storedHeaders as string[]).map((h) => h.toLowerCase()))],
      credentials: httpCredentialPolicy(options.credentialHeaders ?? HTTP_CREDENTIAL_HEADERS, options.ignoreCookies ?? []),
      query: httpQueryPolicy(options.query),
      maxPathEntries: httpPathBudget(options.maxPathEntries),
      maxPathBytes: httpPathByteBudget(options.maxPathBytes),
      session: httpSessionSettings({ sessionHeader: options.sessionHeader, sessionWait: options.sessionWait, maxStaleness: options.maxStaleness }),
      grace: httpGraceSettings({ grace: options.grace, softTimeout: options.softTimeout }),
    };
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw new InvalidOptionError(error.message, { cause: error });
    throw error;
  }
}

/**
 * Checks the `interceptor` option of a module (an object of `NearCacheInterceptorOptions`, or
 * `undefined`); throws `InvalidOptionError` whose message starts with `scope`.
 */
export function checkInterceptorOptions(scope: string, value: unknown): NearCacheInterceptorOptions | undefined {
  if (value === undefined) return undefined;
  try {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      invalidOption('interceptor', `an object of NearCacheInterceptor's settings (${INTERCEPTOR_OPTION_NAMES.join(', ')})`, value);
    }
    rejectUnknownOptions('interceptor.', value, INTERCEPTOR_OPTION_NAMES);
    const options = { ...(value as NearCacheInterceptorOptions) };
    resolveInterceptorSettings(options);
    return Object.freeze(options);
  } catch (error) {
    if (error instanceof InvalidOptionError) throw new InvalidOptionError(`${scope}: ${error.message}`, { cause: error });
    throw error;
  }
}
