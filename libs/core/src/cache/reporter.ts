import type { EventEmitter } from 'node:events';
import type { Clock } from '../clock.js';
import { InvalidValueError, ValueTooLargeError, type NearCacheError } from '../errors.js';
import { RepeatedLines, type Logger } from '../logger.js';
import type { CacheChange, RejectedRecord, StaleServed } from './types.js';

/** Keys whose refused `wrap` values were warned about (see refusedLoad). */
const WARNED_KEYS = 1000;

/**
 * How the cache tells what happens: events to whoever listens (`change`, `error`, `rejected`),
 * and the logger when nobody does (repeated failures summarised, refused loads warned once per key).
 */
export class Reporter {
  readonly #events: EventEmitter;
  readonly #logger: Logger;
  readonly #topic: string;
  readonly #clock: Clock;
  readonly #repeats = new RepeatedLines();
  readonly #warnedKeys = new Set<string>();

  constructor(events: EventEmitter, logger: Logger, topic: string, clock: Clock) {
    this.#events = events;
    this.#logger = logger;
    this.#topic = topic;
    this.#clock = clock;
  }

  /** An entry changed: a `change` event, built only while someone listens. */
  change(op: CacheChange['op'], key: string, source: CacheChange['source']): void {
    if (this.#events.listenerCount('change') > 0) this.#events.emit('change', { op, key, source } satisfies CacheChange);
  }

  /**
   * Something failed: the `error` event, or the logger (the same failure on every retry
   * summarised). `repeat`: the same failure as before while a start retries: not emitted again.
   */
  error(error: NearCacheError, repeat = false): void {
    if (this.#events.listenerCount('error') > 0) {
      if (!repeat) this.#events.emit('error', error);
      return;
    }
    const line = this.#repeats.next(error.message, this.#clock.now());
    if (line !== undefined) this.#logger.error(line, { code: error.code, cause: error.cause });
  }

  /** `wrap` served a value from its grace period: the `stale` event, or a debug line when nobody listens. */
  stale(served: StaleServed): void {
    if (this.#events.listenerCount('stale') > 0) this.#events.emit('stale', served);
    else this.#logger.debug(`served "${served.key}" from its grace period (${served.reason})`);
  }

  /** A record of the log was skipped: the `rejected` event, or a warning. */
  rejected(info: RejectedRecord): void {
    if (this.#events.listenerCount('rejected') > 0) this.#events.emit('rejected', info);
    else this.#logger.warn(`skipped record at ${this.#topic}/${info.partition}@${info.offset}: ${info.reason}: ${info.detail}`);
  }

  /**
   * A loaded value `wrap` could not cache: on the `error` event each time, or, when nobody
   * listens, a warning once per key (a loader returns the same kind of value on every call).
   * Other errors are reported with `report`.
   */
  refusedLoad(key: string, error: NearCacheError, report: (error: NearCacheError) => void): void {
    const refused = error instanceof InvalidValueError || error instanceof ValueTooLargeError;
    if (!refused || this.#events.listenerCount('error') > 0) {
      report(error);
      return;
    }
    if (this.#warnedKeys.has(key)) return;
    // Bounded: past WARNED_KEYS distinct keys, warnings start over.
    if (this.#warnedKeys.size >= WARNED_KEYS) this.#warnedKeys.clear();
    this.#warnedKeys.add(key);
    this.#logger.warn(`${error.message}; wrap() returns the value uncached (warned once per key)`, { code: error.code, cause: error.cause });
  }
}
