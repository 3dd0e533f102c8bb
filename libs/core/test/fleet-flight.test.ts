import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  claimRecordKey,
  createNearCache,
  InProcessBroker,
  inProcessLog,
  InvalidArgumentError,
  InvalidOptionError,
  parseRecord,
  RecordRejection,
  type LogRecord,
  silentLogger,
  type Clock,
  type NearCache,
  type NearCacheOptions,
  type RawRecord,
} from '../src/index.js';
import { diff, foldTopic, snapshot } from '../src/conformance/index.js';
import { rejection, track, uniqueTopic, waitCaughtUp, waitFor } from './helpers.js';

// Fleet-wide single flight (docs/consistency.md, section 18) on the in-process log: instances
// missing a key together load it once, through claims ordered by the log.

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
const caches: Array<NearCache<any>> = [];

beforeEach(() => {
  broker = new InProcessBroker();
  topic = uniqueTopic('fleet');
});

afterEach(async () => {
  await Promise.all(caches.splice(0).map((c) => c.close()));
});

async function openReady(extra: Partial<NearCacheOptions<any>> = {}, partitions = 1): Promise<NearCache<any>> {
  const cache = createNearCache<any>({ topic, log: inProcessLog(broker, { partitions }), logger: silentLogger, closeTimeout: 1000, ...extra });
  caches.push(cache);
  await cache.ready({ timeout: 5000 });
  return cache;
}

function held<T>(): { loader: () => Promise<T>; release(value: T): void; fail(error: unknown): void; started: () => boolean } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  let started = false;
  const gate = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return {
    loader: () => {
      started = true;
      return gate;
    },
    release: (value) => resolve(value),
    fail: (error) => reject(error),
    started: () => started,
  };
}

const keyText = (r: { key: Uint8Array | null }) => (r.key === null ? '' : Buffer.from(r.key).toString('utf8'));
const claims = (key: string) => broker.records(topic).filter((r) => keyText(r) === `\u0000nc:claim:${key}`);

/** A claim written as docs/record-format.md describes it, by an instance that then dies. */
function rawClaim(key: string, deadline: number, origin = 'gone.0badc0de'): RawRecord {
  return { partition: 0, key: `\u0000nc:claim:${key}`, value: key, headers: { 'nc-r': `3 f ${deadline} 1 structured ${origin}` } };
}

async function settle(...instances: Array<NearCache<any>>): Promise<void> {
  for (let i = 0; i < 2; i++) {
    await Promise.all(instances.map((c) => c.flush({ timeout: 5000 })));
    await waitCaughtUp(instances, broker, topic);
  }
}

describe('fleet-wide single flight', () => {
  it('ten instances missing one key at once call the loader once; every one answers with its value', async () => {
    const fleet = await Promise.all(Array.from({ length: 10 }, () => openReady({ fleetWait: 5000 })));
    let calls = 0;
    const loader = async () => {
      calls++;
      return { id: 42, name: 'loaded' };
    };
    const answers = await Promise.all(fleet.map((cache) => cache.wrap('user:42', loader)));
    expect(calls).toBeLessThanOrEqual(2);
    // On one in-process log nothing reorders the claims: exactly one load.
    expect(calls).toBe(1);
    for (const answer of answers) expect(answer).toEqual({ id: 42, name: 'loaded' });
    await settle(...fleet);
    for (const cache of fleet) expect(cache.get('user:42')).toEqual({ id: 42, name: 'loaded' });
    // Ten claims, then the loader's release (a tombstone of the claim key): compaction ends up removing them all.
    const records = claims('user:42');
    expect(records.filter((r) => r.value !== null)).toHaveLength(10);
    expect(records[records.length - 1]!.value).toBeNull();
    // Claims are no values: a fresh reader and the oracle agree, and the key holds the loaded value.
    const fresh = await openReady();
    expect(diff(snapshot(fresh), foldTopic(broker.records(topic)))).toEqual([]);
    expect(fresh.get('user:42')).toEqual({ id: 42, name: 'loaded' });
  });

  it('without the option nothing is claimed: each instance loads on its own', async () => {
    const fleet = await Promise.all(Array.from({ length: 3 }, () => openReady()));
    let calls = 0;
    await Promise.all(fleet.map((cache) => cache.wrap('k', async () => ++calls)));
    expect(calls).toBe(3);
    await settle(...fleet);
    expect(claims('k')).toHaveLength(0);
  });

  it('the per-call option overrides the cache default, both ways', async () => {
    const on = await openReady({ fleetWait: 5000 });
    const off = await openReady();
    let calls = 0;
    await Promise.all([on.wrap('a', async () => ++calls, { fleetWait: 0 }), off.wrap('a', async () => ++calls)]);
    expect(calls).toBe(2);
    expect(claims('a')).toHaveLength(0);
    calls = 0;
    await Promise.all([on.wrap('b', async () => ++calls), off.wrap('b', async () => ++calls, { fleetWait: 5000 })]);
    expect(calls).toBe(1);
  });

  it('concurrent calls on one instance share its one claim', async () => {
    const a = await openReady({ fleetWait: 5000 });
    let calls = 0;
    const answers = await Promise.all(Array.from({ length: 5 }, () => a.wrap('k', async () => ++calls)));
    expect(answers).toEqual([1, 1, 1, 1, 1]);
    await settle(a);
    expect(claims('k').filter((r) => r.value !== null)).toHaveLength(1);
  });

  it('a claimer that dies: the others wait until the deadline, then load themselves', async () => {
    const clock = new ManualClock();
    const a = await openReady({ clock, fleetWait: 2000 });
    const b = await openReady({ clock, fleetWait: 2000 });
    broker.produce(topic, [rawClaim('k', clock.time + 60_000)]);
    let calls = 0;
    const loader = async () => `loaded-${++calls}`;
    const onA = track(a.wrap('k', loader));
    const onB = track(b.wrap('k', loader));
    await settle(a, b);
    expect(claims('k')).toHaveLength(3);
    expect(onA.settled || onB.settled).toBe(false);
    expect(calls).toBe(0);
    clock.advance(1999);
    await settle(a, b);
    expect(onA.settled || onB.settled).toBe(false);
    clock.advance(1);
    await waitFor(() => onA.settled && onB.settled);
    expect(calls).toBe(2);
    expect([onA.value, onB.value].sort()).toEqual(['loaded-1', 'loaded-2']);
  });

  it('close() ends every wait at once: the caller gets its own load, uncached, and no timer is left', async () => {
    const clock = new ManualClock();
    const a = await openReady({ clock, fleetWait: 60_000 });
    broker.produce(topic, [rawClaim('k', clock.time + 600_000)]);
    await settle(a);
    const onA = track(a.wrap('k', async () => 'own'));
    await settle(a);
    expect(onA.settled).toBe(false);
    expect(clock.pending).toBe(1);
    await a.close();
    expect(await onA.promise).toBe('own');
    expect(clock.pending).toBe(0);
    expect(a.get('k')).toBeUndefined();
  });

  it('a lapsed claim opens no round: a later claimer loads at once', async () => {
    const clock = new ManualClock();
    const a = await openReady({ clock, fleetWait: 2000 });
    broker.produce(topic, [rawClaim('k', clock.time - 1)]);
    await settle(a);
    expect(await a.wrap('k', async () => 'mine')).toBe('mine');
  });

  it('a write during the wait answers the waiters; the loader value is returned to its caller and cached nowhere', async () => {
    const a = await openReady({ fleetWait: 5000 });
    const b = await openReady({ fleetWait: 5000 });
    const c = await openReady();
    const load = held<string>();
    const onA = track(a.wrap('k', load.loader));
    await waitFor(load.started);
    let bCalls = 0;
    const onB = track(
      b.wrap('k', async () => {
        bCalls++;
        return 'b-loaded';
      }),
    );
    await settle(a, b, c);
    expect(onB.settled).toBe(false);
    await c.set('k', 'written');
    await waitFor(() => onB.settled);
    expect(onB.value).toBe('written');
    expect(bCalls).toBe(0);
    load.release('stale-load');
    expect(await onA.promise).toBe('stale-load');
    await settle(a, b, c);
    for (const cache of [a, b, c]) expect(cache.get('k')).toBe('written');
    expect(diff(snapshot(a), foldTopic(broker.records(topic)))).toEqual([]);
  });

  it('a failed load releases the round: the waiters load at once, before their deadline', async () => {
    const clock = new ManualClock();
    const a = await openReady({ clock, fleetWait: 60_000 });
    const b = await openReady({ clock, fleetWait: 60_000 });
    const load = held<string>();
    const onA = track(a.wrap('k', load.loader));
    await waitFor(load.started);
    const onB = track(b.wrap('k', async () => 'b-loaded'));
    await settle(a, b);
    expect(onB.settled).toBe(false);
    load.fail(new Error('source down'));
    expect(((await rejection(onA.promise)) as Error).message).toBe('source down');
    await waitFor(() => onB.settled);
    expect(onB.value).toBe('b-loaded');
  });

  it('a tag invalidated while the load runs: nothing stale is cached, the waiters load themselves', async () => {
    const a = await openReady({ fleetWait: 5000 });
    const b = await openReady({ fleetWait: 5000 });
    const load = held<string>();
    const onA = track(a.wrap('k', load.loader, { tags: ['t'] }));
    await waitFor(load.started);
    const onB = track(b.wrap('k', async () => 'b-fresh', { tags: ['t'] }));
    await settle(a, b);
    await b.invalidateTags(['t']);
    await settle(a, b);
    load.release('old');
    expect(await onA.promise).toBe('old');
    expect(await onB.promise).toBe('b-fresh');
    await settle(a, b);
    for (const cache of [a, b]) expect(cache.get('k')).toBe('b-fresh');
  });

  it('a clear of the key during the wait sends the waiters to their own load', async () => {
    const a = await openReady({ fleetWait: 5000 });
    const b = await openReady({ fleetWait: 5000 });
    const load = held<string>();
    const onA = track(a.wrap('user:1', load.loader));
    await waitFor(load.started);
    const onB = track(b.wrap('user:1', async () => 'b-after-clear'));
    await settle(a, b);
    await a.clearPrefix('user:');
    await waitFor(() => onB.settled);
    expect(onB.value).toBe('b-after-clear');
    load.release('before-clear');
    await onA.promise;
    await settle(a, b);
    for (const cache of [a, b]) expect(cache.get('user:1')).toBe('b-after-clear');
  });

  it('grace: a waiter serves the value in grace after softTimeout, and the loaded value arrives later', async () => {
    const clock = new ManualClock();
    const a = await openReady({ clock, fleetWait: 60_000 });
    const b = await openReady({ clock, fleetWait: 60_000 });
    await a.wrap('k', async () => 'v1', { ttl: 1000, grace: 60_000, fleetWait: 0 });
    await settle(a, b);
    clock.advance(1001);
    const load = held<string>();
    const options = { ttl: 1000, grace: 60_000, softTimeout: 100 };
    const onA = track(a.wrap('k', load.loader, options));
    await waitFor(load.started);
    let bCalls = 0;
    const onB = track(b.wrap('k', async () => `b${++bCalls}`, options));
    await settle(a, b);
    clock.advance(100);
    await waitFor(() => onA.settled && onB.settled);
    expect([onA.value, onB.value]).toEqual(['v1', 'v1']);
    load.release('v2');
    await settle(a, b);
    expect(bCalls).toBe(0);
    for (const cache of [a, b]) expect(cache.get('k')).toBe('v2');
  });

  it('a key this instance does not keep (filter) is loaded here without a claim', async () => {
    const a = await openReady({ fleetWait: 5000, filter: (key) => !key.startsWith('local:') });
    expect(await a.wrap('local:1', async () => 'x')).toBe('x');
    await settle(a);
    expect(claims('local:1')).toHaveLength(0);
  });

  it('bad options are refused up front with a clear message; nothing is claimed', async () => {
    const a = await openReady();
    for (const bad of [-1, 1.5, '100', Number.NaN, 2 ** 31]) {
      const error = await rejection(a.wrap('k', async () => 'x', { fleetWait: bad as number }));
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message).toMatch(/^fleetWait must be an integer number of ms from 0/);
    }
    expect(() => createNearCache({ topic, log: inProcessLog(broker), logger: silentLogger, fleetWait: -5 })).toThrow(InvalidOptionError);
    await settle(a);
    expect(claims('k')).toHaveLength(0);
  });

  it('several partitions: claims sit on the key’s partition, and one load serves them', async () => {
    const fleet = await Promise.all(Array.from({ length: 4 }, () => openReady({ fleetWait: 5000 }, 3)));
    let calls = 0;
    const keys = ['a', 'b', 'c', 'd', 'e'];
    await Promise.all(keys.flatMap((key) => fleet.map((cache) => cache.wrap(key, async () => `${key}${++calls}`))));
    expect(calls).toBe(keys.length);
    await settle(...fleet);
    for (const key of keys) {
      const partitions = new Set(
        broker
          .records(topic)
          .filter((r) => keyText(r) === key || keyText(r) === `\u0000nc:claim:${key}`)
          .map((r) => r.partition),
      );
      expect(partitions.size).toBe(1);
    }
  });
});

describe('fleetTurn: fleet-wide single flight for code that runs its own loads', () => {
  it('the first claimer loads through its lease; the other gets its value; done() releases the round', async () => {
    const a = await openReady({ fleetWait: 5000 });
    const b = await openReady({ fleetWait: 5000 });
    const first = await a.fleetTurn('k')!;
    expect(first.value).toBeUndefined();
    const second = track(b.fleetTurn('k')!);
    await settle(a, b);
    expect(second.settled).toBe(false);
    const lease = a.lease('k');
    expect(await lease.fill('loaded')).toBe(true);
    first.done();
    await waitFor(() => second.settled);
    expect(second.value!.value).toBe('loaded');
    second.value!.done();
    await settle(a, b);
    const records = claims('k');
    expect(records.filter((r) => r.value !== null)).toHaveLength(2);
    expect(records[records.length - 1]!.value).toBeNull();
  });

  it('a load that ends without a value: done() lets the waiter load at once', async () => {
    const clock = new ManualClock();
    const a = await openReady({ clock, fleetWait: 60_000 });
    const b = await openReady({ clock, fleetWait: 60_000 });
    const first = await a.fleetTurn('k')!;
    const second = track(b.fleetTurn('k')!);
    await settle(a, b);
    a.lease('k').release();
    first.done();
    await waitFor(() => second.settled);
    expect(second.value!.value).toBeUndefined();
  });

  it('off (no option, or 0), or a bad option: nothing to wait for, or a typed error', async () => {
    const a = await openReady();
    expect(a.fleetTurn('k')).toBeUndefined();
    const on = await openReady({ fleetWait: 1000 });
    expect(on.fleetTurn('k', { fleetWait: 0 })).toBeUndefined();
    expect(() => on.fleetTurn('k', { fleetWait: -1 })).toThrow(InvalidArgumentError);
    await settle(a, on);
    expect(claims('k')).toHaveLength(0);
  });
});

describe('claim records (docs/record-format.md)', () => {
  const limits = { maxKeyBytes: 16, maxValueBytes: 1024, codec: { name: 'structured' } };
  const record = (key: string, value: string | null, line: string): LogRecord => ({
    partition: 0,
    offset: 7,
    key: Buffer.from(key),
    value: value === null ? null : Buffer.from(value),
    headers: { 'nc-r': line },
    timestamp: 0,
  });

  it('a claim names its key and deadline; a tombstone of the claim key is a release', () => {
    expect(claimRecordKey('user:1')).toBe('\u0000nc:claim:user:1');
    expect(parseRecord(record('\u0000nc:claim:user:1', 'user:1', '3 f 1800000000000 5 structured a.1'), limits)).toEqual({
      op: 'claim',
      key: 'user:1',
      deadline: 1_800_000_000_000,
      release: false,
      origin: 'a.1',
      writeId: 5,
    });
    expect(parseRecord(record('\u0000nc:claim:user:1', null, '3 f 0 6 structured a.1'), limits)).toMatchObject({ op: 'claim', key: 'user:1', release: true });
    // A claimed key may be as long as maxKeyBytes: the claim key itself is longer.
    expect(parseRecord(record(`\u0000nc:claim:${'k'.repeat(16)}`, 'k'.repeat(16), '3 f 1 1 structured a.1'), limits)).toMatchObject({ op: 'claim' });
  });

  it('malformed claims are rejected with a reason, as any record', () => {
    const cases: Array<[LogRecord, string]> = [
      [record('\u0000nc:claim:a', 'b', '3 f 1 1 structured a.1'), 'malformed'],
      [record('\u0000nc:tag:a', 'a', '3 f 1 1 structured a.1'), 'malformed'],
      [record('\u0000nc:claim:', '', '3 f 1 1 structured a.1'), 'malformed'],
      [record('\u0000nc:claim:a', 'a', '3 f x 1 structured a.1'), 'malformed'],
      [record('\u0000nc:claim:\u0000x', '\u0000x', '3 f 1 1 structured a.1'), 'invalid-key'],
      [record(`\u0000nc:claim:${'k'.repeat(17)}`, 'k'.repeat(17), '3 f 1 1 structured a.1'), 'invalid-key'],
      [record('\u0000nc:claim:a', 'a', '3 g 1 1 structured a.1'), 'unknown-operation'],
    ];
    for (const [bad, reason] of cases) {
      const parsed = parseRecord(bad, limits);
      expect(parsed).toBeInstanceOf(RecordRejection);
      expect((parsed as RecordRejection).reason).toBe(reason);
    }
  });

  it('an instance reading claims it has no use for changes nothing and rejects nothing', async () => {
    const a = await openReady();
    await a.set('k', 'v', { durable: true });
    broker.produce(topic, [rawClaim('k', Date.now() + 60_000), { ...rawClaim('k', 0), value: null }]);
    await settle(a);
    expect(a.get('k')).toBe('v');
    expect(a.stats().records.rejected).toBe(0);
  });
});
