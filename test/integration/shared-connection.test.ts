import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createNearCache, silentLogger, type LogRecord, type NearCache } from '@nearcache/core';
import { countingClient, createTopics, liveGroups } from '../helpers/connections.js';
import { KafkaTestClient, uniqueTopic } from '../helpers/kafka.js';
import { diff, foldTopic, snapshot } from '../helpers/oracle.js';
import { waitFor } from '../helpers/wait.js';

describe('many caches, one connection: the caches of one process share one producer and one consumer', () => {
  const client = new KafkaTestClient();
  const caches: NearCache[] = [];
  const open = (topic: string, kafka: Parameters<typeof createNearCache>[0]['kafka']): NearCache => {
    const cache = createNearCache({ topic, kafka, logger: silentLogger });
    caches.push(cache);
    return cache;
  };

  /** The topic's records; asked again while the test client's metadata lags behind a topic just created. */
  const readAll = async (topic: string): Promise<LogRecord[]> => {
    let records: LogRecord[] = [];
    await waitFor(
      async () => {
        try {
          records = await client.readAll(topic);
          return true;
        } catch {
          return false;
        }
      },
      { timeout: 30_000, interval: 200, message: `the records of ${topic}` },
    );
    return records;
  };

  afterEach(async () => {
    await Promise.all(caches.splice(0).map((cache) => cache.close()));
  });
  afterAll(() => client.close());

  it('three caches on three topics open one admin, one producer and one consumer, which reads the three topics', async () => {
    const topics = await createTopics(client, 3);
    const counting = countingClient(client.brokers);
    const groupIdPrefix = `${uniqueTopic('nc-shared')}.`;
    const named = topics.map((topic) => open(topic, { client: counting.kafka, groupIdPrefix }));
    await Promise.all(named.map((cache) => cache.ready()));

    // Caches started together wait for each other: one consumer start for all.
    expect(counting.made).toEqual({ admin: 1, producer: 1, consumer: 1 });
    expect(counting.maxLive()).toBe(1);
    const admin = await client.admin();
    await waitFor(async () => (await liveGroups(admin, groupIdPrefix)).length === 1, { timeout: 20_000, message: 'one live consumer group' });
    expect(await liveGroups(admin, groupIdPrefix)).toEqual([{ groupId: expect.any(String), topics: [topics.slice().sort()] }]);

    // Each cache still replicates its own topic: a reader with its own connection sees each write.
    const reader = topics.map((topic) => open(topic, { brokers: client.brokers, logLevel: 'nothing', shareConnection: false }));
    await Promise.all(reader.map((cache) => cache.ready()));
    for (const [i, cache] of named.entries()) await cache.set('k', `v${i}`);
    await waitFor(() => reader.every((cache, i) => cache.get('k') === `v${i}`), { message: 'every topic replicated' });
    expect(counting.made.producer).toBe(1);
  });

  it('two processes of three named caches each: both ways replication, read-your-writes, a close and a late cache leave the others whole', async () => {
    const topics = await createTopics(client, 4);
    // Two processes: the clientId differs, so each has connections of its own, shared by its caches.
    const settings = (clientId: string) => ({ brokers: client.brokers, clientId, logLevel: 'nothing' as const });
    const a = topics.slice(0, 3).map((topic) => open(topic, settings('process-a')));
    const b = topics.slice(0, 3).map((topic) => open(topic, settings('process-b')));
    await Promise.all([...a, ...b].map((cache) => cache.ready()));

    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 3; i++) {
        const writer = round % 2 === 0 ? a[i]! : b[i]!;
        await writer.set(`key:${round % 7}`, { round, cache: i });
        // Read-your-writes on the writer, at once.
        expect(writer.get(`key:${round % 7}`)).toEqual({ round, cache: i });
      }
    }
    await Promise.all([...a, ...b].map((cache) => cache.flush()));
    const converged = async (pairs: [NearCache, NearCache, string][]): Promise<void> => {
      const expected = await Promise.all(pairs.map(async ([, , topic]) => foldTopic(await readAll(topic))));
      await waitFor(() => pairs.every(([x, y], i) => diff(snapshot(x), expected[i]!).length === 0 && diff(snapshot(y), expected[i]!).length === 0), {
        timeout: 30_000,
        message: () =>
          pairs.map(([x, y], i) => `${i}: ${diff(snapshot(x), expected[i]!).slice(0, 3)} / ${diff(snapshot(y), expected[i]!).slice(0, 3)}`).join(' | '),
      });
    };
    await converged([0, 1, 2].map((i) => [a[i]!, b[i]!, topics[i]!]));

    // One cache of process a closes: its neighbours read on, without a replay.
    await a[0]!.close();
    // A cache that joins process a later restarts its consumer: the others resume where they are.
    const late = open(topics[3]!, settings('process-a'));
    await late.ready();
    for (let i = 1; i < 3; i++) {
      await b[i]!.set('after', i);
      await a[i]!.set('mine', i);
      expect(a[i]!.get('mine')).toBe(i);
    }
    await late.set('late', true);
    await b[0]!.set('after', 0);
    await Promise.all([...a.slice(1), ...b, late].map((cache) => cache.flush()));
    await converged([1, 2].map((i) => [a[i]!, b[i]!, topics[i]!]));
    expect(a[1]!.get('after')).toBe(1);
    expect(b[2]!.get('mine')).toBe(2);
    expect(b[0]!.get('after')).toBe(0);
    for (const cache of [...a.slice(1), ...b]) expect(cache.stats().records.replayed).toBe(0);
    expect(late.get('late')).toBe(true);
  });
});
