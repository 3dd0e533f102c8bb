import type { NextFunction, Request, RequestHandler, Response } from 'express';
import {
  firstHeaderValue,
  HandlerFailedError,
  HTTP_MUTATING_METHODS,
  HttpResponseStore,
  HttpSessions,
  httpTagsOf,
  InvalidKeyError,
  isNotModified,
  type HttpAdmission,
  type DecodedHttpResponse,
  type HttpHeaderValue,
  type HttpHitAnswer,
  type HttpStoreLog,
  type HttpStoreSettings,
  type Logger,
  type NearCache,
} from '@nearcache/core';
import { hideConditionals, restoreConditionals, toBuffer } from './capture.js';
import { sendStale } from './freshness.js';
import { checkCache, maxKeyBytesOf, resolveResponseOptions, type CacheResponsesOptions, type ResolvedResponseOptions } from './options.js';
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
 * With `grace`, a GET miss whose handler answers a 5xx is answered with the response in its
 * grace period instead (`X-Cache: STALE`) when there is one; `tags` tag the stored responses.
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
  const maxKeyBytes = maxKeyBytesOf(store);
  // The shared sequence of core (decide, serve a hit, store a miss); a reader serves only the
  // headers an adapter of this process would have stored (a forged entry cannot add others).
  const responses = new HttpResponseStore(store, resolved.headers, prefixed(log));
  // Session tokens and maxStaleness (core's HTTP sessions); off unless configured.
  const sessions = new HttpSessions(store, resolved.session, prefixed(log));
  const sessionHeader = resolved.session.header;
  // Options a later cacheResponses cannot apply to a request an earlier one looks up: said once.
  const unrefinable = options === undefined || options === null ? [] : Object.keys(options).filter((name) => !REFINABLE.has(name));
  let warnedUnrefinable = false;

  return function nearCacheResponses(req: Request, res: Response, next: NextFunction): void {
    if (req.nearCache === undefined) req.nearCache = requestCache;
    const marker = markers.get(req);
    if (marker !== undefined && marker.cache === store) {
      // An earlier cacheResponses of this cache handles the request: refine what it stores.
      if (marker.settings !== null) refine(marker.settings, given);
      if (unrefinable.length > 0 && !warnedUnrefinable) {
        warnedUnrefinable = true;
        log.warn(
          `response cache: options ${unrefinable.map((name) => `"${name}"`).join(', ')} of a cacheResponses on ${req.method} ${req.path} are ignored: ` +
            `an earlier cacheResponses of the same cache looks the request up, and a later one only refines ${[...REFINABLE].join(', ')}. ` +
            `Give the route its own cacheResponses, mounted before the app-wide one (said once)`,
        );
      }
      next();
      return;
    }
    markers.set(req, { cache: store, settings: null });
    const method = req.method;
    if (sessionHeader !== undefined && HTTP_MUTATING_METHODS.has(method)) {
      // A write: its response carries the token of the cache writes it made.
      try {
        sendSessionToken(sessions, sessionHeader, req, res, log);
      } catch (error) {
        report(log, 'preparing the session token', error);
      }
      next();
      return;
    }
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
    const admission = responses.admit(req.headers, resolved.credentials);
    if (admission.bypass) {
      // The client asked that nothing be stored: neither serve from nor write to the cache.
      markMiss(res, resolved);
      next();
      return;
    }
    // A request carrying a session token reads the cache once this instance reached it.
    const gate = sessions.gate(sessions.token(req.headers));
    if (gate === true) {
      answer(req, res, next, base, admission);
      return;
    }
    const key = base;
    gate
      .then((caughtUp) => {
        if (caughtUp) return answer(req, res, next, key, admission);
        // Not reached in time: the handler answers, bypassing the cache, rather than a stale entry.
        markMiss(res, resolved);
        next();
      })
      .catch((error: unknown) => report(log, 'answering after the session wait', error, key));
  };

  /** Answers a hit from the cache, or runs the handler (capturing a GET's response to store it). */
  function answer(req: Request, res: Response, next: NextFunction, base: string, admission: HttpAdmission): void {
    let hit: DecodedHttpResponse | undefined;
    try {
      // With credentials, only an entry shared by everyone (Cache-Control: public) or keyed on them (Vary) is served.
      hit = responses.lookup(base, req.headers, admission, sessions.readOptions);
    } catch (error) {
      report(log, 'the lookup', error, base);
    }
    if (hit !== undefined) {
      try {
        serve(req, res, responses.answer(hit, req, resolved.statusHeader));
        return;
      } catch (error) {
        report(log, 'serving a hit', error, base);
        if (res.headersSent) return;
      }
    }

    markMiss(res, resolved);
    if (req.method === 'GET') {
      const settings: ResolvedResponseOptions = { ...resolved };
      markers.set(req, { cache: store, settings });
      try {
        capture(responses, req, res, { base, settings, admission, maxKeyBytes });
      } catch (error) {
        report(log, 'capturing the response', error, base);
      }
    }
    next();
  }
}

/**
 * Gives the response to a mutating request the session token of the cache writes made while it
 * ran (merged with the request's own token), or the request's token when it made none: holds
 * `res.end` until the log acknowledged the writes (at most `sessionWait`). A response whose
 * headers left before `res.end` (streamed) carries none.
 */
function sendSessionToken(sessions: HttpSessions, header: string, req: Request, res: Response, log: Logger): void {
  const incoming = sessions.token(req.headers);
  const mark = sessions.mark();
  const originalEnd = res.end as unknown as AnyFunction;
  res.end = function end(this: Response, ...args: unknown[]): Response {
    res.end = originalEnd as unknown as Response['end'];
    if (this.headersSent) {
      log.debug('response cache: the response was streamed: it carries no session token');
      return originalEnd.apply(this, args) as Response;
    }
    if (!sessions.wroteSince(mark)) {
      if (incoming !== undefined) this.setHeader(header, incoming);
      return originalEnd.apply(this, args) as Response;
    }
    void sessions.responseToken(mark, incoming).then((token) => {
      try {
        if (token !== undefined && !this.headersSent) this.setHeader(header, token);
        originalEnd.apply(this, args);
      } catch (error) {
        report(log, 'sending the response with its session token', error);
      }
    });
    return this;
  } as unknown as Response['end'];
}

/** What a route-level cacheResponses after an app-wide one of the same cache changes (see `refine`); `logger` is its own. */
const REFINABLE = new Set(['ttl', 'maxBodyBytes', 'maxPathEntries', 'maxPathBytes', 'statuses', 'headers', 'logger', 'grace', 'tags']);

function refine(settings: ResolvedResponseOptions, given: Partial<ResolvedResponseOptions>): void {
  if (given.ttl !== undefined) settings.ttl = given.ttl;
  if (given.maxBodyBytes !== undefined) settings.maxBodyBytes = given.maxBodyBytes;
  if (given.maxPathEntries !== undefined) settings.maxPathEntries = given.maxPathEntries;
  if (given.maxPathBytes !== undefined) settings.maxPathBytes = given.maxPathBytes;
  if (given.statuses !== undefined) settings.statuses = given.statuses;
  if (given.headers !== undefined) settings.headers = [...new Set([...settings.headers, ...given.headers])];
  if (given.grace !== undefined) settings.grace = given.grace;
  if (given.tags !== undefined) settings.tags = given.tags;
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

/** Core's logging of the response cache goes to the middleware's logger, its messages marked as the response cache's. */
function prefixed(log: Logger): HttpStoreLog {
  return {
    debug: (message, context) => (context === undefined ? log.debug(`response cache: ${message}`) : log.debug(`response cache: ${message}`, context)),
    warn: (message, context) => (context === undefined ? log.warn(`response cache: ${message}`) : log.warn(`response cache: ${message}`, context)),
  };
}

function serve(_req: Request, res: Response, answer: HttpHitAnswer): void {
  res.statusCode = answer.status;
  for (const [name, value] of answer.headers) res.setHeader(name, value);
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

/** The store-time settings of core's HTTP store, from the middleware's (route-refined) options, with the response's tags. */
function storeSettings(settings: ResolvedResponseOptions, tags: readonly string[] | undefined): HttpStoreSettings {
  return {
    grace: settings.grace.grace,
    tags,
    storedHeaders: settings.headers,
    maxBodyBytes: settings.maxBodyBytes,
    maxPathEntries: settings.maxPathEntries,
    maxPathBytes: settings.maxPathBytes,
    statuses: settings.statuses,
    ttl: settings.ttl,
  };
}

/** The route a request matched (for warnings, once per route), or the middleware's own when none did. */
function routeOf(req: Request): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? `${req.baseUrl}${path}` : '(no route)';
}

/** What `capture` needs of a GET miss. */
interface Capture {
  base: string;
  settings: ResolvedResponseOptions;
  admission: HttpAdmission;
  maxKeyBytes: number;
}

/**
 * Wraps `res.write` and `res.end` to capture the body of a GET miss and store it when it ends; a
 * 5xx ended under `grace` is answered with the response in grace when there is one.
 */
function capture(responses: HttpResponseStore, req: Request, res: Response, miss: Capture): void {
  const { base, settings, admission } = miss;
  // The leases of the store, taken before the handler runs; released when the response closes unless it was stored.
  const load = responses.begin(base, req.headers);
  if (load !== undefined) res.once('close', () => load.release());
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
    const failure = settings.grace.grace > 0 && !streamed && !this.headersSent ? HandlerFailedError.ofStatus(this.statusCode) : undefined;
    if (failure !== undefined) {
      answerFailure(this, args, failure);
      return this;
    }
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

  /** A failed response under grace: the response in grace answers for it, when there is one; the failure is never stored. */
  function answerFailure(self: Response, args: unknown[], failure: HandlerFailedError): void {
    load?.release(failure);
    const sendFailure = (): void => void originalEnd.apply(self, args);
    responses.guard(base, req.headers, admission, Promise.reject(failure), settings.grace).then(({ stale }) => {
      if (stale === undefined) return sendFailure();
      try {
        const answer = responses.answer(stale, req, settings.statusHeader, { stale: true });
        sendStale(self, answer, responses.served, (body) => void (body === undefined ? originalEnd.call(self) : originalEnd.call(self, body)));
      } catch (error) {
        report(settings.logger, 'answering from the grace period', error, base);
        if (!self.writableEnded) sendFailure();
      }
    }, sendFailure);
  }

  /** Stores the response if it may be; returns whether to answer 304 instead of it. */
  function finish(args: unknown[]): boolean {
    if (streamed || res.headersSent) return false;
    let tags: readonly string[] | undefined;
    try {
      tags = httpTagsOf(settings.tags, req, miss.maxKeyBytes);
    } catch (error) {
      report(settings.logger, 'computing the tags (the response is not stored)', error, base);
      load?.release();
      return false;
    }
    const transferEncoding = res.getHeader('transfer-encoding');
    if (transferEncoding !== undefined && String(transferEncoding).toLowerCase().includes('chunked')) return false;
    const [chunk, encoding] = typeof args[0] === 'function' ? [undefined, undefined] : [args[0], typeof args[1] === 'function' ? undefined : args[1]];
    const body = toBuffer(chunk, encoding);
    const stored = responses.store(
      { base, requestHeaders: req.headers, credentials: admission.credentials, route: routeOf(req), load },
      { status: res.statusCode, body, header: (name) => res.getHeader(name) as HttpHeaderValue | undefined },
      storeSettings(settings, tags),
    );
    if (stored !== undefined && res.getHeader('etag') === undefined) res.setHeader('ETag', stored.etag);
    const status = res.statusCode;
    if (hidden === undefined || status < 200 || status > 299) return false;
    return isNotModified(
      hidden,
      firstHeaderValue(res.getHeader('etag') as HttpHeaderValue | undefined),
      firstHeaderValue(res.getHeader('last-modified') as HttpHeaderValue | undefined),
    );
  }
}
