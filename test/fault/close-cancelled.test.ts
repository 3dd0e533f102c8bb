import { afterAll, describe, expect, it } from 'vitest';
import { createNearCache, kafkaLog, silentLogger, type NearCacheError, type ReplicationLogFactory } from '@nearcache/core';
import { KafkaTestClient, testBrokers } from '../helpers/kafka.js';
import { sleep } from '../helpers/wait.js';

// Guarantee (clean close): work that close() cancels (a lag poll in flight when the admin client
// disconnects) reports nothing.
const client = new KafkaTestClient();

afterAll(async () => {
  await client.close();
});

const kafka = () => ({ brokers: testBrokers(), logLevel: 'nothing' as const });

/** The Kafka log, with its offsets() calls held once `hold()` was called until close() has begun: every lag poll is then in flight at close. */
function heldPolls(factory: ReplicationLogFactory): ReplicationLogFactory & { hold(): void } {
  let holding = false;
  const wrapped = ((context) => {
    const log = factory(context);
    let closing: (() => void) | undefined;
    const closeBegun = new Promise<void>((resolve) => (closing = resolve));
    const offsets = log.offsets.bind(log);
    const close = log.close.bind(log);
    log.offsets = async () => {
      if (holding) await closeBegun;
      return offsets();
    };
    log.close = () => {
      const closed = close();
      closing!();
      return closed;
    };
    return log;
  }) as ReplicationLogFactory & { hold(): void };
  wrapped.hold = () => (holding = true);
  return wrapped;
}

describe('close() cancels work in flight', () => {
  it('a lag poll in flight when close() disconnects the admin client reports nothing', async () => {
    const topic = await client.createTopic();
    const log = heldPolls(kafkaLog(kafka()));
    const cache = createNearCache({ topic, log, logger: silentLogger, lagPollInterval: 10 });
    const errors: NearCacheError[] = [];
    cache.on('error', (error) => errors.push(error));
    await cache.ready();
    await cache.set('k', 1, { durable: true });
    log.hold();
    // Polls pile up, held; close() lets them go on against a closing log.
    await sleep(50);
    await cache.close();
    await sleep(100);
    expect(errors.map((e) => `${e.code}: ${e.message}`)).toEqual([]);
  });

  it('closes with a 10 ms lag poll report nothing (repeated)', async () => {
    const topic = await client.createTopic();
    for (let i = 0; i < 8; i++) {
      const cache = createNearCache({ topic, kafka: kafka(), logger: silentLogger, lagPollInterval: 10 });
      const errors: NearCacheError[] = [];
      cache.on('error', (error) => errors.push(error));
      await cache.ready();
      await cache.set(`k${i}`, i, { durable: true });
      await cache.close();
      expect(
        errors.map((e) => `${e.code}: ${e.message}`),
        `close ${i}`,
      ).toEqual([]);
    }
  });
});
