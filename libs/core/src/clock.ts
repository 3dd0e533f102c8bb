/**
 * Wall-clock time as the cache reads it: absolute expiry stamps, replication lag, how long the
 * consumer made no progress. Tests replace it (option `clock`) to move time without waiting.
 */
export interface Clock {
  /** Milliseconds since the epoch, like `Date.now()`. */
  now(): number;
}

/** The system clock: `Date.now()`. The default of option `clock`. */
export const systemClock: Clock = { now: () => Date.now() };
