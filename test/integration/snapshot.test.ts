import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createNearCache, silentLogger, type NearCache, type NearCacheOptions, type SnapshotLoadReport } from '@nearcache/core';
import { KafkaTestClient, NO_CLEANING } from '../helpers/kafka.js';
import { diff, foldTopic, snapshot } from '../helpers/oracle.js';
import { runFixture } from '../helpers/process.js';
import { waitFor } from '../helpers/wait.js';

// Local snapshots (docs/snapshots.md) on a real broker: a start from a snapshot equals the oracle
// and a full read; what Kafka can make of a topic (deleted and created again, records deleted
// below the snapshot's positions, partitions added) refuses it; a crash while a snapshot is being
// written leaves the previous snapshot or none, never a wrong one.

/** Topic settings keeping every record and tombstones for a day (the snapshot's age limit). */
const KEEP = { ...NO_CLEANING, 'delete.retention.ms': '86400000' };

describe('snapshots on a real broker', () => {
  const client = new KafkaTestClient();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nc-snapshot-it-'));
  const caches: NearCache[] = [];
  let seq = 0;
  const snapshotPath = (): string => path.join(root, `s${++seq}.ncsnap`);

  const open = (topic: string, extra: Partial<NearCacheOptions> = {}): NearCache => {
    const cache = createNearCache({ topic, kafka: { brokers: client.brokers, logLevel: 'nothing' }, logger: silentLogger, lagPollInterval: 100, ...extra });
    caches.push(cache);
    return cache;
  };

  /** Starts an instance from `file`; resolves once it is ready, with how it used the snapshot. */
  const start = async (topic: string, file: string, extra: Partial<NearCacheOptions> = {}): Promise<{ cache: NearCache; load: SnapshotLoadReport }> => {
    const cache = open(topic, { snapshot: { path: file, interval: 0 }, ...extra });
    const loaded = new Promise<SnapshotLoadReport>((resolve) => cache.on('snapshot', (report) => report.op === 'load' && resolve(report)));
    await cache.ready({ timeout: 60_000 });
    return { cache, load: await loaded };
  };

  /** An instance writes `count` keys from `from` and closes, leaving its snapshot at `file`. */
  const writeSnapshot = async (topic: string, file: string, from: number, count: number, extra: Partial<NearCacheOptions> = {}): Promise<void> => {
    const writer = open(topic, { snapshot: { path: file, interval: 0 }, ...extra });
    await writer.ready({ timeout: 60_000 });
    for (let i = from; i < from + count; i++) await writer.set(`k:${i}`, { i, at: new Date(i) }, i % 5 === 0 ? { ttl: 3_600_000, tags: ['five'] } : {});
    await writer.flush({ timeout: 30_000 });
    await writer.close();
    expect(writer.stats().snapshot?.lastWrite?.outcome).toBe('written');
  };

  const fullRead = async (topic: string): Promise<Map<string, unknown>> => {
    const cache = open(topic);
    await cache.ready({ timeout: 60_000 });
    return snapshot(cache);
  };

  afterEach(async () => {
    await Promise.all(caches.splice(0).map((cache) => cache.close()));
  });
  afterAll(async () => {
    fs.rmSync(root, { recursive: true, force: true });
    await client.close();
  });

  it('a start from a snapshot equals the oracle and a full read, and reads only the log after it', async () => {
    const topic = await client.createTopic({ partitions: 3, config: KEEP });
    const file = snapshotPath();
    await writeSnapshot(topic, file, 0, 300);
    const other = open(topic);
    await other.ready();
    for (let i = 250; i < 350; i++) await other.set(`k:${i}`, { i, later: true });
    for (let i = 0; i < 20; i++) await other.delete(`k:${i}`);
    await other.invalidateTags(['five']);
    await other.flush();
    const { cache, load } = await start(topic, file);
    expect(load).toMatchObject({ outcome: 'loaded', entries: 300 });
    const records = await client.readAll(topic);
    const expected = foldTopic(records);
    expect(diff(snapshot(cache), expected)).toEqual([]);
    expect(diff(snapshot(cache), await fullRead(topic))).toEqual([]);
    expect(cache.stats().records.applied).toBeLessThan(records.length - 250);
  });

  it("with replication: 'worker', a start from a snapshot is checked through the worker and loads", async () => {
    const topic = await client.createTopic({ partitions: 2, config: KEEP });
    const file = snapshotPath();
    await writeSnapshot(topic, file, 0, 100, { replication: 'worker' });
    const { cache, load } = await start(topic, file, { replication: 'worker' });
    expect(load).toMatchObject({ outcome: 'loaded', entries: 100 });
    expect(diff(snapshot(cache), foldTopic(await client.readAll(topic)))).toEqual([]);
  });

  it('a topic deleted and created again under the same name is refused (topic-recreated), then read whole', async () => {
    const topic = await client.createTopic({ partitions: 1, config: KEEP });
    const file = snapshotPath();
    await writeSnapshot(topic, file, 0, 20);
    const admin = await client.admin();
    await admin.deleteTopics({ topics: [topic], timeout: 30_000 });
    await waitFor(async () => !(await admin.listTopics()).includes(topic), { timeout: 30_000, message: 'topic deleted' });
    // Kafka may still be removing the old log: creating it again is retried until it is accepted.
    await waitFor(
      async () => {
        try {
          await client.createTopic({ name: topic, partitions: 1, config: KEEP });
          return true;
        } catch {
          return false;
        }
      },
      { timeout: 30_000, message: 'topic created again' },
    );
    const writer = open(topic);
    await writer.ready({ timeout: 60_000 });
    for (let i = 0; i < 40; i++) await writer.set(`new:${i}`, i);
    await writer.flush();
    const { cache, load } = await start(topic, file);
    expect(load).toMatchObject({ outcome: 'refused', reason: 'topic-recreated' });
    expect(diff(snapshot(cache), foldTopic(await client.readAll(topic)))).toEqual([]);
    expect(cache.get('k:1')).toBeUndefined();
  });

  it('records deleted below the snapshot positions (log start moved past them) refuse it (below-log-start)', async () => {
    // Kafka deletes records of a topic only when its policy includes delete (with no time or size limit here).
    const topic = await client.createTopic({ partitions: 1, config: { ...KEEP, 'cleanup.policy': 'compact,delete', 'retention.ms': '-1' } });
    const file = snapshotPath();
    await writeSnapshot(topic, file, 0, 10);
    const writer = open(topic);
    await writer.ready();
    for (let i = 0; i < 10; i++) await writer.set(`later:${i}`, i);
    await writer.flush();
    const admin = await client.admin();
    // The admin deletes records through the partition's leader: it learns the topic's metadata first.
    await admin.fetchTopicMetadata({ topics: [topic] });
    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '15' }] });
    const { cache, load } = await start(topic, file);
    expect(load).toMatchObject({ outcome: 'refused', reason: 'below-log-start' });
    expect(diff(snapshot(cache), foldTopic(await client.readAll(topic)))).toEqual([]);
  });

  it('partitions added to the topic refuse it (partitions-changed)', async () => {
    const topic = await client.createTopic({ partitions: 1, config: KEEP });
    const file = snapshotPath();
    await writeSnapshot(topic, file, 0, 10);
    const admin = await client.admin();
    await admin.createPartitions({ topicPartitions: [{ topic, count: 2 }] });
    await waitFor(async () => (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions.length === 2, { timeout: 30_000 });
    const { cache, load } = await start(topic, file);
    expect(load).toMatchObject({ outcome: 'refused', reason: 'partitions-changed' });
    expect(diff(snapshot(cache), foldTopic(await client.readAll(topic)))).toEqual([]);
  });

  it("a snapshot older than the topic's delete.retention.ms is refused (too-old)", async () => {
    const topic = await client.createTopic({ partitions: 1, config: { ...NO_CLEANING, 'delete.retention.ms': '60000' } });
    const file = snapshotPath();
    let shift = 0;
    const clock = { now: () => Date.now() + shift };
    await writeSnapshot(topic, file, 0, 10, { clock });
    shift = 61_000;
    const { cache, load } = await start(topic, file, { clock });
    expect(load).toMatchObject({ outcome: 'refused', reason: 'too-old' });
    expect(cache.size).toBe(10);
  });

  it('a process killed while writing its snapshot leaves the previous snapshot, which loads right', async () => {
    const topic = await client.createTopic({ partitions: 2, config: KEEP });
    const file = snapshotPath();
    const env = { KAFKA_BROKERS: client.brokers.join(','), NC_TOPIC: topic, NC_SNAPSHOT: file };
    const first = runFixture('snapshot-child.mjs', { ...env, NC_FROM: '0', NC_COUNT: '1000' });
    expect(await first.exited).toEqual({ code: 0, signal: null });
    const before = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    // The second run loads it, writes more (and deletes some), and dies with its snapshot half written.
    const second = runFixture('snapshot-child.mjs', { ...env, NC_FROM: '1000', NC_COUNT: '3000', NC_DELETE: '100', NC_KILL_WRITES: '2' });
    await second.next((m) => m.event === 'snapshot' && m.op === 'load' && m.outcome === 'loaded');
    await second.next((m) => m.event === 'killing');
    expect((await second.exited).signal).toBe('SIGKILL');
    expect(fs.existsSync(`${file}.tmp-${second.child.pid}`)).toBe(true);
    expect(createHash('sha256').update(fs.readFileSync(file)).digest('hex')).toBe(before);
    const { cache, load } = await start(topic, file);
    expect(load).toMatchObject({ outcome: 'loaded', entries: 1000 });
    const expected = foldTopic(await client.readAll(topic));
    expect(expected.size).toBe(3900);
    expect(diff(snapshot(cache), expected)).toEqual([]);
    // The next write removes what the killed process left.
    await cache.close();
    expect(fs.existsSync(`${file}.tmp-${second.child.pid}`)).toBe(false);
  });

  it('a process killed while writing its first snapshot leaves none: the next start reads the whole topic', async () => {
    const topic = await client.createTopic({ partitions: 1, config: KEEP });
    const file = snapshotPath();
    const child = runFixture('snapshot-child.mjs', {
      KAFKA_BROKERS: client.brokers.join(','),
      NC_TOPIC: topic,
      NC_SNAPSHOT: file,
      NC_FROM: '0',
      NC_COUNT: '3000',
      NC_KILL_WRITES: '2',
    });
    await child.next((m) => m.event === 'killing');
    expect((await child.exited).signal).toBe('SIGKILL');
    expect(fs.existsSync(file)).toBe(false);
    const { cache, load } = await start(topic, file);
    expect(load.outcome).toBe('missing');
    expect(diff(snapshot(cache), foldTopic(await client.readAll(topic)))).toEqual([]);
    expect(cache.size).toBe(3000);
  });
});
