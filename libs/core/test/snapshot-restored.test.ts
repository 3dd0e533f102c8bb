import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createNearCache,
  InProcessBroker,
  inProcessLog,
  silentLogger,
  type Logger,
  type NearCache,
  type NearCacheOptions,
  type SnapshotLoadReport,
} from '../src/index.js';
import { diff, foldTopic, snapshot } from '../src/conformance/index.js';
import { uniqueTopic, waitCaughtUp } from './helpers.js';

// Entries restored from a snapshot stay in the file's memory until read (docs/snapshots.md,
// "Loading"): every operation sees them as held entries, the least recently used ones, and the
// state equals a full read's.

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nc-snapshot-restored-'));
let broker: InProcessBroker;
let topic: string;
let file: string;
const caches: Array<NearCache<any>> = [];

beforeEach(() => {
  broker = new InProcessBroker();
  topic = uniqueTopic('snap-restored');
  file = path.join(root, `${topic}.ncsnap`);
});

afterEach(async () => {
  await Promise.all(caches.splice(0).map((c) => c.close()));
});

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function open(extra: Partial<NearCacheOptions<any>> = {}): NearCache<any> {
  const cache = createNearCache<any>({
    topic,
    log: inProcessLog(broker, { partitions: 2 }),
    logger: silentLogger,
    closeTimeout: 2000,
    lagPollInterval: 50,
    ...extra,
  });
  caches.push(cache);
  return cache;
}

/** Writes `count` plain entries `k:<i>` (in order: k:0 is the least recently used), then a snapshot at close. */
async function writeSnapshot(count: number, extra: Partial<NearCacheOptions<any>> = {}): Promise<void> {
  const writer = open({ snapshot: { path: file, interval: 0 }, ...extra });
  await writer.ready({ timeout: 10_000 });
  for (let i = 0; i < count; i++) writer.set(`k:${i}`, { i, name: `n${i}` }, i % 10 === 0 ? { ttl: 60_000 } : undefined);
  await writer.flush();
  await writer.close();
  expect(writer.stats().snapshot?.lastWrite?.outcome).toBe('written');
}

async function start(extra: Partial<NearCacheOptions<any>> = {}): Promise<{ cache: NearCache<any>; load: SnapshotLoadReport }> {
  const cache = open({ snapshot: { path: file, interval: 0 }, ...extra });
  const loaded = new Promise<SnapshotLoadReport>((resolve) => cache.on('snapshot', (report) => report.op === 'load' && resolve(report)));
  await cache.ready({ timeout: 10_000 });
  return { cache, load: await loaded };
}

describe('entries restored from a snapshot', () => {
  it('are read, replaced and removed as held entries, by local writes and by records after the snapshot', async () => {
    await writeSnapshot(200);
    const other = open();
    await other.ready();
    other.set('k:5', 'after the snapshot');
    other.delete('k:6');
    other.set('k:1000', 'new key');
    await other.flush();
    const { cache, load } = await start();
    expect(load).toMatchObject({ outcome: 'loaded', entries: 200 });
    await waitCaughtUp([cache], broker, topic);
    expect(cache.size).toBe(200);
    expect(cache.get('k:5')).toBe('after the snapshot');
    expect(cache.get('k:6')).toBeUndefined();
    expect(cache.has('k:7')).toBe(true);
    expect(cache.get('k:7')).toEqual({ i: 7, name: 'n7' });
    expect(cache.remainingTtl('k:10')).toBeGreaterThan(50_000);
    expect(cache.remainingTtl('k:11')).toBe(Infinity);
    expect(cache.get('k:nope')).toBeUndefined();
    await cache.delete('k:9');
    expect(cache.get('k:9')).toBeUndefined();
    await cache.set('k:12', 'replaced');
    expect(cache.get('k:12')).toBe('replaced');
    await cache.clearPrefix('k:2');
    expect(cache.get('k:2')).toBeUndefined();
    expect(cache.get('k:25')).toBeUndefined();
    expect(cache.get('k:30')).toEqual({ i: 30, name: 'n30' });
    await cache.flush();
    await waitCaughtUp([cache], broker, topic);
    expect(diff(snapshot(cache), foldTopic(broker.records(topic)))).toEqual([]);
  });

  it('are the least recently used: past `max`, the oldest go first, and counted as evictions', async () => {
    await writeSnapshot(100);
    const { cache, load } = await start({ max: 120 });
    expect(load).toMatchObject({ outcome: 'loaded', entries: 100 });
    // Read: most recently used now.
    expect(cache.get('k:1')).toEqual({ i: 1, name: 'n1' });
    for (let i = 0; i < 30; i++) cache.set(`new:${i}`, i);
    expect(cache.size).toBe(120);
    expect(cache.stats().evictions).toBe(10);
    expect(cache.get('k:0')).toBeUndefined();
    expect(cache.get('k:10')).toBeUndefined();
    expect(cache.get('k:1')).toEqual({ i: 1, name: 'n1' });
    expect(cache.get('k:11')).toEqual({ i: 11, name: 'n11' });
    expect(cache.get('new:0')).toBe(0);
  });

  it('a clear removes those not read yet', async () => {
    await writeSnapshot(5000);
    const { cache } = await start();
    await cache.clear();
    expect(cache.size).toBe(0);
    expect(cache.get('k:4999')).toBeUndefined();
    expect([...cache.keys()]).toEqual([]);
  });

  it('more than a slice of them (moved in the background) are all listed, and equal a full read', async () => {
    await writeSnapshot(12_000);
    const { cache } = await start();
    expect(cache.size).toBe(12_000);
    expect(cache.get('k:11999')).toEqual({ i: 11999, name: 'n11999' });
    expect([...cache.keys()].length).toBe(12_000);
    expect(diff(snapshot(cache), foldTopic(broker.records(topic)))).toEqual([]);
  });
});

describe('snapshot format', () => {
  it('a file of format 1 is refused as foreign, the reason logged, and the whole topic read', async () => {
    const writer = open();
    await writer.ready();
    await writer.set('a', 1);
    await writer.flush();
    fs.writeFileSync(file, Buffer.concat([Buffer.from('NCSNAP\u0000\u0001', 'latin1'), Buffer.alloc(200)]));
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (message) => warnings.push(message) };
    const { cache, load } = await start({ logger });
    expect(load).toMatchObject({ outcome: 'refused', reason: 'foreign' });
    expect(load.message).toContain('format 1');
    expect(warnings.some((w) => w.includes('format 1') && w.includes('reading the whole topic'))).toBe(true);
    expect(cache.get('a')).toBe(1);
  });
});
