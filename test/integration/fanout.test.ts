import { afterAll, describe, expect, it } from 'vitest';
import { createNearCache, silentLogger, type NearCache } from '@nearcache/core';
import { KafkaTestClient, NO_CLEANING } from '../helpers/kafka.js';
import { foldTopic } from '../helpers/oracle.js';
import { runFixture, type FixtureProcess } from '../helpers/process.js';
import { sleep } from '../helpers/wait.js';

// Fan-out: ten instances in three processes (each instance with its own Kafka clients) follow
// one writer on one broker. Every full replica converges to the oracle (a fresh reader folding
// the topic), a filtered instance to the oracle's kept keys, an instance in invalidate mode to
// nothing it did not write. The bench scenario `fanout` runs the same shape at 10, 25 and 50
// instances and measures it (docs/operations.md, Capacity model).
const KEYS = 40;
const FILTER_EVERY = 4;
// One full replica gives a rack (follower fetching): on a broker without a rack-aware replica
// selector it fetches from the leader, as the others.
const HOSTS: Array<Array<{ mode?: 'replicate' | 'invalidate'; filterEvery?: number; rackId?: string }>> = [
  [{}, {}, {}, { rackId: 'zone-a' }],
  [{}, {}, {}],
  [{}, { mode: 'invalidate' }, { filterEvery: FILTER_EVERY }],
];
const numberOf = (key: string): number => Number(key.slice(key.lastIndexOf(':') + 1));

/** Writes `count` records from `cache` at a steady pace (ten every 10 ms), every seventh a delete. */
async function steadyWrites(cache: NearCache, from: number, count: number): Promise<void> {
  for (let n = from; n < from + count; n++) {
    const key = `fan:${n % KEYS}`;
    if (n % 7 === 6) void cache.delete(key);
    else void cache.set(key, { n, by: 'writer' });
    if (n % 10 === 9) await sleep(10);
  }
  await cache.flush({ timeout: 30_000 });
}

describe('fan-out: ten instances in three processes on one broker', () => {
  const kafka = new KafkaTestClient();
  const hosts: FixtureProcess[] = [];
  afterAll(async () => {
    await Promise.all(hosts.map((host) => host.kill()));
    await kafka.close();
  });

  it('every instance converges to the oracle: full replicas hold it all, a filter its keys, invalidate mode nothing', async () => {
    const topic = await kafka.createTopic({ partitions: 2, config: NO_CLEANING });
    const writer = createNearCache({ topic, kafka: { brokers: kafka.brokers, logLevel: 'nothing' }, logger: silentLogger });
    try {
      await writer.ready({ timeout: 60_000 });
      // Some records before the instances start (they read them in their bootstrap), the rest while they follow the topic.
      await steadyWrites(writer, 0, 100);
      for (const specs of HOSTS)
        hosts.push(runFixture('fanout-host.mjs', { KAFKA_BROKERS: kafka.brokers.join(','), NC_TOPIC: topic, NC_INSTANCES: JSON.stringify(specs) }));
      await Promise.all(hosts.map((host) => host.next((m) => m.event === 'ready', 90_000)));
      await steadyWrites(writer, 100, 200);

      const oracle = foldTopic(await kafka.readAll(topic));
      const expected = new Map([...oracle].map(([key, value]) => [key, (value as { n: number }).n]));
      expect(expected.size).toBeGreaterThan(0);
      expect(expected.size).toBeLessThan(KEYS);
      const want = (spec: { mode?: string; filterEvery?: number }): Map<string, number> =>
        spec.mode === 'invalidate' ? new Map() : new Map([...expected].filter(([key]) => !spec.filterEvery || numberOf(key) % spec.filterEvery === 0));
      const matches = (message: Record<string, unknown>, specs: (typeof HOSTS)[number]): boolean =>
        message.event === 'state' &&
        (message.instances as Array<Array<[string, number]>>).every((entries, i) => {
          const wanted = want(specs[i]!);
          return entries.length === wanted.size && entries.every(([key, n]) => wanted.get(key) === n);
        });
      await Promise.all(hosts.map((host, h) => host.next((m) => matches(m, HOSTS[h]!), 90_000)));
      const errors = hosts.flatMap((host) => host.messages.filter((m) => m.event === 'error'));
      expect(errors).toEqual([]);
    } finally {
      await writer.close();
    }
  }, 240_000);
});
