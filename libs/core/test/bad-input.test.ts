import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  bufferCodec,
  createNearCache,
  InProcessBroker,
  inProcessLog,
  InvalidArgumentError,
  InvalidKeyError,
  InvalidValueError,
  jsonCodec,
  NearCache,
  silentLogger,
  ValueTooLargeError,
  type NearCacheError,
} from '../src/index.js';
import { rejection, uniqueTopic } from './helpers.js';

const MAX_KEY_BYTES = 16;
const MAX_VALUE_BYTES = 64;

let broker: InProcessBroker;
let topic: string;
let cache: NearCache<any>;
const extra: Array<NearCache<any>> = [];

beforeEach(async () => {
  broker = new InProcessBroker();
  topic = uniqueTopic('bad');
  // The refusals below are the JSON codec's (the default codec's are tested in codec-cache.test.ts).
  cache = createNearCache<any>({
    topic,
    log: inProcessLog(broker),
    logger: silentLogger,
    codec: jsonCodec(),
    maxKeyBytes: MAX_KEY_BYTES,
    maxValueBytes: MAX_VALUE_BYTES,
  });
  await cache.ready({ timeout: 5000 });
  await cache.set('k', { v: 1 });
  await cache.set('other', 'x');
  await cache.flush();
});

afterEach(async () => {
  await Promise.all([cache.close(), ...extra.splice(0).map((c) => c.close())]);
});

interface Snapshot {
  entries: Array<[string, unknown]>;
  sets: number;
  deletes: number;
  clears: number;
  depth: number;
  records: number;
}

function snapshot(c: NearCache<any> = cache): Snapshot {
  const stats = c.stats();
  return {
    entries: [...c.entries()].sort(([a], [b]) => a.localeCompare(b)),
    sets: stats.sets,
    deletes: stats.deletes,
    clears: stats.clears,
    depth: stats.queue.depth,
    records: broker.records(topic).length,
  };
}

/** The cache is as it was: entries, counters, queue, and (after a flush) the topic. */
async function expectUnchanged(before: Snapshot, c: NearCache<any> = cache): Promise<void> {
  const now = snapshot(c);
  expect(now.entries).toEqual(before.entries);
  expect(now.sets).toBe(before.sets);
  expect(now.deletes).toBe(before.deletes);
  expect(now.clears).toBe(before.clears);
  expect(now.depth).toBe(before.depth);
  await c.flush({ timeout: 5000 });
  expect(broker.records(topic).length).toBe(before.records);
}

function expectError(error: unknown, type: abstract new (...args: any[]) => NearCacheError, code: string): void {
  expect(error).toBeInstanceOf(type);
  expect((error as NearCacheError).code).toBe(code);
}

// ---------------------------------------------------------------------------------------------

const badKeys: Array<{ name: string; key: unknown }> = [
  { name: 'an empty string', key: '' },
  { name: 'a number', key: 42 },
  { name: 'null', key: null },
  { name: 'undefined', key: undefined },
  { name: 'an object', key: { toString: () => 'k' } },
  { name: 'an array', key: ['k'] },
  { name: 'a symbol', key: Symbol('k') },
  { name: 'a String object', key: new String('k') },
  { name: 'an ASCII key over maxKeyBytes', key: 'x'.repeat(MAX_KEY_BYTES + 1) },
  // 9 characters, 18 UTF-8 bytes: short in UTF-16 units, too long in bytes.
  { name: 'a 2-byte UTF-8 key over maxKeyBytes', key: 'é'.repeat(9) },
  // 6 characters, 18 bytes.
  { name: 'a 3-byte UTF-8 key over maxKeyBytes', key: '中'.repeat(6) },
  // 5 emoji = 10 UTF-16 units, 20 bytes.
  { name: 'an emoji key over maxKeyBytes', key: '😀'.repeat(5) },
  { name: 'a reserved key (U+0000 prefix)', key: '\u0000k' },
  { name: 'a reserved clear-record key', key: '\u0000nc:clear:' },
  { name: 'a lone U+0000', key: '\u0000' },
];

describe('invalid keys', () => {
  describe.each([
    { op: 'set', call: (c: NearCache<any>, key: unknown) => c.set(key as string, 'v') },
    { op: 'set (durable)', call: (c: NearCache<any>, key: unknown) => c.set(key as string, 'v', { durable: true }) },
    { op: 'delete', call: (c: NearCache<any>, key: unknown) => c.delete(key as string) },
    { op: 'wrap', call: (c: NearCache<any>, key: unknown) => c.wrap(key as string, () => 'loaded') },
  ])('$op', ({ call }) => {
    it.each(badKeys)('rejects $name with InvalidKeyError and changes nothing', async ({ key }) => {
      const before = snapshot();
      const error = await rejection(call(cache, key));
      expectError(error, InvalidKeyError, 'NC_INVALID_KEY');
      expect((error as Error).message.length).toBeGreaterThan(0);
      expect(cache.get('k')).toEqual({ v: 1 });
      await expectUnchanged(before);
    });
  });

  describe.each([
    { op: 'get', call: (c: NearCache<any>, key: unknown) => c.get(key as string) },
    { op: 'has', call: (c: NearCache<any>, key: unknown) => c.has(key as string) },
  ])('$op', ({ op, call }) => {
    it.each(badKeys)('throws InvalidKeyError for $name', async ({ key }) => {
      const before = snapshot();
      const { hits, misses } = cache.stats();
      let error: unknown;
      try {
        call(cache, key);
      } catch (e) {
        error = e;
      }
      expect(error, `${op}() did not throw`).toBeInstanceOf(InvalidKeyError);
      expectError(error, InvalidKeyError, 'NC_INVALID_KEY');
      expect(cache.stats().hits).toBe(hits);
      expect(cache.stats().misses).toBe(misses);
      await expectUnchanged(before);
    });
  });

  it('wrap does not call the loader for an invalid key', async () => {
    const loader = vi.fn(() => 'loaded');
    await expect(cache.wrap('', loader)).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(cache.wrap('\u0000x', loader)).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(cache.wrap('é'.repeat(9), loader)).rejects.toBeInstanceOf(InvalidKeyError);
    expect(loader).not.toHaveBeenCalled();
  });

  it('accepts a multi-byte key of exactly maxKeyBytes bytes', async () => {
    const key = 'é'.repeat(MAX_KEY_BYTES / 2);
    expect(Buffer.byteLength(key)).toBe(MAX_KEY_BYTES);
    await cache.set(key, 1);
    expect(cache.get(key)).toBe(1);
    await cache.flush();
    expect(broker.records(topic).at(-1)?.key?.toString()).toBe(key);
  });

  it.each(badKeys.filter(({ key }) => typeof key !== 'string' || key === ''))('namespace get/set/delete reject $name', async ({ key }) => {
    const ns = cache.namespace('ns:');
    const before = snapshot();
    expect(() => ns.get(key as string)).toThrow(InvalidKeyError);
    expect(() => ns.has(key as string)).toThrow(InvalidKeyError);
    await expect(Promise.resolve().then(() => ns.set(key as string, 1))).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(Promise.resolve().then(() => ns.delete(key as string))).rejects.toBeInstanceOf(InvalidKeyError);
    await expectUnchanged(before);
  });
});

// ---------------------------------------------------------------------------------------------

function cycle(): unknown {
  const a: Record<string, unknown> = { name: 'a' };
  a.self = a;
  return a;
}

function ownProtoViaDefine(): unknown {
  const value = {};
  Object.defineProperty(value, '__proto__', { value: { polluted: 1 }, enumerable: true, configurable: true, writable: true });
  return value;
}

const badValues: Array<{ name: string; value: () => unknown }> = [
  { name: 'a function', value: () => () => 1 },
  { name: 'a symbol', value: () => Symbol('v') },
  { name: 'a cycle', value: cycle },
  {
    name: 'a cycle through an array',
    value: () => {
      const a: unknown[] = [];
      a.push({ a });
      return a;
    },
  },
  { name: 'a BigInt', value: () => 10n },
  { name: 'NaN', value: () => Number.NaN },
  { name: 'Infinity', value: () => Number.POSITIVE_INFINITY },
  { name: '-Infinity', value: () => Number.NEGATIVE_INFINITY },
  { name: 'a nested function', value: () => ({ a: { b: () => 1 } }) },
  { name: 'a function in an array', value: () => [1, () => 2] },
  { name: 'a nested symbol', value: () => ({ s: Symbol('x') }) },
  { name: 'a nested BigInt', value: () => ({ n: 1n }) },
  { name: 'a nested NaN', value: () => ({ list: [1, Number.NaN] }) },
  { name: 'undefined', value: () => undefined },
  { name: 'an own "__proto__" key (JSON.parse)', value: () => JSON.parse('{"__proto__":1}') },
  { name: 'a nested own "__proto__" key (JSON.parse)', value: () => JSON.parse('{"a":{"__proto__":{"polluted":1}}}') },
  { name: 'an own "__proto__" key (defineProperty)', value: ownProtoViaDefine },
  {
    name: 'an object whose toJSON throws',
    value: () => ({
      toJSON() {
        throw new Error('nope');
      },
    }),
  },
  // JSON turns an undefined array element into null: other instances would read a different value.
  { name: 'undefined inside an array', value: () => [1, undefined, 3] },
];

describe('invalid values under the JSON codec', () => {
  it.each(badValues)('set rejects $name with InvalidValueError and changes nothing', async ({ value }) => {
    const before = snapshot();
    const error = await rejection(cache.set('k', value()));
    expectError(error, InvalidValueError, 'NC_INVALID_VALUE');
    expect(cache.get('k')).toEqual({ v: 1 });
    await expectUnchanged(before);
  });

  it.each(badValues)('durable set rejects $name with InvalidValueError and changes nothing', async ({ value }) => {
    const before = snapshot();
    const error = await rejection(cache.set('k', value(), { durable: true }));
    expectError(error, InvalidValueError, 'NC_INVALID_VALUE');
    expect(cache.get('k')).toEqual({ v: 1 });
    await expectUnchanged(before);
  });

  it('a rejected value leaves Object.prototype alone', async () => {
    await rejection(cache.set('k', JSON.parse('{"__proto__":{"polluted":1}}')));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('durable wrap rejects a loader result the codec refuses, and caches nothing', async () => {
    const before = snapshot();
    const error = await rejection(cache.wrap('fresh', () => ({ f: () => 1 }), { durable: true }));
    expectError(error, InvalidValueError, 'NC_INVALID_VALUE');
    expect(cache.has('fresh')).toBe(false);
    await expectUnchanged(before);
  });

  it('non-durable wrap returns a value the codec refuses, reports it, and caches nothing', async () => {
    const errors: unknown[] = [];
    cache.on('error', (e) => errors.push(e));
    const before = snapshot();
    const value = { big: 1n };
    await expect(cache.wrap('fresh', () => value)).resolves.toBe(value);
    expect(cache.has('fresh')).toBe(false);
    expect(errors).toHaveLength(1);
    expectError(errors[0], InvalidValueError, 'NC_INVALID_VALUE');
    await expectUnchanged(before);
  });
});

describe('oversized values', () => {
  it.each([
    { name: 'a long ASCII string', value: 'x'.repeat(MAX_VALUE_BYTES) },
    // 40 characters, 80 bytes + quotes: short in UTF-16 units, too large in bytes.
    { name: 'a multi-byte string', value: 'é'.repeat(40) },
    { name: 'a large object', value: { list: Array.from({ length: 30 }, (_, i) => i) } },
  ])('set rejects $name with ValueTooLargeError and changes nothing', async ({ value }) => {
    expect(Buffer.byteLength(JSON.stringify(value))).toBeGreaterThan(MAX_VALUE_BYTES);
    const before = snapshot();
    const error = await rejection(cache.set('k', value));
    expectError(error, ValueTooLargeError, 'NC_VALUE_TOO_LARGE');
    expect(cache.get('k')).toEqual({ v: 1 });
    await expectUnchanged(before);
  });

  it('accepts a value of exactly maxValueBytes encoded bytes', async () => {
    const value = 'x'.repeat(MAX_VALUE_BYTES - 2);
    await cache.set('k', value);
    expect(cache.get('k')).toBe(value);
  });
});

describe('invalid ttl', () => {
  const badTtls: Array<{ name: string; ttl: unknown }> = [
    { name: 'negative', ttl: -1 },
    { name: 'fractional', ttl: 1.5 },
    { name: 'a string', ttl: '100' },
    { name: 'NaN', ttl: Number.NaN },
    { name: 'Infinity', ttl: Number.POSITIVE_INFINITY },
    { name: 'null', ttl: null },
    { name: 'too large to add to now', ttl: Number.MAX_SAFE_INTEGER },
  ];

  it.each(badTtls)('set rejects a $name ttl with InvalidArgumentError and changes nothing', async ({ ttl }) => {
    const before = snapshot();
    const error = await rejection(cache.set('k', 2, { ttl: ttl as number }));
    expectError(error, InvalidArgumentError, 'NC_INVALID_ARGUMENT');
    expect((error as Error).message).toContain('ttl');
    expect(cache.get('k')).toEqual({ v: 1 });
    await expectUnchanged(before);
  });

  it.each(badTtls)('wrap rejects a $name ttl without calling the loader', async ({ ttl }) => {
    const loader = vi.fn(() => 2);
    const before = snapshot();
    const error = await rejection(cache.wrap('fresh', loader, { ttl: ttl as number }));
    expectError(error, InvalidArgumentError, 'NC_INVALID_ARGUMENT');
    expect(loader).not.toHaveBeenCalled();
    await expectUnchanged(before);
  });
});

describe('other invalid arguments', () => {
  it.each([
    { name: 'clearPrefix with a number', call: (c: NearCache<any>) => c.clearPrefix(5 as unknown as string) },
    { name: 'clearPrefix with null', call: (c: NearCache<any>) => c.clearPrefix(null as unknown as string) },
    { name: 'clearPrefix longer than maxKeyBytes', call: (c: NearCache<any>) => c.clearPrefix('p'.repeat(MAX_KEY_BYTES + 1)) },
    { name: 'flush with timeout 0', call: (c: NearCache<any>) => c.flush({ timeout: 0 }) },
    { name: 'flush with a fractional timeout', call: (c: NearCache<any>) => c.flush({ timeout: 1.5 }) },
    { name: 'ready with timeout -1', call: (c: NearCache<any>) => createFresh().ready({ timeout: -1 }) },
    { name: 'wrap without a loader', call: (c: NearCache<any>) => c.wrap('fresh', undefined as unknown as () => number) },
  ])('$name rejects with InvalidArgumentError and changes nothing', async ({ call }) => {
    const before = snapshot();
    const error = await rejection(call(cache));
    expectError(error, InvalidArgumentError, 'NC_INVALID_ARGUMENT');
    await expectUnchanged(before);
  });

  it.each([
    { name: 'an empty string', prefix: '' },
    { name: 'a number', prefix: 3 },
    { name: 'undefined', prefix: undefined },
  ])('namespace() rejects $name', ({ prefix }) => {
    expect(() => cache.namespace(prefix as string)).toThrow(InvalidArgumentError);
  });

  it('a full queue rejects a new key with WriteQueueFullError and changes nothing', async () => {
    const c = createFresh({ maxQueuedWrites: 2, flushTimeout: 200 });
    await c.ready({ timeout: 5000 });
    broker.setAvailable(false);
    try {
      await c.set('a', 1);
      await c.set('b', 1);
      const before = snapshot(c);
      const error = await rejection(c.set('c', 1));
      expect((error as NearCacheError).code).toBe('NC_QUEUE_FULL');
      expect((error as NearCacheError).retriable).toBe(true);
      expect(c.has('c')).toBe(false);
      const now = snapshot(c);
      expect(now.entries).toEqual(before.entries);
      expect(now.sets).toBe(before.sets);
      expect(now.depth).toBe(2);
      // A key already queued still coalesces.
      await c.set('a', 2);
      expect(c.get('a')).toBe(2);
      expect(c.stats().queue.depth).toBe(2);
    } finally {
      broker.setAvailable(true);
    }
  });
});

describe('the buffer codec', () => {
  it.each([
    { name: 'a string', value: 'abc' },
    { name: 'a number', value: 1 },
    { name: 'a plain object', value: { a: 1 } },
    { name: 'an array of bytes', value: [1, 2, 3] },
  ])('rejects $name with InvalidValueError and changes nothing', async ({ value }) => {
    const c = createNearCache<Uint8Array>({ topic, log: inProcessLog(broker), logger: silentLogger, codec: bufferCodec() });
    extra.push(c);
    await c.ready({ timeout: 5000 });
    await c.set('bin', Buffer.from([1, 2]));
    await c.flush({ timeout: 5000 });
    const before = snapshot(c);
    const error = await rejection(c.set('bin', value as unknown as Uint8Array));
    expectError(error, InvalidValueError, 'NC_INVALID_VALUE');
    expect(c.get('bin')).toEqual(Buffer.from([1, 2]));
    await expectUnchanged(before, c);
  });
});

function createFresh(options: Record<string, unknown> = {}): NearCache<any> {
  const c = createNearCache<any>({ topic, log: inProcessLog(broker), logger: silentLogger, ...options });
  extra.push(c);
  return c;
}
