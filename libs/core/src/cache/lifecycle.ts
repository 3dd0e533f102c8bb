import type { EventEmitter } from 'node:events';
import { BootstrapTimeoutError, CacheClosedError, InvalidArgumentError, type NearCacheError } from '../errors.js';
import type { CacheState } from './types.js';

const RESOLVED = Promise.resolve();

/**
 * The cache's state (starting, bootstrapping, live, degraded, closed) and its `state` and
 * `ready` events: whether the bootstrap ended, what is failing (producer, consumer), the error
 * that ended the start for good, and the callers waiting in `ready()`.
 */
export class Lifecycle {
  readonly #events: EventEmitter;
  readonly #report: (error: NearCacheError) => void;
  #state: CacheState = 'starting';
  #bootstrapped = false;
  #fatal: NearCacheError | undefined;
  readonly #degraded = new Set<'producer' | 'consumer'>();
  #readyWaiters: Array<{ resolve(): void; reject(error: unknown): void; timer: NodeJS.Timeout }> = [];
  /** The last error reported before the cache was ready: what a timed-out ready() names as the cause. */
  #lastError: NearCacheError | undefined;

  /** `report`: how a failure is told (once per reason when something degrades). */
  constructor(events: EventEmitter, report: (error: NearCacheError) => void) {
    this.#events = events;
    this.#report = report;
  }

  get state(): CacheState {
    return this.#state;
  }

  /** Whether the cache caught up once. */
  get bootstrapped(): boolean {
    return this.#bootstrapped;
  }

  /** The error that ended the start for good, if any. */
  get fatal(): NearCacheError | undefined {
    return this.#fatal;
  }

  /** Whether the consumer is known to be failing. */
  get consumerDegraded(): boolean {
    return this.#degraded.has('consumer');
  }

  /** Until the bootstrap ends: the last error reported (why the cache is not ready yet), as `stats().startError` shows it. */
  get startError(): { code: string; message: string } | undefined {
    const error = this.#bootstrapped ? undefined : this.#lastError;
    return error && { code: error.code, message: error.message };
  }

  /** Notes `error` as reported: before the bootstrap ends, a timed-out ready() names it. */
  reported(error: NearCacheError): void {
    if (!this.#bootstrapped) this.#lastError = error;
  }

  setState(state: CacheState): void {
    const previous = this.#state;
    if (previous === state || previous === 'closed') return;
    this.#state = state;
    this.#events.emit('state', state, previous);
  }

  /** The bootstrap caught up: live (or degraded), waiters resolved, `ready` emitted. Once. */
  caughtUp(): void {
    if (this.#bootstrapped || this.#state !== 'bootstrapping') return;
    this.#bootstrapped = true;
    this.setState(this.#degraded.size > 0 ? 'degraded' : 'live');
    const waiters = this.#readyWaiters;
    this.#readyWaiters = [];
    for (const waiter of waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
    this.#events.emit('ready');
  }

  degrade(reason: 'producer' | 'consumer', error: NearCacheError): void {
    const first = !this.#degraded.has(reason);
    this.#degraded.add(reason);
    if (this.#bootstrapped && this.#state === 'live') this.setState('degraded');
    if (first) this.#report(error);
  }

  recover(reason: 'producer' | 'consumer'): void {
    this.#degraded.delete(reason);
    if (this.#degraded.size === 0 && this.#state === 'degraded') this.setState('live');
  }

  /** The start failed for good: the state is `closed`, and waiters reject with `error`. */
  failed(error: NearCacheError): void {
    this.#fatal = error;
    this.setState('closed');
    this.#report(error);
    this.#rejectWaiters(error);
  }

  /** Closed: waiters still there reject, the state becomes `closed`. */
  closed(): void {
    this.#rejectWaiters(new CacheClosedError('the cache was closed before it was ready'));
    this.setState('closed');
  }

  /** See `NearCache.ready`; `describe()` adds where the bootstrap stands to a timeout's message. */
  ready(timeout: number, topic: string, describe: () => string): Promise<void> {
    if (this.#bootstrapped) return RESOLVED;
    if (this.#fatal) return Promise.reject(this.#fatal);
    if (this.#state === 'closed') return Promise.reject(new CacheClosedError('the cache is closed'));
    if (!Number.isInteger(timeout) || timeout < 1)
      return Promise.reject(new InvalidArgumentError(`ready timeout must be an integer >= 1 (ms), got ${String(timeout)}`));
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#readyWaiters = this.#readyWaiters.filter((other) => other !== waiter);
          const cause = this.#lastError;
          const last = cause ? `; last error: ${cause.message}` : '';
          reject(
            new BootstrapTimeoutError(`not caught up with topic "${topic}" within ${timeout} ms (state ${this.#state}${describe()})${last}`, {
              retriable: true,
              cause,
            }),
          );
        }, timeout),
      };
      this.#readyWaiters.push(waiter);
    });
  }

  #rejectWaiters(error: NearCacheError): void {
    for (const waiter of this.#readyWaiters) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    this.#readyWaiters = [];
  }
}
