import type { NextFunction, Request, RequestHandler, Response } from 'express';
import {
  computeEtag,
  encodeHttpEntry,
  firstHeaderValue,
  httpAdmission,
  httpEntryWrites,
  httpHitResponse,
  HttpPathIndex,
  httpStoreRefusal,
  InvalidKeyError,
  isNotModified,
  lookupSharedHttpEntry,
  registerStoredHttpHeaders,
  servedHttpHeaders,
  warnUnsignedHttpCache,
  type HttpAdmission,
  type DecodedHttpResponse,
  type HttpConditionals,
  type HttpHeaderValue,
  type Logger,
  type NearCache,
  type SetOptions,
} from '@nearcache/core';
import { checkCache, resolveResponseOptions, type CacheResponsesOptions, type ResolvedResponseOptions } from './options.js';
import { createRequestCache } from './request.js';

/** What the first `cacheResponses` a request met decided, so that later ones only refine it. */
interface Marker {
  cache: NearCache<unknown>;
  /** Store-time settings of the response being captured; `null` when the request is not captured. */
  settings: ResolvedResponseOptions | null;
}

const markers = new WeakMap<Request, Marker>();

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
 * Entries use the HTTP entry format of `@nearcache/core` (`HttpCachedResponse`), the one
 * `NearCacheInterceptor` of `@nearcache/nestjs` reads and writes too.
 *
 * Fails open: a cache error is logged and the request goes on as if there were no cache.
 * Options are checked at once; a bad one throws `InvalidOptionError`.
 */
export function cacheResponses(cache: NearCache<any>, options?: CacheResponsesOptions): RequestHandler {
  const store = checkCache('cacheResponses', cache);
  const { resolved, given } = resolveResponseOptions(options, store);
  const requestCache = createRequestCache(store, '', resolved.prefix);
  const log = resolved.logger;
  // A reader serves only the headers an adapter of this process would have stored (a forged entry cannot add others).
  registerStoredHttpHeaders(store, resolved.headers);
  warnUnsignedHttpCache(store, (message) => log.warn(`response cache: ${message}`));

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
        if (typeof key !== 'string' || key.length === 0)
          throw new InvalidKeyError(`the key option must return a non-empty string or undefined, got ${typeof key}`);
        base = resolved.prefix + key;
      }
    } catch (error) {
      report(log, 'computing the key', error);
    }
    if (base === undefined) {
      next();
      return;
    }
    const admission = httpAdmission(req.headers, resolved.credentials);
    if (admission.bypass) {
      // The client asked that nothing be stored: neither serve from nor write to the cache.
      markMiss(res, resolved);
      next();
      return;
    }

    let hit: DecodedHttpResponse | undefined;
    try {
      // With credentials, only an entry shared by everyone (Cache-Control: public) or keyed on them (Vary) is served.
      hit = lookupSharedHttpEntry((key) => store.get(key), base, req.headers, admission);
    } catch (error) {
      report(log, 'the lookup', error, base);
    }
    if (hit !== undefined) {
      try {
        serve(req, res, hit, resolved, servedHttpHeaders(store));
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
        capture(store, req, res, base, settings, admission);
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
  if (given.maxPathEntries !== undefined) settings.maxPathEntries = given.maxPathEntries;
  if (given.statuses !== undefined) settings.statuses = given.statuses;
  if (given.headers !== undefined) settings.headers = [...new Set([...settings.headers, ...given.headers])];
}

function markMiss(res: Response, settings: ResolvedResponseOptions): void {
  if (settings.statusHeader !== undefined && !res.headersSent) res.setHeader(settings.statusHeader, 'MISS');
}

function report(log: Logger, what: string, error: unknown, key?: string): void {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  log.warn(`response cache: ${what} failed; the request goes on without the cache: ${message}`, {
    ...(key === undefined ? {} : { key }),
    ...(code === undefined ? {} : { code }),
  });
}

function serve(req: Request, res: Response, hit: DecodedHttpResponse, settings: ResolvedResponseOptions, served: ReadonlySet<string>): void {
  const answer = httpHitResponse(hit, { method: req.method, headers: req.headers }, Date.now(), served);
  res.statusCode = answer.status;
  for (const [name, value] of answer.headers) res.setHeader(name, value);
  if (settings.statusHeader !== undefined) res.setHeader(settings.statusHeader, 'HIT');
  if (answer.notModified) answerNotModified(res);
  if (answer.body === undefined) res.end();
  else res.end(answer.body);
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
function hideConditionals(req: Request): HttpConditionals | undefined {
  const ifNoneMatch = firstHeaderValue(req.headers['if-none-match']);
  const ifModifiedSince = firstHeaderValue(req.headers['if-modified-since']);
  if (ifNoneMatch === undefined && ifModifiedSince === undefined) return undefined;
  delete req.headers['if-none-match'];
  delete req.headers['if-modified-since'];
  return { ifNoneMatch, ifModifiedSince };
}

function restoreConditionals(req: Request, hidden: HttpConditionals | undefined): void {
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

/** Why a finished GET response must not be stored, or `undefined` if it may be (core's rules, with this middleware's `statuses`). */
function refusal(req: Request, res: Response, settings: ResolvedResponseOptions, admission: HttpAdmission): string | undefined {
  return httpStoreRefusal({
    status: res.statusCode,
    statuses: settings.statuses,
    requestHeaders: req.headers,
    credentials: admission.credentials,
    responseHeader: (name) => res.getHeader(name) as HttpHeaderValue | undefined,
  });
}

function save(cache: NearCache<unknown>, req: Request, res: Response, base: string, body: Buffer, settings: ResolvedResponseOptions): void {
  const headers: Record<string, HttpHeaderValue | undefined> = {};
  for (const name of settings.headers) headers[name] = res.getHeader(name) as HttpHeaderValue | undefined;
  const entry = encodeHttpEntry({ status: res.statusCode, headers, body });
  const options: SetOptions | undefined = settings.ttl === undefined ? undefined : { ttl: settings.ttl };
  const writes = httpEntryWrites(base, entry, res.getHeader('vary') as HttpHeaderValue | undefined, req.headers);
  if (
    settings.maxPathEntries > 0 &&
    !HttpPathIndex.of(cache).admits(
      writes.map((write) => write.key),
      settings.maxPathEntries,
    )
  ) {
    settings.logger.debug(`response cache: not stored (its path holds maxPathEntries ${settings.maxPathEntries} entries)`, { key: base });
    return;
  }
  for (const { key, value } of writes) {
    void cache.set(key, value, options).catch((error: unknown) => report(settings.logger, 'storing the response', error, key));
  }
}

/** Wraps `res.write` and `res.end` to capture the body of a GET miss and store it when it ends. */
function capture(cache: NearCache<unknown>, req: Request, res: Response, base: string, settings: ResolvedResponseOptions, admission: HttpAdmission): void {
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
      const refused = refusal(req, res, settings, admission);
      if (refused === undefined) {
        if (res.getHeader('etag') === undefined) res.setHeader('ETag', computeEtag(body));
        save(cache, req, res, base, body, settings);
      } else {
        settings.logger.debug(`response cache: not stored (${refused})`, { key: base });
      }
    } else {
      settings.logger.debug(`response cache: not stored (body of ${body.length} bytes above maxBodyBytes ${settings.maxBodyBytes})`, { key: base });
    }
    const status = res.statusCode;
    if (hidden === undefined || status < 200 || status > 299) return false;
    return isNotModified(
      hidden,
      firstHeaderValue(res.getHeader('etag') as HttpHeaderValue | undefined),
      firstHeaderValue(res.getHeader('last-modified') as HttpHeaderValue | undefined),
    );
  }
}
