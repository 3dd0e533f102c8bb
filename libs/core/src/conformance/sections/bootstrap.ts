import type { ContractSection } from '../contract.js';
import { chaos } from '../chaos.js';
import { foreignDelete } from '../records.js';
import { waitFor } from '../support.js';

/** What an instance holds once ready: catch-up, deletes that stick, expiry across replay. */
export const bootstrapSections: ContractSection[] = [
  {
    number: 1,
    title: 'ready after catch-up',
    register({ it, open, openReady, harness, t: { expect } }) {
      it('resolves on an empty topic', async () => {
        const topic = await harness().newTopic();
        const cache = await openReady(topic);
        expect(cache.state).toBe('live');
        expect(cache.size).toBe(0);
        expect(cache.stats().partitions.every((p) => p.lagRecords === 0)).toBe(true);
      });

      it('resolves on a topic holding only tombstones', async () => {
        const topic = await harness().newTopic();
        await harness().produce(topic, [foreignDelete('a'), foreignDelete('b', { writeId: 2 }), foreignDelete('a', { writeId: 3 })]);
        const cache = await openReady(topic);
        expect(cache.get('a')).toBeUndefined();
        expect(cache.stats().records.applied).toBe(3);
      });

      it('resolves when compaction removed the tail of the log', async () => {
        const topic = await harness().newTopic();
        const writer = await openReady(topic);
        for (let i = 0; i < 5; i++) await writer.set(`k${i}`, i);
        for (let i = 2; i < 5; i++) await writer.delete(`k${i}`);
        await writer.flush();
        const gone = (key: string) => (records: { key: Uint8Array | null }[]) => !records.some((r) => r.key && Buffer.from(r.key).toString() === key);
        await harness().compact(topic, (records) => ['k2', 'k3', 'k4'].every((k) => gone(k)(records)));
        const fresh = await openReady(topic);
        expect(fresh.get('k0')).toBe(0);
        expect(fresh.get('k1')).toBe(1);
        for (let i = 2; i < 5; i++) expect(fresh.has(`k${i}`)).toBe(false);
      });

      it('reads every partition before it resolves', async () => {
        const topic = await harness().newTopic({ partitions: 3 });
        const writer = await openReady(topic);
        for (let i = 0; i < 60; i++) await writer.set(`key-${i}`, { i });
        await writer.flush();
        const fresh = await openReady(topic);
        expect(fresh.size).toBe(60);
        expect(fresh.stats().partitions).toHaveLength(3);
        expect(new Set(fresh.stats().partitions.map((p) => p.position > 0))).toEqual(new Set([true]));
      });

      it('rejects at its deadline with a typed error, and resolves later', async () => {
        const topic = await harness().newTopic();
        const writer = await openReady(topic);
        for (let i = 0; i < 300; i++) void writer.set(`bulk-${i}`, { i, pad: 'x'.repeat(50) });
        await writer.flush();
        const log = chaos(harness().log(topic));
        const fresh = open(topic, { log });
        log.last!.hold();
        await expect(fresh.ready({ timeout: 200 })).rejects.toMatchObject({ code: 'NC_BOOTSTRAP_TIMEOUT', retriable: true });
        expect(fresh.state).not.toBe('live');
        log.last!.release();
        await fresh.ready();
        expect(fresh.size).toBe(300);
      });
    },
  },
  {
    number: 5,
    title: 'deletes stick',
    register({ it, openReady, harness, t: { expect } }) {
      it('a fresh instance never returns a deleted value, also after the log cleaner ran', async () => {
        const topic = await harness().newTopic();
        const writer = await openReady(topic);
        await writer.set('a', 'old');
        await writer.set('b', 'kept');
        await writer.delete('a');
        await writer.flush();
        const before = await openReady(topic);
        expect(before.has('a')).toBe(false);
        await harness().compact(topic, (records) => !records.some((r) => r.key && Buffer.from(r.key).toString() === 'a'));
        const after = await openReady(topic);
        expect(after.has('a')).toBe(false);
        expect(after.get('b')).toBe('kept');
      });

      it('an instance restarted with the same instanceId does not bring back what it deleted or cleared', async () => {
        const topic = await harness().newTopic();
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
        const topic = await harness().newTopic();
        const writer = await openReady(topic);
        await writer.set('p:1', 1);
        await writer.set('p:2', 2);
        await writer.set('q:1', 'q');
        await writer.clearPrefix('p:');
        await writer.set('p:3', 3);
        await writer.flush();
        await harness().compact(topic, (records) => records.length > 0);
        const fresh = await openReady(topic);
        expect([...fresh.keys()].sort()).toEqual(['p:3', 'q:1']);
      });
    },
  },
  {
    number: 6,
    title: 'expiry survives replay',
    register({ it, openReady, harness, t: { expect } }) {
      it('bootstrap does not resurrect an expired entry', async () => {
        const topic = await harness().newTopic();
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
        const topic = await harness().newTopic();
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
    },
  },
];
