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

/**
 * How long to wait between attempts of a retried operation: a `backoff()` schedule and, for the
 * retries kafkajs runs inside its own calls, how many of them (`retries`).
 */
export interface RetrySchedule extends BackoffOptions {
  /** Attempts after the first before giving up, where the retrier stops (kafkajs). Unset: retried until it works or is closed. */
  retries?: number;
}

/**
 * Every retry timing of the core, by what is retried. Nothing else picks a retry delay: a
 * component that retries takes its entry here, so the whole policy reads in one table.
 */
export const RETRY = {
  /** Starting the cache: opening the log and reading its end offsets again after a failure. */
  start: { initial: 200, max: 5000 },
  /** The replication queue: an append the log failed is sent again (writes stay queued meanwhile). */
  append: { initial: 100, max: 5000 },
  /** The in-process log: a batch whose handler threw is delivered again, as Kafka clients do. */
  redeliver: { initial: 100, max: 100, jitter: 0 },
  /** The Kafka adapter: a consumer that crashed is restarted in a group of its own. */
  consumerRestart: { initial: 200, max: 1000 },
  /** The replication worker (replication: 'worker'): a worker that crashed or exited is started again. */
  workerRestart: { initial: 200, max: 5000 },
  /** kafkajs's own retries of a request (metadata, offsets, topic creation), as its client default. */
  kafkaClient: { initial: 100, max: 2000, retries: 3 },
  /** kafkajs's admin client: its requests on the client's schedule, with fewer retries (the cache retries start-up itself). */
  kafkaAdmin: { retries: 2 },
  /** kafkajs's producer: few, short retries; the replication queue (`append`) retries beyond them, in order. */
  kafkaProducer: { initial: 100, max: 1000, retries: 2 },
  /** The Kafka adapter: end offsets asked again while a partition's leader moves or is being elected (a topic just created). */
  leaderMoved: { initial: 100, max: 1000, retries: 5 },
  /** kafkajs's consumer: its fetches and group requests, before it crashes and is restarted (`consumerRestart`). */
  kafkaConsumer: { initial: 200, max: 1000, retries: 10 },
} as const satisfies Record<string, RetrySchedule>;

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
