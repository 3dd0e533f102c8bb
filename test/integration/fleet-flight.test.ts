import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createNearCache, silentLogger, type NearCache } from '@nearcache/core';
import { KafkaTestClient } from '../helpers/kafka.js';
import { diff, foldTopic, snapshot } from '../helpers/oracle.js';
import { waitFor } from '../helpers/wait.js';

// Fleet-wide single flight (docs/consistency.md, section 18) on a real broker: ten instances,
// each with its own Kafka connections as separate services would have, miss one key together.
describe('fleet-wide single flight on a real broker', () => {
  const client = new KafkaTestClient();
  const caches: NearCache[] = [];
  const open = (topic: string): NearCache => {
    // A wait no run reaches (every wait here ends on a record, never on its deadline): the bound is
    // on loads, not on time. A deadline a heavily loaded machine could reach would let waiters load
    // at it, as documented, and the count would measure the machine. Separate connections, as ten
    // services would have.
    const cache = createNearCache({
      topic,
      kafka: { brokers: client.brokers, logLevel: 'nothing', shareConnection: false },
      logger: silentLogger,
      fleetWait: 600_000,
    });
    caches.push(cache);
    return cache;
  };

  afterEach(async () => {
    await Promise.all(caches.splice(0).map((cache) => cache.close()));
  });
  afterAll(() => client.close());

  it('ten instances missing one key at once call the loader at most twice, and all end up with the value of the log', async () => {
    const topic = await client.createTopic({ partitions: 3 });
    const fleet = Array.from({ length: 10 }, () => open(topic));
    await Promise.all(fleet.map((cache) => cache.ready()));
    for (const key of ['report:1', 'report:2']) {
      let calls = 0;
      const loaded: unknown[] = [];
      const loader = async (): Promise<{ key: string; load: number }> => {
        const value = { key, load: ++calls };
        loaded.push(value);
        return value;
      };
      const answers = await Promise.all(fleet.map((cache) => cache.wrap(key, loader)));
      expect(calls).toBeGreaterThanOrEqual(1);
      expect(calls).toBeLessThanOrEqual(2);
      for (const answer of answers) expect(loaded).toContainEqual(answer);
    }
    await Promise.all(fleet.map((cache) => cache.flush()));
    const expected = foldTopic(await client.readAll(topic));
    expect([...expected.keys()].sort()).toEqual(['report:1', 'report:2']);
    await waitFor(() => fleet.every((cache) => diff(snapshot(cache), expected).length === 0), {
      timeout: 30_000,
      message: () => fleet.map((cache, i) => `#${i}: ${diff(snapshot(cache), expected).slice(0, 3).join(', ')}`).join(' | '),
    });
    for (const cache of fleet) expect(cache.stats().records.rejected).toBe(0);
  }, 120_000);
});
