import { schedule, type Clock } from '../clock.js';
import { LoaderTimeoutError } from '../errors.js';
import type { LoadFences } from './fences.js';
import { CacheLease } from './lease.js';
import type { Graced } from './local-store.js';
import type { LocalWrites } from './local-writes.js';
import { loadChannel, startLeaseTrace, traceLoad, type TraceSource } from '../telemetry/channels.js';
import type { FillOptions, StaleServed, WrapOptions } from './types.js';

export interface SingleFlightHooks {
  /** Whether the cache still takes writes (a value loaded after close() is returned, not cached). */
  open(): boolean;
  /** A loaded value could not be cached (the codec refused it, it is too large...). */
  refused(key: string, error: unknown): void;
  /** A value in grace was served instead of a load's (docs/consistency.md, section 14). */
  staleServed(served: StaleServed): void;
  /** A background load was started to refresh a hit ahead of its expiry. */
  refreshing(key: string): void;
  clock: Clock;
  /** What the `nearcache:load` tracing channel tells of this cache. */
  trace: TraceSource;
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
  lease(key: string, traced: boolean): CacheLease<V> {
    const parts = { fences: this.#fences, writes: this.#writes, open: () => this.#hooks.open() };
    return new CacheLease<V>(key, this.#fences.begin(key), parts, traced ? startLeaseTrace(this.#hooks.trace, key) : undefined);
  }

  /** Whether a load of `key` runs here. */
  running(key: string): boolean {
    return this.#loading.has(key);
  }

  /** `guard` with this cache's clock and reporting. */
  guard<T>(key: string, load: Promise<T>, options: LoadTimeouts, stale: Graced | undefined): Promise<T> {
    return guard(key, load, options, stale, this.#hooks);
  }

  /** A load of `key` through `guard`. */
  guarded<T extends V>(key: string, loader: () => T | Promise<T>, options: WrapOptions, stale: Graced | undefined): Promise<T> {
    return guard(key, this.load(key, loader, options), options, stale, this.#hooks);
  }

  /** Early refresh: starts a background load of `key` unless one is running; its failure changes nothing. */
  refresh<T extends V>(key: string, loader: () => T | Promise<T>, options: FillOptions): void {
    if (this.#loading.has(key)) return;
    this.#hooks.refreshing(key);
    this.load(key, loader, options).catch(() => undefined);
  }

  load<T extends V>(key: string, loader: () => T | Promise<T>, options: FillOptions | undefined): Promise<T> {
    const running = this.#loading.get(key);
    if (running) return running as Promise<T>;
    const fence = this.#fences.begin(key, options?.tags);
    const load = (async () => {
      try {
        const value = await (loadChannel.hasSubscribers ? traceLoad(this.#hooks.trace, key, loader) : loader());
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

/** The timeouts of a guarded load. */
export interface LoadTimeouts {
  softTimeout?: number;
  hardTimeout?: number;
}

/**
 * A load with loader timeouts and a fallback (docs/consistency.md, sections 14 and 15): the
 * load's value if it comes in time; `stale` (an entry in its grace period) if the loader fails,
 * if `softTimeout` passes, or if `hardTimeout` passes; else the loader's error, or
 * `LoaderTimeoutError` after `hardTimeout`. The load is never cancelled: a value that comes
 * after the call was answered is still cached, through its fence.
 */
export function guard<T>(
  key: string,
  load: Promise<T>,
  options: LoadTimeouts,
  stale: Graced | undefined,
  hooks: Pick<SingleFlightHooks, 'clock' | 'staleServed'>,
): Promise<T> {
  const { softTimeout, hardTimeout } = options;
  if (stale === undefined && hardTimeout === undefined) return load;
  const clock = hooks.clock;
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const cancels: Array<() => void> = [];
    const end = (): void => {
      done = true;
      for (const cancel of cancels) cancel();
    };
    /** Serves the value in grace, if its grace has not ended; returns whether it did. */
    const fallBack = (reason: StaleServed['reason'], error?: unknown): boolean => {
      if (stale === undefined || stale.graceEnd <= clock.now()) return false;
      end();
      hooks.staleServed({ key, reason, expiredAt: stale.expiresAt, graceEnd: stale.graceEnd, ...(error === undefined ? {} : { error }) });
      resolve(stale.value as T);
      return true;
    };
    load.then(
      (value) => {
        if (done) return;
        end();
        resolve(value);
      },
      (error: unknown) => {
        // A load that fails after the call was answered changes nothing: the entry stays as it is.
        if (done || fallBack('loader-failed', error)) return;
        end();
        reject(error);
      },
    );
    if (done) return;
    if (stale !== undefined && softTimeout !== undefined) cancels.push(schedule(clock, () => void (!done && fallBack('soft-timeout')), softTimeout));
    if (hardTimeout !== undefined) {
      cancels.push(
        schedule(
          clock,
          () => {
            if (done || fallBack('hard-timeout')) return;
            end();
            reject(
              new LoaderTimeoutError(`the loader of "${key}" did not settle within hardTimeout (${hardTimeout} ms); it goes on in the background`, { key }),
            );
          },
          hardTimeout,
        ),
      );
    }
  });
}
