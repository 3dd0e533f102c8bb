import type { CacheChange } from '../../cache.js';
import type { ContractSection } from '../contract.js';
import { chaos } from '../chaos.js';
import { diff, snapshot } from '../oracle.js';
import { foreignSet } from '../records.js';
import { prng, waitFor } from '../support.js';

/** Read-your-writes, convergence, no time travel, writes while the log is down. */
export const writeSections: ContractSection[] = [
  {
    number: 2,
    title: 'read-your-writes',
    register({ it, openReady, expectConverged, harness, t: { expect } }) {
      it('the writer reads its write at once, even while older records of the key are still arriving', async () => {
        const topic = await harness().newTopic();
        const log = chaos(harness().log(topic));
        const a = await openReady<string>(topic, { log });
        log.last!.hold();
        await harness().produce(
          topic,
          Array.from({ length: 20 }, (_, i) => foreignSet('k', `old-${i}`, { writeId: i + 1 })),
        );
        await a.set('k', 'new');
        expect(a.get('k')).toBe('new');
        const seen: Array<string | undefined> = [];
        a.on('change', (change: CacheChange) => {
          if (change.key === 'k') seen.push(a.get('k'));
        });
        log.last!.release();
        await a.flush();
        // The log cleaner may have removed older records of `k` by now: the end is an offset, and
        // the writer applied at least what a fresh reader still sees.
        const records = await harness().records(topic);
        const end = records[records.length - 1]!.offset + 1;
        await waitFor(() => a.stats().partitions[0]!.position >= end, { message: 'the writer to apply its own record' });
        expect(a.get('k')).toBe('new');
        expect(seen.filter((v) => v !== 'new')).toEqual([]);
        expect(end).toBe(21);
        expect(a.stats().records.applied).toBeGreaterThanOrEqual(records.length);
      });

      it('a delete is read at once on the writer', async () => {
        const topic = await harness().newTopic();
        const log = chaos(harness().log(topic));
        const a = await openReady(topic, { log });
        log.last!.hold();
        await harness().produce(topic, [foreignSet('d', 'remote')]);
        await a.delete('d');
        log.last!.release();
        await a.flush();
        await expectConverged(topic, [a]);
        expect(a.has('d')).toBe(false);
      });
    },
  },
  {
    number: 3,
    title: 'convergence',
    register({ it, openReady, expectConverged, harness, t: { expect } }) {
      for (const partitions of [1, 3]) {
        it(`random writes from three instances converge to the log (${partitions} partitions)`, async () => {
          const topic = await harness().newTopic({ partitions });
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
      }
    },
  },
  {
    number: 4,
    title: 'no time travel',
    register({ it, openReady, harness, t: { expect } }) {
      it('a consumer restarted from offset 0 does not roll values back', async () => {
        const topic = await harness().newTopic();
        const writer = await openReady<number>(topic);
        for (let i = 1; i <= 50; i++) await writer.set('k', i, { durable: true });
        await writer.flush();
        const log = chaos(harness().log(topic));
        const reader = await openReady<number>(topic, { log });
        expect(reader.get('k')).toBe(50);
        const changes: Array<number | undefined> = [];
        reader.on('change', (change: CacheChange) => {
          if (change.key === 'k') changes.push(reader.get('k'));
        });
        await log.last!.replayFromZero();
        // Records are applied in order: once the next new one is in, every replayed one was handled.
        await waitFor(() => reader.stats().records.replayed > 0, {
          message: () => `replayed records to be delivered again: ${JSON.stringify(reader.stats().records)}`,
        });
        await writer.set('k', 51);
        await waitFor(() => reader.get('k') === 51, { message: 'the restarted consumer to go on with new records' });
        expect(changes).toEqual([51]);
      });
    },
  },
  {
    number: 7,
    title: 'writes never hang',
    register({ it, openReady, expectConverged, harness, t: { expect } }) {
      it('applies and queues writes while the log is down, rejects durable ones at their deadline, drains on recovery', async () => {
        const outage = harness().outage;
        if (!outage) throw new Error(`the ${harness().name} harness cannot make the log unavailable: give it outage, or leave section 7 out`);
        const topic = await harness().newTopic();
        const a = await openReady(topic, { flushTimeout: 1500 });
        const b = await openReady(topic);
        await a.set('before', 1);
        await waitFor(() => b.get('before') === 1, { message: 'replication before the outage' });
        await outage.down();
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
          await outage.up();
        }
        await waitFor(() => a.stats().queue.depth === 0, { timeout: 60_000, message: 'the queue to drain after recovery' });
        await waitFor(() => a.state === 'live', { timeout: 60_000, message: 'the writer to be live again' });
        const expected = await expectConverged(topic, [a, b], 60_000);
        expect(expected.get('w9')).toBe(99);
        expect(expected.get('durable')).toBe('d');
      });
    },
  },
];
