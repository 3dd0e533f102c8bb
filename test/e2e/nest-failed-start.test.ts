import { describe, expect, it } from 'vitest';
import { testBrokers, uniqueTopic } from '../helpers/kafka.js';
import { runFixture } from '../helpers/process.js';

// A Nest start that fails on an error of the cache module, with the error caught by the
// application, must not leave a cache connected to Kafka: the process exits on its own.
describe('a failed Nest start on a real broker', () => {
  it.each([
    ['placeholder', 'NC_UNRESOLVABLE_PLACEHOLDER'],
    ['collision', 'NC_DEFAULT_KEY_COLLISION'],
    ['duplicate-name', 'NC_DUPLICATE_CACHE_NAME'],
    ['unknown-cache', 'NC_UNKNOWN_CACHE'],
  ])('%s: the error has its code and the process exits on its own', async (kind, code) => {
    const child = runFixture('nest-failed-start.mjs', { KAFKA_BROKERS: testBrokers().join(','), NC_TOPIC: uniqueTopic('nest-failed-start'), NC_CASE: kind });
    try {
      const failed = await child.next((message) => message.event === 'failed' || message.event === 'started');
      expect(failed).toMatchObject({ event: 'failed', code });
      // A cache left connected keeps the process alive for ever; closed, it exits well within this.
      let timer: NodeJS.Timeout | undefined;
      const exit = await Promise.race([
        child.exited,
        new Promise<'still running'>((resolve) => (timer = setTimeout(() => resolve('still running'), 30_000))),
      ]).finally(() => clearTimeout(timer));
      expect(exit).toEqual({ code: 0, signal: null });
    } finally {
      await child.kill();
    }
  });
});
