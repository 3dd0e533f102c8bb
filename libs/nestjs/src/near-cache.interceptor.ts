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
  computeEtag,
  encodeHttpEntry,
  firstHeaderValue,
  HTTP_DEFAULT_PREFIX,
  HTTP_NEVER_SERVED_HEADERS,
  HTTP_STORED_HEADERS,
  HTTP_CREDENTIAL_HEADERS,
  httpAdmission,
  httpConditionals,
  httpCredentialPolicy,
  httpEntryWrites,
  httpHitResponse,
  HttpPathIndex,
  httpPathBudget,
  httpQueryPolicy,
  httpRequestKey,
  httpStoreRefusal,
  InvalidArgumentError,
  lookupSharedHttpEntry,
  registerStoredHttpHeaders,
  servedHttpHeaders,
  warnUnsignedHttpCache,
  integerOption,
  InvalidKeyError,
  invalidOption,
  InvalidOptionError,
  isNotModified,
  maxHttpBodyBytes,
  stringOption,
  type DecodedHttpResponse,
  type HttpCredentialPolicy,
  type HttpQueryKeyPolicy,
  type HttpHeaderValue,
  type HttpRequestHeaders,
  type NearCache,
  type SetOptions,
} from '@nearcache/core';
import { Observable, map, of } from 'rxjs';
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
  prepareAnswer,
  serialiseResult,
  type AnswerHeaders,
  type ReplyingAdapter,
} from './http-body.js';
import { NearCacheRegistry } from './near-cache.registry.js';
import { isUncacheable } from './operations.js';

/** The checked settings of an interceptor (its protected fields, as a subclass may have set them). */
interface InterceptorSettings {
  prefix: string;
  maxBodyBytes: number;
  statusHeader: string | undefined;
  storedHeaders: readonly string[];
  credentials: HttpCredentialPolicy;
  query: HttpQueryKeyPolicy;
  maxPathEntries: number;
}

/** A response the interceptor may store: its status, bytes, media type and a reader of its headers. */
interface StoredResponse {
  status: number;
  body: Buffer;
  contentType: string | undefined;
  header: (name: string) => HttpHeaderValue | undefined;
}

/** What a miss needs to store the handler's result. */
interface Miss {
  cache: NearCache;
  base: string;
  ttl: number | undefined;
  requestHeaders: HttpRequestHeaders;
  credentials: readonly string[];
  response: unknown;
  settings: InterceptorSettings;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const PREFIX = /^(?!\u0000)[\s\S]{1,256}$/;
const SCOPE = 'NearCacheInterceptor';
/** A hit's small body comes as text too: on Express it goes out in one write with the headers. */
const HIT_TEXT = Object.freeze({ text: true });

/**
 * Caches the responses of GET routes in the replicated cache, so that a response one instance
 * computed is served by every instance, whichever framework it runs: entries are core's HTTP
 * entries (`HttpCachedResponse`), under the same keys as `cacheResponses` of
 * `@nearcache/express` (`http:GET <url>`), so a Nest app and an Express app on one topic serve
 * each other's responses. Use it on a controller, a route, or globally (`APP_INTERCEPTOR`).
 *
 * - The key is `prefix` + `trackBy()`: by default `http:GET <path>[?<query>] <scheme>://<host>`
 *   (core's `httpRequestKey`: the target normalised as the router matches it, the scheme and
 *   host as the app sees them), or `http:` + the route's `@NearCacheKey()`. Override `trackBy()`
 *   to change it (return undefined to skip).
 * - It is a shared cache (core's `httpAdmission`): a request carrying credentials
 *   (`credentialHeaders`) is neither served nor stored unless the response is
 *   `Cache-Control: public` or varies on them; a hit serves only the headers stored by this
 *   process's adapters (`servedHttpHeaders`).
 * - `@NearCacheTtl()` sets the time to live (route over controller over the module's `ttl`).
 * - The handler's result is serialised as Express sends it (objects as JSON, strings as
 *   text/html or the type set, Buffers as bytes); a 2xx response that may be stored (see
 *   core's `httpStoreRefusal`, `maxBodyBytes`) is stored with its status, headers and a strong
 *   `ETag`, and sent as those exact bytes.
 * - A hit is answered with the stored status, headers and bytes (with `Age`), or a 304 when the
 *   request's `If-None-Match` / `If-Modified-Since` match; the handler does not run.
 * - Answers carry `X-Cache: HIT` or `X-Cache: MISS` (`statusHeader`).
 * - It fails open: when the cache fails, the failure is logged and the handler runs.
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
  /** Prefix of every key, the `prefix` of Express's `cacheResponses`: apps that share entries use the same one. Default `'http:'`. */
  protected prefix: string = HTTP_DEFAULT_PREFIX;
  /** Largest body stored, in bytes (and at most what the cache's `maxValueBytes` can hold); bigger responses are sent uncached. Default 262144. */
  protected maxBodyBytes = 256 * 1024;
  /** Response header set to `HIT` or `MISS`; `false` for none. Default `'X-Cache'`. */
  protected statusHeader: string | false = 'X-Cache';
  /** Response headers stored and replayed with the body. Default: core's `HTTP_STORED_HEADERS`, the ones Express stores. */
  protected storedHeaders: readonly string[] = HTTP_STORED_HEADERS;
  /**
   * Request headers that carry credentials: a request with one is neither served from nor
   * stored into the cache, unless the response says `Cache-Control: public` (or `s-maxage`) or
   * varies on every credential the request carries. Default core's `HTTP_CREDENTIAL_HEADERS`.
   */
  protected credentialHeaders: readonly string[] = HTTP_CREDENTIAL_HEADERS;
  /** Cookies that do not personalise responses: a `Cookie` holding only these counts as anonymous. Default `[]`. */
  protected ignoreCookies: readonly string[] = [];
  /** Query parameters in the default key: `true` all (default), `false` none, or the names that select the response. */
  protected query: boolean | readonly string[] = true;
  /** Most entries one path may hold (its query strings, hosts and variants); a response beyond it is not stored. `0` for no budget. Default `0`. */
  protected maxPathEntries = 0;
  protected readonly logger = new Logger('NearCacheInterceptor');

  @Optional()
  @Inject()
  protected readonly httpAdapterHost?: HttpAdapterHost;

  #settings: InterceptorSettings | undefined;
  #adapter: ReplyingAdapter | undefined;
  /** Whether the adapter is `@nestjs/platform-express`'s (its requests are Express's). */
  #express = false;
  #unsupportedReported = false;
  /** Caches this interceptor registered its stored headers with (and warned about when unsigned). */
  readonly #prepared = new WeakSet<object>();
  /** The `@NearCacheKey()` of each route handler seen. */
  readonly #keyOptions = new Map<Function, NearCacheKeyOption | undefined>();
  /** The cache read last, its reader (so that a hit makes no closure) and the headers a hit on it serves (a set that only grows once registered). */
  #reading: { cache: NearCache; get: (key: string) => unknown; served: ReadonlySet<string> } | undefined;

  constructor(
    protected readonly registry: NearCacheRegistry,
    protected readonly reflector: Reflector,
  ) {}

  /**
   * Checks the settings (`prefix`, `maxBodyBytes`, `statusHeader`, `storedHeaders`,
   * `credentialHeaders`, `ignoreCookies`, `query`, `maxPathEntries`) at start-up: a bad one fails
   * the start with `InvalidOptionError`. Registers the stored headers with the default cache and
   * warns once when its topic is unsigned.
   */
  onModuleInit(): void {
    const settings = this.#resolveSettings();
    this.#resolveAdapter();
    try {
      this.#prepare(this.registry.get(DEFAULT_CACHE_NAME), settings);
    } catch {
      // No default cache (getCache() picks a named one): prepared on its first request.
    }
  }

  /** Registers the headers this interceptor stores with `cache` (a hit serves only those) and warns once when its topic is unsigned. */
  #prepare(cache: NearCache, settings: InterceptorSettings): void {
    // The cache read last was prepared before its first read.
    if (cache === this.#reading?.cache || this.#prepared.has(cache)) return;
    this.#prepared.add(cache);
    registerStoredHttpHeaders(cache, [...settings.storedHeaders, 'etag']);
    warnUnsignedHttpCache(cache, (message) => this.logger.warn(message));
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
    // The request and response of an HTTP context (what `switchToHttp()` returns, without the closures it makes on each call).
    const request = context.getArgByIndex(0);
    const response = context.getArgByIndex(1);
    let cache: NearCache;
    let base: string;
    let requestHeaders: HttpRequestHeaders;
    let credentials: readonly string[];
    let hit: DecodedHttpResponse | undefined;
    let reading: { get: (key: string) => unknown; served: ReadonlySet<string> };
    try {
      if (key === undefined) return next.handle();
      if (typeof key !== 'string' || key.length === 0) throw new InvalidKeyError(`trackBy() must return a non-empty string or undefined, got ${typeof key}`);
      base = settings.prefix + key;
      cache = this.getCache(context);
      this.#prepare(cache, settings);
      requestHeaders = ((request as { headers?: HttpRequestHeaders } | undefined)?.headers ?? {}) as HttpRequestHeaders;
      const admission = httpAdmission(requestHeaders, settings.credentials);
      if (admission.bypass) {
        // The client asked that nothing be stored: neither serve from nor write to the cache.
        this.#markStatus(response, settings, 'MISS');
        return next.handle();
      }
      credentials = admission.credentials;
      // With credentials, only an entry shared by everyone (Cache-Control: public) or keyed on them (Vary) is served.
      reading = this.#reader(cache);
      hit = lookupSharedHttpEntry(reading.get, base, requestHeaders, admission);
    } catch (error) {
      return this.#failOpen(error, next);
    }
    if (hit !== undefined) {
      try {
        return of(this.#answerHit(hit, request, response, requestHeaders, settings, reading.served));
      } catch (error) {
        this.logger.warn(`answering from the cache failed, the handler runs: ${(error as Error).message}`);
      }
    }
    return this.getTtl(context).then(
      (ttl) => this.#runMiss(next, { cache, base, ttl, requestHeaders, credentials, response, settings }),
      (error: unknown) => this.#failOpen(error, next),
    );
  }

  /** Runs the handler, then stores its response when it may be and answers with the stored bytes. */
  #runMiss(next: CallHandler, miss: Miss): Observable<unknown> {
    this.#markStatus(miss.response, miss.settings, 'MISS');
    return next.handle().pipe(
      map((result) => {
        try {
          return this.#storeResult(result, miss) ?? result;
        } catch (error) {
          this.logger.warn(`storing the response under "${miss.base}" failed: ${(error as Error).message}`);
          return result;
        }
      }),
    );
  }

  /** Answers a hit: the stored status, headers and bytes, or a 304, sent through the HTTP adapter. */
  #answerHit(
    hit: DecodedHttpResponse,
    request: { method?: unknown },
    response: unknown,
    requestHeaders: HttpRequestHeaders,
    settings: InterceptorSettings,
    served: ReadonlySet<string>,
  ): unknown {
    const answer = httpHitResponse(
      hit,
      { method: typeof request.method === 'string' ? request.method : 'GET', headers: requestHeaders },
      Date.now(),
      served,
      HIT_TEXT,
    );
    const headers: AnswerHeaders = answer.headers;
    if (settings.statusHeader !== undefined) headers.push([settings.statusHeader, 'HIT']);
    return prepareAnswer(response as object, { status: answer.status, headers, body: answer.body, text: answer.text, dropContentType: answer.notModified });
  }

  /**
   * Stores the handler's result when it may be, and answers with exactly the stored bytes (or
   * a 304 when the request's conditionals match them); `undefined` to let Nest send the result
   * as usual (nothing stored).
   */
  #storeResult(result: unknown, miss: Miss): unknown {
    const stored = this.#responseToStore(result, miss);
    if (stored === undefined) return undefined;
    const { status, body, contentType, header } = stored;
    const etag = firstHeaderValue(header('etag')) ?? computeEtag(body);
    this.#writeEntry(miss, { status, body, etag, header });
    return this.#answerMiss(miss, { status, body, contentType, etag, lastModified: firstHeaderValue(header('last-modified')) });
  }

  /**
   * What the response to store is, or `undefined` when it must not be stored: the rules of
   * core's `httpStoreRefusal`, 2xx only, a body the interceptor can serialise, at most
   * `maxBodyBytes` (and what the cache's `maxValueBytes` can hold).
   */
  #responseToStore(result: unknown, miss: Miss): StoredResponse | undefined {
    const { response, settings } = miss;
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
    const refused = httpStoreRefusal({ status, requestHeaders: miss.requestHeaders, credentials: miss.credentials, responseHeader: header });
    if (refused !== undefined) {
      this.logger.debug(`not stored (${refused}): ${miss.base}`);
      return undefined;
    }
    const limit = Math.min(settings.maxBodyBytes, maxHttpBodyBytes(miss.cache.limits.maxValueBytes));
    if (body.length > limit) {
      this.logger.debug(`not stored (body of ${body.length} bytes above ${limit}): ${miss.base}`);
      return undefined;
    }
    return { status, body, contentType, header };
  }

  /** Writes the entry (and its vary index) to the cache; a failure is logged, the answer goes out all the same. */
  #writeEntry(miss: Miss, response: { status: number; body: Buffer; etag: string; header: (name: string) => HttpHeaderValue | undefined }): void {
    const stored: Record<string, HttpHeaderValue | undefined> = {};
    for (const name of miss.settings.storedHeaders) stored[name] = response.header(name);
    stored.etag = response.etag;
    const entry = encodeHttpEntry({ status: response.status, headers: stored, body: response.body });
    const options: SetOptions | undefined = miss.ttl === undefined ? undefined : { ttl: miss.ttl };
    const writes = httpEntryWrites(miss.base, entry, response.header('vary'), miss.requestHeaders);
    if (
      miss.settings.maxPathEntries > 0 &&
      !HttpPathIndex.of(miss.cache).admits(
        writes.map((write) => write.key),
        miss.settings.maxPathEntries,
      )
    ) {
      this.logger.debug(`not stored (its path holds maxPathEntries ${miss.settings.maxPathEntries} entries): ${miss.base}`);
      return;
    }
    for (const { key, value } of writes) {
      miss.cache.set(key, value, options).catch((error: unknown) => {
        this.logger.warn(`storing the response under "${key}" failed: ${(error as Error).message}`);
      });
    }
  }

  /** Answers a miss with the bytes just stored, and the headers a hit on them carries (or a 304 when the request's conditionals match). */
  #answerMiss(miss: Miss, answer: { status: number; body: Buffer; contentType: string | undefined; etag: string; lastModified: string | undefined }): unknown {
    const headers: AnswerHeaders = [['etag', answer.etag]];
    if (isNotModified(httpConditionals(miss.requestHeaders), answer.etag, answer.lastModified)) {
      return prepareAnswer(miss.response as object, { status: 304, headers, body: undefined, dropContentType: true });
    }
    if (answer.status === 204) return prepareAnswer(miss.response as object, { status: 204, headers, body: undefined, dropContentType: true });
    if (answer.contentType !== undefined) headers.push(['content-type', answer.contentType]);
    headers.push(['content-length', String(answer.body.length)]);
    return prepareAnswer(miss.response as object, { status: answer.status, headers, body: answer.body, dropContentType: false });
  }

  /** A reader of `cache` for core's lookups and the headers it serves (the same while the cache stays the same; `#prepare` registered its headers). */
  #reader(cache: NearCache): { get: (key: string) => unknown; served: ReadonlySet<string> } {
    if (this.#reading?.cache !== cache) this.#reading = { cache, get: (key) => cache.get(key), served: servedHttpHeaders(cache) };
    return this.#reading;
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

  #resolveSettings(): InterceptorSettings {
    if (this.#settings !== undefined) return this.#settings;
    try {
      const prefix = stringOption('prefix', this.prefix, undefined, PREFIX, 'a non-empty string of at most 256 characters, not starting with U+0000');
      const maxBodyBytes = integerOption('maxBodyBytes', this.maxBodyBytes, 0, 0, 64 * 1024 * 1024);
      const statusHeader = this.statusHeader;
      if (statusHeader !== false && (typeof statusHeader !== 'string' || !TOKEN.test(statusHeader)))
        invalidOption('statusHeader', 'a header name or false', statusHeader);
      const storedHeaders = this.storedHeaders;
      if (
        !Array.isArray(storedHeaders) ||
        storedHeaders.some((h) => typeof h !== 'string' || !TOKEN.test(h) || HTTP_NEVER_SERVED_HEADERS.has(h.toLowerCase()))
      ) {
        invalidOption('storedHeaders', `an array of header names, none of ${[...HTTP_NEVER_SERVED_HEADERS].join(', ')}`, storedHeaders);
      }
      let credentials: HttpCredentialPolicy;
      let query: HttpQueryKeyPolicy;
      let maxPathEntries: number;
      try {
        credentials = httpCredentialPolicy(this.credentialHeaders, this.ignoreCookies);
        query = httpQueryPolicy(this.query);
        maxPathEntries = httpPathBudget(this.maxPathEntries);
      } catch (error) {
        if (error instanceof InvalidArgumentError) throw new InvalidOptionError(error.message, { cause: error });
        throw error;
      }
      this.#settings = {
        credentials,
        query,
        maxPathEntries,
        prefix,
        maxBodyBytes,
        statusHeader: statusHeader === false ? undefined : statusHeader,
        storedHeaders: [...new Set((storedHeaders as string[]).map((h) => h.toLowerCase()))],
      };
      return this.#settings;
    } catch (error) {
      if (error instanceof InvalidOptionError) throw new InvalidOptionError(`${SCOPE} (${this.constructor.name}): ${error.message}`, { cause: error });
      throw error;
    }
  }
}
