import type { FillOptions, ReadOptions, SetOptions, WrapOptions } from '../cache/types.js';
import { HandlerFailedError } from '../errors.js';
import { HttpPathIndex, httpEntryBytes, type HttpIndexedCache } from './budget.js';
import { computeEtag, firstHeaderValue } from './conditional.js';
import { httpAdmission, type HttpAdmission, type HttpCredentialPolicy } from './credentials.js';
import {
  encodeHttpEntry,
  httpEntryWrites,
  maxHttpBodyBytes,
  type DecodedHttpResponse,
  type HttpCacheEntry,
  type HttpHeaderValue,
  type HttpRequestHeaders,
} from './entry.js';
import { guardHttpResponse, httpWriteOptions, type HttpGraceSettings, type HttpGuarded } from './grace.js';
import { HttpLoad, type HttpStoreLease } from './leases.js';
import { lookupSharedHttpEntry } from './lookup.js';
import { httpHitResponse, httpStoreRefusal, type HttpHitAnswer } from './policy.js';
import { registerStoredHttpHeaders, servedHttpHeaders } from './served-headers.js';
import { warnUnsignedHttpCache } from './unsigned.js';

/**
 * The HTTP store: the one sequence every adapter (`cacheResponses` of `@nearcache/express`,
 * `NearCacheInterceptor` of `@nearcache/nestjs`) runs to decide whether a request may use the
 * cache, to serve a hit, and to store a miss. An adapter reads the request and writes the
 * response through its framework; everything between is here:
 * - decide: `admit` (a request's `Cache-Control: no-store` and credentials, see
 *   `credentials.ts`), then `lookup` (only an entry the request may be served);
 * - serve a hit: `answer` (the stored status, the headers this process would have stored, the
 *   bytes with `Age`, or a 304), plus the adapter's status header;
 * - store a miss: `begin` before the handler runs (the leases that fence the store, see
 *   `leases.ts`), then `store` (core's refusals, the body limit, a strong `ETag`, the stored
 *   headers, the entry and its `Vary` index, the per-path budgets by entries and by bytes, the
 *   writes), a failure warned once per kind and route, repeats at debug level.
 */

/** What the store needs of a cache (a `NearCache`). */
export interface HttpStoreCache extends HttpIndexedCache {
  get(key: string, options?: ReadOptions): unknown;
  set(key: string, value: HttpCacheEntry, options?: SetOptions): Promise<void>;
  /** `NearCache.guardLoad`: a cache without it serves no response in grace. */
  guardLoad?<T>(key: string, load: Promise<T>, options: Pick<WrapOptions, 'grace' | 'softTimeout'>): Promise<T>;
  /** `NearCache.lease`: a cache without it stores responses with plain sets (unfenced). */
  lease?(key: string): HttpStoreLease;
  readonly limits?: { readonly maxValueBytes: number };
}

/** Where the store reports: core's `Logger` methods it uses. */
export interface HttpStoreLog {
  debug(message: string, context?: Record<string, unknown>): void;
  warn(message: string, context?: Record<string, unknown>): void;
}

/** The store-time settings of a response (an adapter's options, or a route's). */
export interface HttpStoreSettings {
  /** Response headers stored with the body (lower-case); `etag` is always stored. */
  readonly storedHeaders: readonly string[];
  /** Largest body stored, in bytes (and at most what the cache's `maxValueBytes` can hold). */
  readonly maxBodyBytes: number;
  /** Most entries one path may hold; `0` for no budget. */
  readonly maxPathEntries: number;
  /** Most bytes one path's entries may take (see `httpEntryBytes`); `0` for no budget. */
  readonly maxPathBytes: number;
  /** Statuses that are stored. Default: every 2xx except 206. */
  readonly statuses?: ReadonlySet<number> | undefined;
  /** Time to live of the entry, in ms; `undefined` for the cache's own `ttl`. */
  readonly ttl: number | undefined;
  /** How long past its expiry the entry is kept to answer for a failing handler, in ms (see `grace.ts`). Default 0: none. */
  readonly grace?: number | undefined;
  /** Tags of the entry, for `invalidateTags`. Default: none. */
  readonly tags?: readonly string[] | undefined;
}

/** A request that missed, as the store needs it to store the response. */
export interface HttpMiss {
  /** The key of the response (the prefix and the request's key). */
  readonly base: string;
  readonly requestHeaders: HttpRequestHeaders;
  /** `admit(...).credentials`. */
  readonly credentials: readonly string[];
  /** The route (or handler) for warnings: a failure is warned once per kind and route. */
  readonly route: string;
  /** `begin(...)`, taken before the handler ran: the response is stored through its leases (fenced), or they are released. */
  readonly load?: HttpLoad | undefined;
}

/** A finished response: its status, its bytes, and a reader of its headers (any case). */
export interface HttpFinishedResponse {
  readonly status: number;
  readonly body: Buffer;
  header(name: string): HttpHeaderValue | undefined;
}

/** What `store` did with a response it may store: its `ETag` (the response's own, or a strong one of its bytes), and whether it went to the cache. */
export interface HttpStored {
  readonly etag: string;
  /** False when a per-path budget refused it (the response is still answered as storable). */
  readonly written: boolean;
}

/** Most (route, kind) pairs remembered for the warn-once rule; beyond it, the memory starts over. */
const MAX_WARNED = 1024;

/**
 * The HTTP store of one adapter on one cache. Creating it registers the headers the adapter
 * stores with the cache (a hit serves only headers an adapter of this process would have
 * stored) and warns once per cache when its topic is unsigned.
 */
export class HttpResponseStore {
  /** The headers a hit serves from an entry (a set that only grows). */
  readonly served: ReadonlySet<string>;
  /** The cache's reader, made once (a hit makes no closure). */
  readonly get: (key: string) => unknown;
  readonly #cache: HttpStoreCache;
  readonly #log: HttpStoreLog;
  /** The largest body an entry of this cache can hold. */
  readonly #largestBody: number;
  readonly #warned = new Set<string>();

  constructor(cache: HttpStoreCache, storedHeaders: Iterable<string>, log: HttpStoreLog) {
    this.#cache = cache;
    this.#log = log;
    registerStoredHttpHeaders(cache, [...storedHeaders, 'etag']);
    warnUnsignedHttpCache(cache, (message) => log.warn(message));
    this.served = servedHttpHeaders(cache);
    this.get = (key) => cache.get(key);
    this.#largestBody = largestHttpBody(cache);
  }

  /** How a request may use the cache: bypass it (`Cache-Control: no-store`), or with which credentials. */
  admit(requestHeaders: HttpRequestHeaders, policy: HttpCredentialPolicy): HttpAdmission {
    return httpAdmission(requestHeaders, policy);
  }

  /**
   * The entry the request may be served under `base`, or `undefined` (a miss). With credentials,
   * only a shared entry or one keyed on them. With `read` (core's read options, such as
   * `maxStaleness`), only an entry the cache answers under them.
   */
  lookup(base: string, requestHeaders: HttpRequestHeaders, admission: HttpAdmission, read?: ReadOptions): DecodedHttpResponse | undefined {
    if (read === undefined) return lookupSharedHttpEntry(this.get, base, requestHeaders, admission);
    const cache = this.#cache;
    return lookupSharedHttpEntry((key) => cache.get(key, read), base, requestHeaders, admission);
  }

  /**
   * A request missed and its handler is about to run: takes the leases its response will be
   * stored through (`undefined` when the cache gives none). Pass them to `store` as `miss.load`,
   * and call their `release()` when the response ends or the request fails (after a store it
   * does nothing), so that no lease stays open. Never throws.
   */
  begin(base: string, requestHeaders: HttpRequestHeaders): HttpLoad | undefined {
    try {
      return HttpLoad.begin(this.#cache, base, requestHeaders);
    } catch (error) {
      // A key the cache refuses: the store's own write reports it.
      this.#log.debug(`no lease (${error instanceof Error ? error.message : String(error)})`, { key: base });
      return undefined;
    }
  }

  /**
   * The answer to a hit (see `httpHitResponse`), with `statusHeader: HIT` when given (`STALE`
   * with `options.stale`, for a response in grace that `guard` gave).
   */
  answer(
    hit: DecodedHttpResponse,
    request: { method: string; headers: HttpRequestHeaders },
    statusHeader: string | undefined,
    options?: { text?: boolean; stale?: boolean },
  ): HttpHitAnswer {
    const answer = httpHitResponse(hit, request, Date.now(), this.served, options);
    if (statusHeader !== undefined) answer.headers.push([statusHeader, options?.stale === true ? 'STALE' : 'HIT']);
    return answer;
  }

  /**
   * A request missed and its handler runs: `outcome` is its result, rejected when the handler
   * failed (how an adapter tells: see `grace.ts`). Resolves with `{ fresh }`, or with `{ stale }`
   * (answer it with `answer(stale, ..., { stale: true })`) when a response of the request in its
   * grace period answers for a handler that failed or outran `settings.softTimeout`; rejects with
   * the failure when none does. With no grace, the outcome itself.
   */
  guard<T>(
    base: string,
    requestHeaders: HttpRequestHeaders,
    admission: HttpAdmission,
    outcome: Promise<T>,
    settings: HttpGraceSettings,
  ): Promise<HttpGuarded<T>> {
    try {
      return guardHttpResponse(this.#cache, base, requestHeaders, admission, outcome, settings);
    } catch (error) {
      // The cache threw looking for the entry in grace: the handler's own outcome answers.
      this.#log.debug(`no response in grace (${error instanceof Error ? error.message : String(error)})`, { key: base });
      return outcome.then((fresh) => ({ fresh }));
    }
  }

  /**
   * Stores `response` when it may be: `undefined` when it must not (core's `httpStoreRefusal`,
   * with `settings.statuses`; a body above `settings.maxBodyBytes` or what the cache can hold),
   * the reason logged at debug level. Else writes the entry (and its `Vary` index) unless a
   * per-path budget refuses it, or a write of one of its keys came after `miss.load` was taken
   * (then `written` is false), and returns its `ETag`. Ends `miss.load`. A write that fails is warned once per
   * kind and route; repeats go to debug.
   */
  store(miss: HttpMiss, response: HttpFinishedResponse, settings: HttpStoreSettings): HttpStored | undefined {
    const { base, load } = miss;
    const limit = Math.min(settings.maxBodyBytes, this.#largestBody);
    if (response.body.length > limit) {
      this.#log.debug(`not stored (body of ${response.body.length} bytes above maxBodyBytes ${limit})`, { key: base });
      load?.release();
      return undefined;
    }
    const refused = httpStoreRefusal({
      status: response.status,
      statuses: settings.statuses,
      requestHeaders: miss.requestHeaders,
      credentials: miss.credentials,
      responseHeader: (name) => response.header(name),
    });
    if (refused !== undefined) {
      this.#log.debug(`not stored (${refused})`, { key: base });
      // A server error is a failed load (its trace on nearcache:load says so).
      load?.release(HandlerFailedError.ofStatus(response.status));
      return undefined;
    }
    const etag = firstHeaderValue(response.header('etag')) ?? computeEtag(response.body);
    const headers: Record<string, HttpHeaderValue | undefined> = {};
    for (const name of settings.storedHeaders) headers[name] = response.header(name);
    headers.etag = etag;
    const entry = encodeHttpEntry({ status: response.status, headers, body: response.body });
    const writes = httpEntryWrites(base, entry, response.header('vary'), miss.requestHeaders);
    // Each entry's size (a JSON text of it): worked out once, for the byte budget and the index.
    const sizes = settings.maxPathBytes > 0 ? writes.map(({ key, value }) => httpEntryBytes(key, value)) : undefined;
    const refusal = this.#overBudget(writes, settings, sizes);
    if (refusal !== undefined) {
      this.#log.debug(`not stored (${refusal})`, { key: base });
      load?.release();
      return { etag, written: false };
    }
    const options = writeOptions(writes, settings);
    if (load !== undefined && !load.fill(writes, options, (key, error) => this.#storeFailed(miss.route, key, error))) {
      this.#log.debug('not stored (a write of its key came after the request missed)', { key: base });
      return { etag, written: false };
    }
    const index = sizes === undefined ? undefined : HttpPathIndex.of(this.#cache);
    writes.forEach(({ key, value }, i) => {
      if (load === undefined) this.#cache.set(key, value, options[i]).catch((error: unknown) => this.#storeFailed(miss.route, key, error));
      if (sizes !== undefined) index!.sized(key, sizes[i]!);
    });
    return { etag, written: true };
  }

  /** Why the path budgets refuse `writes` (of `sizes` bytes each, given when `maxPathBytes` is set), or `undefined`. */
  #overBudget(
    writes: ReadonlyArray<{ key: string; value: HttpCacheEntry }>,
    settings: HttpStoreSettings,
    sizes: readonly number[] | undefined,
  ): string | undefined {
    const { maxPathEntries, maxPathBytes } = settings;
    if (maxPathEntries === 0 && maxPathBytes === 0) return undefined;
    const keys = writes.map((write) => write.key);
    const bytes = sizes === undefined ? undefined : { max: maxPathBytes, sizes };
    if (HttpPathIndex.of(this.#cache).admits(keys, maxPathEntries, bytes)) return undefined;
    const budgets = [maxPathEntries > 0 ? `maxPathEntries ${maxPathEntries}` : '', maxPathBytes > 0 ? `maxPathBytes ${maxPathBytes}` : ''];
    return `its path is at its budget: ${budgets.filter((budget) => budget !== '').join(', ')}`;
  }

  /** A failed write: warned the first time for its route and kind (error code or name), then at debug level. */
  #storeFailed(route: string, key: string, error: unknown): void {
    const code = (error as { code?: unknown } | null)?.code;
    const kind = typeof code === 'string' ? code : ((error as Error | null)?.name ?? typeof error);
    const message = `storing the response failed: ${error instanceof Error ? error.message : String(error)}`;
    const context = { key, ...(code === undefined ? {} : { code }) };
    const once = `${route}\u0000${kind}`;
    if (this.#warned.has(once)) {
      this.#log.debug(message, context);
      return;
    }
    if (this.#warned.size >= MAX_WARNED) this.#warned.clear();
    this.#warned.add(once);
    this.#log.warn(`${message}; further failures of this kind on this route are logged at debug level`, context);
  }
}

/** The write options of each of `writes`: `ttl`, and the grace and tags of `grace.ts`. */
function writeOptions(writes: ReadonlyArray<{ value: HttpCacheEntry }>, settings: HttpStoreSettings): Array<FillOptions | undefined> {
  const { ttl, grace = 0, tags } = settings;
  if (grace === 0 && tags === undefined) {
    const options = ttl === undefined ? undefined : { ttl };
    return writes.map(() => options);
  }
  return writes.map(({ value }) => httpWriteOptions(value, ttl, grace, tags));
}

/** The largest body an entry of `cache` can hold (no limit known: no limit). */
export function largestHttpBody(cache: Pick<HttpStoreCache, 'limits'>): number {
  try {
    const maxValueBytes = cache.limits?.maxValueBytes;
    return typeof maxValueBytes === 'number' ? maxHttpBodyBytes(maxValueBytes) : Number.MAX_SAFE_INTEGER;
  } catch {
    return Number.MAX_SAFE_INTEGER;
  }
}
