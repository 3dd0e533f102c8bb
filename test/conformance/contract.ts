import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createNearCache, type CacheChange, type CacheState, type NearCache, type NearCacheOptions, type RejectedRecord } from '@nearcache/core';
import { chaos } from '../helpers/chaos.js';
import { diff, foldTopic, snapshot } from '../helpers/oracle.js';
import { foreignDelete, foreignSet, prng, recordMeta } from '../helpers/records.js';
import { waitFor } from '../helpers/wait.js';
import { baseOptions, type ContractHarness } from './harness.js';

/**
 * The cache's contract (docs/consistency.md), run against one replication log. Every log
 * adapter must pass it: the in-process log in unit runs, Kafka on a real broker.
 */
export interface ContractOptions {
  /** Run only these sections (1 to 12). Default: all but 7, which needs a log that can be made unavailable. */
  sections?: number[];
  /** Extra environment for the child process of section 10. */
  childEnv?: () => Record<string, string>;
}

export function describeContract(makeHarness: () => ContractHarness, options: ContractOptions = {}): void {
  const sections = new Set(options.sections ?? [1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12]);
  const section = (n: number, title: string, body: () => void): void => {
    if (sections.has(n)) describe(`${n}. ${title}`, body);
  };
  let harness: ContractHarness;
  const caches: NearCache[] = [];

  beforeAll(() => {
    harness = makeHarness();
  });
  afterEach(async () => {
    await Promise.all(caches.splice(0).map((cache) => cache.close()));
  });
  afterAll(async () => {
    await harness.close();
  });

  function open<V = unknown>(topic: string, extra: Partial<NearCacheOptions> = {}): NearCache<V> {
    const cache = createNearCache<V>(baseOptions(harness, topic, extra) as NearCacheOptions<V>);
    caches.push(cache as NearCache);
    return cache;
  }

  async function openReady<V = unknown>(topic: string, extra: Partial<NearCacheOptions> = {}): Promise<NearCache<V>> {
    const cache = open<V>(topic, extra);
    await cache.ready();
    return cache;
  }

  /** Flushes the writers, folds the topic, and waits until every instance holds exactly that. */
  async function expectConverged(topic: string, instances: NearCache[], timeout = 30_000): Promise<Map<string, unknown>> {
    await Promise.all(instances.map((cache) => cache.flush()));
    const expected = foldTopic(await harness.records(topic));
    await waitFor(() => instances.every((cache) => diff(snapshot(cache), expected).length === 0), {
      timeout,
      message: () => `convergence: ${instances.map((c, i) => `#${i} ${diff(snapshot(c), expected).slice(0, 5).join('; ')}`).join(' | ')}`,
    });
    return expected;
  }

  section(1, 'ready after catch-up', () => {
    it('resolves on an empty topic', async () => {
      const topic = await harness.newTopic();
      const cache = await openReady(topic);
      expect(cache.state).toBe('live');
      expect(cache.size).toBe(0);
      expect(cache.stats().partitions.every((p) => p.lagRecords === 0)).toBe(true);
    });

    it('resolves on a topic holding only tombstones', async () => {
      const topic = await harness.newTopic();
      await harness.produce(topic, [foreignDelete('a'), foreignDelete('b', { writeId: 2 }), foreignDelete('a', { writeId: 3 })]);
      const cache = await openReady(topic);
      expect(cache.get('a')).toBeUndefined();
      expect(cache.stats().records.applied).toBe(3);
    });

    it('resolves when compaction removed the tail of the log', async () => {
      const topic = await harness.newTopic();
      const writer = await openReady(topic);
      for (let i = 0; i < 5; i++) await writer.set(`k${i}`, i);
      for (let i = 2; i < 5; i++) await writer.delete(`k${i}`);
      await writer.flush();
      const gone = (key: string) => (records: { key: Uint8Array | null }[]) => !records.some((r) => r.key && Buffer.from(r.key).toString() === key);
      await harness.compact(topic, (records) => ['k2', 'k3', 'k4'].every((k) => gone(k)(records)));
      const fresh = await openReady(topic);
      expect(fresh.get('k0')).toBe(0);
      expect(fresh.get('k1')).toBe(1);
      for (let i = 2; i < 5; i++) expect(fresh.has(`k${i}`)).toBe(false);
    });

    it('reads every partition before it resolves', async () => {
      const topic = await harness.newTopic({ partitions: 3 });
      const writer = await openReady(topic);
      for (let i = 0; i < 60; i++) await writer.set(`key-${i}`, { i });
      await writer.flush();
      const fresh = await openReady(topic);
      expect(fresh.size).toBe(60);
      expect(fresh.stats().partitions).toHaveLength(3);
      expect(new Set(fresh.stats().partitions.map((p) => p.position > 0))).toEqual(new Set([true]));
    });

    it('rejects at its deadline with a typed error, and resolves later', async () => {
      const topic = await harness.newTopic();
      const writer = await openReady(topic);
      for (let i = 0; i < 300; i++) void writer.set(`bulk-${i}`, { i, pad: 'x'.repeat(50) });
      await writer.flush();
      const log = chaos(harness.log(topic));
      const fresh = open(topic, { log });
      log.last!.hold();
      await expect(fresh.ready({ timeout: 200 })).rejects.toMatchObject({ code: 'NC_BOOTSTRAP_TIMEOUT', retriable: true });
      expect(fresh.state).not.toBe('live');
      log.last!.release();
      await fresh.ready();
      expect(fresh.size).toBe(300);
    });
  });

  section(2, 'read-your-writes', () => {
    it('the writer reads its write at once, even while older records of the key are still arriving', async () => {
      const topic = await harness.newTopic();
      const log = chaos(harness.log(topic));
      const a = await openReady<string>(topic, { log });
      log.last!.hold();
      await harness.produce(topic, Array.from({ length: 20 }, (_, i) => foreignSet('k', `old-${i}`, { writeId: i + 1 })));
      await a.set('k', 'new');
      expect(a.get('k')).toBe('new');
      const seen: Array<string | undefined> = [];
      a.on('change', (change: CacheChange) => {
        if (change.key === 'k') seen.push(a.get('k'));
      });
      log.last!.release();
      await a.flush();
      const end = (await harness.records(topic)).length;
      await waitFor(() => a.stats().partitions[0]!.position >= end, { message: 'the writer to apply its own record' });
      expect(a.get('k')).toBe('new');
      expect(seen.filter((v) => v !== 'new')).toEqual([]);
      expect(a.stats().records.applied).toBeGreaterThanOrEqual(21);
    });

    it('a delete is read at once on the writer', async () => {
      const topic = await harness.newTopic();
      const log = chaos(harness.log(topic));
      const a = await openReady(topic, { log });
      log.last!.hold();
      await harness.produce(topic, [foreignSet('d', 'remote')]);
      await a.delete('d');
      log.last!.release();
      await a.flush();
      await expectConverged(topic, [a]);
      expect(a.has('d')).toBe(false);
    });
  });

  section(3, 'convergence', () => {
    it.each([1, 3])('random writes from three instances converge to the log (%i partitions)', async (partitions) => {
      const topic = await harness.newTopic({ partitions });
      const instances = await Promise.all([0, 1, 2].map(() => openReady(topic)));
      const random = prng(1234 + partitions);
      const writes: Array<Promise<void>> = [];
      for (let i = 0; i < 400; i++) {
        const cache = instances[Math.floor(random() * 3)]!;
        const key = `k${Math.floor(random() * 25)}`;
        const roll = random();
        if (roll < 0.6) writes.push(cache.set(key, { i, by: cache.instanceId.slice(0, 4) }));
        else if (roll < 0.85) writes.push(cache.delete(key));
        else if (roll < 0.95) writes.push(cache.set(key, i, { ttl: 600_000 }));
        else writes.push(cache.clearPrefix('k1'));
        if (random() < 0.2) await new Promise((resolve) => setImmediate(resolve));
      }
      await Promise.all(writes);
      const expected = await expectConverged(topic, instances);
      expect(expected.size).toBeGreaterThan(0);
      const late = await openReady(topic);
      expect(diff(snapshot(late), expected)).toEqual([]);
    });
  });

  section(4, 'no time travel', () => {
    it('a consumer restarted from offset 0 does not roll values back', async () => {
      const topic = await harness.newTopic();
      const writer = await openReady<number>(topic);
      for (let i = 1; i <= 50; i++) await writer.set('k', i, { durable: true });
      await writer.flush();
      const log = chaos(harness.log(topic));
      const reader = await openReady<number>(topic, { log });
      expect(reader.get('k')).toBe(50);
      const changes: Array<number | undefined> = [];
      reader.on('change', (change: CacheChange) => {
        if (change.key === 'k') changes.push(reader.get('k'));
      });
      await log.last!.replayFromZero();
      // Records are applied in order: once the next new one is in, every replayed one was handled.
      await waitFor(() => reader.stats().records.replayed > 0, { message: () => `replayed records to be delivered again: ${JSON.stringify(reader.stats().records)}` });
      await writer.set('k', 51);
      await waitFor(() => reader.get('k') === 51, { message: 'the restarted consumer to go on with new records' });
      expect(changes).toEqual([51]);
    });
  });

  section(5, 'deletes stick', () => {
    it('a fresh instance never returns a deleted value, also after the log cleaner ran', async () => {
      const topic = await harness.newTopic();
      const writer = await openReady(topic);
      await writer.set('a', 'old');
      await writer.set('b', 'kept');
      await writer.delete('a');
      await writer.flush();
      const before = await openReady(topic);
      expect(before.has('a')).toBe(false);
      await harness.compact(topic, (records) => !records.some((r) => r.key && Buffer.from(r.key).toString() === 'a'));
      const after = await openReady(topic);
      expect(after.has('a')).toBe(false);
      expect(after.get('b')).toBe('kept');
    });

    it('an instance restarted with the same instanceId does not bring back what it deleted or cleared', async () => {
      const topic = await harness.newTopic();
      const first = await openReady(topic, { instanceId: 'svc-1' });
      await first.set('gone', 1);
      await first.set('c:1', 1);
      await first.delete('gone');
      await first.clearPrefix('c:');
      await first.set('kept', 2);
      await first.flush();
      await first.close();
      const again = await openReady(topic, { instanceId: 'svc-1' });
      expect([...again.keys()]).toEqual(['kept']);
      expect(again.origin).not.toBe(first.origin);
    });

    it('a cleared prefix stays cleared for a fresh instance after compaction', async () => {
      const topic = await harness.newTopic();
      const writer = await openReady(topic);
      await writer.set('p:1', 1);
      await writer.set('p:2', 2);
      await writer.set('q:1', 'q');
      await writer.clearPrefix('p:');
      await writer.set('p:3', 3);
      await writer.flush();
      await harness.compact(topic, (records) => records.length > 0);
      const fresh = await openReady(topic);
      expect([...fresh.keys()].sort()).toEqual(['p:3', 'q:1']);
    });
  });

  section(6, 'expiry survives replay', () => {
    it('bootstrap does not resurrect an expired entry', async () => {
      const topic = await harness.newTopic();
      const writer = await openReady(topic);
      await writer.set('short', 's', { ttl: 300 });
      await writer.set('long', 'l', { ttl: 600_000 });
      await writer.flush();
      await waitFor(() => !writer.has('short'), { message: 'the short entry to expire on the writer' });
      const fresh = await openReady(topic);
      expect(fresh.has('short')).toBe(false);
      expect(fresh.get('long')).toBe('l');
    });

    it('local LRU eviction is never propagated', async () => {
      const topic = await harness.newTopic();
      const small = await openReady(topic, { max: 3 });
      const big = await openReady(topic);
      for (let i = 0; i < 6; i++) await small.set(`e${i}`, i);
      await small.flush();
      expect(small.stats().evictions).toBe(3);
      expect(small.size).toBe(3);
      await waitFor(() => big.size === 6, { message: 'the other instance to hold all six entries' });
      const fresh = await openReady(topic);
      expect(fresh.size).toBe(6);
    });
  });

  section(7, 'writes never hang', () => {
    it('applies and queues writes while the log is down, rejects durable ones at their deadline, drains on recovery', async () => {
      if (!harness.outage) throw new Error(`the ${harness.name} harness cannot make the log unavailable`);
      const topic = await harness.newTopic();
      const a = await openReady(topic, { flushTimeout: 1500 });
      const b = await openReady(topic);
      await a.set('before', 1);
      await waitFor(() => b.get('before') === 1, { message: 'replication before the outage' });
      await harness.outage.down();
      try {
        for (let i = 0; i < 100; i++) await a.set(`w${i % 10}`, i);
        expect(a.get('w9')).toBe(99);
        await waitFor(() => a.state === 'degraded', { timeout: 30_000, message: 'the writer to report degraded' });
        expect(a.stats().queue.depth).toBeGreaterThan(0);
        expect(a.stats().queue.depth).toBeLessThanOrEqual(10);
        await expect(a.set('durable', 'd', { durable: true })).rejects.toMatchObject({ code: 'NC_REPLICATION_TIMEOUT' });
        expect(a.get('durable')).toBe('d');
        await expect(a.flush()).rejects.toMatchObject({ code: 'NC_REPLICATION_TIMEOUT' });
      } finally {
        await harness.outage.up();
      }
      await waitFor(() => a.stats().queue.depth === 0, { timeout: 60_000, message: 'the queue to drain after recovery' });
      await waitFor(() => a.state === 'live', { timeout: 60_000, message: 'the writer to be live again' });
      const expected = await expectConverged(topic, [a, b], 60_000);
      expect(expected.get('w9')).toBe(99);
      expect(expected.get('durable')).toBe('d');
    });
  });

  section(8, 'bad records are skipped, counted and reported', () => {
    it('skips malformed, unknown-version, header-less, prototype-polluting and oversized records and keeps going', async () => {
      const topic = await harness.newTopic();
      const cache = await openReady(topic, { maxValueBytes: 1024 });
      await cache.set('k', 'good');
      await cache.flush();
      const rejected: RejectedRecord[] = [];
      cache.on('rejected', (record: RejectedRecord) => rejected.push(record));
      const poison = [
        foreignSet('k', undefined, { payload: Buffer.from([0xff, 0x00, 0x7b, 0x22]) }),
        foreignSet('k', 'v9', { version: '9' }),
        { key: 'k', value: '"no headers"' },
        foreignSet('k', undefined, { payload: '{"__proto__":{"polluted":"yes"}}' }),
        foreignSet('k', 'y'.repeat(2000)),
      ];
      const offsets = await harness.produce(topic, poison);
      await harness.produce(topic, [foreignSet('other', 'fine')]);
      await waitFor(() => cache.get('other') === 'fine', { message: 'the consumer to go past the bad records' });
      expect(cache.get('k')).toBe('good');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(rejected.map((r) => r.offset)).toEqual(offsets);
      expect(rejected.map((r) => r.reason)).toEqual(['decode-failed', 'unknown-version', 'missing-header', 'decode-failed', 'value-too-large']);
      const stats = cache.stats();
      expect(stats.records.rejected).toBe(5);
      expect(stats.records.rejectedByReason).toEqual({ 'decode-failed': 2, 'unknown-version': 1, 'missing-header': 1, 'value-too-large': 1 });
      expect(stats.records.lastRejected.map((r) => r.offset)).toEqual(offsets);
      expect(stats.state).toBe('live');
    });
  });

  section(9, 'observable', () => {
    it('reports state changes, hits and misses, and per-partition lag', async () => {
      const topic = await harness.newTopic();
      const log = chaos(harness.log(topic));
      const a = open(topic, { log });
      const states: CacheState[] = [];
      a.on('state', (state: CacheState) => states.push(state));
      await a.ready();
      expect(states).toEqual(['bootstrapping', 'live']);
      const b = await openReady(topic);
      log.last!.hold();
      for (let i = 0; i < 20; i++) await b.set(`lag-${i}`, i);
      await b.flush();
      await waitFor(() => a.stats().partitions[0]!.lagRecords >= 20, { message: 'the lag to show on the held instance' });
      await waitFor(() => a.stats().partitions[0]!.lagMs > 0, { message: 'the lag in ms to grow' });
      log.last!.release();
      await waitFor(() => a.stats().partitions[0]!.lagRecords === 0, { message: 'the lag to go back to 0' });
      expect(a.get('lag-0')).toBe(0);
      expect(a.get('missing')).toBeUndefined();
      const stats = a.stats();
      expect(stats.hits).toBe(1);
      expect(stats.misses).toBe(1);
      expect(stats.partitions[0]!.lagMs).toBe(0);
      await a.close();
      expect(states.at(-1)).toBe('closed');
    });
  });

  section(11, 'stall watchdog', () => {
    it('restarts a consumer that makes no progress while the log has records for it', async () => {
      const topic = await harness.newTopic();
      const log = chaos(harness.log(topic));
      const a = await openReady(topic, { log, stallTimeout: 500, lagPollInterval: 50 });
      const b = await openReady(topic);
      const errors: Array<{ code: string }> = [];
      a.on('error', (error) => errors.push(error));
      log.last!.hold();
      await b.set('moved', 1, { durable: true });
      await waitFor(() => log.last!.restarts > 0, { message: 'the watchdog to restart the consumer' });
      expect(a.state).toBe('degraded');
      expect(errors.map((e) => e.code)).toContain('NC_CONSUMER_STALLED');
      log.last!.release();
      await waitFor(() => a.get('moved') === 1 && a.state === 'live', { message: 'the consumer to go on after the restart' });
    });
  });

  section(12, 'own writes removed by the cleaner before they came back', () => {
    const keyOf = (r: { key: Uint8Array | null }) => (r.key ? Buffer.from(r.key).toString() : '');
    const originOf = (r: { headers: Record<string, unknown>; value: Uint8Array | null }) => recordMeta(r)?.origin;

    it('a set superseded and compacted away while the writer was behind does not shield the key', async () => {
      const topic = await harness.newTopic();
      const log = chaos(harness.log(topic));
      const a = await openReady(topic, { log });
      const b = await openReady(topic);
      log.last!.stall();
      await a.set('k', 'from-a', { durable: true });
      await b.set('k', 'from-b', { durable: true });
      await harness.compact(topic, (records) => !records.some((r) => keyOf(r) === 'k' && originOf(r) === a.origin));
      await log.last!.unstall();
      await waitFor(() => a.get('k') === 'from-b', { message: () => `the writer to take the later write, has ${String(a.get('k'))}` });
      await b.set('k', 'again', { durable: true });
      await waitFor(() => a.get('k') === 'again', { message: 'the writer to follow later writes' });
    });

    it('a delete whose tombstone was compacted away does not shield the key', async () => {
      const topic = await harness.newTopic();
      const log = chaos(harness.log(topic));
      const a = await openReady(topic, { log });
      const b = await openReady(topic);
      await a.set('k', 'v', { durable: true });
      await waitFor(() => b.get('k') === 'v', { message: 'the first value on b' });
      log.last!.stall();
      await a.delete('k', { durable: true });
      await harness.compact(topic, (records) => !records.some((r) => keyOf(r) === 'k'));
      await log.last!.unstall();
      await waitFor(() => a.stats().partitions[0]!.lagRecords === 0, { message: 'the writer to catch up' });
      await b.set('k', 'later', { durable: true });
      await waitFor(() => a.get('k') === 'later', { message: () => `the writer to take a later write, has ${String(a.get('k'))}` });
    });

    it('a clear superseded and compacted away does not shield the prefix', async () => {
      const topic = await harness.newTopic();
      const log = chaos(harness.log(topic));
      const a = await openReady(topic, { log });
      const b = await openReady(topic);
      log.last!.stall();
      await a.clearPrefix('p:', { durable: true });
      await b.clearPrefix('p:', { durable: true });
      await harness.compact(topic, (records) => !records.some((r) => keyOf(r).includes('clear') && originOf(r) === a.origin));
      await log.last!.unstall();
      await waitFor(() => a.stats().partitions[0]!.lagRecords === 0, { message: 'the writer to catch up' });
      await b.set('p:1', 'x', { durable: true });
      await waitFor(() => a.get('p:1') === 'x', { message: 'the writer to take a write under the prefix' });
    });
  });

  section(10, 'clean close', () => {
    it('close() leaves nothing running: the process exits on its own', async () => {
      const topic = await harness.newTopic();
      const child = spawn(process.execPath, [fileURLToPath(new URL('../fixtures/close-child.mjs', import.meta.url)), harness.name, topic], {
        env: { ...process.env, ...options.childEnv?.() },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const code = await new Promise<number | null>((resolve, reject) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`the process did not exit on its own after close(): ${output}`));
        }, 60_000);
        child.on('exit', (exitCode) => {
          clearTimeout(timer);
          resolve(exitCode);
        });
      });
      expect(output).toContain('closed with state closed');
      expect(code).toBe(0);
    });
  });
}
