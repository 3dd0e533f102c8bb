import {
  Inject,
  Injectable,
  Logger,
  Optional,
  StreamableFile,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import type { NearCache } from '@nearcache/core';
import { Observable, of } from 'rxjs';
import { DEFAULT_CACHE_NAME, NEAR_CACHE_KEY_METADATA, NEAR_CACHE_TTL_METADATA } from './constants.js';
import type { NearCacheKeyOption } from './decorators/near-cache-key.decorator.js';
import type { NearCacheTtlOption } from './decorators/near-cache-ttl.decorator.js';
import { NearCacheRegistry } from './near-cache.registry.js';
import { isUncacheable } from './operations.js';

/** What the interceptor stores for a response. */
export interface CachedResponse {
  /** The HTTP status the response had (2xx). */
  status: number;
  /** The body the handler returned. */
  body: unknown;
}

/**
 * Caches the responses of GET routes in the replicated cache, so that a response one instance
 * computed is served by every instance. Use it on a controller, a route, or globally
 * (`APP_INTERCEPTOR`).
 *
 * - The key is the request URL (path and query) unless `@NearCacheKey()` sets it; override
 *   `trackBy()` to change that (return undefined to skip caching).
 * - `@NearCacheTtl()` sets the time to live (route over controller over the module's `ttl`).
 * - Only successful responses (status 2xx) with a body are stored, with their status.
 * - Answers carry `X-Cache: HIT` or `X-Cache: MISS`.
 * - It fails open: when the cache fails, the failure is logged and the handler runs.
 */
@Injectable()
export class NearCacheInterceptor implements NestInterceptor {
  /** Methods whose responses are cached. */
  protected allowedMethods: string[] = ['GET'];
  protected readonly logger = new Logger('NearCacheInterceptor');

  @Optional()
  @Inject()
  protected readonly httpAdapterHost?: HttpAdapterHost;

  constructor(
    protected readonly registry: NearCacheRegistry,
    protected readonly reflector: Reflector,
  ) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    if (context.getType() !== 'http') return next.handle();
    let cache: NearCache;
    let key: string | undefined;
    let ttl: number | undefined;
    let hit: CachedResponse | undefined;
    try {
      key = await this.trackBy(context);
      if (key === undefined) return next.handle();
      cache = this.getCache(context);
      hit = this.#read(cache.get(key));
      if (hit === undefined) ttl = await this.getTtl(context);
    } catch (error) {
      this.logger.warn(`the cache failed, the handler runs: ${(error as Error).message}`);
      return next.handle();
    }
    const response = context.switchToHttp().getResponse();
    if (hit !== undefined) {
      this.setHeader(response, 'X-Cache', 'HIT');
      this.setStatus(response, hit.status);
      return of(hit.body);
    }
    this.setHeader(response, 'X-Cache', 'MISS');
    const cacheKey = key;
    return new Observable<unknown>((subscriber) =>
      next.handle().subscribe({
        next: (body) => {
          this.#store(cache, cacheKey, body, this.getStatus(response), ttl);
          subscriber.next(body);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      }),
    );
  }

  /**
   * The key of this request, or undefined to bypass the cache: the `@NearCacheKey()` of the
   * route if any, else the URL of a GET request. Override it to vary by user, header or tenant.
   */
  protected trackBy(context: ExecutionContext): string | undefined | Promise<string | undefined> {
    const keyOption = this.reflector.get<NearCacheKeyOption | undefined>(NEAR_CACHE_KEY_METADATA, context.getHandler());
    const request = context.switchToHttp().getRequest();
    if (!this.isRequestCacheable(context)) return undefined;
    if (keyOption !== undefined) return typeof keyOption === 'function' ? keyOption(context) : keyOption;
    const adapter = this.httpAdapterHost?.httpAdapter;
    const url: unknown = adapter ? adapter.getRequestUrl(request) : (request.originalUrl ?? request.url);
    return typeof url === 'string' && url.length > 0 ? url : undefined;
  }

  /** Whether the request's method is cacheable (GET by default, see `allowedMethods`). */
  protected isRequestCacheable(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest();
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

  #read(value: unknown): CachedResponse | undefined {
    if (typeof value !== 'object' || value === null) return undefined;
    const entry = value as Partial<CachedResponse>;
    if (typeof entry.status !== 'number' || !('body' in entry)) return undefined;
    return entry as CachedResponse;
  }

  #store(cache: NearCache, key: string, body: unknown, status: number, ttl: number | undefined): void {
    if (status < 200 || status > 299 || body === undefined || body instanceof StreamableFile || isUncacheable(body) || Buffer.isBuffer(body)) return;
    const entry: CachedResponse = { status, body };
    cache.set(key, entry, ttl === undefined ? undefined : { ttl }).catch((error: unknown) => {
      this.logger.warn(`storing the response under "${key}" failed: ${(error as Error).message}`);
    });
  }
}
