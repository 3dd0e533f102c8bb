/**
 * Wall-clock time as the cache reads it: absolute expiry stamps, replication lag, how long the
 * consumer made no progress. Tests replace it (option `clock`) to move time without waiting.
 */
export interface Clock {
  /** Milliseconds since the epoch, like `Date.now()`. */
  now(): number;
  /**
   * Calls `callback` once `ms` have passed on this clock; returns a function that cancels it.
   * Used for the loader timeouts of `wrap` (`softTimeout`, `hardTimeout`). Optional: without it,
   * `setTimeout` is used.
   */
  schedule?(callback: () => void, ms: number): () => void;
}

/** The system clock: `Date.now()`. The default of option `clock`. */
export const systemClock: Clock = { now: () => Date.now() };

/** Calls `callback` after `ms` on `clock` (its `schedule`, else `setTimeout`); returns the cancel function. */
export function schedule(clock: Clock, callback: () => void, ms: number): () => void {
  if (clock.schedule !== undefined) return clock.schedule(callback, ms);
  const timer = setTimeout(callback, ms);
  return () => clearTimeout(timer);
}
