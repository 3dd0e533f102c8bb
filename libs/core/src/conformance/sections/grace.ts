import type { ContractSection } from '../contract.js';
import { waitFor } from '../support.js';

const TTL = 1000;

/** The error `promise` rejects with; undefined when it resolves. */
function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}
const GRACE = 60_000;

/** Grace survives replay (docs/consistency.md, 14): the grace end travels in the record, so every instance, a fresh one too, knows it. */
export const graceSections: ContractSection[] = [
  {
    number: 16,
    title: 'grace survives replay',
    register({ it, openReady, harness, t: { expect } }) {
      it('an expired value in grace is a miss for get and the fallback of a failing wrap, on the writer, another instance and a fresh one; past its grace, nowhere', async () => {
        const topic = await harness().newTopic();
        // One clock for every instance, moved by the test.
        let now = Date.now();
        const clock = { now: () => now };
        const a = await openReady<string>(topic, { clock });
        const b = await openReady<string>(topic, { clock });
        const boom = new Error('the source is down');
        const failing = (): Promise<string> => Promise.reject(boom);
        const options = { ttl: TTL, grace: GRACE };
        expect(await a.wrap('rates', () => 'r1', options)).toBe('r1');
        await a.flush();
        await waitFor(() => b.get('rates') === 'r1', { message: 'the loaded value on the other instance' });
        now += 2 * TTL;
        for (const cache of [a, b]) {
          expect(cache.get('rates')).toBeUndefined();
          expect(cache.has('rates')).toBe(false);
          expect(await cache.wrap('rates', failing, options)).toBe('r1');
        }
        // A fresh instance reads the record after its expiry, within its grace.
        const fresh = await openReady<string>(topic, { clock });
        expect(fresh.get('rates')).toBeUndefined();
        expect(await fresh.wrap('rates', failing, options)).toBe('r1');
        expect(fresh.stats().staleServed).toBe(1);
        // Past the grace: a fresh instance keeps nothing, and no instance falls back.
        now += GRACE;
        const late = await openReady<string>(topic, { clock });
        expect(late.stats().entries).toBe(0);
        for (const cache of [a, b, fresh, late]) expect(await failure(cache.wrap('rates', failing, options))).toBe(boom);
      });

      it('a write after the expiry replaces the value in grace everywhere; a delete removes it', async () => {
        const topic = await harness().newTopic();
        let now = Date.now();
        const clock = { now: () => now };
        const a = await openReady<string>(topic, { clock });
        const b = await openReady<string>(topic, { clock });
        const failing = (): Promise<string> => Promise.reject(new Error('down'));
        const options = { ttl: TTL, grace: GRACE };
        await a.wrap('x', () => 'x1', options);
        await a.wrap('y', () => 'y1', options);
        await a.flush();
        await waitFor(() => b.get('x') === 'x1' && b.get('y') === 'y1', { message: 'the loaded values on the other instance' });
        now += 2 * TTL;
        await b.set('x', 'x2');
        await b.delete('y');
        await b.flush();
        await waitFor(() => a.get('x') === 'x2', { message: 'the write on the loading instance' });
        const fresh = await openReady<string>(topic, { clock });
        for (const cache of [a, b, fresh]) {
          expect(await cache.wrap('x', failing, options)).toBe('x2');
          expect(((await failure(cache.wrap('y', failing, options))) as Error).message).toBe('down');
        }
      });
    },
  },
];
