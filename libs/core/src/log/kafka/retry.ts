import type { RetryOptions } from 'kafkajs';
import { backoff, RETRY, type RetrySchedule } from '../../retry.js';

/**
 * A schedule of the retry table in kafkajs's terms. Only what the schedule sets is given:
 * kafkajs fills the rest from the client's own retry settings.
 */
export function kafkaRetry(schedule: RetrySchedule): RetryOptions {
  const options: RetryOptions = {};
  if (schedule.initial !== undefined) options.initialRetryTime = schedule.initial;
  if (schedule.max !== undefined) options.maxRetryTime = schedule.max;
  if (schedule.factor !== undefined) options.multiplier = schedule.factor;
  if (schedule.jitter !== undefined) options.factor = schedule.jitter;
  if (schedule.retries !== undefined) options.retries = schedule.retries;
  return options;
}

/**
 * When a crashed consumer starts again: one restart pending at a time, after a delay that grows
 * with every restart that did not bring a consumer into its group (RETRY.consumerRestart).
 */
export class RestartSchedule {
  #timer: NodeJS.Timeout | undefined;
  #attempt = 0;

  constructor(private readonly schedule: RetrySchedule = RETRY.consumerRestart) {}

  /** Runs `restart` after the next delay, unless a restart is pending already. */
  next(restart: () => void): void {
    if (this.#timer) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        restart();
      },
      backoff(this.#attempt++, this.schedule),
    );
  }

  /** A consumer joined its group: the next crash waits the first delay again. */
  joined(): void {
    this.#attempt = 0;
  }

  /** Drops the pending restart, if any. */
  cancel(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
