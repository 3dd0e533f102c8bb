import type { Clock } from '../clock.js';
import { ConsumerStalledError, type NearCacheError } from '../errors.js';
import type { LogBatch, PartitionOffsets, ReplicationLog } from '../log/port.js';
import type { Logger } from '../logger.js';
import type { LogRecord } from '../record.js';
import { backoff, CancellableDelay, RETRY, yieldToEventLoop } from '../retry.js';
import { Freshness } from './freshness.js';
import { asNearCacheError } from './input.js';
import type { PartitionStats } from './types.js';

/** Records applied between two turns of the event loop. */
const APPLY_SLICE = 1000;
/** The shortest time between two end-offset questions asked for reads with `maxStaleness`, in ms. */
const MIN_REFRESH_GAP = 10;

/** What the follower asks of the cache it feeds. */
export interface FollowerHost {
  /** Whether the cache is closed (a batch still running stops). */
  closed(): boolean;
  /** Whether the bootstrap ended (the cache caught up once). */
  bootstrapped(): boolean;
  /**
   * The log is open, with `offsets`: the positions to resume from when the entries were restored
   * from a snapshot (docs/snapshots.md), else undefined (the start reads every partition from its start).
   */
  resume?(partitions: number, offsets: PartitionOffsets[]): Promise<number[] | undefined>;
  /** The log is open and the consumer about to start: the bootstrap begins. */
  started(): void;
  /** Every record up to the end offsets captured at start is applied (also called again later: the host ends its bootstrap once). */
  caughtUp(): void;
  /** Applies one record read from the log (not a replay). */
  apply(record: LogRecord): void;
  /** The consumer read `partition` up to `position` (exclusive). */
  passed(partition: number, position: number): void;
  degrade(reason: 'consumer', error: NearCacheError): void;
  recover(reason: 'consumer'): void;
  /** Whether the consumer is known to be failing. */
  consumerDegraded(): boolean;
  /**
   * Tells a failure. `repeat`: a failed start attempt with the same cause as an earlier one of
   * this start: for the logger's summary of repeated lines, not for `error` listeners again.
   */
  report(error: NearCacheError, repeat?: boolean): void;
  /** The start failed for good. */
  fail(error: NearCacheError): void;
}

export interface FollowerOptions {
  stallTimeout: number;
  lagPollInterval: number;
  logger: Logger;
  clock: Clock;
}

/**
 * Follows the replication log: opens it (retrying with backoff), reads every partition from
 * its start, applies each record once (a replay after a consumer restart is skipped: positions
 * never go back), knows when the bootstrap caught up, polls the end offsets for lag, and
 * restarts a consumer that made no progress while behind (the stall watchdog).
 */
export class LogFollower {
  readonly #log: ReplicationLog;
  readonly #host: FollowerHost;
  readonly #options: FollowerOptions;
  readonly #clock: Clock;
  #stopped = false;
  #partitions = 0;
  /** Highest offset applied per partition; nothing at or below it is applied again. */
  #applied: number[] = [];
  /** Next offset to read per partition. */
  #position: number[] = [];
  #high: number[] = [];
  #targets: number[] = [];
  #behindSince: number[] = [];
  #applyDelay: number[] = [];
  #lastProgress: number;
  /** Lag polls failed in a row. */
  #pollFailures = 0;
  #appliedCount = 0;
  #replayed = 0;
  #lagTimer: NodeJS.Timeout | undefined;
  /** Whether an end-offset question is out; when the last one was sent. */
  #polling = false;
  #lastAsked = 0;
  readonly #freshness = new Freshness();
  readonly #startDelay = new CancellableDelay();
  /** Causes (code and message) of the failed start attempts told so far: each is told to `error` listeners once. */
  readonly #startCauses = new Set<string>();

  constructor(log: ReplicationLog, host: FollowerHost, options: FollowerOptions) {
    this.#log = log;
    this.#host = host;
    this.#options = options;
    this.#clock = options.clock;
    this.#lastProgress = options.clock.now();
  }

  /** Records from the log applied (including this instance's own). */
  get applied(): number {
    return this.#appliedCount;
  }

  /** Records already applied, delivered again after a consumer restart, and skipped. */
  get replayed(): number {
    return this.#replayed;
  }

  /** Next offset to read per partition (read-only; empty until the log is open). */
  get positions(): readonly number[] {
    return this.#position;
  }

  /** Ms since this instance was last confirmed to have applied every record appended before then (see Freshness); Infinity before. */
  staleness(now: number): number {
    return this.#freshness.staleness(now);
  }

  /**
   * Asks the log for its end offsets now, unless a question is out or was sent less than 10 ms
   * ago, or the consumer is not running: reads with `maxStaleness` call it when the confirmation gets old.
   */
  refresh(now: number): void {
    if (this.#polling || this.#lagTimer === undefined || this.#stopped || now - this.#lastAsked < MIN_REFRESH_GAP) return;
    void this.#pollLag();
  }

  /** The first offset of `partition` not applied yet: every record before it was applied or skipped (0 before the start). */
  unapplied(partition: number): number {
    return Math.max((this.#applied[partition] ?? -1) + 1, this.#position[partition] ?? 0);
  }

  /** Partitions of the topic (0 until the log is open). */
  get partitions(): number {
    return this.#partitions;
  }

  /** Opens the log and starts the consumer, retrying until it works, fails for good or `stop()`. */
  async start(): Promise<void> {
    for (let attempt = 0; !this.#stopped; attempt++) {
      try {
        const { partitions } = await this.#log.open();
        const asked = this.#clock.now();
        const offsets = await this.#log.offsets();
        if (this.#stopped) return;
        this.#partitions = partitions;
        const resumed = await this.#host.resume?.(partitions, offsets);
        if (this.#stopped) return;
        if (resumed !== undefined) {
          this.#position = resumed.slice();
          this.#applied = resumed.map((position) => position - 1);
        }
        this.#position = Array.from({ length: partitions }, (_, p) => Math.max(this.#position[p] ?? 0, offsets[p]?.low ?? 0));
        this.#applied = Array.from({ length: partitions }, (_, p) => this.#applied[p] ?? -1);
        this.#high = offsets.map((o) => o.high);
        this.#targets = offsets.map((o) => o.high);
        this.#behindSince = offsets.map((o, p) => (o.high > this.#position[p]! ? this.#clock.now() : 0));
        this.#applyDelay = offsets.map(() => 0);
        this.#freshness.answered(asked, this.#targets, this.#position);
        this.#host.started();
        await this.#log.consume({
          startOffset: (partition) => this.#position[partition] ?? 0,
          onBatch: (batch) => this.#onBatch(batch),
          onError: (error) => this.#consumerError(error),
          onInterrupted: (error) => this.#interrupted(error),
          onResumed: () => this.#resumed(),
        });
        if (this.#stopped) return;
        this.#lastProgress = this.#clock.now();
        this.#lagTimer = setInterval(() => void this.#pollLag(), this.#options.lagPollInterval);
        this.#lagTimer.unref();
        this.#checkCaughtUp();
        return;
      } catch (cause) {
        const error = asNearCacheError(cause);
        if (this.#stopped) return;
        if (!error.retriable) {
          this.#host.fail(error);
          return;
        }
        this.#host.report(error, this.#seenStartCause(error));
        await this.#startDelay.wait(backoff(attempt, RETRY.start));
      }
    }
  }

  /** Whether a failed start attempt had this cause before; notes it if not (at most 64 causes). */
  #seenStartCause(error: NearCacheError): boolean {
    const cause = `${error.code} ${error.message}`;
    if (this.#startCauses.has(cause)) return true;
    if (this.#startCauses.size >= 64) this.#startCauses.clear();
    this.#startCauses.add(cause);
    return false;
  }

  /** Stops retrying and polling; work still running reports nothing more. */
  stop(): void {
    this.#stopped = true;
    this.#startDelay.cancel();
    clearInterval(this.#lagTimer);
  }

  /** Replication positions per partition, at `now`. */
  partitionStats(now: number): PartitionStats[] {
    return this.#position.map((position, partition) => {
      const high = Math.max(this.#high[partition] ?? 0, position);
      const behind = this.#behindSince[partition] ?? 0;
      return {
        partition,
        position,
        highWatermark: high,
        lagRecords: high - position,
        lagMs: high > position && behind > 0 ? now - behind : 0,
        lastApplyDelayMs: this.#applyDelay[partition] ?? 0,
      };
    });
  }

  /** "; partitions at 0: position/target, ..." for messages, or '' before the start. */
  describeLag(): string {
    const parts = this.#position.map((position, p) => `${p}: ${position}/${this.#targets[p] ?? '?'}`);
    return parts.length > 0 ? `; partitions at ${parts.join(', ')}` : '';
  }

  async #onBatch(batch: LogBatch): Promise<void> {
    const partition = batch.partition;
    const records = batch.records;
    for (let i = 0; i < records.length; i++) {
      if (i > 0 && i % APPLY_SLICE === 0) {
        // Long batches (bootstrap) give reads and timers a turn.
        await yieldToEventLoop();
      }
      if (this.#host.closed()) return;
      const record = records[i]!;
      if (record.offset <= this.#applied[partition]!) {
        this.#replayed++;
        continue;
      }
      this.#host.apply(record);
      this.#applied[partition] = record.offset;
      this.#appliedCount++;
    }
    const now = this.#clock.now();
    const last = records[records.length - 1];
    if (last) this.#applyDelay[partition] = Math.max(0, now - last.timestamp);
    if (batch.nextOffset > this.#position[partition]!) this.#position[partition] = batch.nextOffset;
    if (batch.highWatermark > this.#high[partition]!) this.#high[partition] = batch.highWatermark;
    if (this.#freshness.waiting) this.#freshness.reached(this.#position);
    this.#host.passed(partition, this.#position[partition]!);
    this.#trackBehind(partition, now);
    this.#lastProgress = now;
    if (this.#host.consumerDegraded()) this.#host.recover('consumer');
    this.#checkCaughtUp();
  }

  #consumerError(error: NearCacheError): void {
    if (error.retriable) {
      this.#host.report(error);
    } else if (!this.#host.bootstrapped()) {
      // The consumer gave up (authorization, for example): this start cannot succeed.
      this.#host.fail(error);
    } else {
      // Keep serving; the stall watchdog restarts the consumer once the log moves on.
      this.#host.degrade('consumer', error);
    }
  }

  /** The log restarts its consumer on its own: degraded (and told) until it runs again. */
  #interrupted(error: NearCacheError): void {
    if (this.#stopped) return;
    if (this.#host.consumerDegraded()) this.#host.report(error);
    else this.#host.degrade('consumer', error);
  }

  #resumed(): void {
    if (this.#stopped) return;
    this.#lastProgress = this.#clock.now();
    if (this.#host.consumerDegraded()) this.#host.recover('consumer');
  }

  #checkCaughtUp(): void {
    if (this.#host.bootstrapped()) return;
    for (let p = 0; p < this.#partitions; p++) {
      if (this.#position[p]! < this.#targets[p]!) return;
    }
    this.#host.caughtUp();
  }

  #trackBehind(partition: number, now: number): void {
    if (this.#high[partition]! > this.#position[partition]!) {
      if (this.#behindSince[partition] === 0) this.#behindSince[partition] = now;
    } else {
      this.#behindSince[partition] = 0;
    }
  }

  async #pollLag(): Promise<void> {
    if (this.#stopped || this.#polling) return;
    this.#polling = true;
    const asked = (this.#lastAsked = this.#clock.now());
    let offsets;
    try {
      offsets = await this.#log.offsets();
    } catch (error) {
      this.#polling = false;
      // Work cancelled by close() reports nothing.
      if (this.#stopped) return;
      // The stall clock runs only while the log answers: after an outage, the consumer gets its
      // own recovery time before the watchdog counts it as stalled.
      this.#lastProgress = this.#clock.now();
      // The next poll retries: one failure (a leader moving) is no news; a second in a row is.
      const reported = asNearCacheError(error);
      if (++this.#pollFailures >= 2) this.#host.report(reported);
      else this.#options.logger.debug(reported.message, { code: reported.code });
      return;
    }
    this.#polling = false;
    this.#pollFailures = 0;
    if (this.#stopped) return;
    const now = this.#clock.now();
    let behind = false;
    // A partition missing from the answer counts with the furthest end known for it.
    const highs = this.#high.slice();
    for (const { partition, high } of offsets) {
      if (partition >= this.#partitions) continue;
      highs[partition] = high;
      if (high > this.#high[partition]!) this.#high[partition] = high;
      this.#trackBehind(partition, now);
      if (this.#high[partition]! > this.#position[partition]!) behind = true;
    }
    this.#freshness.answered(asked, highs, this.#position);
    if (behind && now - this.#lastProgress >= this.#options.stallTimeout && !this.#stopped) {
      this.#lastProgress = now;
      this.#host.degrade(
        'consumer',
        new ConsumerStalledError(`the consumer made no progress for ${this.#options.stallTimeout} ms while behind${this.describeLag()}; restarting it`, {
          retriable: true,
        }),
      );
      try {
        await this.#log.restartConsumer();
      } catch (error) {
        if (!this.#stopped) this.#host.report(asNearCacheError(error));
      }
    }
  }
}
