import { tracingChannel } from 'node:diagnostics_channel';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createNearCache,
  InProcessBroker,
  inProcessLog,
  InvalidArgumentError,
  InvalidKeyError,
  NEARCACHE_CHANNELS,
  silentLogger,
  type ApplyTrace,
  type LoadTrace,
  type NearCache,
  type WrapTrace,
  type WriteTrace,
} from '../src/index.js';
import { rawSet, uniqueTopic, waitCaughtUp } from './helpers.js';

// The tracing channels (node:diagnostics_channel) around wrap, loads, writes and records applied
// (docs/operations.md, "Tracing channels"), subscribed to as an APM tool does: by name.

type Event = 'start' | 'end' | 'asyncStart' | 'asyncEnd' | 'error';

/** Subscribes to the tracing channel `name`; keeps every event of `cache`'s operations, with a copy of the context then. */
function listen<C extends { cache: object }>(name: string, cache: object) {
  const channel = tracingChannel<unknown, C>(name);
  const events: Array<{ event: Event; context: C; copy: Record<string, unknown> }> = [];
  const on = (event: Event) => (context: C) => {
    if (context.cache === cache) events.push({ event, context, copy: { ...context } });
  };
  const handlers = { start: on('start'), end: on('end'), asyncStart: on('asyncStart'), asyncEnd: on('asyncEnd'), error: on('error') };
  channel.subscribe(handlers);
  subscriptions.push(() => channel.unsubscribe(handlers));
  return {
    events,
    /** The event names, in order. */
    names: () => events.map((e) => e.event),
    /** The contexts published by `start`, one per operation. */
    started: () => events.filter((e) => e.event === 'start').map((e) => e.context),
  };
}

let broker: InProcessBroker;
let topic: string;
let caches: Array<NearCache<any>>;
let subscriptions: Array<() => void>;

beforeEach(() => {
  broker = new InProcessBroker();
  topic = uniqueTopic('channels');
  caches = [];
  subscriptions = [];
});

afterEach(async () => {
  for (const unsubscribe of subscriptions) unsubscribe();
  await Promise.all(caches.map((c) => c.close()));
});

async function openReady(): Promise<NearCache<any>> {
  const cache = createNearCache<any>({ topic, log: inProcessLog(broker), logger: silentLogger });
  caches.push(cache);
  await cache.ready({ timeout: 5000 });
  return cache;
}

describe('tracing channels', () => {
  it('are named nearcache:wrap, nearcache:load, nearcache:write and nearcache:apply', () => {
    expect(NEARCACHE_CHANNELS).toEqual({ wrap: 'nearcache:wrap', load: 'nearcache:load', write: 'nearcache:write', apply: 'nearcache:apply' });
  });

  it('nearcache:wrap traces every call, hit or miss; nearcache:load only the loader calls, with key, cache and topic', async () => {
    const cache = await openReady();
    const wraps = listen<WrapTrace>(NEARCACHE_CHANNELS.wrap, cache);
    const loads = listen<LoadTrace>(NEARCACHE_CHANNELS.load, cache);
    expect(await cache.wrap('k', async () => 'loaded')).toBe('loaded');
    expect(await cache.wrap('k', async () => 'again')).toBe('loaded'); // a hit

    expect(wraps.names()).toEqual(['start', 'end', 'asyncStart', 'asyncEnd', 'start', 'end', 'asyncStart', 'asyncEnd']);
    expect(wraps.started().map((c) => ({ key: c.key, topic: c.topic, cache: c.cache }))).toEqual([
      { key: 'k', topic, cache },
      { key: 'k', topic, cache },
    ]);
    expect(wraps.events.filter((e) => e.event === 'asyncEnd').map((e) => e.copy.result)).toEqual(['loaded', 'loaded']);
    expect(loads.names()).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    expect(loads.events[0]!.copy).toEqual({ key: 'k', topic, cache });
    expect(loads.events[3]!.copy.result).toBe('loaded');
  });

  it('publishes error with the loader error, on both channels, for a loader that throws or rejects', async () => {
    const cache = await openReady();
    const wraps = listen<WrapTrace>(NEARCACHE_CHANNELS.wrap, cache);
    const loads = listen<LoadTrace>(NEARCACHE_CHANNELS.load, cache);
    const thrown = new Error('thrown');
    const rejected = new Error('rejected');
    await expect(
      cache.wrap('a', () => {
        throw thrown;
      }),
    ).rejects.toBe(thrown);
    await expect(cache.wrap('b', () => Promise.reject(rejected))).rejects.toBe(rejected);
    expect(loads.events.filter((e) => e.event === 'error').map((e) => [e.context.key, e.copy.error])).toEqual([
      ['a', thrown],
      ['b', rejected],
    ]);
    expect(wraps.events.filter((e) => e.event === 'error').map((e) => [e.context.key, e.copy.error])).toEqual([
      ['a', thrown],
      ['b', rejected],
    ]);
    expect(cache.has('a') || cache.has('b')).toBe(false);
  });

  it('nearcache:write traces set, delete, clear and tag invalidations, and their typed errors', async () => {
    const cache = await openReady();
    const writes = listen<WriteTrace>(NEARCACHE_CHANNELS.write, cache);
    await cache.set('a', 1, { tags: ['t'] });
    await cache.set('b', 2, { durable: true });
    await cache.delete('b');
    await cache.clearPrefix('x:');
    await cache.clear();
    await cache.invalidateTags(['t', 'u']);
    const bad = cache.set('\u0000bad', 1);
    await expect(bad).rejects.toBeInstanceOf(InvalidKeyError);

    expect(writes.started().map((c) => [c.op, c.key, c.durable, c.topic])).toEqual([
      ['set', 'a', false, topic],
      ['set', 'b', true, topic],
      ['delete', 'b', false, topic],
      ['clear', 'x:', false, topic],
      ['clear', '', false, topic],
      ['invalidate-tags', 't,u', false, topic],
      ['set', '\u0000bad', false, topic],
    ]);
    const errors = writes.events.filter((e) => e.event === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.context.key).toBe('\u0000bad');
    expect(errors[0]!.copy.error).toBeInstanceOf(InvalidKeyError);
    // Every call ended, the failed one included.
    expect(writes.events.filter((e) => e.event === 'asyncEnd')).toHaveLength(7);
  });

  it('nearcache:apply traces each record of the log applied here, with partition, offset and key, synchronously', async () => {
    const cache = await openReady();
    const other = await openReady();
    const applies = listen<ApplyTrace>(NEARCACHE_CHANNELS.apply, cache);
    let seenInside: unknown;
    // The record is applied between start and end: a subscriber at `end` sees its effect.
    const end = tracingChannel<unknown, ApplyTrace>(NEARCACHE_CHANNELS.apply).end;
    const atEnd = (message: unknown) => {
      const context = message as ApplyTrace;
      if (context.cache === cache && context.key === 'remote') seenInside = cache.get('remote');
    };
    end.subscribe(atEnd);
    subscriptions.push(() => end.unsubscribe(atEnd));
    broker.produce(topic, [rawSet('remote', 'v', { origin: 'other' })]);
    await other.set('from-other', 1);
    await other.flush();
    await waitCaughtUp([cache], broker, topic);

    const started = applies.started().map((c) => ({ partition: c.partition, offset: c.offset, key: c.key, topic: c.topic }));
    expect(started).toEqual([
      { partition: 0, offset: 0, key: 'remote', topic },
      { partition: 0, offset: 1, key: 'from-other', topic },
    ]);
    expect(applies.names()).toEqual(['start', 'end', 'start', 'end']);
    expect(seenInside).toBe('v');
  });

  it('nearcache:load traces a lease from its taking to its fill, with the value filled', async () => {
    const cache = await openReady();
    const loads = listen<LoadTrace>(NEARCACHE_CHANNELS.load, cache);
    const lease = cache.lease('leased');
    expect(loads.names()).toEqual(['start', 'end']);
    expect(await lease.fill('filled')).toBe(true);
    lease.release(); // after a fill: nothing more
    expect(loads.names()).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    expect(loads.started()).toEqual([expect.objectContaining({ key: 'leased', topic, cache })]);
    expect(loads.events[3]!.copy.result).toBe('filled');
    expect(cache.get('leased')).toBe('filled');
  });

  it('nearcache:load ends a released lease, with the error of a failed load; a lease taken with trace: false is not traced', async () => {
    const cache = await openReady();
    const loads = listen<LoadTrace>(NEARCACHE_CHANNELS.load, cache);
    const failure = new Error('the database is down');
    cache.lease('failed').release(failure);
    cache.lease('dropped').release();
    cache.lease('second', { trace: false }).release(failure);
    expect(loads.names()).toEqual(['start', 'end', 'error', 'asyncStart', 'asyncEnd', 'start', 'end', 'asyncStart', 'asyncEnd']);
    expect(loads.started().map((c) => c.key)).toEqual(['failed', 'dropped']);
    expect(loads.events[2]!.copy.error).toBe(failure);
    expect(loads.events[8]!.copy).not.toHaveProperty('error');
    // A trace option that is not a boolean is refused, and takes no lease.
    expect(() => cache.lease('k', { trace: 'no' as unknown as boolean })).toThrow(InvalidArgumentError);
    expect(loads.started().map((c) => c.key)).toEqual(['failed', 'dropped']);
  });

  it('publishes nothing for a cache while nobody subscribes', async () => {
    const cache = await openReady();
    const channels = Object.values(NEARCACHE_CHANNELS).map((name) => tracingChannel(name));
    expect(channels.map((c) => c.hasSubscribers)).toEqual([false, false, false, false]);
    const seen = listen<WrapTrace>(NEARCACHE_CHANNELS.wrap, cache);
    subscriptions.pop()!();
    // Subscribed, then unsubscribed: nothing is published any more.
    await cache.wrap('k', () => 1);
    expect(seen.events).toEqual([]);
    expect(channels.map((c) => c.hasSubscribers)).toEqual([false, false, false, false]);
  });
});
