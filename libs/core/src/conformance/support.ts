import type { CacheChange, NearCache } from '../cache.js';

/** Helpers of the contract suite: waits that poll a condition with a deadline (never a fixed sleep), a seeded random generator, a held loader and a change watcher. */

export interface WaitOptions {
  /** Give up after this many ms. Default 10000. */
  timeout?: number;
  /** Check every this many ms. Default 10. */
  interval?: number;
  /** Said when the wait times out. */
  message?: string | (() => string);
}

/** Resolves once `predicate` holds (it may be async); rejects with `message` after `timeout`. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, options: WaitOptions = {}): Promise<void> {
  const { timeout = 10_000, interval = 10 } = options;
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() >= deadline) {
      const message = typeof options.message === 'function' ? options.message() : options.message;
      throw new Error(`timed out after ${timeout} ms waiting for ${message ?? 'a condition'}`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

/** A small seeded random generator (mulberry32): the same numbers in [0, 1) for the same seed, so a failing run can be replayed. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A loader held open until `release(value)`. */
export function heldLoader<T>(): { loader: () => Promise<T>; release(value: T): void; started: () => boolean } {
  let resolve: ((value: T) => void) | undefined;
  let started = false;
  const gate = new Promise<T>((r) => (resolve = r));
  return {
    loader: () => {
      started = true;
      return gate;
    },
    release: (value) => resolve!(value),
    started: () => started,
  };
}

/** Records every value `cache` shows for `key` as it changes. */
export function watch(cache: NearCache, key: string): unknown[] {
  const seen: unknown[] = [];
  cache.on('change', (change: CacheChange) => {
    if (change.key === key) seen.push(cache.get(key));
  });
  return seen;
}
