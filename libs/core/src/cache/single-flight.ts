import type { LoadFences } from './fences.js';
import { CacheLease } from './lease.js';
import type { LocalWrites } from './local-writes.js';
import type { SetOptions } from './types.js';

export interface SingleFlightHooks {
  /** Whether the cache still takes writes (a value loaded after close() is returned, not cached). */
  open(): boolean;
  /** A loaded value could not be cached (the codec refused it, it is too large...). */
  refused(key: string, error: unknown): void;
}

/**
 * The loading half of `wrap`: one loader call per key at a time, shared by concurrent callers;
 * its result cached through the local writes, or returned uncached (and reported) when it
 * cannot be cached. Under a codec that is not exact, the value returned is the decoded copy
 * every instance holds. A load is fenced: if a write of its key came after it began (read from
 * the log, or made here), or a write of it made here is still on its way to the log, its value
 * is returned and not cached.
 */
export class SingleFlight<V> {
  readonly #loading = new Map<string, Promise<unknown>>();
  readonly #writes: LocalWrites<V>;
  readonly #fences: LoadFences;
  readonly #hooks: SingleFlightHooks;

  constructor(writes: LocalWrites<V>, fences: LoadFences, hooks: SingleFlightHooks) {
    this.#writes = writes;
    this.#fences = fences;
    this.#hooks = hooks;
  }

  /** A fenced load of `key` run by the caller (see CacheLease). */
  lease(key: string): CacheLease<V> {
    return new CacheLease<V>(key, this.#fences.begin(key), { fences: this.#fences, writes: this.#writes, open: () => this.#hooks.open() });
  }

  load<T extends V>(key: string, loader: () => T | Promise<T>, options: SetOptions | undefined): Promise<T> {
    const running = this.#loading.get(key);
    if (running) return running as Promise<T>;
    const fence = this.#fences.begin(key, options?.tags);
    const load = (async () => {
      try {
        const value = await loader();
        if (value !== undefined && this.#hooks.open() && this.#fences.mayFill(fence)) {
          let written: Promise<void>;
          let held: V;
          try {
            written = this.#writes.fill(key, value, options, fence);
            held = this.#writes.held;
            this.#writes.held = undefined as V;
          } catch (error) {
            if (options?.durable) throw error;
            this.#hooks.refused(key, error);
            return value;
          }
          await written;
          return held as T;
        }
        return value;
      } finally {
        if (fence.writeId === 0) this.#fences.end(fence);
        this.#loading.delete(key);
      }
    })();
    this.#loading.set(key, load);
    return load;
  }
}
