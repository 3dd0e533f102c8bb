import { InvalidOptionError, LogUnavailableError } from '../errors.js';
import { partitionFor } from '../partitioner.js';
import type { LogRecord, OutgoingRecord } from '../record.js';
import { backoff, RETRY } from '../retry.js';
import type { ConsumeHandlers, LogContext, PartitionOffsets, ReplicationLog, ReplicationLogFactory, SnapshotFacts } from './port.js';

/** A record as a test or a tool writes it straight onto an in-process topic, bypassing the cache. */
export interface RawRecord {
  partition?: number;
  key: string | Uint8Array | null;
  value: string | Uint8Array | null;
  headers?: Record<string, string | Uint8Array>;
  timestamp?: number;
}

interface StoredPartition {
  records: LogRecord[];
  high: number;
  waiters: Array<() => void>;
}

interface StoredTopic {
  partitions: StoredPartition[];
  deleteRetentionMs: number;
}

function toBytes(value: string | Uint8Array): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
}

/**
 * An in-memory stand-in for a Kafka cluster, shared by the caches of one process: topics of
 * partitions of records with offsets, compaction on demand, and switches that make it
 * unavailable. For unit tests, for applications' own tests and for single-process use.
 */
export class InProcessBroker {
  readonly #topics = new Map<string, StoredTopic>();
  #available = true;
  #availabilityWaiters: Array<() => void> = [];

  /**
   * Creates `name` if it does not exist; returns its partition count. `deleteRetentionMs`: how
   * long its tombstones are said to stay (what a start from a snapshot checks; `compact()` stands
   * for a cleaner run after that time). Default 86400000, as Kafka's `delete.retention.ms`.
   */
  createTopic(name: string, options: { partitions?: number; deleteRetentionMs?: number } = {}): number {
    const existing = this.#topics.get(name);
    if (existing) return existing.partitions.length;
    const partitions = options.partitions ?? 1;
    if (!Number.isInteger(partitions) || partitions < 1) {
      throw new InvalidOptionError(`partitions must be an integer >= 1, got ${String(partitions)}`);
    }
    this.#topics.set(name, {
      partitions: Array.from({ length: partitions }, () => ({ records: [], high: 0, waiters: [] })),
      deleteRetentionMs: options.deleteRetentionMs ?? 86_400_000,
    });
    return partitions;
  }

  /** Deletes `name` and its records (a topic created again under the name starts at offset 0). */
  deleteTopic(name: string): void {
    this.#topics.delete(name);
  }

  /** What a start from a snapshot checks (see `ReplicationLog.snapshotFacts`). */
  snapshotFacts(topic: string, since: number): SnapshotFacts {
    const stored = this.#topic(topic);
    return {
      deleteRetentionMs: stored.deleteRetentionMs,
      firstAtOrAfter: stored.partitions.map((partition) => partition.records.find((record) => record.timestamp >= since)?.offset ?? partition.high),
    };
  }

  hasTopic(name: string): boolean {
    return this.#topics.has(name);
  }

  /** Whether appends and fetches currently succeed. */
  get available(): boolean {
    return this.#available;
  }

  /** Makes the broker unreachable (appends reject, consumers stop receiving) or reachable again. */
  setAvailable(available: boolean): void {
    this.#available = available;
    if (available) {
      const waiters = this.#availabilityWaiters;
      this.#availabilityWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Resolves when the broker is available. */
  whenAvailable(): Promise<void> {
    if (this.#available) return Promise.resolve();
    return new Promise((resolve) => this.#availabilityWaiters.push(resolve));
  }

  /** Appends records as they are, with no validation: for tests that write foreign or hostile records. */
  produce(topic: string, records: RawRecord[]): number[] {
    const stored = this.#topic(topic);
    return records.map((record) => {
      const partition = stored.partitions[record.partition ?? 0];
      if (!partition) throw new InvalidOptionError(`topic "${topic}" has no partition ${String(record.partition)}`);
      const offset = partition.high++;
      partition.records.push({
        partition: record.partition ?? 0,
        offset,
        key: record.key === null ? null : toBytes(record.key),
        value: record.value === null ? null : toBytes(record.value),
        headers: Object.fromEntries(Object.entries(record.headers ?? {}).map(([k, v]) => [k, toBytes(v)])),
        timestamp: record.timestamp ?? Date.now(),
      });
      this.#wake(partition);
      return offset;
    });
  }

  /** Every record still in the topic, partition by partition, in offset order. */
  records(topic: string): LogRecord[] {
    return this.#topic(topic).partitions.flatMap((partition) => partition.records.slice());
  }

  /** Low and high offsets of every partition. */
  offsets(topic: string): PartitionOffsets[] {
    return this.#topic(topic).partitions.map((partition, index) => ({
      partition: index,
      low: partition.records[0]?.offset ?? partition.high,
      high: partition.high,
    }));
  }

  /**
   * Does what Kafka's log cleaner does once the tombstones' retention passed: keeps only the
   * latest record of each key and drops tombstones. Offsets stay as they were, with gaps.
   */
  compact(topic: string): void {
    for (const partition of this.#topic(topic).partitions) {
      const latest = new Map<string, number>();
      partition.records.forEach((record, index) => latest.set(record.key ? Buffer.from(record.key).toString('latin1') : '', index));
      partition.records = partition.records.filter(
        (record, index) => latest.get(record.key ? Buffer.from(record.key).toString('latin1') : '') === index && record.value !== null,
      );
    }
  }

  /** @internal */
  partition(topic: string, index: number): StoredPartition {
    const partition = this.#topic(topic).partitions[index];
    if (!partition) throw new InvalidOptionError(`topic "${topic}" has no partition ${index}`);
    return partition;
  }

  /** @internal */
  partitionCount(topic: string): number {
    return this.#topic(topic).partitions.length;
  }

  /** @internal Resolves when `partition` grows past `offset` or after `ms`. */
  waitForRecords(partition: StoredPartition, offset: number, ms: number): Promise<void> {
    if (partition.high > offset) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref();
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      partition.waiters.push(done);
    });
  }

  #wake(partition: StoredPartition): void {
    const waiters = partition.waiters;
    partition.waiters = [];
    for (const wake of waiters) wake();
  }

  #topic(name: string): StoredTopic {
    const topic = this.#topics.get(name);
    if (!topic) throw new InvalidOptionError(`topic "${name}" does not exist on this in-process broker`);
    return topic;
  }
}

export interface InProcessLogOptions {
  /** Partitions of the topic when this log creates it. Default 1. */
  partitions?: number;
  /** Records handed to the cache per batch. Default 500. */
  maxBatchRecords?: number;
}

/** Returns a log factory for `createNearCache({ log })` backed by `broker`. */
export function inProcessLog(broker: InProcessBroker, options: InProcessLogOptions = {}): ReplicationLogFactory {
  return (context) => new InProcessLog(broker, context, options);
}

/** One cache instance's connection to an `InProcessBroker`. */
export class InProcessLog implements ReplicationLog {
  readonly kind = 'in-process';
  /** Sized like Kafka's framing of a record, so that appends are batched as they are on Kafka. */
  readonly recordOverhead = 96;
  readonly #broker: InProcessBroker;
  readonly #topic: string;
  readonly #options: InProcessLogOptions;
  #handlers: ConsumeHandlers | undefined;
  #generation = 0;
  #closed = false;

  constructor(broker: InProcessBroker, context: LogContext, options: InProcessLogOptions = {}) {
    this.#broker = broker;
    this.#topic = context.topic;
    this.#options = options;
  }

  /** Partitions keys as Kafka's clients do, so that tests see the placement they would see on Kafka. */
  partitionFor(key: string, partitions: number): number {
    return partitionFor(key, partitions);
  }

  async open(): Promise<{ partitions: number }> {
    await this.#reachable();
    return { partitions: this.#broker.createTopic(this.#topic, { partitions: this.#options.partitions ?? 1 }) };
  }

  async offsets(): Promise<PartitionOffsets[]> {
    await this.#reachable();
    return this.#broker.offsets(this.#topic);
  }

  async snapshotFacts(since: number): Promise<SnapshotFacts> {
    await this.#reachable();
    return this.#broker.snapshotFacts(this.#topic, since);
  }

  async consume(handlers: ConsumeHandlers): Promise<void> {
    this.#handlers = handlers;
    this.#startPumps((partition) => handlers.startOffset(partition));
  }

  async restartConsumer(): Promise<void> {
    const handlers = this.#handlers;
    if (!handlers) return;
    this.#startPumps((partition) => handlers.startOffset(partition));
  }

  /**
   * Restarts the consumer from offset 0 whatever the cache asks for, as a Kafka consumer group
   * without committed offsets does after a crash: the cache must not roll back.
   */
  replayFromBeginning(): void {
    this.#startPumps(() => 0);
  }

  async append(records: OutgoingRecord[]): Promise<number[]> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (this.#closed) throw new LogUnavailableError('the in-process log is closed');
    if (!this.#broker.available) throw new LogUnavailableError('the in-process broker is unavailable', { retriable: true });
    return this.#broker.produce(
      this.#topic,
      records.map((record) => ({ partition: record.partition, key: record.key, value: record.value, headers: record.headers })),
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#generation++;
  }

  async #reachable(): Promise<void> {
    if (!this.#broker.available) throw new LogUnavailableError('the in-process broker is unavailable', { retriable: true });
  }

  #startPumps(startAt: (partition: number) => number): void {
    const generation = ++this.#generation;
    const count = this.#broker.partitionCount(this.#topic);
    for (let partition = 0; partition < count; partition++) {
      void this.#pump(generation, partition, startAt(partition));
    }
  }

  async #pump(generation: number, index: number, from: number): Promise<void> {
    const handlers = this.#handlers!;
    const partition = this.#broker.partition(this.#topic, index);
    const maxBatch = this.#options.maxBatchRecords ?? 500;
    let position = from;
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (generation === this.#generation) {
      if (!this.#broker.available) {
        await this.#broker.whenAvailable();
        continue;
      }
      if (position >= partition.high) {
        await this.#broker.waitForRecords(partition, position, 1000);
        continue;
      }
      const first = lowerBound(partition.records, position);
      const records = partition.records.slice(first, first + maxBatch);
      // Past the last record delivered; up to the high watermark when nothing is left after it
      // (what compaction removed is skipped, as a Kafka fetch skips it).
      const nextOffset = first + records.length >= partition.records.length ? partition.high : records[records.length - 1]!.offset + 1;
      try {
        await handlers.onBatch({ partition: index, records, nextOffset, highWatermark: partition.high });
      } catch {
        // The cache handles its own errors; a throw here would be a bug: retry the batch like Kafka clients do.
        await new Promise<void>((resolve) => setTimeout(resolve, backoff(0, RETRY.redeliver)));
        continue;
      }
      position = nextOffset;
    }
  }
}

function lowerBound(records: LogRecord[], offset: number): number {
  let low = 0;
  let high = records.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (records[mid]!.offset < offset) low = mid + 1;
    else high = mid;
  }
  return low;
}
