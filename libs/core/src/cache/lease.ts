import { InvalidArgumentError } from '../errors.js';
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

  /** @internal Use `cache.lease(key)`. */
  constructor(
    readonly key: string,
    fence: Fence,
    parts: LeaseParts<V>,
  ) {
    this.#fence = fence;
    this.#parts = parts;
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

  /** Ends the lease without caching anything (the load failed, or its result is not to be cached). */
  release(): void {
    const fence = this.#fence;
    this.#fence = undefined;
    if (fence !== undefined) this.#parts.fences.end(fence);
  }
}
