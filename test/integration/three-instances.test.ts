import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createNearCache, silentLogger, type NearCache } from '@nearcache/core';
import { KafkaTestClient } from '../helpers/kafka.js';
import { diff, foldTopic, snapshot } from '../helpers/oracle.js';
import { waitFor } from '../helpers/wait.js';

// Each instance has Kafka connections of its own (`shareConnection: false`), as separate services would.
describe('three instances on a real broker, and a fourth that joins later', () => {
  const client = new KafkaTestClient();
  const caches: NearCache[] = [];
  const open = (topic: string): NearCache => {
    const cache = createNearCache({ topic, kafka: { brokers: client.brokers, logLevel: 'nothing', shareConnection: false }, logger: silentLogger });
    caches.push(cache);
    return cache;
  };

  afterEach(async () => {
    await Promise.all(caches.splice(0).map((cache) => cache.close()));
  });
  afterAll(() => client.close());

  it('a set on one is visible on the others; the late instance equals them; all equal the log', async () => {
    const topic = await client.createTopic({ partitions: 3 });
    const [a, b, c] = [open(topic), open(topic), open(topic)];
    await Promise.all([a.ready(), b.ready(), c.ready()]);

    await a.set('user:1', { name: 'Ada' });
    await waitFor(() => b.get('user:1') !== undefined && c.get('user:1') !== undefined, { message: 'user:1 on b and c' });
    expect(b.get('user:1')).toEqual({ name: 'Ada' });
    expect(c.get('user:1')).toEqual({ name: 'Ada' });

    await b.set('user:1', { name: 'Ada Lovelace' });
    await c.set('user:2', { name: 'Grace' }, { ttl: 600_000 });
    await a.delete('user:3');
    for (let i = 0; i < 200; i++) await [a, b, c][i % 3]!.set(`item:${i % 50}`, { i });
    await Promise.all([a, b, c].map((cache) => cache.flush()));

    const d = open(topic);
    await d.ready();
    const expected = foldTopic(await client.readAll(topic));
    expect(expected.get('user:1')).toEqual({ name: 'Ada Lovelace' });
    expect(expected.size).toBe(52);
    // Everything was flushed before d started: ready() alone must bring it level with the log.
    expect(diff(snapshot(d), expected)).toEqual([]);
    await waitFor(() => [a, b, c, d].every((cache) => diff(snapshot(cache), expected).length === 0), {
      timeout: 30_000,
      message: () => [a, b, c, d].map((cache, i) => `#${i}: ${diff(snapshot(cache), expected).slice(0, 3).join(', ')}`).join(' | '),
    });
  });
});
