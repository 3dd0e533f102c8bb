// Over 400 lines on purpose: the interceptor is one class whose protected methods (trackBy,
// getCache, getTtl, the header accessors) are hooks users override; the work it shares with
// Express lives in core (http/store.ts, http/session.ts, http/grace.ts), its Nest glue in interceptor-*.ts.
import {
  Inject,
  Injectable,
  Logger,
  Optional,
  StreamableFile,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
  type OnModuleInit,
} from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import {
  firstHeaderValue,
  HttpResponseStore,
  type HttpLoad,
  HttpSessions,
  httpRequestKey,
  InvalidKeyError,
  InvalidOptionError,
  type HttpAdmission,
  type HttpHeaderValue,
  type HttpRequestHeaders,
  type NearCache,
} from '@nearcache/core';
import { Observable, finalize, map, of, tap } from 'rxjs';
import { DEFAULT_CACHE_NAME, NEAR_CACHE_KEY_METADATA, NEAR_CACHE_TTL_METADATA } from './constants.js';
import type { NearCacheKeyOption } from './decorators/near-cache-key.decorator.js';
import type { NearCacheTtlOption } from './decorators/near-cache-ttl.decorator.js';
import {
  expressHostname,
  expressProtocol,
  installAnswering,
  isStreamingResult,
  isThenable,
  isUnforwardedExpressRequest,
  serialiseResult,
  type ReplyingAdapter,
} from './http-body.js';
import { answerHit, answerMiss, storeLog, type StoredResponse } from './interceptor-answers.js';
import { isClientError, RouteFreshness, routeTags, runGuardedMiss, type RouteFreshnessSettings } from './interceptor-freshness.js';
import { isMutating, requestHeadersOf, RouteReadOptions, withSessionToken } from './interceptor-session.js';
import { INTERCEPTOR_OPTION_NAMES, resolveInterceptorSettings, type InterceptorSettings, type NearCacheInterceptorOptions } from './interceptor-settings.js';
import { NearCacheRegistry } from './near-cache.registry.js';
import { isUncacheable } from './operations.js';

/** Core's HTTP store and sessions of one cache, for this interceptor. */
interface Stores {
  responses: HttpResponseStore;
  sessions: HttpSessions;
  /** The cache's `maxKeyBytes` (what tags are checked against). */
  maxKeyBytes: number;
}

/** What a miss needs to store the handler's result. */
interface Miss {
  responses: HttpResponseStore;
  /** The route, for warnings (once per kind and route). */
  route: string;
  base: string;
  ttl: number | undefined;
  requestHeaders: HttpRequestHeaders;
  credentials: readonly string[];
  admission: HttpAdmission;
  response: unknown;
  settings: InterceptorSettings;
  /** The route's grace and tags. */
  freshness: RouteFreshnessSettings;
  context: ExecutionContext;
  maxKeyBytes: number;
  /** The leases of the store, taken before the handler runs. */
  load?: HttpLoad | undefined;
}

const SCOPE = 'NearCacheInterceptor';

/**
 * Caches the responses of GET routes in the replicated cache, so that a response one instance
 * computed is served by every instance, whichever framework it runs: entries are core's HTTP
 * entries (`HttpCachedResponse`), under the same keys as `cacheResponses` of
 * `@nearcache/express` (`http:GET <url>`), so a Nest app and an Express app on one topic serve
 * each other's responses. Use it on a controller, a route, or globally (`APP_INTERCEPTOR`).
 *
 * - The key is `prefix` + `trackBy()`: by default `http:GET <path>[?<query>] <scheme>://<host>`
 *   (core's `httpRequestKey`), or `http:` + the route's `@NearCacheKey()`; `@NearCacheTtl()`
 *   sets the time to live.
 * - Core's HTTP store (`HttpResponseStore`) decides, serves a hit and stores a miss, as it does
 *   for `cacheResponses`: a shared cache (credentials, `Cache-Control`, `Vary`), a strong
 *   `ETag`, 304s, `maxBodyBytes`, the per-path budgets, store failures warned once per route.
 * - The handler's result is serialised as Express sends it, stored, and sent as those exact
 *   bytes; answers carry `X-Cache: HIT` or `MISS` (`statusHeader`). It fails open.
 * - Settings: the `interceptor` option of `NearCacheModule.forRoot()` (`NearCacheInterceptorOptions`);
 *   a subclass may set them as protected fields (an advanced hook, over the module option).
 *
 * It answers through Nest's HTTP adapter (`HttpAdapterHost`), so it works on every Nest version
 * the peer range admits (11 and 12) and on `@nestjs/platform-express` and
 * `@nestjs/platform-fastify`: it hands Nest a `StreamableFile` of the exact bytes, which the
 * adapter's `reply` (wrapped once, see `installAnswering`) sends with the answer's own status
 * and headers. Put it innermost (on the controller or route) when other interceptors transform
 * results: what it answers with is the stored bytes.
 */
@Injectable()
export class NearCacheInterceptor implements NestInterceptor, OnModuleInit {
  /** Methods whose responses are cached. */
  protected allowedMethods: string[] = ['GET'];
  // Advanced hook: a subclass may set any of these settings; one it sets wins over the module's
  // `interceptor` option (the documented way, see `NearCacheInterceptorOptions` for each).
  protected prefix?: string;
  protected maxBodyBytes?: number;
  protected statusHeader?: string | false;
  protected storedHeaders?: readonly string[];
  protected credentialHeaders?: readonly string[];
  protected ignoreCookies?: readonly string[];
  protected query?: boolean | readonly string[];
  protected maxPathEntries?: number;
  protected maxPathBytes?: number;
  protected sessionHeader?: boolean | string;
  protected sessionWait?: number;
  protected maxStaleness?: number;
  protected grace?: number;
  protected softTimeout?: number;
  protected readonly logger = new Logger('NearCacheInterceptor');

  @Optional()
  @Inject()
  protected readonly httpAdapterHost?: HttpAdapterHost;

  #settings: InterceptorSettings | undefined;
  #adapter: ReplyingAdapter | undefined;
  /** Whether the adapter is `@nestjs/platform-express`'s (its requests are Express's). */
  #express = false;
  #unsupportedReported = false;
  /** Core's HTTP store of each cache used (it registered this interceptor's stored headers, and warned when the topic is unsigned). */
  readonly #stores = new WeakMap<object, Stores>();
  /** The store used last (most interceptors use one cache). */
  #last: { cache: NearCache; stores: Stores } | undefined;
  /** The `@NearCacheKey()` of each route handler seen. */
  readonly #keyOptions = new Map<Function, NearCacheKeyOption | undefined>();
  /** The read options (`maxStaleness`) of each route: its `@NearCacheMaxStaleness()`, its controller's, or the setting's. */
  readonly #readOptions: RouteReadOptions;
  /** The grace and tags of each route: its `@NearCacheGrace()` and `@NearCacheTags()`, its controller's, or the settings'. */
  readonly #freshness: RouteFreshness;

  constructor(
    protected readonly registry: NearCacheRegistry,
    protected readonly reflector: Reflector,
  ) {
    this.#readOptions = new RouteReadOptions(reflector);
    this.#freshness = new RouteFreshness(reflector);
  }

  /**
   * Checks the settings (the module's `interceptor` option, and the fields a subclass set) at
   * start-up: a bad one fails the start with `InvalidOptionError`. Registers the stored headers
   * with the default cache and warns once when its topic is unsigned.
   */
  onModuleInit(): void {
    this.#resolveSettings();
    this.#resolveAdapter();
    try {
      this.#store(this.registry.get(DEFAULT_CACHE_NAME));
    } catch {
      // No default cache (getCache() picks a named one): prepared on its first request.
    }
  }

  /** Core's HTTP store and sessions of `cache` for this interceptor, made on first use. */
  #store(cache: NearCache): Stores {
    if (this.#last?.cache === cache) return this.#last.stores;
    let stores = this.#stores.get(cache);
    if (stores === undefined) {
      const settings = this.#resolveSettings();
      const log = storeLog(this.logger);
      stores = {
        responses: new HttpResponseStore(cache, settings.storedHeaders, log),
        sessions: new HttpSessions(cache, settings.session, log),
        maxKeyBytes: cache.limits?.maxKeyBytes ?? 1024,
      };
      this.#stores.set(cache, stores);
    }
    this.#last = { cache, stores };
    return stores;
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> | Promise<Observable<unknown>> {
    if (context.getType() !== 'http') return next.handle();
    const settings = this.#resolveSettings();
    if (this.#resolveAdapter() === undefined) {
      if (!this.#unsupportedReported) {
        this.#unsupportedReported = true;
        this.logger.error('NearCacheInterceptor found no HTTP adapter it can answer through (HttpAdapterHost): responses are not cached');
      }
      return next.handle();
    }
    if (settings.session.header !== undefined && isMutating(this.httpAdapterHost?.httpAdapter, context))
      return this.#mutating(context, next, settings.session.header);
    let key: string | undefined | Promise<string | undefined>;
    try {
      key = this.trackBy(context);
    } catch (error) {
      return this.#failOpen(error, next);
    }
    // A hit is answered without waiting for a microtask, unless trackBy() is asynchronous.
    if (isThenable(key)) {
      return Promise.resolve(key).then(
        (resolved) => this.#lookup(context, next, settings, resolved),
        (error: unknown) => this.#failOpen(error, next),
      );
    }
    return this.#lookup(context, next, settings, key);
  }

  /**
   * The key of this request after the prefix, or undefined to bypass the cache: the
   * `@NearCacheKey()` of the route if any, else `GET <path>[?<query>] <scheme>://<host>` for a
   * GET request (core's `httpRequestKey`), the key `cacheResponses` of `@nearcache/express`
   * uses. Override it to vary by user, header or tenant.
   */
  protected trackBy(context: ExecutionContext): string | undefined | Promise<string | undefined> {
    const keyOption = this.#keyOption(context.getHandler());
    const request = context.getArgByIndex(0);
    if (!this.isRequestCacheable(context)) return undefined;
    if (keyOption !== undefined) return typeof keyOption === 'function' ? keyOption(context) : keyOption;
    const adapter = this.httpAdapterHost?.httpAdapter;
    const url: unknown = adapter ? adapter.getRequestUrl(request) : (request.originalUrl ?? request.url);
    // Scheme and host as the app sees them (after its trust-proxy settings), path and query normalised as the router matches them.
    // Express's getters look the trust-proxy setting up on each read; without forwarding headers, it decides nothing.
    if (this.#express && isUnforwardedExpressRequest(request)) {
      return httpRequestKey({ method: 'GET', scheme: expressProtocol(request), host: expressHostname(request), url }, this.#resolveSettings().query);
    }
    const host: unknown = adapter ? adapter.getRequestHostname(request) : request.hostname;
    return httpRequestKey({ method: 'GET', scheme: request.protocol, host, url }, this.#resolveSettings().query);
  }

  /** Whether the request's method is cacheable (GET by default, see `allowedMethods`). */
  protected isRequestCacheable(context: ExecutionContext): boolean {
    const request = context.getArgByIndex(0);
    const adapter = this.httpAdapterHost?.httpAdapter;
    const method: unknown = adapter ? adapter.getRequestMethod(request) : request.method;
    return typeof method === 'string' && this.allowedMethods.includes(method.toUpperCase());
  }

  /** The cache responses go to: the default cache. Override it to use a named cache. */
  protected getCache(_context: ExecutionContext): NearCache {
    return this.registry.get(DEFAULT_CACHE_NAME);
  }

  /** The time to live of this response: the route's `@NearCacheTtl()`, else the controller's, else undefined (the module's `ttl`). */
  protected async getTtl(context: ExecutionContext): Promise<number | undefined> {
    const option =
      this.reflector.get<NearCacheTtlOption | undefined>(NEAR_CACHE_TTL_METADATA, context.getHandler()) ??
      this.reflector.get<NearCacheTtlOption | undefined>(NEAR_CACHE_TTL_METADATA, context.getClass());
    if (option === undefined) return undefined;
    return typeof option === 'function' ? await option(context) : option;
  }

  protected getStatus(response: unknown): number {
    const status = (response as { statusCode?: unknown } | undefined)?.statusCode;
    return typeof status === 'number' ? status : 200;
  }

  protected setStatus(response: unknown, status: number): void {
    const adapter = this.httpAdapterHost?.httpAdapter;
    if (adapter) adapter.status(response, status);
    else if (typeof response === 'object' && response !== null) (response as { statusCode: number }).statusCode = status;
  }

  protected setHeader(response: unknown, name: string, value: string): void {
    const adapter = this.httpAdapterHost?.httpAdapter;
    try {
      if (adapter) adapter.setHeader(response, name, value);
      else (response as { setHeader?: (n: string, v: string) => void })?.setHeader?.(name, value);
    } catch {
      // Headers already sent (a handler that wrote the response itself): nothing to add.
    }
  }

  /** A response header set so far (by `@Header()`, a middleware, or the handler through `@Res({ passthrough: true })`). */
  protected getHeader(response: unknown, name: string): HttpHeaderValue | undefined {
    const adapter = this.httpAdapterHost?.httpAdapter as { getHeader?: (response: unknown, name: string) => unknown } | undefined;
    const value =
      typeof adapter?.getHeader === 'function' ? adapter.getHeader(response, name) : (response as { getHeader?: (n: string) => unknown })?.getHeader?.(name);
    return value === undefined || value === null ? undefined : (value as HttpHeaderValue);
  }

  /** Whether the response's headers left already (the handler wrote it itself). */
  protected isHeadersSent(response: unknown): boolean {
    const adapter = this.httpAdapterHost?.httpAdapter as { isHeadersSent?: (response: unknown) => boolean } | undefined;
    if (typeof adapter?.isHeadersSent === 'function') return adapter.isHeadersSent(response);
    return (response as { headersSent?: boolean } | undefined)?.headersSent === true;
  }

  /** Runs a mutating request's handler; its response carries the session token of the cache writes made meanwhile. */
  #mutating(context: ExecutionContext, next: CallHandler, header: string): Observable<unknown> {
    const response = context.getArgByIndex(1);
    try {
      const sessions = this.#store(this.getCache(context)).sessions;
      return withSessionToken(next, sessions, sessions.token(requestHeadersOf(context)), (token) => {
        if (this.isHeadersSent(response)) this.logger.debug('the response left before its session token was known: it carries none');
        else this.setHeader(response, header, token);
      });
    } catch (error) {
      return this.#failOpen(error, next);
    }
  }

  #markStatus(response: unknown, settings: InterceptorSettings, value: 'HIT' | 'MISS'): void {
    if (settings.statusHeader !== undefined) this.setHeader(response, settings.statusHeader, value);
  }

  #failOpen(error: unknown, next: CallHandler): Observable<unknown> {
    this.logger.warn(`the cache failed, the handler runs: ${(error as Error)?.message ?? String(error)}`);
    return next.handle();
  }

  /** The route's `@NearCacheKey()`, read once per handler (decorators are applied when classes are defined). */
  #keyOption(handler: Function): NearCacheKeyOption | undefined {
    const known = this.#keyOptions.get(handler);
    if (known !== undefined || this.#keyOptions.has(handler)) return known;
    const option = this.reflector.get<NearCacheKeyOption | undefined>(NEAR_CACHE_KEY_METADATA, handler);
    this.#keyOptions.set(handler, option);
    return option;
  }

  /** Answers from the cache under `key`, or runs the handler and stores its response. */
  #lookup(
    context: ExecutionContext,
    next: CallHandler,
    settings: InterceptorSettings,
    key: string | undefined,
  ): Observable<unknown> | Promise<Observable<unknown>> {
    const response = context.getArgByIndex(1);
    let stores: Stores;
    let base: string;
    let requestHeaders: HttpRequestHeaders;
    let admission: HttpAdmission;
    let gate: true | Promise<boolean>;
    try {
      if (key === undefined) return next.handle();
      if (typeof key !== 'string' || key.length === 0) throw new InvalidKeyError(`trackBy() must return a non-empty string or undefined, got ${typeof key}`);
      stores = this.#store(this.getCache(context));
      requestHeaders = requestHeadersOf(context);
      admission = stores.responses.admit(requestHeaders, settings.credentials);
      if (admission.bypass) {
        // The client asked that nothing be stored: neither serve from nor write to the cache.
        this.#markStatus(response, settings, 'MISS');
        return next.handle();
      }
      base = settings.prefix + key;
      // A request carrying a session token reads the cache once this instance reached it.
      gate = stores.sessions.gate(stores.sessions.token(requestHeaders));
    } catch (error) {
      return this.#failOpen(error, next);
    }
    if (gate === true) return this.#answer(context, next, settings, stores, base, requestHeaders, admission);
    return gate.then((caughtUp) => {
      if (caughtUp) return this.#answer(context, next, settings, stores, base, requestHeaders, admission);
      // Not reached in time: the handler answers, bypassing the cache, rather than a stale entry.
      this.#markStatus(response, settings, 'MISS');
      return next.handle();
    });
  }

  /** Answers a hit from the cache, or runs the handler and stores its response. */
  #answer(
    context: ExecutionContext,
    next: CallHandler,
    settings: InterceptorSettings,
    stores: Stores,
    base: string,
    requestHeaders: HttpRequestHeaders,
    admission: HttpAdmission,
  ): Observable<unknown> | Promise<Observable<unknown>> {
    // The request and response of an HTTP context (what `switchToHttp()` returns, without the closures it makes on each call).
    const request = context.getArgByIndex(0);
    const response = context.getArgByIndex(1);
    const credentials = admission.credentials;
    const responses = stores.responses;
    let hit: ReturnType<HttpResponseStore['lookup']>;
    try {
      // With credentials, only an entry shared by everyone (Cache-Control: public) or keyed on them (Vary) is served.
      hit = responses.lookup(base, requestHeaders, admission, this.#readOptions.of(context, stores.sessions.readOptions));
    } catch (error) {
      return this.#failOpen(error, next);
    }
    if (hit !== undefined) {
      try {
        return of(answerHit(responses, hit, request, response, requestHeaders, settings.statusHeader));
      } catch (error) {
        this.logger.warn(`answering from the cache failed, the handler runs: ${(error as Error).message}`);
      }
    }
    const route = `${context.getClass().name}.${context.getHandler().name}`;
    const freshness = this.#freshness.of(context, settings.grace);
    const maxKeyBytes = stores.maxKeyBytes;
    return this.getTtl(context).then(
      (ttl) =>
        this.#runMiss(next, { responses, route, base, ttl, requestHeaders, credentials, admission, response, settings, freshness, context, maxKeyBytes }),
      (error: unknown) => this.#failOpen(error, next),
    );
  }

  /** Runs the handler, then stores its response when it may be and answers with the stored bytes. */
  #runMiss(next: CallHandler, miss: Miss): Observable<unknown> {
    this.#markStatus(miss.response, miss.settings, 'MISS');
    const load = (miss.load = miss.responses.begin(miss.base, miss.requestHeaders));
    const fresh = (result: unknown): unknown => {
      try {
        return this.#storeResult(result, miss) ?? result;
      } catch (error) {
        this.logger.warn(`storing the response under "${miss.base}" failed: ${(error as Error).message}`);
        return result;
      }
    };
    const grace = miss.freshness.grace;
    if (grace.grace > 0) {
      // Under grace: a failing (or, with softTimeout, slow) handler is answered for by the response in grace.
      const { responses, base, requestHeaders, admission, response, settings } = miss;
      const request = miss.context.getArgByIndex(0);
      return runGuardedMiss(next, {
        responses,
        base,
        requestHeaders,
        admission,
        grace,
        load,
        status: () => this.getStatus(response),
        fresh,
        stale: (hit) => answerHit(responses, hit, request, response, requestHeaders, settings.statusHeader, true),
      });
    }
    return next.handle().pipe(
      map(fresh),
      // A handler that failed ends the load with its error (for the load's trace); a client error
      // (an HttpException below 500) is an answer, not a failure.
      tap({ error: (error: unknown) => load?.release(isClientError(error) ? undefined : error) }),
      // Unless the response was stored through them: the handler failed, the result is not stored, or the request ended first.
      finalize(() => load?.release()),
    );
  }

  /**
   * Stores the handler's result when it may be, and answers with exactly the stored bytes (or
   * a 304 when the request's conditionals match them); `undefined` to let Nest send the result
   * as usual (nothing stored).
   */
  #storeResult(result: unknown, miss: Miss): unknown {
    const response = this.#responseToStore(result, miss);
    if (response === undefined) return undefined;
    const { settings, freshness } = miss;
    // Tags a function cannot build: the response is not stored (warned by the caller).
    const tags = routeTags(freshness.tags, miss.context, miss.maxKeyBytes);
    const stored = miss.responses.store(miss, response, {
      storedHeaders: settings.storedHeaders,
      maxBodyBytes: settings.maxBodyBytes,
      maxPathEntries: settings.maxPathEntries,
      maxPathBytes: settings.maxPathBytes,
      ttl: miss.ttl,
      grace: freshness.grace.grace,
      tags,
    });
    if (stored === undefined) return undefined;
    const { status, body, contentType } = response;
    const lastModified = firstHeaderValue(response.header('last-modified'));
    return answerMiss(miss.response, miss.requestHeaders, { status, body, contentType, etag: stored.etag, lastModified });
  }

  /**
   * The response to store, or `undefined` when the interceptor cannot store it: not a 2xx, a
   * stream or a file, headers already sent, or a result it cannot serialise. Core's store then
   * applies the rules every adapter shares (`httpStoreRefusal`, `maxBodyBytes`, the budgets).
   */
  #responseToStore(result: unknown, miss: Miss): StoredResponse | undefined {
    const { response } = miss;
    if (result === undefined || result === null) return undefined;
    if (result instanceof StreamableFile || isStreamingResult(result) || isUncacheable(result)) return undefined;
    if (this.isHeadersSent(response)) return undefined;
    const status = this.getStatus(response);
    if (status < 200 || status > 299) return undefined;
    const serialised = serialiseResult(result, firstHeaderValue(this.getHeader(response, 'content-type')));
    if (serialised === undefined) return undefined;
    // A 204 has no body (Express drops it, and its Content-Type).
    const body = status === 204 ? Buffer.alloc(0) : serialised.body;
    const contentType = status === 204 ? undefined : serialised.contentType;
    const header = (name: string): HttpHeaderValue | undefined => (name.toLowerCase() === 'content-type' ? contentType : this.getHeader(response, name));
    return { status, body, contentType, header };
  }

  /** The HTTP adapter to answer through, once `installAnswering` made its `reply` send prepared answers. */
  #resolveAdapter(): ReplyingAdapter | undefined {
    if (this.#adapter !== undefined) return this.#adapter;
    const adapter = this.httpAdapterHost?.httpAdapter as unknown as ReplyingAdapter | undefined;
    if (!installAnswering(adapter)) return undefined;
    this.#adapter = adapter;
    this.#express = adapter?.getType?.() === 'express';
    return adapter;
  }

  /** The settings: the fields a subclass set, over the module's `interceptor` option, over the defaults; checked once. */
  #resolveSettings(): InterceptorSettings {
    if (this.#settings !== undefined) return this.#settings;
    const fields: Record<string, unknown> = {};
    for (const name of INTERCEPTOR_OPTION_NAMES) fields[name] = this[name];
    try {
      this.#settings = resolveInterceptorSettings(this.registry.interceptorOptions(), fields as NearCacheInterceptorOptions);
      return this.#settings;
    } catch (error) {
      if (error instanceof InvalidOptionError) throw new InvalidOptionError(`${SCOPE} (${this.constructor.name}): ${error.message}`, { cause: error });
      throw error;
    }
  }
}
