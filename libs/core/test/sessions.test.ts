import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CacheClosedError,
  CatchUpTimeoutError,
  createNearCache,
  InProcessBroker,
  inProcessLog,
  InvalidArgumentError,
  InvalidSessionTokenError,
  mergeSessionTokens,
  parseSessionToken,
  ReplicationTimeoutError,
  silentLogger,
  type Clock,
  type NearCache,
  type NearCacheOptions,
} from '../src/index.js';
import { chaos } from '../src/conformance/index.js';
import { rejection, track, uniqueTopic, waitFor } from './helpers.js';

let broker: InProcessBroker;
let topic: string;
const caches: Array<NearCache<any>> = [];

beforeEach(() => {
  broker = new InProcessBroker();
  topic = uniqueTopic('sessions');
});

afterEach(async () => {
  broker.setAvailable(true);
  await Promise.all(caches.splice(0).map((c) => c.close()));
});

function open(extra: Partial<NearCacheOptions<any>> = {}): NearCache<any> {
  const cache = createNearCache<any>({ topic, log: inProcessLog(broker), logger: silentLogger, closeTimeout: 1000, ...extra });
  caches.push(cache);
  return cache;
}

async function openReady(extra: Partial<NearCacheOptions<any>> = {}): Promise<NearCache<any>> {
  const cache = open(extra);
  await cache.ready();
  return cache;
}

describe('session tokens: format', () => {
  it('parses what it writes, merges per partition, and refuses what is not a token', () => {
    expect(parseSessionToken('v1.abc.0-4.2-18')).toEqual({
      version: 1,
      topic: 'abc',
      positions: [
        { partition: 0, position: 4 },
        { partition: 2, position: 18 },
      ],
    });
    expect(parseSessionToken('v1.abc').positions).toEqual([]);
    expect(mergeSessionTokens('v1.abc.0-4.2-18', undefined, '', 'v1.abc.0-9.1-3')).toBe('v1.abc.0-9.1-3.2-18');
    expect(mergeSessionTokens(undefined, '')).toBeUndefined();
    for (const bad of [
      '',
      'x',
      'v2.abc.0-1',
      'v1',
      'v1.ABC',
      'v1.abc.0-0',
      'v1.abc.1-2.0-5',
      'v1.abc.0-1.0-2',
      'v1.abc.0-01',
      'v1.abc.0-1-2',
      'v1.abc.-1-3',
      `v1.abc.0-${'9'.repeat(17)}`,
    ]) {
      expect(() => parseSessionToken(bad), bad).toThrow(InvalidSessionTokenError);
    }
    expect(() => parseSessionToken(42)).toThrow(/must be a string, got number/);
    expect(() => parseSessionToken('v2.abc')).toThrow(/version 2 is not supported/);
    expect(() => parseSessionToken(`v1.abc${'.0-1'.repeat(3000)}`)).toThrow(/at most 8192 characters/);
    expect(() => mergeSessionTokens('v1.abc.0-1', 'v1.abd.0-1')).toThrow(/different topics/);
    const error = (() => {
      try {
        parseSessionToken('nope');
      } catch (e) {
        return e as InvalidSessionTokenError;
      }
    })();
    expect(error?.code).toBe('NC_INVALID_SESSION_TOKEN');
  });
});

describe('session tokens: read-your-writes across instances', () => {
  it('a reader given the writer token misses, then reads the write once it applied it', async () => {
    broker.createTopic(topic, { partitions: 3 });
    const a = await openReady();
    const log = chaos(inProcessLog(broker));
    const b = await openReady({ log });
    await a.set('k', 'old', { durable: true });
    await waitFor(() => b.get('k') === 'old', { message: 'the first value on b' });
    log.last!.hold();
    await a.set('k', 'new');
    const token = await a.sessionToken();
    expect(token).toMatch(/^v1\.[0-9a-z]+(\.\d+-\d+)+$/);
    expect(a.isCaughtUpTo(token)).toBe(true);
    // b has not applied the write: without the token it answers the old value, with it a miss.
    expect(b.get('k')).toBe('old');
    const misses = b.stats().misses;
    expect(b.get('k', { after: token })).toBeUndefined();
    expect(b.stats().misses).toBe(misses + 1);
    expect(b.isCaughtUpTo(token)).toBe(false);
    const loaded = await b.wrap('k', () => 'loaded', { after: token });
    expect(loaded).toBe('loaded');
    const waiting = track(b.catchUpTo(token, { timeout: 5000 }));
    await new Promise((resolve) => setImmediate(resolve));
    expect(waiting.settled).toBe(false);
    log.last!.release();
    await waiting.promise;
    expect(b.isCaughtUpTo(token)).toBe(true);
    // b's own load of k (appended after a's write) or a's write: never the old value.
    expect(['new', 'loaded']).toContain(b.get('k', { after: token }));
  });

  it('the token covers deletes and clears (every partition), and the reader token carries what it applied', async () => {
    broker.createTopic(topic, { partitions: 3 });
    const a = await openReady();
    const b = await openReady();
    const c = await openReady();
    await a.set('x', 1);
    await a.delete('x');
    await a.clearPrefix('p:');
    const token = await a.sessionToken();
    expect(parseSessionToken(token).positions.map((p) => p.partition)).toEqual([0, 1, 2]);
    await b.catchUpTo(token);
    expect(b.get('x', { after: token })).toBeUndefined();
    const read = b.readToken();
    await c.catchUpTo(mergeSessionTokens(token, read)!);
    expect(c.isCaughtUpTo(read)).toBe(true);
  });

  it('a token with nothing written is reached at once; a write still queued makes sessionToken wait for the log', async () => {
    const a = await openReady({ flushTimeout: 300 });
    const empty = await a.sessionToken();
    expect(parseSessionToken(empty).positions).toEqual([]);
    expect(a.get('none', { after: empty })).toBeUndefined();
    broker.setAvailable(false);
    await a.set('k', 1);
    expect(await rejection(a.sessionToken())).toBeInstanceOf(ReplicationTimeoutError);
    const pending = a.sessionToken({ timeout: 5000 });
    broker.setAvailable(true);
    const token = await pending;
    expect(parseSessionToken(token).positions).toEqual([{ partition: 0, position: 1 }]);
  });

  it('catchUpTo rejects at its deadline, on close, and on a token it cannot use', async () => {
    broker.createTopic(topic, { partitions: 2 });
    const a = await openReady();
    const other = createNearCache<any>({ topic: `${topic}-other`, log: inProcessLog(broker), logger: silentLogger });
    caches.push(other);
    await other.set('o', 1);
    const foreign = await other.sessionToken();
    const ahead = `${a.readToken().split('.').slice(0, 2).join('.')}.1-99`;
    const late = await rejection(a.catchUpTo(ahead, { timeout: 50 }));
    expect(late).toBeInstanceOf(CatchUpTimeoutError);
    expect(late).toMatchObject({ code: 'NC_CATCH_UP_TIMEOUT', retriable: true });
    expect(await rejection(a.catchUpTo(foreign))).toMatchObject({ code: 'NC_INVALID_SESSION_TOKEN' });
    expect(() => a.get('k', { after: foreign })).toThrow(/another topic/);
    const tooFar = `${a.readToken().split('.').slice(0, 2).join('.')}.5-1`;
    expect(() => a.isCaughtUpTo(tooFar)).toThrow(/names partition 5, but topic .* has 2 partitions/);
    expect(await rejection(a.catchUpTo(ahead, { timeout: 0 }))).toBeInstanceOf(InvalidArgumentError);
    const waiting = a.catchUpTo(ahead, { timeout: 60_000 });
    await a.close();
    expect(await rejection(waiting)).toBeInstanceOf(CacheClosedError);
    expect(await rejection(a.catchUpTo(ahead))).toBeInstanceOf(CacheClosedError);
  });
});

describe('bounded staleness', () => {
  function fakeClock(start = 1_000_000): Clock & { advance(ms: number): void } {
    let now = start;
    return { now: () => now, advance: (ms) => (now += ms) };
  }

  it('answers within the bound, misses beyond it, and asks the log so that later reads hit', async () => {
    const clock = fakeClock();
    const a = await openReady({ clock, lagPollInterval: 600_000 });
    await a.set('k', 1);
    expect(a.staleness()).toBe(0);
    expect(a.get('k', { maxStaleness: 100 })).toBe(1);
    clock.advance(1000);
    expect(a.staleness()).toBe(1000);
    expect(a.get('k', { maxStaleness: 100 })).toBeUndefined();
    expect(a.get('k')).toBe(1);
    expect(await a.wrap('k', () => 2, { maxStaleness: 100 })).toBe(2);
    // The miss asked the log for its ends: once the answer is in, the instance is fresh as of the question.
    await waitFor(() => a.staleness() === 0, { message: () => `a confirmation, staleness ${a.staleness()}` });
    expect(a.get('k', { maxStaleness: 100 })).toBe(2);
    expect(a.get('k', { maxStaleness: 0 })).toBe(2);
  });

  it('an instance behind the log cannot confirm: it misses until it applied what the log held when it asked', async () => {
    const clock = fakeClock();
    const log = chaos(inProcessLog(broker));
    const a = await openReady({ clock, log, lagPollInterval: 600_000 });
    const b = await openReady({ clock });
    await b.set('k', 'v', { durable: true });
    await waitFor(() => a.get('k') === 'v', { message: 'replication' });
    log.last!.hold();
    await b.set('k', 'w', { durable: true });
    clock.advance(500);
    const askedAt = clock.now();
    expect(a.get('k', { maxStaleness: 200 })).toBeUndefined();
    // The answer (the log's end, past b's second write) arrived; a has not applied it yet.
    await waitFor(() => a.stats().partitions[0]!.highWatermark === 2, { message: 'the end-offset answer' });
    clock.advance(500);
    expect(a.staleness()).toBe(1000);
    // Misses again, and asks again: the log's end is still past what a applied.
    expect(a.get('k', { maxStaleness: 200 })).toBeUndefined();
    const askedAgainAt = clock.now();
    await waitFor(() => a.stats().partitions[0]!.lagRecords === 1 && !a.isCaughtUpTo(b.readToken()), { message: 'a behind b' });
    clock.advance(300);
    log.last!.release();
    await waitFor(() => a.get('k') === 'w', { message: 'the held write' });
    // Confirmed as of the latest question it met, not as of the moment it met it.
    expect(askedAgainAt).toBeGreaterThan(askedAt);
    await waitFor(() => a.staleness() === clock.now() - askedAgainAt, { message: () => `staleness ${a.staleness()}` });
    expect(a.get('k', { maxStaleness: 300 })).toBe('w');
    expect(a.get('k', { maxStaleness: 299 })).toBeUndefined();
  });

  it('refuses bad read options with a typed error and changes nothing', async () => {
    const a = await openReady();
    await a.set('k', 1);
    for (const options of [{ maxStaleness: -1 }, { maxStaleness: Number.NaN }, { maxStaleness: '5' }, null, 5]) {
      expect(() => a.get('k', options as never), JSON.stringify(options)).toThrow(InvalidArgumentError);
    }
    expect(() => a.get('k', { after: 'bad' })).toThrow(InvalidSessionTokenError);
    expect(await rejection(a.wrap('k', () => 2, { maxStaleness: -1 }))).toBeInstanceOf(InvalidArgumentError);
    expect(a.get('k')).toBe(1);
    expect(a.namespace('n:').get('k', { maxStaleness: 1000 })).toBeUndefined();
    expect(() => a.get('', { maxStaleness: 1000 })).toThrow(/non-empty/);
  });
});

describe('Freshness: what confirms an instance fresh', () => {
  it('confirms as of the latest question the positions reached, keeps older ones while a later one is out of reach, and distrusts a clock set back', async () => {
    const { Freshness } = await import('../src/cache/freshness.js');
    const freshness = new Freshness();
    expect(freshness.staleness(100)).toBe(Infinity);
    // Asked at 100: ends 5 and 3; positions 5 and 2: not there yet.
    freshness.answered(100, [5, 3], [5, 2]);
    expect(freshness.staleness(150)).toBe(Infinity);
    // Asked at 200 (ends moved on): still not there; the first answer is kept.
    freshness.answered(200, [9, 3], [5, 2]);
    freshness.reached([6, 3]);
    expect(freshness.confirmedAt).toBe(100);
    expect(freshness.staleness(250)).toBe(150);
    freshness.reached([9, 3]);
    expect(freshness.confirmedAt).toBe(200);
    expect(freshness.waiting).toBe(false);
    // The clock went back before the confirmation: unknown, not fresh.
    expect(freshness.staleness(150)).toBe(Infinity);
  });
});
