import { InvalidArgumentError } from '../errors.js';
import { endLeaseTrace, type LoadTrace } from '../telemetry/channels.js';
import type { Fence, LoadFences } from './fences.js';
import type { LocalWrites } from './local-writes.js';
import type { FillOptions } from './types.js';

/** What a lease needs of the cache that gave it. */
export interface LeaseParts<V> {
  fences: LoadFences;
  writes: LocalWrites<V>;
  /** Whether the cache still takes writes. */
  open(): boolean;
}

/**
 * A fenced load of one key made outside `wrap` (by an adapter that runs its own loads): taken
 * before the load begins, then filled with its result, or released. Its value is cached only if
 * no write of the key came after the lease was taken (docs/consistency.md, section 11). Take it
 * with `cache.lease(key)`; call `fill` or `release` once: an open lease makes every write of its
 * key do a little more work.
 */
export class CacheLease<V = unknown> {
  readonly #parts: LeaseParts<V>;
  #fence: Fence | undefined;
  /** Its load on `nearcache:load`, while someone subscribed when it was taken. */
  #trace: LoadTrace | undefined;

  /** @internal Use `cache.lease(key)`. */
  constructor(
    readonly key: string,
    fence: Fence,
    parts: LeaseParts<V>,
    trace?: LoadTrace,
  ) {
    this.#fence = fence;
    this.#parts = parts;
    this.#trace = trace;
  }

  /** Ends the load's trace, once. */
  #traced(outcome: { result: unknown } | { error: unknown } | undefined): void {
    const trace = this.#trace;
    if (trace === undefined) return;
    this.#trace = undefined;
    endLeaseTrace(trace, outcome);
  }

  /** Whether a fill would be refused now: a write of the key came after the lease was taken (or the lease was used). */
  get stale(): boolean {
    return this.#fence === undefined || !this.#parts.fences.mayFill(this.#fence);
  }

  /**
   * Caches `value` as `wrap` caches a loaded value (`ttl`, `durable` as for `set`, and `grace`), unless a write
   * of the key came after the lease was taken. Resolves with whether it was cached; rejects like
   * `set` for a value that cannot be cached (nothing is changed then). Ends the lease; a second
   * call rejects with `InvalidArgumentError`.
   */
  fill(value: V, options?: FillOptions): Promise<boolean> {
    const fence = this.#fence;
    if (fence === undefined) return Promise.reject(new InvalidArgumentError(`the lease of "${this.key}" was already filled or released`));
    this.#fence = undefined;
    this.#traced({ result: value });
    const { fences, writes } = this.#parts;
    try {
      if (!this.#parts.open() || !fences.mayFill(fence, options?.tags)) {
        fences.end(fence);
        return Promise.resolve(false);
      }
      const written = writes.fill(this.key, value, options, fence);
      writes.held = undefined as V;
      return written.then(() => true);
    } catch (error) {
      if (fence.writeId === 0) fences.end(fence);
      return Promise.reject(error);
    }
  }

  /**
   * Ends the lease without caching anything (the load failed, or its result is not to be cached).
   * `error`: why the load failed, for its trace on `nearcache:load`.
   */
  release(error?: unknown): void {
    const fence = this.#fence;
    this.#fence = undefined;
    this.#traced(error === undefined ? undefined : { error });
    if (fence !== undefined) this.#parts.fences.end(fence);
  }
}
