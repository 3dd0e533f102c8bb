import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createNearCache,
  HTTP_SESSION_HEADER,
  HttpSessions,
  httpSessionSettings,
  InProcessBroker,
  inProcessLog,
  InvalidArgumentError,
  InvalidOptionError,
  parseSessionToken,
  silentLogger,
  type NearCache,
  type NearCacheOptions,
} from '../src/index.js';
import { chaos } from '../src/conformance/index.js';
import { uniqueTopic } from './helpers.js';

let broker: InProcessBroker;
let topic: string;
const caches: Array<NearCache<any>> = [];

beforeEach(() => {
  broker = new InProcessBroker();
  topic = uniqueTopic('http-session');
});

afterEach(async () => {
  broker.setAvailable(true);
  await Promise.all(caches.splice(0).map((c) => c.close()));
});

async function openReady(extra: Partial<NearCacheOptions<any>> = {}): Promise<NearCache<any>> {
  const cache = createNearCache<any>({ topic, log: inProcessLog(broker, { partitions: 2 }), logger: silentLogger, closeTimeout: 1000, ...extra });
  caches.push(cache);
  await cache.ready();
  return cache;
}

function sessions(cache: NearCache<any>, options: Parameters<typeof httpSessionSettings>[0] = { sessionHeader: true }) {
  const logged: string[] = [];
  const http = new HttpSessions(cache, httpSessionSettings(options), { debug: (message) => logged.push(message) });
  return { http, logged };
}

describe('HTTP sessions: settings', () => {
  it('defaults to no header, a 1000 ms wait and no staleness bound; checks every option with its name, the value and what is allowed', () => {
    expect(httpSessionSettings({})).toEqual({ header: undefined, wait: 1000, maxStaleness: undefined });
    expect(httpSessionSettings({ sessionHeader: true, sessionWait: 5, maxStaleness: 0 })).toEqual({ header: HTTP_SESSION_HEADER, wait: 5, maxStaleness: 0 });
    expect(httpSessionSettings({ sessionHeader: 'X-Token' }).header).toBe('X-Token');
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ sessionHeader: 'two words' }, /option "sessionHeader" must be true \(for "NearCache-Session"\), false, or a header name, got "two words"/],
      [{ sessionHeader: 1 }, /option "sessionHeader" must be .*got 1/],
      [{ sessionWait: 0 }, /option "sessionWait" must be an integer from 1 to 60000, got 0/],
      [{ sessionWait: 1.5 }, /option "sessionWait"/],
      [{ maxStaleness: -1 }, /option "maxStaleness" must be an integer from 0 to 2147483647, got -1/],
      [{ maxStaleness: '10' }, /option "maxStaleness"/],
    ];
    for (const [options, message] of bad) {
      expect(() => httpSessionSettings(options)).toThrow(InvalidOptionError);
      expect(() => httpSessionSettings(options)).toThrow(message);
    }
  });
});

describe('HTTP sessions: the cache', () => {
  it('session tokens on a cache that is not a NearCache throw InvalidArgumentError naming what it lacks; off, nothing is asked of it', () => {
    const notACache = { isCaughtUpTo: () => true } as never;
    const log = { debug: () => undefined };
    expect(() => new HttpSessions(notACache, httpSessionSettings({ sessionHeader: true }), log)).toThrow(InvalidArgumentError);
    expect(() => new HttpSessions(notACache, httpSessionSettings({ sessionHeader: true }), log)).toThrow(/has no catchUpTo, sessionToken, stats/);
    expect(() => new HttpSessions(notACache, httpSessionSettings({ maxStaleness: 10 }), log)).not.toThrow();
  });
});

describe('HTTP sessions: request tokens', () => {
  it('reads the header (any case given, read lower-case); ignores a missing, empty, malformed, foreign or out-of-range token, counted and logged at debug level', async () => {
    const cache = await openReady();
    const { http, logged } = sessions(cache, { sessionHeader: 'X-Session' });
    await cache.set('k', 1);
    const token = await cache.sessionToken();
    expect(http.token({ 'x-session': token })).toBe(token);
    expect(http.token({ 'x-session': [token, 'other'] })).toBe(token);
    expect(http.token({})).toBeUndefined();
    expect(http.token({ 'x-session': '' })).toBeUndefined();
    expect(http.counts.ignored).toBe(0);
    const hash = parseSessionToken(token).topic;
    const bad = ['garbage', 'v9.abc', 'v1.zzzzzz.0-1', `v1.${hash}.5-1`, `v1.${hash}.1-1.0-1`, `v1.${hash}.${'0-1.'.repeat(2100)}1-1`];
    for (const value of bad) expect(http.token({ 'x-session': value }), value.slice(0, 30)).toBeUndefined();
    expect(http.counts.ignored).toBe(bad.length);
    expect(logged.every((line) => line.startsWith('session token ignored:'))).toBe(true);
    expect(logged).toHaveLength(bad.length);
  });

  it('with sessionHeader false, reads no token at all', async () => {
    const cache = await openReady();
    const { http } = sessions(cache, {});
    expect(http.token({ 'nearcache-session': 'v1.abc.0-1' })).toBeUndefined();
    expect(http.token({ [HTTP_SESSION_HEADER.toLowerCase()]: await cache.sessionToken() })).toBeUndefined();
  });
});

describe('HTTP sessions: the read gate', () => {
  it('goes on at once without a token or once reached; waits for a reader behind the log; answers false when the wait runs out', async () => {
    const writer = await openReady();
    const held = chaos(inProcessLog(broker, { partitions: 2 }));
    const reader = createNearCache<any>({ topic, log: held, logger: silentLogger, closeTimeout: 1000 });
    caches.push(reader);
    await reader.ready();
    const { http } = sessions(reader, { sessionHeader: true, sessionWait: 100 });
    expect(http.gate(undefined)).toBe(true);

    held.last!.hold();
    await writer.set('k', 'new');
    const token = await writer.sessionToken();
    const timedOut = http.gate(http.token({ 'nearcache-session': token }));
    expect(timedOut).toBeInstanceOf(Promise);
    expect(await timedOut).toBe(false);
    expect(http.counts).toMatchObject({ waited: 1, timedOut: 1 });

    const { http: patient } = sessions(reader, { sessionHeader: true, sessionWait: 10_000 });
    const waiting = patient.gate(token);
    expect(waiting).toBeInstanceOf(Promise);
    held.last!.release();
    expect(await waiting).toBe(true);
    expect(reader.get('k')).toBe('new');
    expect(patient.gate(token)).toBe(true);
  });

  it('readOptions: undefined without maxStaleness (the plain get), else the bound, made once', async () => {
    const cache = await openReady();
    expect(sessions(cache).http.readOptions).toBeUndefined();
    const { http } = sessions(cache, { maxStaleness: 250 });
    expect(http.readOptions).toEqual({ maxStaleness: 250 });
    expect(http.readOptions).toBe(http.readOptions);
  });
});

describe('HTTP sessions: the token of a mutating response', () => {
  it('no cache write since the mark: the request token back (or none); writes: their token merged with the request one', async () => {
    const a = await openReady();
    const b = await openReady();
    const { http } = sessions(a);
    const quiet = http.mark();
    expect(await http.responseToken(quiet, undefined)).toBeUndefined();
    await b.set('on-b', 1);
    const fromB = await b.sessionToken();
    expect(await http.responseToken(quiet, fromB)).toBe(fromB);

    const mark = http.mark();
    await a.set('on-a', 1);
    await a.delete('gone');
    const token = await http.responseToken(mark, fromB);
    expect(token).toBeDefined();
    const own = parseSessionToken(await a.sessionToken()).positions;
    const merged = new Map(parseSessionToken(token!).positions.map((p) => [p.partition, p.position]));
    for (const { partition, position } of [...own, ...parseSessionToken(fromB).positions]) expect(merged.get(partition)).toBeGreaterThanOrEqual(position);
    expect(http.counts.sent).toBe(1);
  });

  it('writes the log does not acknowledge within sessionWait: the request token back, counted, logged at debug level', async () => {
    const cache = await openReady();
    const { http, logged } = sessions(cache, { sessionHeader: true, sessionWait: 50 });
    const mark = http.mark();
    broker.setAvailable(false);
    await cache.set('k', 1);
    expect(await http.responseToken(mark, 'v1.abc.0-1')).toBe('v1.abc.0-1');
    expect(http.counts.unacknowledged).toBe(1);
    expect(logged.some((line) => line.includes('carries no new session token'))).toBe(true);
  });
});
