import type { Worker } from 'node:worker_threads';
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
  ReplicationWorkerError,
} from '@nearcache/core';
import { KafkaTestClient } from '../helpers/kafka.js';
import { sleep, waitFor } from '../helpers/wait.js';

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

/** A new topic holding `count` records `k<i>` of 2 KiB each (500 per send). */
async function topicOf(count: number): Promise<string> {
  const topic = await client.createTopic();
  const value = Buffer.alloc(2048, 'v');
  const producer = client.kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  for (let first = 0; first < count; first += 500) {
    const messages = Array.from({ length: 500 }, (_, i) => ({ key: `k${first + i}`, value }));
    await producer.send({ topic, acks: -1, messages });
  }
  await producer.disconnect();
  return topic;
}

describe('replication on a worker thread', () => {
  it('stops fetching while the cache does not apply, keeps its buffer bounded, and resumes', async () => {
    const count = 3000;
    const topic = await topicOf(count);

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

  it('fetches again as soon as the cache caught up, without waiting out maxWaitTimeInMs', async () => {
    const count = 2000;
    const topic = await topicOf(count);
    // A bound far below the topic's 3.9 MiB: fetching stops after nearly every batch. A consumer
    // that paused would look again only after its maxWaitTimeInMs, here a minute each time.
    const log = kafkaWorkerLog(
      { ...kafka(), maxWaitTimeInMs: 60_000 },
      { maxBufferedBytes: 65_536 },
    )({
      topic,
      instanceId: `resume-${Date.now()}`,
      maxValueBytes: 4096,
      maxKeyBytes: 64,
      logger: silentLogger,
    }) as KafkaWorkerLog;
    logs.push(log);
    const offsets: number[] = [];
    await log.open();
    await log.consume({
      startOffset: () => 0,
      onBatch: async (batch: LogBatch) => {
        // A cache that takes a moment per batch: the worker is paused by the time it is applied.
        await sleep(20);
        for (const record of batch.records) offsets.push(record.offset);
      },
      onError: () => undefined,
    });
    await waitFor(() => offsets.length >= count, {
      timeout: 45_000,
      message: () => `every record to arrive (${offsets.length}/${count}, ${JSON.stringify(log.flow())})`,
    });
    expect(offsets).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(log.flow().pauses, 'the bound was crossed').toBeGreaterThanOrEqual(2);
  });

  it('reports errors of the log as the same typed errors as inline', async () => {
    const topic = await client.createTopic({ config: { 'cleanup.policy': 'delete' } });
    const { cache } = workerCache(topic, { bootstrapTimeout: 20_000 });
    const error = await cache.ready().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TopicNotCompactedError);
    expect(error).toMatchObject({ code: 'NC_TOPIC_NOT_COMPACTED', retriable: false });
    expect((error as Error).message).toContain(`topic "${topic}" has cleanup.policy=delete`);
  });

  it('a worker that dies is started again: reads go on meanwhile, the consumer resumes where the cache is (nothing lost, nothing applied twice)', async () => {
    const topic = await client.createTopic();
    const { cache, log } = workerCache(topic, { flushTimeout: 10_000 });
    const writer = createNearCache({ topic, kafka: kafka(), logger: silentLogger });
    caches.push(writer);
    await Promise.all([cache.ready(), writer.ready()]);
    const write = async (from: number, to: number) => {
      for (let i = from; i < to; i++) void writer.set(`k${i}`, i);
      await writer.flush();
    };
    const seen = (to: number) => Array.from({ length: to }, (_, i) => cache.get(`k${i}`)).filter((v, i) => v === i).length;
    await write(0, 100);
    await waitFor(() => seen(100) === 100, { message: () => `the first writes to arrive (${seen(100)}/100)` });
    const states: string[] = [];
    cache.on('state', (state: string) => states.push(state));
    const errors: NearCacheError[] = [];
    cache.on('error', (error: NearCacheError) => errors.push(error));

    // Twice: the thread ended from outside, then an uncaught error in the worker (a message it cannot decode).
    const kills: Array<(worker: Worker) => unknown> = [
      (worker) => worker.terminate(),
      (worker) => worker.postMessage({ type: 'append', ids: [-1], counts: [1], buffer: new ArrayBuffer(2) }),
    ];
    let written = 100;
    for (const [round, kill] of kills.entries()) {
      const worker = log().thread!;
      const lost = new Promise<number>((resolve) => worker.once('exit', resolve));
      const before = errors.length;
      void kill(worker);
      await lost;
      // The loss is told first (other calls failing meanwhile may follow it).
      await waitFor(() => errors.length > before, { message: 'the loss to be reported' });
      expect(errors[before]).toMatchObject({ code: 'NC_LOG_UNAVAILABLE', retriable: true });
      expect(errors[before]!.message).toMatch(
        round === 0 ? /replication worker exited.*starting it again \(attempt 1 of 5\)/ : /replication worker failed.*starting it again \(attempt 2 of 5\)/,
      );
      // Degraded from the loss on (asked of the events: the new worker may have caught up already).
      await waitFor(() => states.length > round * 2, { message: () => `the loss to change the state (${states.join(', ')})` });
      expect(states[round * 2]).toBe('degraded');
      // Reads are served meanwhile; a local write applies at once and reaches the log once the worker is back.
      expect(seen(written)).toBe(written);
      void cache.set(`local${round}`, round);
      expect(cache.get(`local${round}`)).toBe(round);
      // Other instances write while this one's consumer is down.
      await write(written, written + 100);
      written += 100;
      await waitFor(() => cache.state === 'live', { timeout: 30_000, message: () => `the cache to be live again (${cache.state})` });
      expect(log().thread).not.toBe(worker);
      await waitFor(() => seen(written) === written, { timeout: 30_000, message: () => `the writes made meanwhile to arrive (${seen(written)}/${written})` });
      await waitFor(() => writer.get(`local${round}`) === round, { timeout: 30_000, message: 'the local write to reach the other instance' });
    }
    expect(states).toEqual(['degraded', 'live', 'degraded', 'live']);
    expect(log().flow().restarts).toBe(2);
    // Every record of the topic applied exactly once: the new consumers started at the cache's
    // positions. (The topic holds the writes of both; a local write the lost worker had sent may
    // be in it twice, re-sent by the queue: each offset counts once.) Its own last write may reach
    // the other instance before it comes back here: wait for the cache to reach the end.
    await cache.flush();
    const [end] = await (await client.admin()).fetchTopicOffsets(topic);
    const records = Number(end!.high);
    expect(records).toBeGreaterThanOrEqual(written + kills.length);
    await waitFor(() => cache.stats().records.applied >= records, {
      message: () => `every record of the topic to be applied (${cache.stats().records.applied}/${records})`,
    });
    const stats = cache.stats();
    expect(stats.records.replayed).toBe(0);
    expect(stats.records.applied).toBe(records);
    expect(errors.filter((e) => e.retriable === false)).toEqual([]);
  });

  it('gives up with a ReplicationWorkerError once the worker died more times in a row than maxRestarts; the cache keeps serving and closes', async () => {
    const topic = await client.createTopic();
    const factory = kafkaWorkerLog(kafka(), { maxRestarts: 1 });
    let log: KafkaWorkerLog | undefined;
    const cache = createNearCache({
      topic,
      log: (context) => (log = factory(context) as KafkaWorkerLog),
      logger: silentLogger,
      flushTimeout: 2000,
      closeTimeout: 2000,
    });
    caches.push(cache);
    await cache.ready();
    await cache.set('before', 1, { durable: true });
    const errors: NearCacheError[] = [];
    cache.on('error', (error: NearCacheError) => errors.push(error));
    await log!.thread!.terminate();
    await waitFor(() => cache.state === 'live' && log!.flow().restarts === 1, { timeout: 30_000, message: 'the worker to be started again' });
    await log!.thread!.terminate();
    await waitFor(() => errors.some((e) => e instanceof ReplicationWorkerError), { message: 'the worker to be given up' });
    const given = errors.find((e) => e instanceof ReplicationWorkerError)!;
    expect(given).toMatchObject({ code: 'NC_REPLICATION_WORKER_FAILED', retriable: false });
    expect(given.message).toContain('replicationWorker.maxRestarts');
    expect(cache.state).toBe('degraded');
    expect(log!.thread).toBeUndefined();
    // The cache keeps what it holds and still takes writes locally; durable ones reject in time.
    expect(cache.get('before')).toBe(1);
    const durable = await cache.set('after', 2, { durable: true }).catch((e: unknown) => e);
    expect(durable).toMatchObject({ code: expect.stringMatching(/^NC_(REPLICATION_WORKER_FAILED|REPLICATION_TIMEOUT)$/) });
    expect(cache.get('after')).toBe(2);
    await cache.close();
    expect(cache.state).toBe('closed');
  });

  it('a worker that dies before the cache is ready is replaced: ready() resolves with every record', async () => {
    const topic = await client.createTopic();
    const writer = createNearCache({ topic, kafka: kafka(), logger: silentLogger });
    caches.push(writer);
    await writer.ready();
    await writer.set('k', 'v', { durable: true });
    const { cache, log } = workerCache(topic, { bootstrapTimeout: 30_000 });
    await waitFor(() => log()?.thread !== undefined, { message: 'the worker to start' });
    const first = log().thread!;
    await first.terminate();
    await cache.ready();
    expect(log().thread).not.toBe(first);
    expect(cache.get('k')).toBe('v');
  });
});
