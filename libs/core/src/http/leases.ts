import type { FillOptions } from '../cache/types.js';
import { CacheClosedError } from '../errors.js';
import { httpVariantKey, isHttpVaryIndex, type HttpCacheEntry, type HttpRequestHeaders } from './entry.js';

/**
 * Fenced stores of the HTTP caches (docs/consistency.md, section 11): a request that misses
 * takes leases before its handler runs, and its response is stored through them, so that a
 * response computed while its URL was invalidated (a delete of its key, or a clear of a prefix
 * of it) is not stored, here or on any other instance.
 *
 * Keys leased: the base key (the entry, or the `Vary` index), and, when the base already holds a
 * `Vary` index, the variant key the request selects. A variant that the index did not predict
 * (no index yet, or the response varies on other headers) is leased when the response is stored.
 */

/** What a lease of the cache (a `CacheLease`) offers the store. */
export interface HttpStoreLease {
  readonly stale: boolean;
  fill(value: HttpCacheEntry, options?: FillOptions): Promise<boolean>;
  /** `error`: why the load failed (the handler threw, or answered a server error), for its trace. */
  release(error?: unknown): void;
}

/** What the leases need of a cache (a `NearCache`). */
export interface HttpLeasingCache {
  get(key: string): unknown;
  has?(key: string): boolean;
  lease?(key: string, options?: { trace?: boolean }): HttpStoreLease;
}

type LeasingCache = HttpLeasingCache & { lease(key: string, options?: { trace?: boolean }): HttpStoreLease };
/** The leases beyond the base's: the request's one load is traced on the base's lease. */
const UNTRACED = { trace: false };

/**
 * The leases of one miss: taken by `HttpResponseStore.begin` before the handler runs, filled by
 * `HttpResponseStore.store`, or released. `release` is safe to call on every path, also after a
 * fill (it then does nothing): adapters call it when the response ends or the request fails.
 */
export class HttpLoad {
  readonly #cache: LeasingCache;
  readonly #baseKey: string;
  readonly #base: HttpStoreLease;
  /** The variant key the base's `Vary` index selected when the request missed, and its lease. */
  readonly #variantKey: string | undefined;
  readonly #variant: HttpStoreLease | undefined;

  private constructor(cache: LeasingCache, baseKey: string, base: HttpStoreLease, variantKey: string | undefined) {
    this.#cache = cache;
    this.#baseKey = baseKey;
    this.#base = base;
    this.#variantKey = variantKey;
    // One load, traced once (on the base's lease).
    this.#variant = variantKey === undefined ? undefined : cache.lease(variantKey, UNTRACED);
  }

  /** The leases of a miss of `base` (`undefined` when the cache gives none: no fencing then). Throws as `cache.lease` throws. */
  static begin(cache: HttpLeasingCache, base: string, requestHeaders: HttpRequestHeaders): HttpLoad | undefined {
    if (typeof cache.lease !== 'function') return undefined;
    const leasing = cache as LeasingCache;
    // `has` first: a plain miss does not count as a second miss of the cache.
    const held = cache.has?.(base) === true ? cache.get(base) : undefined;
    const variantKey = isHttpVaryIndex(held) ? httpVariantKey(base, held.vary, requestHeaders) : undefined;
    const lease = leasing.lease(base);
    try {
      return new HttpLoad(leasing, base, lease, variantKey);
    } catch (error) {
      lease.release();
      throw error;
    }
  }

  /**
   * Stores `writes` (the keys of `httpEntryWrites`: the base, or a variant then the base) through
   * the leases, unless a write of one of their keys came after the miss: then nothing is stored.
   * Returns whether they were written, each with its `options` (one for all, or one per write);
   * each write's failure goes to `failed`. Ends the leases.
   */
  fill(
    writes: ReadonlyArray<{ key: string; value: HttpCacheEntry }>,
    options: FillOptions | undefined | ReadonlyArray<FillOptions | undefined>,
    failed: (key: string, error: unknown) => void,
  ): boolean {
    const leases: HttpStoreLease[] = [];
    try {
      for (const { key } of writes) leases.push(this.#leaseOf(key));
    } catch (error) {
      this.release();
      for (const lease of leases) lease.release();
      failed(writes[0]?.key ?? '', error);
      return false;
    }
    if (leases.some((lease) => lease.stale)) {
      this.release();
      for (const lease of leases) lease.release();
      return false;
    }
    writes.forEach(({ key, value }, i) => {
      leases[i]!.fill(value, Array.isArray(options) ? (options as ReadonlyArray<FillOptions | undefined>)[i] : (options as FillOptions | undefined)).then(
        // None was stale just above: a refused fill means the cache no longer takes writes.
        (cached) => {
          if (!cached) failed(key, new CacheClosedError('the cache is closed; the response was not stored'));
        },
        (error: unknown) => failed(key, error),
      );
    });
    this.release();
    return true;
  }

  /** Ends the leases not filled (nothing is stored through them); `error`: why the load failed, for its trace. */
  release(error?: unknown): void {
    this.#base.release(error);
    this.#variant?.release();
  }

  /** The lease of `key`: the base's, the predicted variant's, or one taken now for another variant. */
  #leaseOf(key: string): HttpStoreLease {
    if (key === this.#baseKey) return this.#base;
    if (key === this.#variantKey && this.#variant !== undefined) return this.#variant;
    return this.#cache.lease(key, UNTRACED);
  }
}
