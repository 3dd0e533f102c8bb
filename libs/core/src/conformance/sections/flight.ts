import type { LogRecord } from '../../record.js';
import type { ContractSection } from '../contract.js';
import { heldLoader, waitFor } from '../support.js';

const keyOf = (r: LogRecord) => (r.key ? Buffer.from(r.key).toString('utf8') : '');
const CLAIM_RECORD = '\u0000nc:claim:';
/** Far longer than a claim takes to go round the log, even on a heavily loaded machine: every wait here ends on a record, never at its deadline (which would let waiters load, and the count of loads would measure the machine). */
const WAIT = 60_000;

/** Fleet-wide single flight: instances missing a key together load it once, the log ordering their claims. */
export const flightSections: ContractSection[] = [
  {
    number: 18,
    title: 'fleet-wide single flight',
    register({ it, openReady, expectConverged, harness, t: { expect } }) {
      it('instances missing one key at once call the loader at most twice; every one answers; the claims are no values', async () => {
        const topic = await harness().newTopic({ partitions: 3 });
        const fleet = await Promise.all(Array.from({ length: 5 }, () => openReady<string>(topic, { fleetWait: WAIT })));
        let calls = 0;
        const loaded: string[] = [];
        const loader = async (): Promise<string> => {
          const value = `loaded-${++calls}`;
          loaded.push(value);
          return value;
        };
        const answers = await Promise.all(fleet.map((cache) => cache.wrap('user:42', loader)));
        expect(calls).toBeGreaterThanOrEqual(1);
        expect(calls).toBeLessThanOrEqual(2);
        for (const answer of answers) expect(loaded).toContain(answer);
        const expected = await expectConverged(topic, fleet);
        expect(loaded).toContain(expected.get('user:42'));
        expect([...expected.keys()]).toEqual(['user:42']);
        const late = await openReady<string>(topic);
        expect(late.stats().records.rejected).toBe(0);
        expect(late.get('user:42')).toBe(expected.get('user:42'));
      });

      it('a claimer that dies: the others load themselves once the wait ends, not before', async () => {
        const topic = await harness().newTopic();
        const wait = 1500;
        const a = await openReady<string>(topic, { fleetWait: wait });
        const b = await openReady<string>(topic, { fleetWait: wait });
        // The claim of an instance that is gone: it never loads, never releases.
        await harness().produce(topic, [
          { partition: 0, key: `${CLAIM_RECORD}k`, value: 'k', headers: { 'nc-r': `3 f ${Date.now() + 600_000} 1 structured gone.0badc0de` } },
        ]);
        await waitFor(() => a.stats().partitions[0]!.position > 0 && b.stats().partitions[0]!.position > 0, { message: 'the dead claim on a and b' });
        let calls = 0;
        const started = Date.now();
        const answers = await Promise.all([a.wrap('k', async () => `a${++calls}`), b.wrap('k', async () => `b${++calls}`)]);
        expect(Date.now() - started).toBeGreaterThanOrEqual(wait - 20);
        expect(calls).toBe(2);
        // Each answered with its own load.
        expect(answers.map((answer) => answer[0]).sort()).toEqual(['a', 'b']);
        const expected = await expectConverged(topic, [a, b]);
        expect(answers).toContain(expected.get('k'));
      });

      it('a write during the wait answers the waiters; the load it overtook is cached nowhere', async () => {
        const topic = await harness().newTopic();
        const a = await openReady<string>(topic, { fleetWait: WAIT });
        const b = await openReady<string>(topic, { fleetWait: WAIT });
        const c = await openReady<string>(topic);
        const held = heldLoader<string>();
        const loading = a.wrap('k', held.loader);
        await waitFor(held.started, { message: 'a to win the claim and load' });
        let bCalls = 0;
        const waiting = b.wrap('k', async () => `b${++bCalls}`);
        // b's claim is in the log after a's: b waits for a's value.
        await waitFor(async () => (await harness().records(topic)).filter((r) => keyOf(r) === `${CLAIM_RECORD}k`).length === 2, {
          message: 'both claims in the log',
        });
        await c.set('k', 'written', { durable: true });
        expect(await waiting).toBe('written');
        expect(bCalls).toBe(0);
        held.release('overtaken');
        expect(await loading).toBe('overtaken');
        const expected = await expectConverged(topic, [a, b, c]);
        expect(expected.get('k')).toBe('written');
      });

      it('the loader’s release lets compaction remove the claims; a later start reads no lingering round', async () => {
        const topic = await harness().newTopic();
        const a = await openReady<string>(topic, { fleetWait: WAIT });
        const b = await openReady<string>(topic, { fleetWait: WAIT });
        let calls = 0;
        await Promise.all([a.wrap('k', async () => `v${++calls}`), b.wrap('k', async () => `v${++calls}`)]);
        expect(calls).toBe(1);
        await a.set('other', 'x');
        await expectConverged(topic, [a, b]);
        await harness().compact(topic, (records) => !records.some((r) => keyOf(r) === `${CLAIM_RECORD}k` && r.value !== null));
        const late = await openReady<string>(topic, { fleetWait: WAIT });
        expect(late.get('k')).toBe('v1');
        // The key's value is gone: a miss on the fresh instance claims and loads at once (its claim is the first since).
        await late.delete('k', { durable: true });
        const held = heldLoader<string>();
        const reloading = late.wrap('k', held.loader);
        await waitFor(held.started, { timeout: WAIT - 5000, message: 'the fresh instance to load before a wait would end' });
        held.release('reloaded');
        expect(await reloading).toBe('reloaded');
        // Claims and releases are records every reader knows (a compaction's fillers carry no metadata at all).
        expect(late.stats().records.lastRejected.filter((r) => r.reason !== 'missing-header')).toEqual([]);
      });
    },
  },
];
