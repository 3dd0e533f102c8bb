import { mergeSessionTokens } from '../../cache.js';
import type { ContractSection } from '../contract.js';
import { chaos } from '../chaos.js';
import { waitFor } from '../support.js';

/** Writes made in the background while a test runs, by `writer`, on keys of their own; `stop()` ends them. */
function backgroundLoad(writer: { set(key: string, value: unknown): Promise<void> }): { stop(): Promise<number> } {
  let running = true;
  let written = 0;
  const loop = (async () => {
    while (running) {
      await writer.set(`load:${written % 64}`, written);
      written++;
      if (written % 16 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return written;
    },
  };
}

/** Session read-your-writes across instances, and bounded staleness (docs/consistency.md, 12 and 13). */
export const freshnessSections: ContractSection[] = [
  {
    number: 14,
    title: 'session read-your-writes across instances',
    register({ it, openReady, harness, t: { expect } }) {
      it('a reader given the session token never shows an older value, under load; without it, some reads are stale', async () => {
        const topic = await harness().newTopic({ partitions: 3 });
        const a = await openReady<number>(topic);
        const log = chaos(harness().log(topic));
        const b = await openReady<number>(topic, { log });
        const c = await openReady<number>(topic);
        const load = backgroundLoad(c);
        const rounds = 150;
        let session: string | undefined;
        let staleWithout = 0;
        let staleWith = 0;
        let missesWith = 0;
        let staleAfterWait = 0;
        try {
          for (let round = 1; round <= rounds; round++) {
            // The reader falls behind now and then, as a busy consumer or a slow fetch would.
            const held = round % 4 === 0;
            if (held) log.last!.hold();
            const key = `session:${round % 7}`;
            await a.set(key, round);
            session = mergeSessionTokens(session, await a.sessionToken());
            const plain = b.get(key);
            if (plain !== round) staleWithout++;
            const guarded = b.get(key, { after: session });
            if (guarded === undefined) missesWith++;
            else if (guarded !== round) staleWith++;
            const caughtUp = b.catchUpTo(session!, { timeout: 30_000 });
            if (held) setImmediate(() => log.last!.release());
            await caughtUp;
            if (b.get(key, { after: session }) !== round) staleAfterWait++;
          }
        } finally {
          log.last!.release();
          await load.stop();
        }
        expect(staleWith).toBe(0);
        expect(staleAfterWait).toBe(0);
        // Without the token the reader shows older values: the token is what made the reads above fresh.
        expect(staleWithout).toBeGreaterThan(0);
        expect(missesWith).toBeGreaterThan(0);
        expect(b.isCaughtUpTo(session!)).toBe(true);
      });

      it('a reader that caught up to a delete or a clear shows neither the deleted nor the cleared value', async () => {
        const topic = await harness().newTopic({ partitions: 3 });
        const a = await openReady(topic);
        const log = chaos(harness().log(topic));
        const b = await openReady(topic, { log });
        await a.set('d', 1);
        await a.set('p:1', 1);
        await b.catchUpTo(await a.sessionToken());
        expect(b.get('d')).toBe(1);
        log.last!.hold();
        await a.delete('d');
        await a.clearPrefix('p:');
        const token = await a.sessionToken();
        expect(b.get('d')).toBe(1);
        expect(b.get('d', { after: token })).toBeUndefined();
        expect(b.isCaughtUpTo(token)).toBe(false);
        const caughtUp = b.catchUpTo(token, { timeout: 30_000 });
        log.last!.release();
        await caughtUp;
        expect(b.get('d', { after: token })).toBeUndefined();
        expect(b.get('p:1', { after: token })).toBeUndefined();
        expect(b.has('p:1')).toBe(false);
      });

      it('catchUpTo rejects at its deadline with a typed error while the reader cannot reach the token', async () => {
        const topic = await harness().newTopic();
        const a = await openReady(topic);
        const log = chaos(harness().log(topic));
        const b = await openReady(topic, { log });
        log.last!.hold();
        await a.set('k', 1);
        const token = await a.sessionToken();
        await expect(b.catchUpTo(token, { timeout: 200 })).rejects.toMatchObject({ code: 'NC_CATCH_UP_TIMEOUT', retriable: true });
        await expect(b.catchUpTo('v1.x.0-1')).rejects.toMatchObject({ code: 'NC_INVALID_SESSION_TOKEN' });
        log.last!.release();
        await b.catchUpTo(token, { timeout: 30_000 });
        expect(b.get('k', { after: token })).toBe(1);
      });
    },
  },
  {
    number: 15,
    title: 'bounded staleness',
    register({ it, openReady, harness, t: { expect } }) {
      it('a read with maxStaleness never shows a value older than what the log held that long ago', async () => {
        const topic = await harness().newTopic();
        const writer = await openReady<number>(topic);
        const log = chaos(harness().log(topic));
        const maxStaleness = 150;
        const reader = await openReady<number>(topic, { log, lagPollInterval: 1000 });
        // When each write was acknowledged by the log (the reader's clock: the same process).
        const acked: Array<{ at: number; value: number }> = [];
        let hits = 0;
        let misses = 0;
        let stalePlain = 0;
        let violations: string[] = [];
        const started = Date.now();
        let value = 0;
        while (Date.now() - started < 3000 || hits === 0 || misses === 0) {
          if (Date.now() - started > 20_000) break;
          // The reader's consumer stalls for a while now and then, longer than the bound.
          const phase = Math.floor((Date.now() - started) / 400) % 3;
          if (phase === 2) log.last!.hold();
          else log.last!.release();
          await writer.set('k', ++value, { durable: true });
          acked.push({ at: Date.now(), value });
          for (let i = 0; i < 5; i++) {
            const now = Date.now();
            const shown = reader.get('k', { maxStaleness });
            const plain = reader.get('k');
            // Every write acknowledged before now - maxStaleness must be visible.
            const due = acked.filter((w) => w.at < now - maxStaleness).at(-1)?.value ?? 0;
            if (plain !== undefined && plain < due) stalePlain++;
            if (shown === undefined) misses++;
            else {
              hits++;
              if (shown < due) violations.push(`showed ${shown} at +${now - started} ms, while ${due} was acknowledged more than ${maxStaleness} ms before`);
            }
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        }
        log.last!.release();
        violations = violations.slice(0, 5);
        expect(violations).toEqual([]);
        expect(hits).toBeGreaterThan(0);
        expect(misses).toBeGreaterThan(0);
        // The same reads without the bound showed values older than it: the bound made the difference.
        expect(stalePlain).toBeGreaterThan(0);
      });

      it('an instance confirms its freshness again once it caught up, and wrap loads while it cannot', async () => {
        const topic = await harness().newTopic();
        const writer = await openReady(topic);
        const log = chaos(harness().log(topic));
        const reader = await openReady(topic, { log, lagPollInterval: 60_000 });
        await writer.set('k', 'v1', { durable: true });
        await waitFor(() => reader.get('k', { maxStaleness: 200 }) === 'v1', { message: () => `a fresh hit, staleness ${reader.staleness()}` });
        log.last!.hold();
        await writer.set('k', 'v2', { durable: true });
        await waitFor(() => reader.get('k', { maxStaleness: 200 }) === undefined, { message: 'a miss once the bound passed' });
        expect(reader.get('k')).toBe('v1');
        expect(reader.staleness()).toBeGreaterThan(200);
        let loads = 0;
        const loaded = await reader.wrap(
          'k',
          () => {
            loads++;
            return 'loaded';
          },
          { maxStaleness: 200 },
        );
        expect(loaded).toBe('loaded');
        expect(loads).toBe(1);
        log.last!.release();
        await waitFor(() => reader.staleness() <= 200 && reader.get('k', { maxStaleness: 200 }) !== undefined, {
          message: () => `a confirmation after the release, staleness ${reader.staleness()}`,
        });
      });
    },
  },
];
