import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  createNearCache,
  KafkaWorkerLog,
  kafkaWorkerLog,
  silentLogger,
  TopicNotCompactedError,
  type LogBatch,
  type NearCache,
  type NearCacheError,
  type NearCacheOptions,
} from '@nearcache/core';
import { KafkaTestClient } from '../helpers/kafka.js';
import { nextEvent, sleep, waitFor } from '../helpers/wait.js';

// Replication on a worker thread (replication: 'worker'), on the real broker: the worker's flow
// control, its errors, and a worker that dies.
const client = new KafkaTestClient();
const caches: NearCache[] = [];
const logs: KafkaWorkerLog[] = [];

afterEach(async () => {
  await Promise.all(caches.splice(0).map((cache) => cache.close()));
  await Promise.all(logs.splice(0).map((log) => log.close()));
});
afterAll(() => client.close());

const kafka = () => ({ brokers: client.brokers, logLevel: 'nothing' as const, requestTimeout: 5000, sessionTimeout: 10_000, heartbeatInterval: 1000 });

/** A cache replicating on a worker thread, with its worker log at hand. */
function workerCache(topic: string, extra: Partial<NearCacheOptions> = {}): { cache: NearCache; log: () => KafkaWorkerLog } {
  const factory = kafkaWorkerLog(kafka());
  let log: KafkaWorkerLog | undefined;
  const cache = createNearCache({ topic, log: (context) => (log = factory(context) as KafkaWorkerLog), logger: silentLogger, ...extra });
  caches.push(cache);
  return { cache, log: () => log! };
}

describe('replication on a worker thread', () => {
  it('stops fetching while the cache does not apply, keeps its buffer bounded, and resumes', async () => {
    const topic = await client.createTopic();
    const count = 3000;
    const value = Buffer.alloc(2048, 'v');
    const producer = client.kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    for (let first = 0; first < count; first += 500) {
      const messages = Array.from({ length: 500 }, (_, i) => ({ key: `k${first + i}`, value }));
      await producer.send({ topic, acks: -1, messages });
    }
    await producer.disconnect();

    const maxBufferedBytes = 65_536;
    const log = kafkaWorkerLog(kafka(), { maxBufferedBytes })({
      topic,
      instanceId: `flow-${Date.now()}`,
      maxValueBytes: 4096,
      maxKeyBytes: 64,
      logger: silentLogger,
    }) as KafkaWorkerLog;
    logs.push(log);
    // The cache's thread is busy: nothing is applied until the gate opens.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const offsets: number[] = [];
    const errors: NearCacheError[] = [];
    await log.open();
    await log.consume({
      startOffset: () => 0,
      onBatch: async (batch: LogBatch) => {
        await gate;
        for (const record of batch.records) offsets.push(record.offset);
      },
      onError: (error) => errors.push(error),
    });

    await waitFor(() => log.flow().paused, { timeout: 30_000, message: () => `the worker to pause fetching (${JSON.stringify(log.flow())})` });
    // One fetch response (at most about 1 MiB for this partition) may land after the bound was crossed; the topic holds 6 MiB.
    const bound = maxBufferedBytes + 1.5 * 1024 * 1024;
    for (let i = 0; i < 20; i++) {
      expect(log.flow().bufferedBytes, 'bytes waiting on the cache thread while paused').toBeLessThanOrEqual(bound);
      await sleep(100);
    }
    expect(offsets).toEqual([]);

    open();
    await waitFor(() => offsets.length >= count, {
      timeout: 60_000,
      message: () => `every record to arrive (${offsets.length}/${count}, ${JSON.stringify(log.flow())})`,
    });
    const flow = log.flow();
    expect(offsets).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(flow.peakBufferedBytes).toBeLessThanOrEqual(bound);
    expect(flow.pauses).toBeGreaterThanOrEqual(1);
    await waitFor(() => !log.flow().paused && log.flow().bufferedBytes === 0, { message: 'the worker to fetch again once the cache caught up' });
    expect(errors).toEqual([]);
  });

  it('reports errors of the log as the same typed errors as inline', async () => {
    const topic = await client.createTopic({ config: { 'cleanup.policy': 'delete' } });
    const { cache } = workerCache(topic, { bootstrapTimeout: 20_000 });
    const error = await cache.ready().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TopicNotCompactedError);
    expect(error).toMatchObject({ code: 'NC_TOPIC_NOT_COMPACTED', retriable: false });
    expect((error as Error).message).toContain(`topic "${topic}" has cleanup.policy=delete`);
  });

  it('a worker that dies is reported; writes and close() do not hang', async () => {
    const topic = await client.createTopic();
    const { cache, log } = workerCache(topic, { flushTimeout: 3000, closeTimeout: 2000 });
    await cache.ready();
    await cache.set('before', 1, { durable: true });
    const reported = nextEvent<[NearCacheError]>(cache, 'error');
    await log().thread!.terminate();
    const [error] = await reported;
    expect(error).toMatchObject({ code: 'NC_LOG_UNAVAILABLE', retriable: false });
    expect(error.message).toContain('replication worker');
    // The cache keeps what it holds and still takes writes locally; durable ones reject in time.
    expect(cache.get('before')).toBe(1);
    const durable = await cache.set('after', 2, { durable: true }).catch((e: unknown) => e);
    expect(durable).toMatchObject({ code: expect.stringMatching(/^NC_(LOG_UNAVAILABLE|REPLICATION_TIMEOUT)$/) });
    expect(cache.get('after')).toBe(2);
    await cache.close();
    expect(cache.state).toBe('closed');
  });

  it('a worker that dies before the cache is ready fails ready() instead of leaving it waiting', async () => {
    const topic = await client.createTopic();
    // A partition whose records the cache cannot reach before the worker is gone.
    await client.produce(topic, [{ key: 'k', value: 'v' }]);
    const { cache, log } = workerCache(topic, { bootstrapTimeout: 30_000 });
    await waitFor(() => log()?.thread !== undefined, { message: 'the worker to start' });
    await log().thread!.terminate();
    const error = await cache.ready().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'NC_LOG_UNAVAILABLE' });
  });
});
