import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeReplicationLogContract } from '@nearcache/core/conformance';
import { startCluster, type LocalCluster } from '../../scripts/kafka/local-kafka.mjs';
import { kafkaHarness } from './harness.js';

// Its own single-node broker, stopped and restarted by the test: other tests keep theirs.
let cluster: LocalCluster;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 1, name: 'outage', basePort: 0, log: () => undefined, stopOnExit: true });
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
});

describeReplicationLogContract(
  'contract: Kafka log, broker stopped and restarted',
  () =>
    kafkaHarness({
      brokers: cluster.brokers,
      outage: {
        down: () => cluster.stopNode(0),
        up: () => cluster.startNode(0),
      },
    }),
  { framework: { describe, it, expect, beforeAll, afterEach, afterAll }, sections: [7] },
);
