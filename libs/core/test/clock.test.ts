import { afterEach, describe, expect, it } from 'vitest';
import { createNearCache, InProcessBroker, inProcessLog, InvalidOptionError, silentLogger, type Clock, type NearCache } from '../src/index.js';
import { uniqueTopic, waitFor } from './helpers.js';

// Option `clock`: where the cache reads wall-clock time (expiry stamps, lag), so tests can move time.
const caches: NearCache[] = [];
afterEach(async () => {
  await Promise.all(caches.splice(0).map((cache) => cache.close()));
});

function cacheOn(broker: InProcessBroker, topic: string, clock?: Clock): NearCache {
  const cache = createNearCache({ topic, log: inProcessLog(broker), logger: silentLogger, ...(clock ? { clock } : {}) });
  caches.push(cache);
  return cache;
}

const HOUR = 60 * 60 * 1000;

describe('clock', () => {
  it('stamps expiry with the writer clock and checks it with the reader clock', async () => {
    const broker = new InProcessBroker();
    const topic = uniqueTopic('clock');
    // A writer whose clock is an hour behind writes a TTL of a minute: already past on a real clock.
    const writer = cacheOn(broker, topic, { now: () => Date.now() - HOUR });
    const onTime = cacheOn(broker, topic);
    let ahead = Date.now() - HOUR;
    // A reader whose clock runs with the writer's still holds it.
    const alike = cacheOn(broker, topic, { now: () => ahead });
    await Promise.all([writer.ready(), onTime.ready(), alike.ready()]);
    await writer.set('k', 'v', { ttl: 60_000 });
    await writer.set('marker', 'm');
    await writer.flush();
    await waitFor(() => onTime.get('marker') === 'm' && alike.get('marker') === 'm');
    expect(writer.get('k')).toBe('v');
    expect(alike.get('k')).toBe('v');
    expect(onTime.get('k')).toBeUndefined();
    // Moving the reader's clock past the expiry: a later record stamped the same way is not kept.
    ahead += 2 * 60_000;
    await writer.set('k2', 'v', { ttl: 60_000 });
    await writer.set('marker', 'm2');
    await waitFor(() => alike.get('marker') === 'm2');
    expect(alike.get('k2')).toBeUndefined();
  });

  it('measures replication lag on the given clock', async () => {
    const broker = new InProcessBroker();
    const topic = uniqueTopic('clock');
    const now = 1_000_000;
    const reader = cacheOn(broker, topic, { now: () => now });
    await reader.ready();
    broker.produce(topic, [{ key: 'x', value: 'not a record', timestamp: now - 250 }]);
    await waitFor(() => reader.stats().records.rejected === 1);
    expect(reader.stats().partitions[0]!.lastApplyDelayMs).toBe(250);
  });

  it('refuses a clock without now()', () => {
    expect(() => createNearCache({ topic: uniqueTopic('clock'), log: inProcessLog(new InProcessBroker()), logger: silentLogger, clock: {} as Clock })).toThrow(
      InvalidOptionError,
    );
    expect(() => createNearCache({ topic: uniqueTopic('clock'), log: inProcessLog(new InProcessBroker()), logger: silentLogger, clock: {} as Clock })).toThrow(
      /"clock"/,
    );
  });
});
