import type { RejectReason } from '../record.js';
import type { RejectedRecord } from './types.js';

const LAST_REJECTED = 20;

/** Counters of writes and of records from the log, with the last rejected records. */
export class CacheCounters {
  sets = 0;
  deletes = 0;
  clears = 0;
  /** Values wrap served from their grace period. */
  staleServed = 0;
  /** Background loads of refreshAhead. */
  refreshes = 0;
  #rejected = 0;
  readonly #rejectedByReason: Partial<Record<RejectReason, number>> = {};
  readonly #lastRejected: RejectedRecord[] = [];

  /** Counts a rejected record and keeps it among the last ones. */
  rejected(info: RejectedRecord): void {
    this.#rejected++;
    this.#rejectedByReason[info.reason] = (this.#rejectedByReason[info.reason] ?? 0) + 1;
    this.#lastRejected.push(info);
    if (this.#lastRejected.length > LAST_REJECTED) this.#lastRejected.shift();
  }

  /** The `records` part of the stats (copies, safe to keep), with the follower's counts of records `applied` and `replayed`. */
  records(
    applied: number,
    replayed: number,
  ): { applied: number; replayed: number; rejected: number; rejectedByReason: Partial<Record<RejectReason, number>>; lastRejected: RejectedRecord[] } {
    return {
      applied,
      replayed,
      rejected: this.#rejected,
      rejectedByReason: { ...this.#rejectedByReason },
      lastRejected: this.#lastRejected.slice(),
    };
  }
}
