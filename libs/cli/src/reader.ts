import { randomUUID } from 'node:crypto';
import type { LogRecord } from '@nearcache/core';
import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { kafkaClient, withTimeout, type Connection } from './connection.js';
import { CliError, EXIT } from './exit-codes.js';

/** A message read from `partition`, as the record format reads it (headers as kafkajs gives them). */
function logRecord(partition: number, m: KafkaMessage): LogRecord {
  return {
    partition,
    offset: Number(m.offset),
    key: m.key,
    value: m.value,
    headers: (m.headers ?? {}) as LogRecord['headers'],
    timestamp: Number(m.timestamp),
  };
}

/** A partition's offsets when the read began: the records from `earliest` up to `latest` (exclusive) are read. */
export interface PartitionRange {
  partition: number;
  earliest: number;
  latest: number;
}

/** Reads a topic through kafkajs: its metadata and offsets, then its records. */
export class TopicReader {
  readonly #kafka: Kafka;
  readonly #admin: Admin;
  #consumer: Consumer | undefined;
  #adminConnected = false;

  constructor(
    readonly connection: Connection,
    /** Aborting it ends a read with exit code 130 (a follow ends cleanly instead). */
    readonly signal?: AbortSignal,
  ) {
    this.#kafka = kafkaClient(connection);
    this.#admin = this.#kafka.admin();
  }

  get topic(): string {
    return this.connection.topic;
  }

  async admin(): Promise<Admin> {
    if (!this.#adminConnected) {
      await this.#admin.connect();
      this.#adminConnected = true;
    }
    return this.#admin;
  }

  /** Each partition's earliest and latest offsets; exit 1 when the topic does not exist. */
  ranges(): Promise<PartitionRange[]> {
    return this.#interruptible(withTimeout('connecting to Kafka', this.connection.timeout, this.#ranges()));
  }

  /** `work`, or a rejection with exit code 130 when the signal aborts first. */
  #interruptible<T>(work: Promise<T>): Promise<T> {
    const signal = this.signal;
    if (signal === undefined) return work;
    let onAbort: (() => void) | undefined;
    const interrupted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new CliError(EXIT.interrupted, 'interrupted'));
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    return Promise.race([work, interrupted]).finally(() => signal.removeEventListener('abort', onAbort!));
  }

  async #ranges(): Promise<PartitionRange[]> {
    const admin = await this.admin();
    // listTopics does not create a topic, unlike a metadata request naming it.
    const topics = await admin.listTopics();
    if (!topics.includes(this.topic)) throw new CliError(EXIT.failed, `topic "${this.topic}" does not exist`);
    const offsets = await admin.fetchTopicOffsets(this.topic);
    return offsets.map((o) => ({ partition: o.partition, earliest: Number(o.low), latest: Number(o.high) })).sort((a, b) => a.partition - b.partition);
  }

  #newConsumer(): Consumer {
    const k = this.connection.kafka;
    this.#consumer = this.#kafka.consumer({
      // A group of its own, never committed: every run reads from where it is told.
      groupId: `${k.groupIdPrefix}cli-${randomUUID()}`,
      sessionTimeout: k.sessionTimeout,
      heartbeatInterval: k.heartbeatInterval,
      maxWaitTimeInMs: k.maxWaitTimeInMs,
      allowAutoTopicCreation: false,
      retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 },
    });
    return this.#consumer;
  }

  /**
   * Calls `onBatch` with the records of `ranges` in offset order per partition, up to each
   * range's `latest` (the end when the read began: records written later are not read), and
   * `onProgress` with the records read so far. Resolves when every range is read; rejects
   * after the connection's timeout.
   */
  async read(ranges: PartitionRange[], onBatch: (records: LogRecord[]) => void, onProgress?: (read: number) => void): Promise<void> {
    const pending = new Map(ranges.filter((r) => r.latest > r.earliest).map((r) => [r.partition, r]));
    if (pending.size === 0) return;
    const consumer = this.#newConsumer();
    const positions = new Map(ranges.map((r) => [r.partition, r.earliest]));
    let finish!: () => void;
    let fail!: (error: unknown) => void;
    const done = new Promise<void>((resolve, reject) => {
      finish = resolve;
      fail = reject;
    });
    consumer.on(consumer.events.CRASH, (event) => {
      if (!event.payload.restart) fail(event.payload.error);
    });
    const work = (async () => {
      await consumer.connect();
      await consumer.subscribe({ topic: this.topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: true,
        eachBatch: async ({ batch }: EachBatchPayload) => {
          const range = pending.get(batch.partition);
          if (range === undefined) return;
          const records: LogRecord[] = [];
          for (const m of batch.messages) {
            if (Number(m.offset) >= range.latest) break;
            records.push(logRecord(batch.partition, m));
          }
          if (records.length > 0) onBatch(records);
          // lastOffset covers a compacted tail and transaction markers: the position moves past them.
          const position = Math.min(Number(batch.lastOffset()) + 1, range.latest);
          positions.set(batch.partition, Math.max(positions.get(batch.partition)!, position));
          onProgress?.(ranges.reduce((sum, r) => sum + (positions.get(r.partition)! - r.earliest), 0));
          if (position >= range.latest) {
            pending.delete(batch.partition);
            consumer.pause([{ topic: this.topic, partitions: [batch.partition] }]);
            if (pending.size === 0) finish();
          }
        },
      });
      // Partitions with nothing to read are not fetched.
      const idle = ranges.filter((r) => !pending.has(r.partition)).map((r) => r.partition);
      if (idle.length > 0) consumer.pause([{ topic: this.topic, partitions: idle }]);
      await done;
    })();
    work.catch(() => undefined);
    await this.#interruptible(withTimeout(`reading topic "${this.topic}"`, this.connection.timeout, work));
  }

  /**
   * Follows the topic from `from` (partition to first offset; the latest offsets when the
   * follow began if absent) until `signal` aborts; `onReady` once the consumer runs.
   */
  async follow(from: Map<number, number>, onBatch: (records: LogRecord[]) => void, signal: AbortSignal, onReady: () => void): Promise<void> {
    const consumer = this.#newConsumer();
    let fail!: (error: unknown) => void;
    const crashed = new Promise<never>((_, reject) => (fail = reject));
    consumer.on(consumer.events.CRASH, (event) => {
      if (!event.payload.restart) fail(event.payload.error);
    });
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await withTimeout('connecting to Kafka', this.connection.timeout, consumer.connect());
    await consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }: EachBatchPayload) => {
        const first = from.get(batch.partition) ?? 0;
        const records: LogRecord[] = [];
        for (const m of batch.messages) if (Number(m.offset) >= first) records.push(logRecord(batch.partition, m));
        if (records.length > 0) onBatch(records);
      },
    });
    for (const [partition, offset] of from) consumer.seek({ topic: this.topic, partition, offset: String(offset) });
    const stopped = new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await Promise.race([withTimeout('joining the consumer group', this.connection.timeout, joined), stopped, crashed]);
    if (!signal.aborted) onReady();
    await Promise.race([stopped, crashed]);
  }

  /** Disconnects every client; never throws. */
  async close(): Promise<void> {
    const closing: Array<Promise<unknown>> = [];
    if (this.#consumer) closing.push(this.#consumer.disconnect());
    if (this.#adminConnected) closing.push(this.#admin.disconnect());
    await Promise.allSettled(closing.map((p) => withTimeout('closing', 5000, p)));
  }
}
