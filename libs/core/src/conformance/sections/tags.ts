import type { NearCache } from '../../cache.js';
import type { LogRecord } from '../../record.js';
import type { ContractSection } from '../contract.js';
import { chaos } from '../chaos.js';
import { diff, foldTopic, snapshot } from '../oracle.js';
import { recordMeta } from '../records.js';
import { heldLoader, waitFor, watch } from '../support.js';

const keyOf = (r: LogRecord) => (r.key ? Buffer.from(r.key).toString('utf8') : '');
const TAG_RECORD = '\u0000nc:tag:';

/** Tags: `invalidateTags` removes every entry carrying one of its tags written before it, on every instance and at every later start. */
export const tagSections: ContractSection[] = [
  {
    number: 17,
    title: 'tags',
    register({ it, openReady, expectConverged, harness, t: { expect } }) {
      it('an invalidation removes the entries carrying the tag on every instance; untagged entries and a later tagged set stay', async () => {
        const topic = await harness().newTopic({ partitions: 3 });
        const a = await openReady<string>(topic);
        const b = await openReady<string>(topic);
        for (let i = 0; i < 12; i++) await a.set(`item:${i}`, `v${i}`, i % 3 === 0 ? undefined : { tags: [i % 2 === 0 ? 'even' : 'odd', 'items'] });
        await a.flush();
        await waitFor(() => b.get('item:11') === 'v11', { message: 'the tagged entries on b' });
        await b.invalidateTags(['odd'], { durable: true });
        await a.set('item:1', 'again', { tags: ['odd'], durable: true });
        const expected = await expectConverged(topic, [a, b]);
        for (const cache of [a, b]) {
          expect(cache.get('item:1')).toBe('again');
          expect(cache.get('item:5')).toBeUndefined();
          expect(cache.get('item:4')).toBe('v4');
          expect(cache.get('item:3')).toBe('v3');
        }
        expect([...expected.keys()].sort()).toEqual(['item:0', 'item:1', 'item:10', 'item:2', 'item:3', 'item:4', 'item:6', 'item:8', 'item:9']);
      });

      it('a fresh instance bootstrapping after an invalidation never serves a tagged entry written before it, also after compaction', async () => {
        const topic = await harness().newTopic({ partitions: 3 });
        const a = await openReady<string>(topic);
        for (let i = 0; i < 9; i++) await a.set(`doc:${i}`, `old${i}`, { tags: ['docs'] });
        await a.set('plain', 'kept');
        await a.invalidateTags(['docs']);
        await a.invalidateTags(['docs'], { durable: true });
        await a.set('doc:late', 'new', { tags: ['docs'], durable: true });
        const check = async (): Promise<void> => {
          const fresh = await openReady<string>(topic);
          for (let i = 0; i < 9; i++) expect(fresh.get(`doc:${i}`)).toBeUndefined();
          expect(fresh.get('doc:late')).toBe('new');
          expect(fresh.get('plain')).toBe('kept');
          expect(diff(snapshot(fresh), foldTopic(await harness().records(topic)))).toEqual([]);
        };
        await check();
        // The first invalidation is superseded by the second (one record per tag and partition is kept).
        await harness().compact(topic, (records) => records.filter((r) => keyOf(r).startsWith(TAG_RECORD)).length === 3);
        const records = await harness().records(topic);
        expect(records.filter((r) => keyOf(r).startsWith('doc:') && r.value !== null).length).toBe(10);
        await check();
      });

      it('read-your-writes: a tagged set read after a local invalidation that it precedes in the log never shows', async () => {
        const topic = await harness().newTopic();
        const log = chaos(harness().log(topic));
        const a = await openReady<string>(topic, { log });
        const b = await openReady<string>(topic);
        log.last!.hold();
        await b.set('k', 'tagged', { tags: ['t'], durable: true });
        await b.set('other', 'plain', { durable: true });
        await a.invalidateTags(['t'], { durable: true });
        const seenOnA = watch(a as NearCache, 'k');
        log.last!.release();
        await expectConverged(topic, [a, b]);
        expect(seenOnA).not.toContain('tagged');
        expect(a.get('k')).toBeUndefined();
        expect(b.get('k')).toBeUndefined();
        expect(a.get('other')).toBe('plain');
      });

      it('a load whose value carries a tag invalidated while it ran is cached nowhere, also after compaction', async () => {
        const topic = await harness().newTopic();
        const log = chaos(harness().log(topic));
        const a = await openReady<string>(topic, { log });
        const b = await openReady<string>(topic);
        const seenOnB = watch(b as NearCache, 'k');
        // a falls behind: its load ends before it reads b's invalidation, so it appends its value after it.
        log.last!.hold();
        const held = heldLoader<string>();
        const loading = a.wrap('k', held.loader, { tags: ['t'] });
        await b.invalidateTags(['t'], { durable: true });
        held.release('stale');
        expect(await loading).toBe('stale');
        await a.flush();
        log.last!.release();
        const expected = await expectConverged(topic, [a, b]);
        expect(expected.has('k')).toBe(false);
        expect(seenOnB).not.toContain('stale');
        // The writer of the stale load corrects it (a fenced tombstone), so compaction cannot bring it back.
        await waitFor(
          async () => {
            const records = (await harness().records(topic)).filter((r) => keyOf(r) === 'k');
            return records.length > 0 && recordMeta(records[records.length - 1]!)?.fence !== undefined && records[records.length - 1]!.value === null;
          },
          { message: 'the correction of the stale load' },
        );
        await harness().compact(topic, (records) => !records.some((r) => keyOf(r) === 'k'));
        const late = await openReady<string>(topic);
        expect(late.get('k')).toBeUndefined();
        // Without a race, a tagged load is cached everywhere.
        expect(await a.wrap('k2', () => 'loaded', { tags: ['t'] })).toBe('loaded');
        await waitFor(() => b.get('k2') === 'loaded', { message: 'the loaded value on b' });
      });
    },
  },
];
