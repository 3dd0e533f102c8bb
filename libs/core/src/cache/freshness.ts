/** End-offset answers kept while the consumer has not reached them yet. */
const MAX_PENDING = 16;

interface PendingAnswer {
  /** When the question was sent (the instance's clock). */
  at: number;
  /** The end offset (high watermark) of each partition in the answer. */
  highs: number[];
}

/**
 * How fresh this instance is known to be, for reads with `maxStaleness`. The instance asks the
 * log for its end offsets (at start, then every `lagPollInterval`, or sooner when such reads
 * want it); an answer to a question sent at time T holds ends at least as far as the log's ends
 * at T. Once the read position of every partition reached the ends of that answer, every record
 * appended before T is applied here: the instance is *confirmed fresh as of T*. Its staleness is
 * the time since the latest such T, on its own clock. Answers are kept until the consumer reaches
 * them (a few, oldest first), so a steady stream of writes does not keep every answer out of reach.
 */
export class Freshness {
  /** The latest T this instance is confirmed fresh as of; -1 before the first. */
  #confirmedAt = -1;
  #pending: PendingAnswer[] = [];

  /** When the latest confirmation holds from, or -1. */
  get confirmedAt(): number {
    return this.#confirmedAt;
  }

  /** Whether some answer still waits for the consumer to reach it. */
  get waiting(): boolean {
    return this.#pending.length > 0;
  }

  /** The log answered a question sent at `at` with these ends; `positions`: the read positions now. */
  answered(at: number, highs: number[], positions: readonly number[]): void {
    if (this.#pending.length < MAX_PENDING) this.#pending.push({ at, highs });
    this.reached(positions);
  }

  /** The read positions moved: confirms the latest answer they reached, and drops every older one. */
  reached(positions: readonly number[]): void {
    const pending = this.#pending;
    let confirmed = -1;
    for (let i = 0; i < pending.length; i++) {
      const { highs } = pending[i]!;
      let all = true;
      for (let p = 0; p < highs.length; p++) {
        if ((positions[p] ?? 0) < highs[p]!) {
          all = false;
          break;
        }
      }
      if (all) confirmed = i;
    }
    if (confirmed < 0) return;
    const at = pending[confirmed]!.at;
    // A clock set back makes a later answer look older: the latest answer still wins.
    this.#confirmedAt = at;
    this.#pending = pending.slice(confirmed + 1);
  }

  /** Ms since the confirmation, at `now`; Infinity before the first, or when the clock went back before it. */
  staleness(now: number): number {
    const at = this.#confirmedAt;
    return at < 0 || now < at ? Infinity : now - at;
  }
}
