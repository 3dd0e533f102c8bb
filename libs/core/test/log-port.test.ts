import { afterEach, describe, expect, it } from 'vitest';
import {
  createNearCache,
  InProcessBroker,
  inProcessLog,
  silentLogger,
  structuredCodec,
  type NearCache,
  type OutgoingRecord,
  type ReplicationLog,
  type ReplicationLogFactory,
} from '../src/index.js';
import { clearRecord } from '../src/record.js';
import { uniqueTopic, waitFor } from './helpers.js';

// What the cache asks of its log through the port instead of assuming Kafka: where a key's
// records go (partitionFor) and what a record costs beyond its bytes (recordOverhead).
const caches: NearCache[] = [];
afterEach(async () => {
  await Promise.all(caches.splice(0).map((cache) => cache.close()));
});

/** `inner`, answering `partitionFor` and `recordOverhead` as given, and noting every append. */
function withPort(
  inner: ReplicationLogFactory,
  port: Pick<ReplicationLog, 'partitionFor' | 'recordOverhead'>,
  appends: OutgoingRecord[][],
): ReplicationLogFactory {
  return (context) => {
    const log = inner(context);
    return {
      kind: log.kind,
      ...port,
      open: () => log.open(),
      offsets: () => log.offsets(),
      consume: (handlers) => log.consume(handlers),
      restartConsumer: () => log.restartConsumer(),
      append: (records) => {
        appends.push(records);
        return log.append(records);
      },
      close: () => log.close(),
    };
  };
}

function cache(log: ReplicationLogFactory, topic: string, options: { maxBatchBytes?: number } = {}): NearCache {
  const created = createNearCache({ topic, log, logger: silentLogger, ...options });
  caches.push(created);
  return created;
}

describe('the log port', () => {
  it("puts each key's records on the partition the log's partitionFor gives", async () => {
    const broker = new InProcessBroker();
    const topic = uniqueTopic('port');
    const last = (_key: string, partitions: number) => partitions - 1;
    const log = withPort(inProcessLog(broker, { partitions: 3 }), { partitionFor: last }, []);
    const writer = cache(log, topic);
    const reader = cache(log, topic);
    await Promise.all([writer.ready(), reader.ready()]);
    for (const key of ['a', 'b', 'c', 'd']) await writer.set(key, key);
    await writer.flush();
    await writer.delete('d', { durable: true });
    const records = broker.records(topic);
    expect(records.map((r) => r.partition)).toEqual([2, 2, 2, 2, 2]);
    await waitFor(() => reader.get('c') === 'c' && reader.get('d') === undefined);
    expect([...reader.keys()].sort()).toEqual(['a', 'b', 'c']);
    // A clear record read on one partition removes the keys the log puts there (murmur2 would
    // put 'a' and 'c' on partition 1 and keep them).
    const clear = clearRecord(2, '', 'another-instance.00000000', 1, structuredCodec().name);
    broker.produce(topic, [{ partition: 2, key: clear.key, value: clear.value, headers: clear.headers }]);
    await waitFor(() => reader.size === 0);
  });

  it("sizes appends with the log's record overhead", async () => {
    const topic = uniqueTopic('port');
    const small: OutgoingRecord[][] = [];
    const large: OutgoingRecord[][] = [];
    const lean = cache(withPort(inProcessLog(new InProcessBroker()), { recordOverhead: 0 }, small), topic, { maxBatchBytes: 1024 });
    // Each record alone takes more than maxBatchBytes: every one goes in its own append.
    const heavy = cache(withPort(inProcessLog(new InProcessBroker()), { recordOverhead: 2000 }, large), topic, { maxBatchBytes: 1024 });
    await Promise.all([lean.ready(), heavy.ready()]);
    for (const c of [lean, heavy]) {
      for (let i = 0; i < 5; i++) void c.set(`k${i}`, i);
      await c.flush();
    }
    expect(small.flat()).toHaveLength(5);
    expect(small).toHaveLength(1);
    expect(large.flat()).toHaveLength(5);
    expect(large).toHaveLength(5);
  });
});
