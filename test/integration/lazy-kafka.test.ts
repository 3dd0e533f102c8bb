import { describe, expect, it } from 'vitest';
import { runFixture } from '../helpers/process.js';

// The core loads kafkajs only for a cache on Kafka: an application on the in-process log (or
// its own log) never pays for it. Checked on the built package, as applications load it.
describe('loading @nearcache/core', () => {
  it.each(['esm', 'cjs'])(
    'with the in-process log does not load kafkajs; a cache on Kafka does (%s entry)',
    async (entry) => {
      const child = runFixture('lazy-kafka-child.mjs', { NC_ENTRY: entry });
      const report = await child.next((message) => message.event === 'modules', 30_000);
      expect(report.afterInProcess, 'kafkajs was loaded by a cache on the in-process log').toBe(false);
      expect(report.afterKafka, 'a cache on Kafka did not load kafkajs').toBe(true);
      expect((await child.exited).code).toBe(0);
    },
    40_000,
  );
});
