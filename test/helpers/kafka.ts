import { randomUUID } from 'node:crypto';
import kafkajs from 'kafkajs';
import type { Admin, Kafka } from 'kafkajs';
import type { LogRecord, NearCacheOptions, RawRecord } from '@nearcache/core';
import { waitFor } from './wait.js';

const { Kafka: KafkaClient, logLevel } = kafkajs;

/** The brokers the tests run against: `KAFKA_BROKERS`, which `npm test` sets after starting a local broker. */
export function testBrokers(): string[] {
  const brokers = process.env.KAFKA_BROKERS;
  if (!brokers) throw new Error('KAFKA_BROKERS is not set: run the tests with `npm test`, which starts a local Kafka broker');
  return brokers
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
}

/** A topic name no other test uses. */
export function uniqueTopic(prefix = 'nc-test'): string {
  return `${prefix}-${randomUUID().slice(0, 12)}`;
}

/** Topic settings that make the log cleaner compact and drop tombstones within seconds. */
export const FAST_COMPACTION: Record<string, string> = {
  'cleanup.policy': 'compact',
  'segment.ms': '100',
  'min.cleanable.dirty.ratio': '0.01',
  'delete.retention.ms': '100',
  'min.compaction.lag.ms': '0',
  'max.compaction.lag.ms': '1000',
};

/**
 * Topic settings for tests that compare instances with the log while records are in flight:
 * compacted, but the log cleaner leaves the active segment alone for the length of a test, so
 * every record written stays readable.
 */
export const NO_CLEANING: Record<string, string> = {
  'segment.ms': '3600000',
  'max.compaction.lag.ms': '3600000',
  'min.cleanable.dirty.ratio': '0.5',
};

/** Kafka options for caches in tests that stop or kill brokers: short deadlines, quick group failover. */
export function faultTestKafka(brokers: string[]): NonNullable<NearCacheOptions['kafka']> {
  return { brokers, logLevel: 'nothing', requestTimeout: 3000, connectionTimeout: 1000, sessionTimeout: 10_000, heartbeatInterval: 1000 };
}

/** Test-side Kafka access: topics, raw records, a fresh reader. One per test file. */
export class KafkaTestClient {
  readonly kafka: Kafka;
  readonly #admin: Admin;
  #connected: Promise<void> | undefined;
  readonly #topics = new Set<string>();

  constructor(readonly brokers: string[] = testBrokers()) {
    this.kafka = new KafkaClient({ clientId: 'nearcache-tests', brokers, logLevel: logLevel.NOTHING, retry: { retries: 5 } });
    this.#admin = this.kafka.admin();
  }

  async admin(): Promise<Admin> {
    this.#connected ??= this.#admin.connect();
    await this.#connected;
    return this.#admin;
  }

  /**
   * Creates a compacted topic that compacts fast; returns its name once every partition has a
   * leader in the metadata the broker serves (on a loaded machine, the wait for leaders inside
   * `createTopics` can see the new topic as unknown for a moment: that is "not yet", not failure).
   */
  async createTopic(options: { partitions?: number; config?: Record<string, string>; name?: string } = {}): Promise<string> {
    const topic = options.name ?? uniqueTopic();
    const partitions = options.partitions ?? 1;
    const admin = await this.admin();
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: [
          {
            topic,
            numPartitions: partitions,
            replicationFactor: -1,
            configEntries: Object.entries({ ...FAST_COMPACTION, ...options.config }).map(([name, value]) => ({ name, value })),
          },
        ],
      });
    } catch (error) {
      // kafkajs waits for the leaders while the broker says they are not available, not while a
      // busy broker still says it does not host the new partitions: then they are waited for below.
      const failure = error as { type?: string; cause?: { type?: string } };
      if (failure.type !== 'UNKNOWN_TOPIC_OR_PARTITION' && failure.cause?.type !== 'UNKNOWN_TOPIC_OR_PARTITION') throw error;
    }
    this.#topics.add(topic);
    await waitFor(
      async () => {
        const metadata = await admin.fetchTopicMetadata({ topics: [topic] }).catch(() => undefined);
        const found = metadata?.topics.find((t) => t.name === topic);
        return found !== undefined && found.partitions.length === partitions && found.partitions.every((p) => p.leader >= 0);
      },
      { timeout: 30_000, interval: 50, message: `every partition of the new topic ${topic} to have a leader` },
    );
    return topic;
  }

  /** Produces records as they are, bypassing the cache (foreign, forged or hostile records). Returns their offsets. */
  async produce(topic: string, records: RawRecord[]): Promise<number[]> {
    const producer = this.kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      const offsets: number[] = [];
      for (const record of records) {
        const [meta] = await producer.send({
          topic,
          acks: -1,
          messages: [
            {
              partition: record.partition ?? 0,
              key: record.key === null ? null : Buffer.from(record.key),
              value: record.value === null ? null : Buffer.from(record.value),
              headers: Object.fromEntries(Object.entries(record.headers ?? {}).map(([k, v]) => [k, Buffer.from(v)])),
            },
          ],
        });
        offsets.push(Number(meta!.baseOffset));
      }
      return offsets;
    } finally {
      await producer.disconnect();
    }
  }

  /** Every record now in the topic, read by a fresh consumer up to the end offsets. */
  async readAll(topic: string, timeout = 30_000): Promise<LogRecord[]> {
    const admin = await this.admin();
    const ends = await admin.fetchTopicOffsets(topic);
    const targets = new Map(ends.map((o) => [o.partition, { low: Number(o.low), high: Number(o.high) }]));
    const positions = new Map([...targets].map(([p, o]) => [p, o.low]));
    const done = (): boolean => [...targets].every(([p, o]) => o.high <= o.low || (positions.get(p) ?? 0) >= o.high);
    const records: LogRecord[] = [];
    if (done()) return records;
    const consumer = this.kafka.consumer({ groupId: `nc-test-reader-${randomUUID()}`, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    try {
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) {
            records.push({
              partition: batch.partition,
              offset: Number(m.offset),
              key: m.key,
              value: m.value,
              headers: (m.headers ?? {}) as LogRecord['headers'],
              timestamp: Number(m.timestamp),
            });
          }
          positions.set(batch.partition, Number(batch.lastOffset()) + 1);
        },
      });
      await waitFor(done, { timeout, message: `a fresh reader to reach the end of ${topic}` });
    } finally {
      await consumer.disconnect();
    }
    return records.filter((r) => r.offset < targets.get(r.partition)!.high);
  }

  /**
   * Makes the log cleaner run: keeps appending a small filler record (which rolls the active
   * segment) until `until(records)` holds for what a fresh reader sees.
   */
  async compact(topic: string, until: (records: LogRecord[]) => boolean, timeout = 60_000): Promise<void> {
    let records: LogRecord[] = [];
    await waitFor(
      async () => {
        await this.produce(topic, [{ key: '\u0000nc:filler', value: 'x' }]);
        records = await this.readAll(topic);
        return until(records);
      },
      { timeout, interval: 250, message: () => `the log cleaner to compact ${topic} (${records.length} records)` },
    );
  }

  async close(): Promise<void> {
    if (this.#connected) {
      const admin = await this.admin();
      await admin.deleteTopics({ topics: [...this.#topics] }).catch(() => undefined);
      await admin.disconnect();
    }
  }
}
