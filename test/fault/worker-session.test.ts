import { randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { createNearCache, kafkaWorkerLog, silentLogger, type KafkaWorkerLog, type NearCache, type ReplicationMode } from '@nearcache/core';
import { KafkaTestClient } from '../helpers/kafka.js';
import { waitFor } from '../helpers/wait.js';

// Guarantee of replication on a worker thread: a main thread blocked for longer than the
// consumer's session timeout costs no group rejoin and no replay. The worker's consumer goes on
// heartbeating on its own thread; once the main thread is free, the instance applies what was
// written meanwhile. (Inline, the same block gets the member removed from its group: it rejoins.)
const SESSION_TIMEOUT = 6000; // the broker's group.min.session.timeout.ms
const BLOCK_MS = SESSION_TIMEOUT + 4000;
const MODE: ReplicationMode = 'worker';
const client = new KafkaTestClient();
const caches: NearCache[] = [];

afterAll(async () => {
  await Promise.all(caches.map((cache) => cache.close()));
  await client.close();
});

/** The group's state and the ids of its members, as the broker sees them. */
async function group(groupId: string): Promise<{ state: string; members: string[] }> {
  const admin = await client.admin();
  const { groups } = await admin.describeGroups([groupId]);
  return { state: groups[0]?.state ?? 'Unknown', members: (groups[0]?.members ?? []).map((m) => m.memberId) };
}

/** Blocks this thread (timers, I/O, messages from workers: nothing runs) for `ms`. */
function blockThread(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Blocks this thread while a writer writes `count` keys, then checks the instance caught up with
 * no rejoin and no replay. `pad`: characters added to each value, `maxBufferedBytes`: the worker's bound.
 */
async function blockedWhileWritten({ pad = 0, maxBufferedBytes }: { pad?: number; maxBufferedBytes?: number } = {}): Promise<void> {
  const topic = await client.createTopic();
  const instanceId = `blocked-${randomUUID().slice(0, 8)}`;
  const kafka = { brokers: client.brokers, logLevel: 'nothing' as const, sessionTimeout: SESSION_TIMEOUT, heartbeatInterval: 500 };
  // With a bound, the worker's log is built here to read its flow (what `replication: 'worker'` builds).
  let log: KafkaWorkerLog | undefined;
  const factory = maxBufferedBytes === undefined ? undefined : kafkaWorkerLog(kafka, { maxBufferedBytes });
  const cache = createNearCache<number | { i: number; pad: string }>({
    topic,
    instanceId,
    ...(factory === undefined ? { replication: MODE, kafka } : { log: (context) => (log = factory(context) as KafkaWorkerLog) }),
    logger: silentLogger,
    lagPollInterval: 500,
  });
  caches.push(cache);
  const errors: string[] = [];
  cache.on('error', (error) => errors.push(`${error.code} ${error.message}`));
  await cache.ready();
  const groupId = `nearcache.${cache.origin}`;
  let before = await group(groupId);
  await waitFor(async () => (before = await group(groupId)).state === 'Stable' && before.members.length === 1, {
    timeout: 30_000,
    message: () => `the instance's group to be stable (${JSON.stringify(before)})`,
  });

  const count = 30;
  const writer = new Worker(new URL('../fixtures/writer-thread.mjs', import.meta.url), {
    workerData: { brokers: client.brokers, topic, count, interval: BLOCK_MS / count, pad },
  });
  const messages: string[] = [];
  writer.on('message', (message: { type: string }) => messages.push(message.type));
  writer.on('error', (error) => messages.push(`error ${error.message}`));
  try {
    await waitFor(() => messages.includes('ready'), { timeout: 30_000, message: () => `the writer to be ready (${messages.join(', ')})` });
    blockThread(BLOCK_MS);
    // The writer went on meanwhile; this thread now catches up.
    await waitFor(() => messages.includes('done'), { timeout: 60_000, message: () => `the writer to finish (${messages.join(', ')})` });
    const valueOf = (v: unknown): unknown => (typeof v === 'object' && v !== null ? (v as { i: number }).i : v);
    await waitFor(() => Array.from({ length: count }, (_, i) => valueOf(cache.get(`w${i}`))).every((v, i) => v === i), {
      timeout: 30_000,
      message: () => `every write made during the block to be applied (${[...cache.keys()].length} keys)`,
    });
  } finally {
    await writer.terminate();
  }
  const after = await group(groupId);
  expect(after, 'the same member, never removed from the group').toEqual(before);
  expect(cache.stats().records.replayed).toBe(0);
  expect(cache.state).toBe('live');
  expect(errors).toEqual([]);
  if (log !== undefined) expect(log.flow().pauses, 'the worker reached its bound during the block').toBeGreaterThanOrEqual(1);
}

describe(`a main thread blocked longer than the session timeout (replication: '${MODE}')`, () => {
  it('keeps the group membership: no rejoin, no replay, and the instance catches up afterwards', async () => {
    await blockedWhileWritten();
  });

  it('keeps it too when the worker reached its buffer bound meanwhile and holds a batch until the cache takes it', async () => {
    // 30 values of 8 KB against a bound of 64 KB: the worker stops fetching within the block.
    await blockedWhileWritten({ pad: 8192, maxBufferedBytes: 65_536 });
  });
});
