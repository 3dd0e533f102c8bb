import { HttpException, type CallHandler, type ExecutionContext } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import {
  HandlerFailedError,
  HTTP_NO_GRACE,
  httpTagsOf,
  type HttpAdmission,
  type HttpGraceSettings,
  type HttpLoad,
  type HttpRequestHeaders,
  type HttpResponseStore,
} from '@nearcache/core';
import { from, type Observable } from 'rxjs';
import { NEAR_CACHE_GRACE_METADATA } from './decorators/near-cache-grace.decorator.js';
import { NEAR_CACHE_TAGS_METADATA, type NearCacheTagsOption } from './decorators/near-cache-tags.decorator.js';

/**
 * Grace and tags through `NearCacheInterceptor` (docs/nestjs.md, "Grace" and "Tags"); core's HTTP
 * store does the work (`http/grace.ts`): the route's settings, and the run of a miss under grace.
 */

/** The grace and tags of a route. */
export interface RouteFreshnessSettings {
  readonly grace: HttpGraceSettings;
  readonly tags: NearCacheTagsOption | undefined;
}

/** The grace and tags of each route: its `@NearCacheGrace()` / `@NearCacheTags()`, else its controller's, else the settings'; read once per handler. */
export class RouteFreshness {
  readonly #known = new Map<Function, RouteFreshnessSettings>();

  constructor(private readonly reflector: Reflector) {}

  of(context: ExecutionContext, fallback: HttpGraceSettings): RouteFreshnessSettings {
    const handler = context.getHandler();
    const known = this.#known.get(handler);
    if (known !== undefined) return known;
    const read = <T>(key: string): T | undefined =>
      this.reflector.get<T | undefined>(key, handler) ?? this.reflector.get<T | undefined>(key, context.getClass());
    const settings = {
      grace: read<HttpGraceSettings>(NEAR_CACHE_GRACE_METADATA) ?? fallback ?? HTTP_NO_GRACE,
      tags: read<NearCacheTagsOption>(NEAR_CACHE_TAGS_METADATA),
    };
    this.#known.set(handler, settings);
    return settings;
  }
}

/** The tags of this response (`InvalidArgumentError` when a function gives something that is not tags). */
export function routeTags(option: NearCacheTagsOption | undefined, context: ExecutionContext, maxKeyBytes: number): readonly string[] | undefined {
  return httpTagsOf(option, context, maxKeyBytes);
}

/** What a miss under grace needs of the interceptor. */
export interface GuardedMiss {
  responses: HttpResponseStore;
  base: string;
  requestHeaders: HttpRequestHeaders;
  admission: HttpAdmission;
  grace: HttpGraceSettings;
  /** The leases of the store, taken before the handler ran. */
  load: HttpLoad | undefined;
  /** The status the handler's result goes out with (a 5xx is a failure). */
  status(): number;
  /** Stores the handler's result and gives what to answer with (as a miss without grace does). */
  fresh(result: unknown): unknown;
  /** Answers with the response in grace (`X-Cache: STALE`). */
  stale(hit: NonNullable<Awaited<ReturnType<HttpResponseStore['guard']>>['stale']>): unknown;
}

/** Whether a handler's `error` is the client's (an `HttpException` below 500): an answer, not a failed load. */
export function isClientError(error: unknown): boolean {
  return error instanceof HttpException && error.getStatus() < 500;
}

/** An error the client caused (a 4xx `HttpException`): it answers as it is, never a response in grace. */
class ClientError {
  constructor(readonly error: unknown) {}
}

/**
 * Runs the handler of a miss under grace: its result (the last value it emits) is stored and
 * answered as on any miss; when it fails (an error other than a 4xx `HttpException`, or a 5xx
 * result), or outruns `softTimeout`, the response in grace answers when there is one (core's
 * `guard`). A result that comes after a response in grace answered is not stored (the response
 * it would be stored with went out); the leases are released when the handler ends.
 */
export function runGuardedMiss(next: CallHandler, miss: GuardedMiss): Observable<unknown> {
  const outcome = new Promise<unknown>((resolve, reject) => {
    let last: unknown;
    next.handle().subscribe({
      next: (value) => void (last = value),
      error: (error: unknown) => reject(isClientError(error) ? new ClientError(error) : error),
      complete: () => {
        const failure = HandlerFailedError.ofStatus(miss.status());
        if (failure === undefined) resolve(last);
        else reject(failure);
      },
    });
  });
  // A client error is not a failure: it goes past the guard as an outcome, and is thrown after it.
  const judged = outcome.catch((error: unknown) => (error instanceof ClientError ? error : Promise.reject(error)));
  const answered = miss.responses.guard(miss.base, miss.requestHeaders, miss.admission, judged, miss.grace).then((guarded) => {
    if (guarded.stale !== undefined) {
      try {
        return miss.stale(guarded.stale);
      } catch {
        // The response in grace cannot be answered: the handler's failure is.
        return outcome;
      }
    }
    if (guarded.fresh instanceof ClientError) throw guarded.fresh.error;
    return miss.fresh(guarded.fresh);
  });
  // Once the handler ended and the answer is made (a store through the leases ends them first).
  // A handler that failed ends the load with its error (for the load's trace), even when the
  // response in grace answered; a client error (an HttpException below 500) is an answer, not a failure.
  void Promise.allSettled([outcome, answered]).then(([handled]) => {
    const failure: unknown = handled.status === 'rejected' ? handled.reason : undefined;
    miss.load?.release(failure instanceof ClientError ? undefined : failure);
  });
  return from(answered);
}
