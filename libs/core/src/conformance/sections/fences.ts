import type { NearCache } from '../../cache.js';
import type { LogRecord } from '../../record.js';
import type { ContractSection } from '../contract.js';
import { chaos } from '../chaos.js';
import { diff, foldTopic, snapshot } from '../oracle.js';
import { recordMeta } from '../records.js';
import { heldLoader, waitFor, watch } from '../support.js';

const keyOf = (r: LogRecord) => (r.key ? Buffer.from(r.key).toString('utf8') : '');

/** Fenced loads: a value loaded by `wrap` never replaces a write of its key appended after the load began. */
export const fenceSections: ContractSection[] = [
  {
    number: 13,
    title: 'fenced loads',
    register({ it, openReady, expectConverged, harness, t: { expect } }) {
      it('a load that ends after another instance deleted, then set the key returns its value and caches it nowhere', async () => {
        const topic = await harness().newTopic();
        const a = await openReady<string>(topic);
        const b = await openReady<string>(topic);
        await b.set('k', 'old', { durable: true });
        await waitFor(() => a.get('k') === 'old', { message: 'the first value on a' });
        await a.delete('k', { durable: true });
        await waitFor(() => b.get('k') === undefined, { message: 'the delete on b' });
        const held = heldLoader<string>();
        const loading = a.wrap('k', held.loader);
        expect(held.started()).toBe(true);
        await b.delete('k', { durable: true });
        await b.set('k', 'new', { durable: true });
        await waitFor(() => a.get('k') === 'new', { message: () => `a to apply b's writes, has ${String(a.get('k'))}` });
        held.release('loaded-before-the-writes');
        expect(await loading).toBe('loaded-before-the-writes');
        expect(a.get('k')).toBe('new');
        const expected = await expectConverged(topic, [a, b]);
        expect(expected.get('k')).toBe('new');
        const late = await openReady<string>(topic);
        expect(late.get('k')).toBe('new');
      });

      it('a load appended after the writes it missed is refused everywhere and corrected, also after compaction', async () => {
        const topic = await harness().newTopic();
        const log = chaos(harness().log(topic));
        const a = await openReady<string>(topic, { log });
        const b = await openReady<string>(topic);
        const seenOnB = watch(b as NearCache, 'k');
        // a falls behind the log: it will not have read b's writes when its load ends.
        log.last!.hold();
        const held = heldLoader<string>();
        const loading = a.wrap('k', held.loader);
        await b.delete('k', { durable: true });
        await b.set('k', 'new', { durable: true });
        held.release('stale');
        // a has not seen b's writes: it caches and appends its value, after them in the log.
        expect(await loading).toBe('stale');
        await a.flush();
        const seenOnA = watch(a as NearCache, 'k');
        log.last!.release();
        const expected = await expectConverged(topic, [a, b]);
        expect(expected.get('k')).toBe('new');
        // The correction: after the stale load, a second fenced record of a's restates b's value.
        await waitFor(
          async () => {
            const records = (await harness().records(topic)).filter((r) => keyOf(r) === 'k');
            const fenced = records.filter((r) => recordMeta(r)?.origin === a.origin && recordMeta(r)?.fence !== undefined);
            return fenced.length === 2 && fenced[1] === records[records.length - 1];
          },
          { message: 'the writer of the stale load to append its correction' },
        );
        expect(seenOnB).not.toContain('stale');
        expect(seenOnA.filter((v) => v === 'stale')).toEqual([]);
        expect(a.get('k')).toBe('new');
        expect(b.get('k')).toBe('new');
        // Compaction removes b's writes (the stale load supersedes them): the correction still wins.
        await harness().compact(topic, (records) => records.filter((r) => keyOf(r) === 'k').length === 1);
        const late = await openReady<string>(topic);
        expect(late.get('k')).toBe('new');
        expect(diff(snapshot(late), foldTopic(await harness().records(topic)))).toEqual([]);
      });

      it('a load that raced a delete leaves the key absent everywhere, also after compaction', async () => {
        const topic = await harness().newTopic();
        const log = chaos(harness().log(topic));
        const a = await openReady<string>(topic, { log });
        const b = await openReady<string>(topic);
        await b.set('k', 'old', { durable: true });
        await waitFor(() => a.get('k') === 'old', { message: 'the first value on a' });
        await a.delete('k', { durable: true });
        await waitFor(() => b.get('k') === undefined && a.stats().queue.depth === 0, { message: 'the delete on b' });
        log.last!.hold();
        const held = heldLoader<string>();
        const loading = a.wrap('k', held.loader);
        await b.set('k', 'between', { durable: true });
        await b.delete('k', { durable: true });
        held.release('stale');
        expect(await loading).toBe('stale');
        await a.flush();
        log.last!.release();
        const expected = await expectConverged(topic, [a, b]);
        expect(expected.has('k')).toBe(false);
        await waitFor(
          async () => {
            const records = (await harness().records(topic)).filter((r) => keyOf(r) === 'k');
            return recordMeta(records[records.length - 1]!)?.fence !== undefined && records[records.length - 1]!.value === null;
          },
          { message: 'the correction (a fenced tombstone)' },
        );
        await harness().compact(topic, (records) => !records.some((r) => keyOf(r) === 'k'));
        const late = await openReady<string>(topic);
        expect(late.get('k')).toBeUndefined();
      });

      it('a load with no write in its way is cached on every instance, and a plain set after it wins', async () => {
        const topic = await harness().newTopic();
        const a = await openReady<string>(topic);
        const b = await openReady<string>(topic);
        expect(await a.wrap('k', () => 'loaded')).toBe('loaded');
        await waitFor(() => b.get('k') === 'loaded', { message: 'the loaded value on b' });
        await b.set('k', 'set', { durable: true });
        await waitFor(() => a.get('k') === 'set', { message: 'the later set on a' });
        await expectConverged(topic, [a, b]);
        const late = await openReady<string>(topic);
        expect(late.get('k')).toBe('set');
      });
    },
  },
];
