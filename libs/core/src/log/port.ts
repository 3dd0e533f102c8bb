import type { NearCacheError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { LogRecord, OutgoingRecord } from '../record.js';

/** The offsets of one partition: `low` is the first offset still in the log, `high` the next offset to be written. */
export interface PartitionOffsets {
  partition: number;
  low: number;
  high: number;
}

/** Records fetched from one partition, in offset order. */
export interface LogBatch {
  partition: number;
  records: LogRecord[];
  /**
   * Where the next fetch of this partition starts. Past the last record, and past any offsets
   * the batch covered without delivering a record (compacted away, control markers).
   */
  nextOffset: number;
  /** The partition's high watermark when the batch was fetched. */
  highWatermark: number;
}

/** What a start from a snapshot checks about the topic (docs/snapshots.md). */
export interface SnapshotFacts {
  /** How long a tombstone stays in the log after it is appended, in ms (Kafka: the topic's `delete.retention.ms`). */
  deleteRetentionMs: number;
  /** Per partition, the first offset holding a record stamped at or after the time asked for (the high watermark when there is none). */
  firstAtOrAfter: number[];
}

export interface ConsumeHandlers {
  /** The next offset to read from `partition`; asked at start and again after every consumer restart or rejoin. */
  startOffset(partition: number): number;
  /** Called for one batch at a time per partition; the next batch of that partition waits for the promise. */
  onBatch(batch: LogBatch): Promise<void>;
  /** The consumer hit a problem it recovers from on its own (it reports, then retries). */
  onError(error: NearCacheError): void;
  /**
   * Optional. The consumer stopped and the log starts it again on its own (a replication worker
   * that crashed): the cache counts as degraded until `onResumed`. Without it, `onError` is told.
   */
  onInterrupted?(error: NearCacheError): void;
  /** Optional. The consumer runs again after `onInterrupted`, from `startOffset` of every partition. */
  onResumed?(): void;
}

/**
 * The replication log as the cache sees it: an ordered, keyed, partitioned log that keeps at least
 * the latest record of every key. One `ReplicationLog` serves one cache instance.
 */
export interface ReplicationLog {
  /** A short name for logs and stats ("kafka", "in-process"). */
  readonly kind: string;
  /**
   * The partition of `key` among `partitions`, where every writer of the topic puts its records
   * (all records of a key on one partition keep their order). Default: `partitionFor` (murmur2
   * of the key's UTF-8 bytes, as Kafka's clients partition keyed records).
   */
  partitionFor?(key: string, partitions: number): number;
  /**
   * Bytes the log adds to each record beyond its key, value and headers (its framing), counted
   * when the cache sizes its appends (option `maxBatchBytes`). Default 96.
   */
  readonly recordOverhead?: number;
  /** Connects, creates or checks the topic; resolves with its partition count. Rejects with a typed error. */
  open(): Promise<{ partitions: number }>;
  /** Current low and high offsets of every partition. */
  offsets(): Promise<PartitionOffsets[]>;
  /**
   * What a start from a snapshot checks, with `since` (ms since the epoch) for `firstAtOrAfter`.
   * Optional: a log without it never starts from a snapshot. Rejects with a typed error.
   */
  snapshotFacts?(since: number): Promise<SnapshotFacts>;
  /** Starts delivering records to `handlers`; resolves once the consumer is running. */
  consume(handlers: ConsumeHandlers): Promise<void>;
  /** Stops and starts the consumer again (used by the stall watchdog); it resumes at `startOffset`. */
  restartConsumer(): Promise<void>;
  /**
   * Appends records in order; resolves once the log acknowledged all of them, with the offset
   * of each record where the log tells (the cache then knows when it has read past its own
   * writes, even if the cleaner removed them), or with nothing.
   */
  append(records: OutgoingRecord[]): Promise<number[] | void>;
  /** Stops consuming and releases every connection it opened (also of replaced consumers), within `context.closeTimeout`. */
  close(): Promise<void>;
}

/** What the cache tells a log factory about itself. */
export interface LogContext {
  topic: string;
  instanceId: string;
  /** The largest value the cache writes or accepts, in bytes; fetch sizes must allow it. */
  maxValueBytes: number;
  maxKeyBytes: number;
  logger: Logger;
  /** How long `close()` may take, in ms: what is not stopped by then is ended. */
  closeTimeout?: number;
}

/** Builds the `ReplicationLog` of one cache instance. */
export type ReplicationLogFactory = (context: LogContext) => ReplicationLog;
