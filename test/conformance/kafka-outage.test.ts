import { afterAll, beforeAll, describe } from 'vitest';
import { startCluster, type LocalCluster } from '../../scripts/kafka/local-kafka.mjs';
import { describeContract } from './contract.js';
import { kafkaHarness } from './harness.js';

// Its own single-node broker, stopped and restarted by the test: other tests keep theirs.
let cluster: LocalCluster;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 1, name: 'outage', basePort: 0, log: () => undefined, stopOnExit: true });
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('contract: Kafka log, broker stopped and restarted', () => {
  describeContract(
    () =>
      kafkaHarness({
        brokers: cluster.brokers,
        outage: {
          down: () => cluster.stopNode(0),
          up: () => cluster.startNode(0),
        },
      }),
    { sections: [7] },
  );
});
