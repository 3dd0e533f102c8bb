import type { LogRecord, NearCacheOptions, RawRecord, ReplicationLogFactory } from '@nearcache/core';
import { InProcessBroker, inProcessLog, kafkaLog, silentLogger } from '@nearcache/core';
import { KafkaTestClient } from '../helpers/kafka.js';

/** What the contract suite needs from a replication log to test the cache on it. */
export interface ContractHarness {
  readonly name: string;
  /** A fresh topic with `partitions` partitions (fast compaction where the log compacts). */
  newTopic(options?: { partitions?: number }): Promise<string>;
  /** The log factory for a cache on `topic`. */
  log(topic: string): ReplicationLogFactory;
  /** Appends records as they are. Returns their offsets. */
  produce(topic: string, records: RawRecord[]): Promise<number[]>;
  /** Every record of the topic, as a fresh reader sees it. */
  records(topic: string): Promise<LogRecord[]>;
  /** Runs the log cleaner until `until` holds for the topic's records. */
  compact(topic: string, until: (records: LogRecord[]) => boolean): Promise<void>;
  /** Makes the log unreachable and reachable again; absent where a test cannot do that. */
  outage?: { down(): Promise<void>; up(): Promise<void> };
  close(): Promise<void>;
}

/** Options shared by every cache the suite creates. */
export function baseOptions(harness: ContractHarness, topic: string, extra: Partial<NearCacheOptions> = {}): NearCacheOptions {
  return { topic, log: harness.log(topic), logger: silentLogger, lagPollInterval: 200, closeTimeout: 2000, ...extra };
}

let topicCounter = 0;

export function inProcessHarness(): ContractHarness & { broker: InProcessBroker } {
  const broker = new InProcessBroker();
  return {
    name: 'in-process',
    broker,
    async newTopic(options = {}) {
      const topic = `contract-${++topicCounter}`;
      broker.createTopic(topic, { partitions: options.partitions ?? 1 });
      return topic;
    },
    log: () => inProcessLog(broker),
    async produce(topic, records) {
      return broker.produce(topic, records);
    },
    async records(topic) {
      return broker.records(topic);
    },
    async compact(topic, until) {
      broker.compact(topic);
      if (!until(broker.records(topic))) throw new Error(`in-process compaction of ${topic} did not reach the expected state`);
    },
    outage: {
      async down() {
        broker.setAvailable(false);
      },
      async up() {
        broker.setAvailable(true);
      },
    },
    async close() {},
  };
}

export function kafkaHarness(options: { brokers?: string[]; outage?: ContractHarness['outage'] } = {}): ContractHarness & { client: KafkaTestClient } {
  const client = new KafkaTestClient(options.brokers);
  return {
    name: 'kafka',
    client,
    newTopic: (topicOptions = {}) => client.createTopic(topicOptions),
    log: () => kafkaLog({ brokers: client.brokers, logLevel: 'nothing', requestTimeout: 5000, sessionTimeout: 10_000, heartbeatInterval: 1000 }),
    produce: (topic, records) => client.produce(topic, records),
    records: (topic) => client.readAll(topic),
    compact: (topic, until) => client.compact(topic, until),
    ...(options.outage ? { outage: options.outage } : {}),
    close: () => client.close(),
  };
}
