import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createNearCache,
  InProcessBroker,
  inProcessLog,
  InvalidArgumentError,
  InvalidOptionError,
  LoaderTimeoutError,
  silentLogger,
  type Clock,
  type NearCache,
  type NearCacheOptions,
  type StaleServed,
} from '../src/index.js';
import { rejection, track, uniqueTopic, waitCaughtUp, waitFor } from './helpers.js';

// Grace, loader timeouts and early refresh of `wrap` (docs/consistency.md, sections 14 to 16),
// on the in-process log with a clock that tests move: no test waits for time to pass.

/** A clock moved by hand; `schedule` runs callbacks when `advance` passes their time. */
class ManualClock implements Clock {
  time = 1_800_000_000_000;
  readonly #timers: Array<{ at: number; run: () => void; live: boolean }> = [];

  now = (): number => this.time;

  schedule = (run: () => void, ms: number): (() => void) => {
    const timer = { at: this.time + ms, run, live: true };
    this.#timers.push(timer);
    return () => {
      timer.live = false;
    };
  };

  /** Timers still waiting. */
  get pending(): number {
    return this.#timers.filter((t) => t.live).length;
  }

  advance(ms: number): void {
    this.time += ms;
    for (const timer of this.#timers.filter((t) => t.live && t.at <= this.time)) {
      timer.live = false;
      timer.run();
    }
  }
}

let broker: InProcessBroker;
let topic: string;
let clock: ManualClock;
const caches: Array<NearCache<any>> = [];

beforeEach(() => {
  broker = new InProcessBroker();
  topic = uniqueTopic('grace');
  clock = new ManualClock();
});

afterEach(async () => {
  await Promise.all(caches.splice(0).map((c) => c.close()));
});

async function openReady(extra: Partial<NearCacheOptions<any>> = {}): Promise<NearCache<any>> {
  const cache = createNearCache<any>({ topic, log: inProcessLog(broker), logger: silentLogger, closeTimeout: 1000, clock, ...extra });
  caches.push(cache);
  await cache.ready({ timeout: 5000 });
  return cache;
}

function held<T>(): { loader: () => Promise<T>; release(value: T): void; fail(error: unknown): void; calls: number } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const gate = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const state = {
    calls: 0,
    loader: () => {
      state.calls++;
      return gate;
    },
    release: (value: T) => resolve(value),
    fail: (error: unknown) => reject(error),
  };
  return state;
}

const boom = new Error('the source is down');
const failing = (): Promise<never> => Promise.reject(boom);

describe('grace (section 14)', () => {
  it('serves an expired value in grace when the loader fails, reports it, and caches no failure', async () => {
    const cache = await openReady();
    const events: StaleServed[] = [];
    cache.on('stale', (served) => events.push(served));
    await cache.wrap('k', () => 'v1', { ttl: 1000, grace: 10_000 });
    clock.advance(1500);
    // Expired: a miss for get, has, keys and entries.
    expect(cache.get('k')).toBeUndefined();
    expect(cache.has('k')).toBe(false);
    expect([...cache.keys()]).toEqual([]);
    expect([...cache.entries()]).toEqual([]);
    await expect(cache.wrap('k', failing, { ttl: 1000, grace: 10_000 })).resolves.toBe('v1');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ key: 'k', reason: 'loader-failed', expiredAt: clock.time - 500, graceEnd: clock.time - 500 + 10_000, error: boom });
    expect(cache.stats().staleServed).toBe(1);
    // The failure was not cached: the next call loads and caches.
    await expect(cache.wrap('k', () => 'v2', { ttl: 1000, grace: 10_000 })).resolves.toBe('v2');
    expect(cache.get('k')).toBe('v2');
  });

  it('passes the loader error on without grace in the call, and after the grace ends', async () => {
    const cache = await openReady();
    await cache.wrap('k', () => 'v1', { ttl: 1000, grace: 5000 });
    clock.advance(2000);
    expect(await rejection(cache.wrap('k', failing, { ttl: 1000 }))).toBe(boom);
    clock.advance(5000);
    expect(await rejection(cache.wrap('k', failing, { ttl: 1000, grace: 5000 }))).toBe(boom);
    expect(cache.stats().staleServed).toBe(0);
  });

  it('keeps no grace without a ttl, and a plain wrap of an entry in grace loads as before', async () => {
    const cache = await openReady();
    await cache.wrap('forever', () => 'v', { grace: 5000 });
    expect(cache.get('forever')).toBe('v');
    await cache.wrap('k', () => 'v1', { ttl: 1000, grace: 5000 });
    clock.advance(1001);
    await expect(cache.wrap('k', () => 'v2')).resolves.toBe('v2');
  });

  it('carries the grace end in the record: another instance, and one started later, keep the value in grace', async () => {
    const writer = await openReady();
    const reader = await openReady();
    await writer.wrap('k', () => ({ n: 1 }), { ttl: 1000, grace: 10_000 });
    await writer.flush();
    await waitCaughtUp([writer, reader], broker, topic);
    expect(reader.get('k')).toEqual({ n: 1 });
    const record = broker.records(topic).find((r) => r.key !== null && Buffer.from(r.key).toString() === 'k')!;
    expect(String(record.headers['nc-grace'])).toBe(String(clock.time + 1000 + 10_000));
    clock.advance(2000);
    expect(reader.get('k')).toBeUndefined();
    await expect(reader.wrap('k', failing, { ttl: 1000, grace: 10_000 })).resolves.toEqual({ n: 1 });
    // Started after the expiry, within the grace: the bootstrap keeps it, as a fallback only.
    const late = await openReady();
    expect(late.get('k')).toBeUndefined();
    expect(late.stats().entries).toBe(1);
    await expect(late.wrap('k', failing, { ttl: 1000, grace: 10_000 })).resolves.toEqual({ n: 1 });
    // Started after the grace: nothing comes back.
    clock.advance(10_000);
    const later = await openReady();
    expect(later.stats().entries).toBe(0);
    expect(await rejection(later.wrap('k', failing, { ttl: 1000, grace: 10_000 }))).toBe(boom);
  });

  it('counts an entry in grace in the size bounds and evicts it like any other', async () => {
    const cache = await openReady({ max: 2 });
    await cache.wrap('a', () => 'a', { ttl: 1000, grace: 10_000 });
    clock.advance(2000);
    await cache.set('b', 'b');
    await cache.set('c', 'c');
    expect(cache.stats().evictions).toBe(1);
    expect(await rejection(cache.wrap('a', failing, { ttl: 1000, grace: 10_000 }))).toBe(boom);
  });

  it('a delete or a clear removes the value in grace everywhere', async () => {
    const a = await openReady();
    const b = await openReady();
    await a.wrap('k', () => 'v', { ttl: 1000, grace: 10_000 });
    await a.wrap('p:k', () => 'v', { ttl: 1000, grace: 10_000 });
    await a.flush();
    await waitCaughtUp([a, b], broker, topic);
    clock.advance(2000);
    await b.delete('k');
    await b.clearPrefix('p:');
    await b.flush();
    await waitCaughtUp([a, b], broker, topic);
    for (const cache of [a, b]) {
      expect(await rejection(cache.wrap('k', failing, { ttl: 1000, grace: 10_000 }))).toBe(boom);
      expect(await rejection(cache.wrap('p:k', failing, { ttl: 1000, grace: 10_000 }))).toBe(boom);
    }
  });
});

describe('loader timeouts (section 15)', () => {
  it('soft timeout: serves the value in grace and caches the load when it comes, through its fence', async () => {
    const cache = await openReady();
    const other = await openReady();
    await cache.wrap('k', () => 'old', { ttl: 1000, grace: 10_000 });
    clock.advance(2000);
    const slow = held<string>();
    const call = track(cache.wrap('k', slow.loader, { ttl: 1000, grace: 10_000, softTimeout: 100 }));
    await waitFor(() => slow.calls === 1);
    clock.advance(100);
    await waitFor(() => call.settled);
    expect(call.value).toBe('old');
    expect(cache.stats().staleServed).toBe(1);
    slow.release('new');
    await waitFor(() => cache.get('k') === 'new');
    await cache.flush();
    await waitCaughtUp([cache, other], broker, topic);
    expect(other.get('k')).toBe('new');
    expect(clock.pending).toBe(0);
  });

  it('a late load is still fenced: a write that came while it ran wins', async () => {
    const a = await openReady();
    const b = await openReady();
    await a.wrap('k', () => 'old', { ttl: 1000, grace: 10_000 });
    clock.advance(2000);
    const slow = held<string>();
    const call = track(a.wrap('k', slow.loader, { ttl: 1000, grace: 10_000, softTimeout: 50 }));
    clock.advance(50);
    await waitFor(() => call.settled);
    await b.set('k', 'written', { durable: true });
    await waitCaughtUp([a, b], broker, topic);
    slow.release('loaded');
    await a.flush();
    await waitCaughtUp([a, b], broker, topic);
    expect(a.get('k')).toBe('written');
    expect(b.get('k')).toBe('written');
  });

  it('soft timeout without a value in grace: waits for the loader', async () => {
    const cache = await openReady();
    const slow = held<string>();
    const call = track(cache.wrap('k', slow.loader, { ttl: 1000, grace: 10_000, softTimeout: 100 }));
    clock.advance(1000);
    await waitFor(() => slow.calls === 1);
    expect(call.settled).toBe(false);
    slow.release('v');
    await expect(call.promise).resolves.toBe('v');
  });

  it('hard timeout: rejects with LoaderTimeoutError, and the load goes on and is cached', async () => {
    const cache = await openReady();
    const slow = held<string>();
    const call = track(cache.wrap('k', slow.loader, { hardTimeout: 500 }));
    clock.advance(499);
    await waitFor(() => slow.calls === 1);
    expect(call.settled).toBe(false);
    clock.advance(1);
    await waitFor(() => call.settled);
    expect(call.error).toBeInstanceOf(LoaderTimeoutError);
    expect((call.error as LoaderTimeoutError).code).toBe('NC_LOADER_TIMEOUT');
    expect((call.error as LoaderTimeoutError).retriable).toBe(true);
    expect((call.error as LoaderTimeoutError).key).toBe('k');
    slow.release('v');
    await waitFor(() => cache.get('k') === 'v');
  });

  it('hard timeout with a value in grace serves it; a loader that settles in time clears the timers', async () => {
    const cache = await openReady();
    await cache.wrap('k', () => 'old', { ttl: 1000, grace: 10_000 });
    clock.advance(2000);
    const slow = held<string>();
    const call = track(cache.wrap('k', slow.loader, { ttl: 1000, grace: 10_000, hardTimeout: 300 }));
    clock.advance(300);
    await waitFor(() => call.settled);
    expect(call.value).toBe('old');
    const events: StaleServed[] = [];
    cache.on('stale', (s) => events.push(s));
    // A second call shares the load still running, with its own timeouts.
    const second = track(cache.wrap('k', slow.loader, { ttl: 1000, grace: 10_000, softTimeout: 10, hardTimeout: 300 }));
    expect(clock.pending).toBe(2);
    clock.advance(10);
    await waitFor(() => second.settled);
    expect(second.value).toBe('old');
    expect(slow.calls).toBe(1);
    expect(events.map((e) => e.reason)).toEqual(['soft-timeout']);
    slow.release('new');
    await waitFor(() => cache.get('k') === 'new');
    await expect(cache.wrap('k', () => 'newer', { ttl: 1000, hardTimeout: 300 })).resolves.toBe('new');
    expect(clock.pending).toBe(0);
  });
});

describe('early refresh (section 16)', () => {
  it('returns the hit at once and refreshes it with one background load per key', async () => {
    const a = await openReady();
    const b = await openReady();
    await a.wrap('k', () => 'v1', { ttl: 1000, grace: 1000, refreshAhead: 0.8 });
    clock.advance(500);
    const loads = held<string>();
    // Before 80% of the ttl: no refresh.
    await expect(a.wrap('k', loads.loader, { ttl: 1000, grace: 1000, refreshAhead: 0.8 })).resolves.toBe('v1');
    expect(loads.calls).toBe(0);
    clock.advance(350);
    const calls = await Promise.all([1, 2, 3].map(() => a.wrap('k', loads.loader, { ttl: 1000, grace: 1000, refreshAhead: 0.8 })));
    expect(calls).toEqual(['v1', 'v1', 'v1']);
    expect(loads.calls).toBe(1);
    expect(a.stats().refreshes).toBe(1);
    loads.release('v2');
    await waitFor(() => a.get('k') === 'v2');
    await a.flush();
    await waitCaughtUp([a, b], broker, topic);
    expect(b.get('k')).toBe('v2');
  });

  it('an entry without grace: what is left of it is read from the local store', async () => {
    const cache = await openReady();
    await cache.wrap('k', () => 'v1', { ttl: 60_000 });
    let loads = 0;
    const loader = (): string => `v${++loads + 1}`;
    // Most of a minute left, against half of a minute: not due.
    await expect(cache.wrap('k', loader, { ttl: 60_000, refreshAhead: 0.5 })).resolves.toBe('v1');
    expect(loads).toBe(0);
    // Against half of two minutes: due.
    await expect(cache.wrap('k', loader, { ttl: 120_000, refreshAhead: 0.5 })).resolves.toBe('v1');
    await waitFor(() => cache.get('k') === 'v2');
    expect(loads).toBe(1);
    // No expiry: never due.
    await cache.set('forever', 'f');
    await expect(cache.wrap('forever', loader, { ttl: 1000, refreshAhead: 0.01 })).resolves.toBe('f');
    expect(loads).toBe(1);
  });

  it('a failed refresh leaves the entry as it was', async () => {
    const cache = await openReady();
    await cache.wrap('k', () => 'v1', { ttl: 1000, grace: 1000 });
    clock.advance(900);
    await expect(cache.wrap('k', failing, { ttl: 1000, grace: 1000, refreshAhead: 0.5 })).resolves.toBe('v1');
    await waitFor(() => cache.stats().refreshes === 1);
    expect(cache.get('k')).toBe('v1');
  });
});

describe('options', () => {
  it('rejects bad values with InvalidArgumentError and changes nothing', async () => {
    const cache = await openReady();
    const bad: Array<Record<string, unknown>> = [
      { grace: -1 },
      { grace: 1.5 },
      { grace: '10' },
      { softTimeout: 0 },
      { hardTimeout: 2 ** 31 },
      { softTimeout: 500, hardTimeout: 500 },
      { refreshAhead: 0 },
      { refreshAhead: 1 },
      { refreshAhead: Number.NaN },
    ];
    let called = 0;
    for (const options of bad) {
      const error = await rejection(cache.wrap('k', () => ++called, options));
      expect(error, JSON.stringify(options)).toBeInstanceOf(InvalidArgumentError);
    }
    expect(called).toBe(0);
    expect(cache.has('k')).toBe(false);
    expect((await rejection(cache.wrap('k', () => 1, { refreshAhead: 2 }))) as Error).toHaveProperty('message', expect.stringMatching(/between 0 and 1/));
  });

  it('a lease fill takes a grace period', async () => {
    const cache = await openReady();
    const lease = cache.lease('k');
    await expect(lease.fill('v', { ttl: 1000, grace: 5000 })).resolves.toBe(true);
    clock.advance(2000);
    expect(cache.get('k')).toBeUndefined();
    await expect(cache.wrap('k', failing, { ttl: 1000, grace: 5000 })).resolves.toBe('v');
  });

  it('guardLoad: a load run by the caller gets the same fallback and timeouts; remainingTtl tells how long an entry stays fresh', async () => {
    const cache = await openReady();
    expect(cache.remainingTtl('k')).toBe(0);
    const lease = cache.lease('k');
    await lease.fill('v', { ttl: 1000, grace: 5000 });
    expect(cache.remainingTtl('k')).toBe(1000);
    clock.advance(400);
    expect(cache.remainingTtl('k')).toBe(600);
    clock.advance(1000);
    expect(cache.remainingTtl('k')).toBe(0);
    await expect(cache.guardLoad('k', Promise.reject(boom), { grace: 5000 })).resolves.toBe('v');
    const slow = held<string>();
    const call = track(cache.guardLoad('k', slow.loader(), { grace: 5000, softTimeout: 20 }));
    clock.advance(20);
    await waitFor(() => call.settled);
    expect(call.value).toBe('v');
    expect(cache.stats().staleServed).toBe(2);
    expect(await rejection(cache.guardLoad('k', Promise.resolve('x'), { hardTimeout: 0 }))).toBeInstanceOf(InvalidArgumentError);
    expect(await rejection(cache.guardLoad('other', Promise.reject(boom), { grace: 5000 }))).toBe(boom);
  });

  it('refuses a clock whose schedule is not a function', () => {
    expect(() => createNearCache({ topic, log: inProcessLog(broker), logger: silentLogger, clock: { now: () => 0, schedule: 5 } as unknown as Clock })).toThrow(
      InvalidOptionError,
    );
  });
});
