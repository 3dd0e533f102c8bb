import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeReplicationLogContract } from '@nearcache/core/conformance';
import { inProcessHarness } from './harness.js';

describeReplicationLogContract('contract: in-process log', inProcessHarness, {
  framework: { describe, it, expect, beforeAll, afterEach, afterAll },
  sections: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18],
});
