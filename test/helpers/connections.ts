import kafkajs from 'kafkajs';
import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';
import type { KafkaTestClient } from './kafka.js';
import { waitFor } from './wait.js';

const { Kafka: KafkaClient, logLevel, AssignerProtocol } = kafkajs;

/** A kafkajs client that counts the admins, producers and consumers made from it, and the consumers connected at once. */
export function countingClient(brokers: string[]): {
  kafka: Kafka;
  made: { admin: number; producer: number; consumer: number };
  live: () => number;
  maxLive: () => number;
} {
  const kafka = new KafkaClient({ clientId: 'nearcache-shared-test', brokers, logLevel: logLevel.NOTHING });
  const made = { admin: 0, producer: 0, consumer: 0 };
  let live = 0;
  let maxLive = 0;
  const admin = kafka.admin.bind(kafka);
  const producer = kafka.producer.bind(kafka);
  const consumer = kafka.consumer.bind(kafka);
  kafka.admin = (config?: Parameters<Kafka['admin']>[0]): Admin => {
    made.admin++;
    return admin(config);
  };
  kafka.producer = (config?: Parameters<Kafka['producer']>[0]): Producer => {
    made.producer++;
    return producer(config);
  };
  kafka.consumer = (config: Parameters<Kafka['consumer']>[0]): Consumer => {
    made.consumer++;
    const made_ = consumer(config);
    let connected = false;
    made_.on(made_.events.CONNECT, () => {
      if (connected) return;
      connected = true;
      maxLive = Math.max(maxLive, ++live);
    });
    made_.on(made_.events.DISCONNECT, () => {
      if (!connected) return;
      connected = false;
      live--;
    });
    return made_;
  };
  return { kafka, made, live: () => live, maxLive: () => maxLive };
}

/**
 * `count` new topics, created one after the other (the test client's admin is not used
 * concurrently). kafkajs can fail a creation while it waits for the new topic's leaders (its
 * metadata lags behind the broker when other tests create topics at the same time): such a
 * creation is tried again, under a new name.
 */
export async function createTopics(client: KafkaTestClient, count: number, partitions = 2): Promise<string[]> {
  const topics: string[] = [];
  let failure: unknown;
  await waitFor(
    async () => {
      try {
        topics.push(await client.createTopic({ partitions }));
      } catch (error) {
        failure = error;
      }
      return topics.length === count;
    },
    { timeout: 30_000, interval: 200, message: () => `${count} topics created (last failure: ${String(failure)})` },
  );
  return topics;
}

/** The groups of `prefix` that have members now, with the topics assigned to each member. */
export async function liveGroups(admin: Admin, prefix: string): Promise<{ groupId: string; topics: string[][] }[]> {
  const { groups } = await admin.listGroups();
  const ids = groups.map((g) => g.groupId).filter((id) => id.startsWith(prefix));
  if (ids.length === 0) return [];
  const described = await admin.describeGroups(ids);
  return described.groups
    .filter((g) => g.members.length > 0)
    .map((g) => ({
      groupId: g.groupId,
      topics: g.members.map((m) => Object.keys(AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment ?? {}).sort()),
    }));
}
