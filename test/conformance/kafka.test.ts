import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeReplicationLogContract } from '@nearcache/core/conformance';
import { kafkaHarness } from './harness.js';

describeReplicationLogContract('contract: Kafka log (real broker)', () => kafkaHarness(), {
  framework: { describe, it, expect, beforeAll, afterEach, afterAll },
});
