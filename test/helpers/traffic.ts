import type { NearCache, NearCacheError } from '@nearcache/core';

export interface Traffic {
  /** Writes issued per instance. */
  readonly writes: number[];
  /** Durable writes issued and how they ended. */
  readonly durable: Array<{ instance: number; at: number; outcome: 'pending' | 'ok' | NearCacheError | Error }>;
  /** Errors a user call rejected with, other than durable writes (there must be none). */
  readonly failures: unknown[];
  stop(): void;
}

/**
 * Continuous writes from every instance: a few plain writes per tick over `keys` keys, and one
 * durable write every `durableEvery` ticks, whose outcome is recorded.
 */
export function startTraffic(caches: Array<NearCache<unknown>>, options: { keys?: number; tickMs?: number; durableEvery?: number } = {}): Traffic {
  const { keys = 40, tickMs = 20, durableEvery = 10 } = options;
  const writes = caches.map(() => 0);
  const durable: Traffic['durable'] = [];
  const failures: unknown[] = [];
  let tick = 0;
  const timer = setInterval(() => {
    tick++;
    caches.forEach((cache, i) => {
      for (let j = 0; j < 3; j++) {
        const n = ++writes[i]!;
        const op = n % 13 === 0 ? cache.delete(`k${(n * 7 + i) % keys}`) : cache.set(`k${(n * 7 + i) % keys}`, { i, n });
        op.catch((error: unknown) => failures.push(error));
      }
      if (tick % durableEvery === 0) {
        const entry: Traffic['durable'][number] = { instance: i, at: Date.now(), outcome: 'pending' };
        durable.push(entry);
        cache.set(`durable-${i}-${tick}`, { tick }, { durable: true }).then(
          () => (entry.outcome = 'ok'),
          (error: Error) => (entry.outcome = error),
        );
      }
    });
  }, tickMs);
  return { writes, durable, failures, stop: () => clearInterval(timer) };
}
