import type { Request } from 'express';
import { consoleLogger, InvalidArgumentError, InvalidOptionError, type Logger, type NearCache } from '@nearcache/core';

/** Methods whose responses can be served from the cache. */
export type CacheableMethod = 'GET' | 'HEAD';

/** Options of `cacheResponses(cache, options)`. Every one is checked when the middleware is created. */
export interface CacheResponsesOptions {
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
   * Default: `GET <req.originalUrl>` (path and query string as sent).
   */
  key?: (req: Request) => string | undefined;
  /**
   * Largest body stored, in bytes; bigger responses pass through uncached. Default `262144`
   * (256 KiB). The stored entry holds the body in base64 (4/3 of its size) plus headers: it
   * must fit in the cache's `maxValueBytes` (512 KiB by default), or it is not stored.
   */
  maxBodyBytes?: number;
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
  /** Where cache errors are reported (the request goes on without the cache). Default: warnings and errors to the console. */
  logger?: Logger;
}

export interface ResolvedResponseOptions {
  ttl: number | undefined;
  prefix: string;
  methods: ReadonlySet<string>;
  key: (req: Request) => string | undefined;
  maxBodyBytes: number;
  statuses: ReadonlySet<number>;
  headers: readonly string[];
  statusHeader: string | undefined;
  logger: Logger;
}

/** Headers stored with every response unless absent. */
export const DEFAULT_STORED_HEADERS = [
  'content-type',
  'content-language',
  'content-encoding',
  'content-disposition',
  'content-location',
  'cache-control',
  'expires',
  'last-modified',
  'etag',
  'link',
  'location',
  'vary',
] as const;

const REFUSED_HEADERS = new Set(['set-cookie', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'trailer', 'proxy-connection']);
const OPTION_NAMES = ['ttl', 'prefix', 'methods', 'key', 'maxBodyBytes', 'statuses', 'headers', 'statusHeader', 'logger'] as const;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const MAX_TTL = 100 * 365 * 24 * 60 * 60 * 1000;
const DEFAULT_KEY = (req: Request): string => `GET ${req.originalUrl ?? req.url}`;

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

export function fail(scope: string, name: string, expected: string, value: unknown): never {
  throw new InvalidOptionError(`${scope}: option "${name}" must be ${expected}, got ${describe(value)}`);
}

export function checkOptionsObject(scope: string, options: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidOptionError(`${scope}: options must be an object, got ${describe(options)}`);
  }
  for (const name of Object.keys(options)) {
    if (!allowed.includes(name)) throw new InvalidOptionError(`${scope}: unknown option "${name}"; the options are: ${allowed.join(', ')}`);
  }
  return options as Record<string, unknown>;
}

export function checkPrefix(scope: string, value: unknown): string {
  if (value === undefined) return 'http:';
  if (typeof value !== 'string' || value.length === 0 || value.startsWith('\u0000') || value.length > 256) {
    fail(scope, 'prefix', 'a non-empty string of at most 256 characters, not starting with U+0000', value);
  }
  return value;
}

export function checkLogger(scope: string, value: unknown): Logger {
  if (value === undefined) return consoleLogger;
  if (typeof value !== 'object' || value === null || ['debug', 'info', 'warn', 'error'].some((m) => typeof (value as Record<string, unknown>)[m] !== 'function')) {
    fail(scope, 'logger', 'an object with debug, info, warn and error methods', value);
  }
  return value as Logger;
}

/** Throws `InvalidArgumentError` unless `cache` looks like a `NearCache`. */
export function checkCache(scope: string, cache: unknown): NearCache<unknown> {
  const methods = ['get', 'has', 'set', 'delete', 'clearPrefix', 'wrap'];
  if (typeof cache !== 'object' || cache === null || methods.some((m) => typeof (cache as Record<string, unknown>)[m] !== 'function')) {
    throw new InvalidArgumentError(`${scope}: the first argument must be a NearCache (from createNearCache()), got ${describe(cache)}`);
  }
  return cache as NearCache<unknown>;
}

function integer(scope: string, name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) fail(scope, name, `an integer from ${min} to ${max}`, value);
  return value;
}

/** Options given explicitly, checked; used both for a full resolution and for route-level refinements. */
export function checkResponseOptions(input: unknown): Partial<ResolvedResponseOptions> {
  const scope = 'cacheResponses';
  const options = checkOptionsObject(scope, input, OPTION_NAMES);
  const out: Partial<ResolvedResponseOptions> = {};
  if (options.ttl !== undefined) out.ttl = integer(scope, 'ttl', options.ttl, 0, MAX_TTL);
  if (options.prefix !== undefined) out.prefix = checkPrefix(scope, options.prefix);
  if (options.methods !== undefined) {
    const methods = options.methods;
    if (!Array.isArray(methods) || methods.length === 0 || methods.some((m) => m !== 'GET' && m !== 'HEAD')) {
      fail(scope, 'methods', 'a non-empty array of "GET" and "HEAD"', methods);
    }
    out.methods = new Set(methods as string[]);
  }
  if (options.key !== undefined) {
    if (typeof options.key !== 'function') fail(scope, 'key', 'a function (req) => string | undefined', options.key);
    out.key = options.key as (req: Request) => string | undefined;
  }
  if (options.maxBodyBytes !== undefined) out.maxBodyBytes = integer(scope, 'maxBodyBytes', options.maxBodyBytes, 0, 64 * 1024 * 1024);
  if (options.statuses !== undefined) {
    const statuses = options.statuses;
    if (!Array.isArray(statuses) || statuses.length === 0 || statuses.some((s) => typeof s !== 'number' || !Number.isInteger(s) || s < 200 || s > 299 || s === 206)) {
      fail(scope, 'statuses', 'a non-empty array of statuses from 200 to 299 except 206 (other responses, and 5xx above all, are never cached)', statuses);
    }
    out.statuses = new Set(statuses as number[]);
  }
  if (options.headers !== undefined) {
    const headers = options.headers;
    if (!Array.isArray(headers) || headers.some((h) => typeof h !== 'string' || !TOKEN.test(h) || REFUSED_HEADERS.has(h.toLowerCase()))) {
      fail(scope, 'headers', `an array of header names, none of ${[...REFUSED_HEADERS].join(', ')}`, headers);
    }
    out.headers = (headers as string[]).map((h) => h.toLowerCase());
  }
  if (options.statusHeader !== undefined) {
    const header = options.statusHeader;
    if (header !== false && (typeof header !== 'string' || !TOKEN.test(header))) fail(scope, 'statusHeader', 'a header name or false', header);
    out.statusHeader = header === false ? undefined : header;
  }
  if (options.logger !== undefined) out.logger = checkLogger(scope, options.logger);
  return out;
}

/** Checks `options` and fills in defaults; throws `InvalidOptionError` on the first problem. */
export function resolveResponseOptions(input: unknown): { resolved: ResolvedResponseOptions; given: Partial<ResolvedResponseOptions> } {
  const given = checkResponseOptions(input);
  const resolved: ResolvedResponseOptions = {
    ttl: given.ttl,
    prefix: given.prefix ?? 'http:',
    methods: given.methods ?? new Set(['GET', 'HEAD']),
    key: given.key ?? DEFAULT_KEY,
    maxBodyBytes: given.maxBodyBytes ?? 256 * 1024,
    statuses: given.statuses ?? new Set([200, 203, 204]),
    headers: [...new Set([...DEFAULT_STORED_HEADERS, ...(given.headers ?? [])])],
    statusHeader: 'statusHeader' in given ? given.statusHeader : 'X-Cache',
    logger: given.logger ?? consoleLogger,
  };
  return { resolved, given };
}
