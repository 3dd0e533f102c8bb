import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeReplicationLogContract } from '@nearcache/core/conformance';
import { kafkaHarness } from './harness.js';

// The same contract with the Kafka client on a worker thread (replication: 'worker').
describeReplicationLogContract('contract: Kafka log on a worker thread (real broker)', () => kafkaHarness({ replication: 'worker' }), {
  framework: { describe, it, expect, beforeAll, afterEach, afterAll },
});
