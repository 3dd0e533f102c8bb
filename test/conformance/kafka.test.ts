import { describe } from 'vitest';
import { describeContract } from './contract.js';
import { kafkaHarness } from './harness.js';

describe('contract: Kafka log (real broker)', () => {
  describeContract(() => kafkaHarness());
});
