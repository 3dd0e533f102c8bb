import { describe } from 'vitest';
import { describeContract } from './contract.js';
import { inProcessHarness } from './harness.js';

describe('contract: in-process log', () => {
  describeContract(inProcessHarness, { sections: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] });
});
