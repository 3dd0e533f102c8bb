import { fileURLToPath } from 'node:url';
import { InProcessBroker, inProcessLog, kafkaLog, kafkaWorkerLog } from '@nearcache/core';
import type { ReplicationLogHarness } from '@nearcache/core/conformance';
import { KafkaTestClient } from '../helpers/kafka.js';

const closeChild = (kind: string) => (topic: string) => ({ args: [fileURLToPath(new URL('../fixtures/close-child.mjs', import.meta.url)), kind, topic] });

let topicCounter = 0;

export function inProcessHarness(): ReplicationLogHarness & { broker: InProcessBroker } {
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
    closeChild: closeChild('in-process'),
    async close() {},
  };
}

/**
 * The Kafka log on the real broker; `replication: 'worker'` runs it on a worker thread
 * (`kafkaWorkerLog`), with a small buffer bound so that its flow control is exercised too.
 */
export function kafkaHarness(
  options: { brokers?: string[]; outage?: ReplicationLogHarness['outage']; replication?: 'inline' | 'worker' } = {},
): ReplicationLogHarness & { client: KafkaTestClient } {
  const client = new KafkaTestClient(options.brokers);
  const worker = options.replication === 'worker';
  return {
    name: worker ? 'kafka (worker thread)' : 'kafka',
    client,
    newTopic: (topicOptions = {}) => client.createTopic(topicOptions),
    log: () => {
      const kafka = { brokers: client.brokers, logLevel: 'nothing' as const, requestTimeout: 5000, sessionTimeout: 10_000, heartbeatInterval: 1000 };
      return worker ? kafkaWorkerLog(kafka, { maxBufferedBytes: 256 * 1024 }) : kafkaLog(kafka);
    },
    produce: (topic, records) => client.produce(topic, records),
    records: (topic) => client.readAll(topic),
    compact: (topic, until) => client.compact(topic, until),
    ...(options.outage ? { outage: options.outage } : {}),
    closeChild: closeChild(worker ? 'kafka-worker' : 'kafka'),
    close: () => client.close(),
  };
}
