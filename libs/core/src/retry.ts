/** Backoff, deadlines and cancellable waits: the one place retry timing is decided. */

export interface BackoffOptions {
  /** First delay, in ms. Default 100. */
  initial?: number;
  /** Longest delay, in ms. Default 5000. */
  max?: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
  /** Share of the delay that is random, 0 to 1. Default 0.2. */
  jitter?: number;
}

/** Delay before retry number `attempt` (0-based): exponential, capped, with jitter so instances do not retry in step. */
export function backoff(attempt: number, options: BackoffOptions = {}): number {
  const { initial = 100, max = 5000, factor = 2, jitter = 0.2 } = options;
  const base = Math.min(max, initial * factor ** Math.min(attempt, 30));
  return Math.round(base * (1 - jitter + Math.random() * jitter * 2));
}

/**
 * Settles like `promise`, or rejects with `onTimeout()` after `ms`. The timer is cleared either
 * way, so nothing is left running. The promise itself is not cancelled.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** A wait that `cancel()` ends early; its timer never keeps the process alive. */
export class CancellableDelay {
  #timer: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;

  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(resolve, ms);
      this.#timer.unref();
    });
  }

  cancel(): void {
    clearTimeout(this.#timer);
    this.#wake?.();
  }
}

/** Lets the event loop run pending I/O and timers before continuing. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Backoff of the retry loops of the cache itself, by name. */
export const RETRY = {
  /** Opening the log at start (connect, create or check the topic), until it works or fails for good. */
  cacheStart: { initial: 200, max: 5000 },
} as const satisfies Record<string, BackoffOptions>;

/** The shortest deadline for stopping a start still running and for closing the log, in ms, whatever `closeTimeout` says. */
export const MIN_CLOSE_DEADLINE = 1000;
