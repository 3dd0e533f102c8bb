import type { CallHandler, ExecutionContext } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import { HTTP_MUTATING_METHODS, type HttpRequestHeaders, type HttpSessions, type ReadOptions } from '@nearcache/core';
import { concatMap, type Observable } from 'rxjs';
import { NEAR_CACHE_MAX_STALENESS_METADATA } from './constants.js';

/**
 * Session tokens through `NearCacheInterceptor` (core's `HttpSessions` does the work): a mutating
 * request's handler runs, then its response carries the token of the cache writes made
 * meanwhile (merged with the request's own token), once the log acknowledged them (at most
 * `sessionWait`); the request's token when it made none.
 */
export function withSessionToken(next: CallHandler, sessions: HttpSessions, incoming: string | undefined, send: (token: string) => void): Observable<unknown> {
  const mark = sessions.mark();
  return next.handle().pipe(
    concatMap(async (result: unknown) => {
      const token = await sessions.responseToken(mark, incoming);
      if (token !== undefined) send(token);
      return result;
    }),
  );
}

/** The request's headers (lower-case names), or none. */
export function requestHeadersOf(context: ExecutionContext): HttpRequestHeaders {
  return ((context.getArgByIndex(0) as { headers?: HttpRequestHeaders } | undefined)?.headers ?? {}) as HttpRequestHeaders;
}

/** Whether the request is a POST, PUT, PATCH or DELETE (its response may carry a session token). */
export function isMutating(adapter: { getRequestMethod(request: unknown): unknown } | undefined, context: ExecutionContext): boolean {
  const request = context.getArgByIndex(0);
  const method: unknown = adapter ? adapter.getRequestMethod(request) : (request as { method?: unknown } | undefined)?.method;
  return typeof method === 'string' && HTTP_MUTATING_METHODS.has(method.toUpperCase());
}

/** The read options (`maxStaleness`) of each route: its `@NearCacheMaxStaleness()`, else its controller's, else the setting's; read once per handler. */
export class RouteReadOptions {
  readonly #known = new Map<Function, ReadOptions | undefined>();

  constructor(private readonly reflector: Reflector) {}

  of(context: ExecutionContext, fallback: ReadOptions | undefined): ReadOptions | undefined {
    const handler = context.getHandler();
    const known = this.#known.get(handler);
    if (known !== undefined || this.#known.has(handler)) return known;
    const option =
      this.reflector.get<ReadOptions | undefined>(NEAR_CACHE_MAX_STALENESS_METADATA, handler) ??
      this.reflector.get<ReadOptions | undefined>(NEAR_CACHE_MAX_STALENESS_METADATA, context.getClass()) ??
      fallback;
    this.#known.set(handler, option);
    return option;
  }
}
