import { afterAll, beforeAll, describe, it } from 'vitest';
import { createNearCache, silentLogger, type NearCache, type ReplicationMode } from '@nearcache/core';
import { KafkaTestClient, NO_CLEANING } from '../helpers/kafka.js';
import { commandArbitrary, fc, runScenario } from '../helpers/property.js';

// Property-based convergence on a real broker: 20 random interleavings of set, delete, clear and
// TTL across three instances (see test/helpers/property.ts). The instances and the topic are
// shared by the runs; each run has its own key prefix and is checked on its keys only. Once with
// every instance inline, once with two of the three replicating on a worker thread.
const client = new KafkaTestClient();

afterAll(async () => {
  await client.close();
});

describe.each<[string, ReplicationMode[]]>([
  ['inline', ['inline', 'inline', 'inline']],
  ['two of them on a worker thread', ['inline', 'worker', 'worker']],
])('property: three instances on a real broker (%s)', (_name, modes) => {
  const caches: Array<NearCache<unknown>> = [];
  let topic: string;

  beforeAll(async () => {
    // Compacted, but not cleaned during the test: the time-travel check maps values to log positions.
    topic = await client.createTopic({ partitions: 2, config: NO_CLEANING });
    for (const replication of modes) {
      caches.push(
        createNearCache<unknown>({
          topic,
          kafka: { brokers: client.brokers, logLevel: 'nothing', requestTimeout: 5000, sessionTimeout: 10_000, heartbeatInterval: 1000, maxWaitTimeInMs: 50 },
          replication,
          logger: silentLogger,
          lagPollInterval: 200,
        }),
      );
    }
    await Promise.all(caches.map((c) => c.ready()));
  });

  afterAll(async () => {
    await Promise.all(caches.map((c) => c.close()));
  });

  it('20 random interleavings converge, read their writes and never travel back in time', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(commandArbitrary({ instances: 3, replay: false }), async (commands) => {
        run++;
        await runScenario({ caches, ns: `run${run}:`, records: () => client.readAll(topic), convergeTimeout: 20_000 }, commands);
      }),
      { numRuns: 20, endOnFailure: true },
    );
  }, 170_000);
});
