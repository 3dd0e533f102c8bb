import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createNearCache,
  InProcessBroker,
  inProcessLog,
  InvalidOptionError,
  jsonCodec,
  partitionFor,
  silentLogger,
  type Logger,
  type NearCache,
  type NearCacheOptions,
  type SnapshotLoadReport,
} from '../src/index.js';
import { diff, foldTopic, snapshot } from '../src/conformance/index.js';
import { END, TRAILER } from '../src/snapshot/format.js';
import { rawSet, rejection, uniqueTopic, waitCaughtUp, waitFor } from './helpers.js';

// Local snapshots (docs/snapshots.md) on the in-process log: a start from a snapshot holds what
// a full read holds, and every snapshot that may not be used is refused and replaced by a full read.

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nc-snapshot-'));
let broker: InProcessBroker;
let topic: string;
let file: string;
const caches: Array<NearCache<any>> = [];

beforeEach(() => {
  broker = new InProcessBroker();
  topic = uniqueTopic('snap');
  file = path.join(root, `${topic}.ncsnap`);
});

afterEach(async () => {
  await Promise.all(caches.splice(0).map((c) => c.close()));
});

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** A logger keeping its warnings. */
function recording(): Logger & { warnings: Array<{ message: string; context?: Record<string, unknown> }> } {
  const warnings: Array<{ message: string; context?: Record<string, unknown> }> = [];
  return { ...silentLogger, warnings, warn: (message, context) => warnings.push({ message, context }) };
}

function open(extra: Partial<NearCacheOptions<any>> = {}, partitions = 3): NearCache<any> {
  const cache = createNearCache<any>({
    topic,
    log: inProcessLog(broker, { partitions }),
    logger: silentLogger,
    closeTimeout: 2000,
    lagPollInterval: 50,
    ...extra,
  });
  caches.push(cache);
  return cache;
}

/** Opens a cache with a snapshot at `file`, and resolves with how its start used it, once it is ready. */
async function start(extra: Partial<NearCacheOptions<any>> = {}, partitions = 3): Promise<{ cache: NearCache<any>; load: SnapshotLoadReport }> {
  const cache = open({ snapshot: { path: file, interval: 0 }, ...extra }, partitions);
  const loaded = new Promise<SnapshotLoadReport>((resolve) => cache.on('snapshot', (report) => report.op === 'load' && resolve(report)));
  await cache.ready({ timeout: 10_000 });
  return { cache, load: await loaded };
}

/** Writes a mix of sets (with TTLs and tags), deletes, a clear and a tag invalidation. */
async function writeMix(cache: NearCache<any>, from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i++) {
    await cache.set(`k:${i}`, { i, at: new Date(1_700_000_000_000 + i), tags: new Set([i % 3]) }, i % 4 === 0 ? { ttl: 600_000 } : { tags: [`t${i % 5}`] });
  }
  await cache.delete(`k:${from + 1}`);
  await cache.set(`p:${from}`, 'under a prefix');
  await cache.flush();
}

/** Writes a snapshot: an instance with the option writes, then closes. */
async function snapshotAfter(
  write: (cache: NearCache<any>) => Promise<void>,
  extra: Partial<NearCacheOptions<any>> = {},
  partitions = 3,
): Promise<NearCache<any>> {
  const writer = open({ snapshot: { path: file, interval: 0 }, ...extra }, partitions);
  await writer.ready({ timeout: 10_000 });
  await write(writer);
  await writer.close();
  expect(writer.stats().snapshot?.lastWrite?.outcome).toBe('written');
  expect(fs.existsSync(file)).toBe(true);
  return writer;
}

/** A full read of the topic by a fresh instance without a snapshot. */
async function fullRead(extra: Partial<NearCacheOptions<any>> = {}, partitions = 3): Promise<Map<string, unknown>> {
  const cache = open(extra, partitions);
  await cache.ready({ timeout: 10_000 });
  return snapshot(cache);
}

describe('a start from a snapshot', () => {
  it('holds what the oracle and a full read hold, reading only the log after the snapshot', async () => {
    await snapshotAfter((cache) => writeMix(cache, 0, 300));
    // Written after the snapshot: sets, deletes of keys it holds, a clear and a tag invalidation.
    const other = open();
    await other.ready();
    await writeMix(other, 300, 50);
    await other.delete('k:4');
    await other.clearPrefix('p:');
    await other.invalidateTags(['t2']);
    await other.flush();
    const { cache, load } = await start();
    expect(load).toMatchObject({ outcome: 'loaded', entries: expect.any(Number) });
    expect(load.entries).toBeGreaterThan(200);
    const expected = foldTopic(broker.records(topic));
    expect(diff(snapshot(cache), expected)).toEqual([]);
    expect(diff(snapshot(cache), await fullRead())).toEqual([]);
    // Only the records after the snapshot were read.
    const total = broker.records(topic).length;
    expect(cache.stats().records.applied).toBeLessThan(total - 250);
    expect(cache.stats().snapshot?.load?.outcome).toBe('loaded');
    // Values keep their types; expiry stays absolute; tags still select entries.
    expect(cache.get('k:8')).toEqual({ i: 8, at: new Date(1_700_000_000_008), tags: new Set([2]) });
    expect(cache.remainingTtl('k:8')).toBeGreaterThan(590_000);
    expect(cache.remainingTtl('k:8')).toBeLessThanOrEqual(600_000);
    expect(cache.remainingTtl('k:3')).toBe(Infinity);
    await cache.invalidateTags(['t1']);
    expect(cache.get('k:1')).toBeUndefined();
    expect(cache.get('k:6')).toBeUndefined();
    expect(cache.get('k:3')).toEqual(expect.objectContaining({ i: 3 }));
  });

  it('judges fenced records as a full read does (the fences remember the records before the snapshot)', async () => {
    await snapshotAfter(async (cache) => {
      await cache.set('k', 'plain');
      await cache.flush();
    });
    // A load that began before the plain write (fence 0) comes after it: stale everywhere.
    const stale = rawSet('k', 'loaded', { version: '3', origin: 'another-writer' });
    broker.produce(topic, [{ ...stale, partition: partitionFor('k', 3), headers: { ...stale.headers, 'nc-fence': '0' } }]);
    const { cache, load } = await start();
    expect(load.outcome).toBe('loaded');
    await waitCaughtUp([cache], broker, topic);
    expect(cache.get('k')).toBe('plain');
    expect(foldTopic(broker.records(topic)).get('k')).toBe('plain');
    expect((await fullRead()).get('k')).toBe('plain');
  });

  it('drops entries whose absolute expiry passed while the instance was down', async () => {
    let now = Date.now();
    const clock = { now: () => now };
    await snapshotAfter(
      async (cache) => {
        await cache.set('short', 1, { ttl: 5000 });
        await cache.set('long', 2, { ttl: 60_000 });
        await cache.flush();
      },
      { clock },
    );
    now += 10_000;
    const { cache, load } = await start({ clock });
    expect(load.outcome).toBe('loaded');
    expect(cache.get('short')).toBeUndefined();
    expect(cache.get('long')).toBe(2);
    expect(cache.remainingTtl('long')).toBeLessThanOrEqual(50_000);
  });

  it('writes in the background at the interval', async () => {
    const cache = open({ snapshot: { path: file, interval: 1000 } });
    await cache.ready();
    await cache.set('a', 1);
    await waitFor(() => (cache.stats().snapshot?.written ?? 0) >= 1, { timeout: 10_000 });
    expect(fs.existsSync(file)).toBe(true);
  });

  it('is not written while local writes have not reached the log: the previous snapshot stays', async () => {
    await snapshotAfter(async (cache) => {
      await cache.set('a', 1);
      await cache.flush();
    });
    const before = fs.readFileSync(file);
    const cache = open({ snapshot: { path: file, interval: 0 }, closeTimeout: 200 });
    await cache.ready();
    broker.setAvailable(false);
    await cache.set('b', 2);
    await cache.close();
    broker.setAvailable(true);
    expect(cache.stats().snapshot?.lastWrite).toMatchObject({ outcome: 'skipped', reason: 'writes-in-flight' });
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    const { cache: next, load } = await start();
    expect(load.outcome).toBe('loaded');
    expect(next.get('a')).toBe(1);
    expect(next.get('b')).toBeUndefined();
  });

  it('of a cache without entries is loaded, not refused', async () => {
    await snapshotAfter(async () => undefined);
    const { cache, load } = await start();
    expect(load).toMatchObject({ outcome: 'loaded', entries: 0 });
    expect(cache.size).toBe(0);
  });

  it('a directory as the path holds <topic>.ncsnap', async () => {
    const directory = fs.mkdtempSync(path.join(root, 'dir-'));
    const cache = open({ snapshot: { path: directory, interval: 0 } });
    await cache.ready();
    await cache.set('a', 1);
    await cache.close();
    expect(fs.existsSync(path.join(directory, `${topic}.ncsnap`))).toBe(true);
  });

  it('rejects bad snapshot options with a typed error', async () => {
    for (const bad of [
      {},
      { path: '' },
      { path: 'x', interval: 10 },
      { path: 'x', interval: -1 },
      { path: 'x', onClose: 'yes' },
      { path: 'x', extra: 1 },
      'x',
    ]) {
      const error = await rejection(Promise.resolve().then(() => open({ snapshot: bad as never })));
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect((error as Error).message).toContain('snapshot');
    }
  });
});

describe('a snapshot that may not be used is refused, reported and replaced by a full read', () => {
  /** Starts from the snapshot; checks the refusal's reason everywhere it is reported and that the state is the full read's. */
  async function refused(reason: string, extra: Partial<NearCacheOptions<any>> = {}, partitions = 3, compare = true): Promise<NearCache<any>> {
    const logger = recording();
    const { cache, load } = await start({ logger, ...extra }, partitions);
    expect(load).toMatchObject({ outcome: 'refused', reason });
    expect(cache.stats().snapshot?.load).toMatchObject({ outcome: 'refused', reason });
    expect(logger.warnings.some((w) => w.context?.reason === reason && w.context.code === 'NC_SNAPSHOT_REFUSED')).toBe(true);
    if (compare) expect(diff(snapshot(cache), foldTopic(broker.records(topic)))).toEqual([]);
    expect(cache.stats().records.applied).toBe(broker.records(topic).length);
    return cache;
  }

  const write = (cache: NearCache<any>) => writeMix(cache, 0, 30);

  it('corrupt: a byte changed', async () => {
    await snapshotAfter(write);
    const bytes = fs.readFileSync(file);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    fs.writeFileSync(file, bytes);
    await refused('corrupt');
  });

  it('truncated: the end cut off', async () => {
    await snapshotAfter(write);
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(file, bytes.subarray(0, bytes.length - 100));
    await refused('truncated');
  });

  it('foreign: not a snapshot', async () => {
    await snapshotAfter(write);
    fs.writeFileSync(file, 'key,value\na,1\n');
    await refused('foreign');
  });

  it.each(['null', '[1]', '"meta"'])("foreign: an end like a snapshot's around a meta of %s (read ahead, then refused)", async (meta) => {
    await snapshotAfter(write);
    // The meta, then a trailer: the meta's length, and the end marker in its place.
    const trailer = Buffer.alloc(TRAILER);
    trailer.writeUInt32BE(meta.length, 0);
    END.copy(trailer, TRAILER - END.length);
    fs.writeFileSync(file, Buffer.concat([Buffer.from(meta), trailer]));
    await refused('foreign');
  });

  it('other topic: a snapshot of another topic at the path', async () => {
    const own = topic;
    topic = uniqueTopic('snap-other');
    await snapshotAfter(write);
    topic = own;
    const writer = open();
    await writer.ready();
    await write(writer);
    await refused('other-topic');
  });

  it('re-created topic: records newer than the snapshot below its positions', async () => {
    await snapshotAfter(write);
    const newest = Math.max(...broker.records(topic).map((r) => r.timestamp));
    broker.deleteTopic(topic);
    broker.createTopic(topic, { partitions: 3 });
    // More records than before, stamped later: the snapshot's positions are inside the new log.
    broker.produce(
      topic,
      Array.from({ length: 3 * 60 }, (_, i) => ({ ...rawSet(`new:${i}`, i, { version: '3', origin: 'w', partition: i % 3 }), timestamp: newest + 1 + i })),
    );
    await refused('topic-recreated');
  });

  it('different partitions: the topic created again with another count', async () => {
    await snapshotAfter(write);
    broker.deleteTopic(topic);
    broker.createTopic(topic, { partitions: 2 });
    broker.produce(topic, [rawSet('x', 1, { version: '3', origin: 'w' })]);
    await refused('partitions-changed', {}, 2);
  });

  it('positions below the log start: the records after them are gone', async () => {
    await snapshotAfter(
      async (cache) => {
        await cache.set('only', 1);
        await cache.flush();
      },
      {},
      1,
    );
    const writer = open({}, 1);
    await writer.ready();
    await writer.set('only', 2);
    await writer.flush();
    await writer.set('only', 3);
    await writer.flush();
    broker.compact(topic);
    expect(broker.offsets(topic)[0]!.low).toBeGreaterThan(1);
    const cache = await refused('below-log-start', {}, 1);
    expect(cache.get('only')).toBe(3);
  });

  it('above the log end: the topic is shorter than the snapshot says', async () => {
    await snapshotAfter(write);
    broker.deleteTopic(topic);
    broker.createTopic(topic, { partitions: 3 });
    await refused('above-log-end');
  });

  it("too old: older than the topic's delete.retention.ms (tombstones it should see may be gone)", async () => {
    let now = Date.now();
    const clock = { now: () => now };
    broker.createTopic(topic, { partitions: 3, deleteRetentionMs: 60_000 });
    await snapshotAfter(write, { clock });
    now += 61_000;
    await refused('too-old', { clock });
  });

  it('config changed: written with another codec or mode', async () => {
    await snapshotAfter(
      async (cache) => {
        await cache.set('plain', { a: 1 });
        await cache.flush();
      },
      { codec: jsonCodec() },
    );
    await refused('config-changed');
    await snapshotAfter(write);
    await refused('config-changed', { mode: 'invalidate' }, 3, false);
  });
});
