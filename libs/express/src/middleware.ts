import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { InvalidKeyError, type Logger, type NearCache, type SetOptions } from '@nearcache/core';
import { cacheControlDirectives, notModified, strongEtag, type Conditionals } from './conditional.js';
import { HTTP_ENTRY_VERSION, isCachedResponse, isVaryIndex, NEVER_SERVED_HEADERS, parseVary, variantKey, type CachedResponse, type VaryIndex } from './entry.js';
import { checkCache, resolveResponseOptions, type CacheResponsesOptions, type ResolvedResponseOptions } from './options.js';
import { createRequestCache } from './request.js';

/** What the first `cacheResponses` a request met decided, so that later ones only refine it. */
interface Marker {
  cache: NearCache<unknown>;
  /** Store-time settings of the response being captured; `null` when the request is not captured. */
  settings: ResolvedResponseOptions | null;
}

const markers = new WeakMap<Request, Marker>();
/** Decoded bodies of checked entries, so a hit checks and decodes an entry once, not once per request. */
const bodies = new WeakMap<CachedResponse, Buffer>();

type AnyFunction = (...args: unknown[]) => unknown;

/**
 * Response-caching middleware. Use it app-wide (`app.use(cacheResponses(cache))`) or per
 * route (`app.get('/x', cacheResponses(cache, { ttl: 5000 }), handler)`).
 *
 * For GET and HEAD (see `methods`) it looks the request up: a hit is answered from the cache
 * (`X-Cache: HIT`, with `Age`, or a 304 when `If-None-Match` / `If-Modified-Since` match)
 * without running the handler; a miss (`X-Cache: MISS`) runs the handler and, for a GET,
 * stores its response when it is storable (see docs/express.md, "What is never cached").
 *
 * Only responses ended with a single `res.end(body)` while their headers are unsent are
 * captured (`res.send`, `res.json`, `res.sendStatus`, `res.end(body)`). A response on which
 * `res.write`, `res.writeHead`, `res.flushHeaders` was called before `res.end`, or that sets
 * `Transfer-Encoding: chunked`, is streamed: it passes through untouched and is not cached.
 *
 * Fails open: a cache error is logged and the request goes on as if there were no cache.
 * Options are checked at once; a bad one throws `InvalidOptionError`.
 */
export function cacheResponses(cache: NearCache<any>, options?: CacheResponsesOptions): RequestHandler {
  const store = checkCache('cacheResponses', cache);
  const { resolved, given } = resolveResponseOptions(options);
  const requestCache = createRequestCache(store, '', resolved.prefix);
  const log = resolved.logger;

  return function nearCacheResponses(req: Request, res: Response, next: NextFunction): void {
    if (req.nearCache === undefined) req.nearCache = requestCache;
    const marker = markers.get(req);
    if (marker !== undefined && marker.cache === store) {
      // An earlier cacheResponses of this cache handles the request: refine what it stores.
      if (marker.settings !== null) refine(marker.settings, given);
      next();
      return;
    }
    markers.set(req, { cache: store, settings: null });
    const method = req.method;
    if (!resolved.methods.has(method) || res.headersSent) {
      next();
      return;
    }

    let base: string | undefined;
    try {
      const key = resolved.key(req);
      if (key !== undefined) {
        if (typeof key !== 'string' || key.length === 0) throw new InvalidKeyError(`the key option must return a non-empty string or undefined, got ${typeof key}`);
        base = resolved.prefix + key;
      }
    } catch (error) {
      report(log, 'computing the key', error);
    }
    if (base === undefined) {
      next();
      return;
    }
    if (cacheControlDirectives(req.headers['cache-control']).has('no-store')) {
      // The client asked that nothing be stored: neither serve from nor write to the cache.
      markMiss(res, resolved);
      next();
      return;
    }

    let hit: CachedResponse | undefined;
    try {
      hit = lookup(store, base, req);
    } catch (error) {
      report(log, 'the lookup', error, base);
    }
    if (hit !== undefined) {
      try {
        serve(req, res, hit, resolved);
        return;
      } catch (error) {
        report(log, 'serving a hit', error, base);
        if (res.headersSent) return;
      }
    }

    markMiss(res, resolved);
    if (method === 'GET') {
      const settings: ResolvedResponseOptions = { ...resolved };
      markers.set(req, { cache: store, settings });
      try {
        capture(store, req, res, base, settings);
      } catch (error) {
        report(log, 'capturing the response', error, base);
      }
    }
    next();
  };
}

function refine(settings: ResolvedResponseOptions, given: Partial<ResolvedResponseOptions>): void {
  if (given.ttl !== undefined) settings.ttl = given.ttl;
  if (given.maxBodyBytes !== undefined) settings.maxBodyBytes = given.maxBodyBytes;
  if (given.statuses !== undefined) settings.statuses = given.statuses;
  if (given.headers !== undefined) settings.headers = [...new Set([...settings.headers, ...given.headers])];
}

function markMiss(res: Response, settings: ResolvedResponseOptions): void {
  if (settings.statusHeader !== undefined && !res.headersSent) res.setHeader(settings.statusHeader, 'MISS');
}

function report(log: Logger, what: string, error: unknown, key?: string): void {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  log.warn(`response cache: ${what} failed; the request goes on without the cache: ${message}`, { ...(key === undefined ? {} : { key }), ...(code === undefined ? {} : { code }) });
}

/**
 * `value` if it is a well-formed `CachedResponse`. Cached values are shared, immutable objects:
 * one that was checked (and whose body was decoded) once is not checked again.
 */
function asResponse(value: unknown): CachedResponse | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if (bodies.has(value as CachedResponse)) return value as CachedResponse;
  if (!isCachedResponse(value)) return undefined;
  bodies.set(value, Buffer.from(value.body, 'base64'));
  return value;
}

/** The cached response for `req` under `base`, following a `VaryIndex` to the variant. */
function lookup(cache: NearCache<unknown>, base: string, req: Request): CachedResponse | undefined {
  const entry = cache.get(base);
  if (entry === undefined) return undefined;
  const response = asResponse(entry);
  if (response !== undefined) return response;
  if (isVaryIndex(entry)) return asResponse(cache.get(variantKey(base, entry.vary, req.headers)));
  return undefined;
}

function single(value: string | string[] | number | undefined): string | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value[0] : String(value);
}

function serve(req: Request, res: Response, entry: CachedResponse, settings: ResolvedResponseOptions): void {
  const body = bodies.get(entry) ?? Buffer.from(entry.body, 'base64');
  res.statusCode = entry.status;
  for (const [name, value] of Object.entries(entry.headers)) {
    if (!NEVER_SERVED_HEADERS.has(name)) res.setHeader(name, value);
  }
  if (settings.statusHeader !== undefined) res.setHeader(settings.statusHeader, 'HIT');
  res.setHeader('Age', String(Math.max(0, Math.floor((Date.now() - entry.storedAt) / 1000))));
  const conditionals: Conditionals = { ifNoneMatch: single(req.headers['if-none-match']), ifModifiedSince: single(req.headers['if-modified-since']) };
  if (notModified(conditionals, single(entry.headers.etag), single(entry.headers['last-modified']))) {
    answerNotModified(res);
    res.end();
    return;
  }
  if (entry.status !== 204) res.setHeader('Content-Length', body.length);
  if (req.method === 'HEAD' || entry.status === 204) res.end();
  else res.end(body);
}

function answerNotModified(res: Response): void {
  res.statusCode = 304;
  res.removeHeader('Content-Type');
  res.removeHeader('Content-Length');
  res.removeHeader('Transfer-Encoding');
}

/**
 * Hides the request's conditional headers from the handler while it runs, so that it (and
 * Express's `res.send`, which answers 304 by itself) produces the full response to store;
 * the conditionals are then answered here.
 */
function hideConditionals(req: Request): Conditionals | undefined {
  const ifNoneMatch = single(req.headers['if-none-match']);
  const ifModifiedSince = single(req.headers['if-modified-since']);
  if (ifNoneMatch === undefined && ifModifiedSince === undefined) return undefined;
  delete req.headers['if-none-match'];
  delete req.headers['if-modified-since'];
  return { ifNoneMatch, ifModifiedSince };
}

function restoreConditionals(req: Request, hidden: Conditionals | undefined): void {
  if (hidden === undefined) return;
  if (hidden.ifNoneMatch !== undefined) req.headers['if-none-match'] = hidden.ifNoneMatch;
  if (hidden.ifModifiedSince !== undefined) req.headers['if-modified-since'] = hidden.ifModifiedSince;
}

function toBuffer(chunk: unknown, encoding: unknown): Buffer {
  if (chunk === undefined || chunk === null) return Buffer.alloc(0);
  if (typeof chunk === 'string') return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError(`unexpected body chunk of type ${typeof chunk}`);
}

/** Why a finished GET response must not be stored, or `undefined` if it may be. */
function refusal(req: Request, res: Response, settings: ResolvedResponseOptions): string | undefined {
  const status = res.statusCode;
  if (!settings.statuses.has(status)) return `status ${status}`;
  const directives = cacheControlDirectives(res.getHeader('cache-control'));
  for (const directive of ['no-store', 'private', 'no-cache']) {
    if (directives.has(directive)) return `Cache-Control: ${directive}`;
  }
  if (res.getHeader('set-cookie') !== undefined) return 'Set-Cookie';
  if (res.getHeader('content-range') !== undefined) return 'Content-Range';
  if (parseVary(res.getHeader('vary'))[0] === '*') return 'Vary: *';
  // RFC 9111 3.5: a shared cache stores a response to an authorized request only when told it may.
  if (req.headers.authorization !== undefined && !['public', 's-maxage', 'must-revalidate'].some((d) => directives.has(d))) {
    return 'Authorization without Cache-Control public, s-maxage or must-revalidate';
  }
  return undefined;
}

function save(cache: NearCache<unknown>, req: Request, res: Response, base: string, body: Buffer, settings: ResolvedResponseOptions): void {
  const headers: Record<string, string | string[]> = {};
  for (const name of settings.headers) {
    const value = res.getHeader(name);
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.map(String) : String(value);
  }
  const storedAt = Date.now();
  const entry: CachedResponse = { v: HTTP_ENTRY_VERSION, status: res.statusCode, headers, body: body.toString('base64'), storedAt };
  const options: SetOptions | undefined = settings.ttl === undefined ? undefined : { ttl: settings.ttl };
  const failed = (key: string) => (error: unknown) => report(settings.logger, 'storing the response', error, key);
  const vary = parseVary(res.getHeader('vary'));
  if (vary.length === 0) {
    void cache.set(base, entry, options).catch(failed(base));
    return;
  }
  const variant = variantKey(base, vary, req.headers);
  const index: VaryIndex = { v: HTTP_ENTRY_VERSION, vary, storedAt };
  void cache.set(variant, entry, options).catch(failed(variant));
  void cache.set(base, index, options).catch(failed(base));
}

/** Wraps `res.write` and `res.end` to capture the body of a GET miss and store it when it ends. */
function capture(cache: NearCache<unknown>, req: Request, res: Response, base: string, settings: ResolvedResponseOptions): void {
  const hidden = hideConditionals(req);
  const originalWrite = res.write as unknown as AnyFunction;
  const originalEnd = res.end as unknown as AnyFunction;
  let ended = false;
  let streamed = false;

  res.write = function write(this: Response, ...args: unknown[]): boolean {
    if (!ended && !streamed) {
      // Streamed: pass through, store nothing, and let the handler see the conditionals.
      streamed = true;
      restoreConditionals(req, hidden);
    }
    return originalWrite.apply(this, args) as boolean;
  } as unknown as Response['write'];

  res.end = function end(this: Response, ...args: unknown[]): Response {
    if (ended) return originalEnd.apply(this, args) as Response;
    ended = true;
    restoreConditionals(req, hidden);
    let answer304 = false;
    try {
      answer304 = finish(args);
    } catch (error) {
      report(settings.logger, 'capturing the response', error, base);
    }
    if (answer304) {
      answerNotModified(this);
      const callback = args.find((arg) => typeof arg === 'function');
      return (callback === undefined ? originalEnd.call(this) : originalEnd.call(this, callback)) as Response;
    }
    return originalEnd.apply(this, args) as Response;
  } as unknown as Response['end'];

  /** Stores the response if it may be; returns whether to answer 304 instead of it. */
  function finish(args: unknown[]): boolean {
    if (streamed || res.headersSent) return false;
    const transferEncoding = res.getHeader('transfer-encoding');
    if (transferEncoding !== undefined && String(transferEncoding).toLowerCase().includes('chunked')) return false;
    const [chunk, encoding] = typeof args[0] === 'function' ? [undefined, undefined] : [args[0], typeof args[1] === 'function' ? undefined : args[1]];
    const body = toBuffer(chunk, encoding);
    if (body.length <= settings.maxBodyBytes) {
      const refused = refusal(req, res, settings);
      if (refused === undefined) {
        if (res.getHeader('etag') === undefined) res.setHeader('ETag', strongEtag(body));
        save(cache, req, res, base, body, settings);
      } else {
        settings.logger.debug(`response cache: not stored (${refused})`, { key: base });
      }
    } else {
      settings.logger.debug(`response cache: not stored (body of ${body.length} bytes above maxBodyBytes ${settings.maxBodyBytes})`, { key: base });
    }
    const status = res.statusCode;
    if (hidden === undefined || status < 200 || status > 299) return false;
    return notModified(hidden, single(res.getHeader('etag') as string | string[] | number | undefined), single(res.getHeader('last-modified') as string | undefined));
  }
}
