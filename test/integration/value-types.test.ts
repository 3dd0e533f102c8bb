import { isDeepStrictEqual } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createNearCache, InvalidValueError, jsonCodec, silentLogger, type NearCache, type NearCacheOptions, type RejectedRecord } from '@nearcache/core';
import { KafkaTestClient } from '../helpers/kafka.js';
import { recordMeta } from '../helpers/records.js';
import { waitFor } from '../helpers/wait.js';

class Product {
  constructor(
    readonly id: number,
    readonly name: string,
  ) {}
  label(): string {
    return `#${this.id} ${this.name}`;
  }
}

/** The type matrix: every kind of value the default codec promises to give back exactly, on every instance. */
function matrix(): Record<string, unknown> {
  const cycle: Record<string, unknown> = { name: 'cycle', at: new Date(7) };
  cycle.self = cycle;
  const shared = { n: 1 };
  return {
    string: 'héllo 中文 😀 \u2028',
    emptyString: '',
    integer: 42,
    float: 0.1 + 0.2,
    nan: Number.NaN,
    infinity: Number.POSITIVE_INFINITY,
    negativeInfinity: Number.NEGATIVE_INFINITY,
    negativeZero: -0,
    true: true,
    false: false,
    null: null,
    nestedUndefined: { a: undefined, list: [1, undefined, 3] },
    array: [1, 'two', [3], { four: 4 }],
    plainObject: { id: 1, name: 'Ada', tags: ['x', 'y'], nested: { ok: true } },
    date: new Date('2026-03-04T05:06:07.089Z'),
    map: new Map<unknown, unknown>([
      ['a', 1],
      [2, 'two'],
      [{ k: 1 }, [new Date(1)]],
    ]),
    mapOfStrings: new Map([['only', 'strings']]),
    set: new Set([1, 'a', { b: 2 }]),
    bigint: 2n ** 80n,
    negativeBigint: -12345678901234567890n,
    buffer: Buffer.from('bytes \u0000\u00ff'),
    uint8Array: new Uint8Array([0, 1, 255]),
    int32Array: new Int32Array([-1, 2 ** 31 - 1]),
    float64Array: new Float64Array([Number.NaN, -0, 1.5]),
    bigInt64Array: new BigInt64Array([-1n, 2n ** 62n]),
    arrayBuffer: new Uint8Array([9, 8, 7]).buffer,
    regexp: /^a+b?c$/giu,
    error: new Error('boom'),
    typeErrorWithCause: new TypeError('outer', { cause: new RangeError('inner') }),
    rowWithDates: { id: 9, createdAt: new Date(1), lines: [{ sku: 'A', at: new Date(2), qty: 1 }], meta: new Map([['tags', new Set(['t'])]]) },
    cycle,
    // Shared references are kept by the v8 serializer (a value holding a Date takes that path);
    // plain JSON data is written as JSON, where they arrive as equal copies (documented).
    sharedReferences: { a: shared, b: shared, at: new Date(0) },
  };
}

function same(actual: unknown, expected: unknown): boolean {
  if (typeof expected !== 'object' || expected === null) return Object.is(actual, expected);
  if (Object.getPrototypeOf(actual) !== Object.getPrototypeOf(expected)) return false;
  return isDeepStrictEqual(actual, expected);
}

function describeMismatch(key: string, actual: unknown, expected: unknown): string {
  const kind = (v: unknown) => (v === null || typeof v !== 'object' ? typeof v : (Object.getPrototypeOf(v)?.constructor?.name ?? 'null-prototype'));
  return `${key}: ${kind(actual)} ${String(actual)} vs ${kind(expected)} ${String(expected)}`;
}

describe('value types across instances on a real broker (default codec)', () => {
  const client = new KafkaTestClient();
  const caches: NearCache[] = [];
  const open = (topic: string, options: Partial<NearCacheOptions> = {}): NearCache => {
    const cache = createNearCache({ topic, kafka: { brokers: client.brokers, logLevel: 'nothing' }, logger: silentLogger, ...options });
    caches.push(cache);
    return cache;
  };

  afterEach(async () => {
    await Promise.all(caches.splice(0).map((cache) => cache.close()));
  });
  afterAll(() => client.close());

  it('every value of the type matrix is the same on the writer, the other instance and a fresh instance: types, prototypes, contents', async () => {
    const topic = await client.createTopic({ partitions: 2 });
    const [a, b] = [open(topic), open(topic)];
    await Promise.all([a.ready(), b.ready()]);

    const expected = matrix();
    const keys = Object.keys(expected);
    // Half written by each instance, so both directions cross the broker.
    for (const [i, key] of keys.entries()) await (i % 2 === 0 ? a : b).set(`v:${key}`, matrix()[key]);
    await Promise.all([a.flush(), b.flush()]);
    await waitFor(() => keys.every((key) => a.has(`v:${key}`) && b.has(`v:${key}`)), {
      timeout: 30_000,
      message: () => `missing: ${keys.filter((key) => !a.has(`v:${key}`) || !b.has(`v:${key}`)).join(', ')}`,
    });
    const c = open(topic);
    await c.ready();

    const mismatches: string[] = [];
    for (const key of keys) {
      for (const [name, cache] of [
        ['a', a],
        ['b', b],
        ['c', c],
      ] as const) {
        const held = cache.get(`v:${key}`);
        if (!same(held, expected[key])) mismatches.push(`${name} ${describeMismatch(key, held, expected[key])}`);
      }
    }
    expect(mismatches).toEqual([]);
    // Beyond deep equality: a cycle is a cycle, shared references stay shared, an Error keeps its cause's class.
    for (const cache of [a, b, c]) {
      const cycle = cache.get('v:cycle') as Record<string, unknown>;
      expect(cycle.self).toBe(cycle);
      const shared = cache.get('v:sharedReferences') as Record<string, unknown>;
      expect(shared.a).toBe(shared.b);
      expect((cache.get('v:typeErrorWithCause') as Error).cause).toBeInstanceOf(RangeError);
      expect(Object.is(cache.get('v:negativeZero'), -0)).toBe(true);
    }
    // Every set on the topic names the codec that wrote it.
    const records = await client.readAll(topic);
    expect(new Set(records.map((r) => recordMeta(r)?.codec))).toEqual(new Set(['structured']));
  });

  it('a value it cannot give back is refused with the key named, and reaches neither the topic nor any instance', async () => {
    const topic = await client.createTopic({ partitions: 1 });
    const [a, b] = [open(topic), open(topic)];
    await Promise.all([a.ready(), b.ready()]);
    await a.set('product:1', { id: 1, name: 'plain' }, { durable: true });
    await waitFor(() => b.has('product:1'), { timeout: 30_000, message: 'product:1 on b' });

    const refused: Array<[string, unknown]> = [
      ['product:1', new Product(1, 'with methods')],
      ['fn', () => 1],
      ['symbol', Symbol('s')],
      ['weak', new WeakMap()],
      ['promise', Promise.resolve(1)],
      ['nested', { ok: new Date(0), bad: new Product(2, 'deep') }],
    ];
    for (const [key, value] of refused) {
      const error = await a.set(key, value).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, key).toBeInstanceOf(InvalidValueError);
      expect((error as InvalidValueError).key).toBe(key);
      expect((error as Error).message).toContain(`"${key}"`);
    }
    await a.set('marker', 1, { durable: true });
    await waitFor(() => b.has('marker'), { timeout: 30_000, message: 'marker on b' });
    for (const cache of [a, b]) {
      expect(cache.get('product:1')).toEqual({ id: 1, name: 'plain' });
      for (const [key] of refused.slice(1)) expect(cache.has(key)).toBe(false);
    }
    const keysOnTopic = (await client.readAll(topic)).map((r) => Buffer.from(r.key!).toString());
    expect(keysOnTopic).toEqual(['product:1', 'marker']);
  });

  it('an instance with another codec on the topic: its sets are skipped, counted and reported with their offsets', async () => {
    const topic = await client.createTopic({ partitions: 1 });
    const structured = open(topic);
    const json = open(topic, { codec: jsonCodec() });
    const rejected: RejectedRecord[] = [];
    structured.on('rejected', (r) => rejected.push(r));
    await Promise.all([structured.ready(), json.ready()]);

    await structured.set('k', { at: new Date(1) }, { durable: true });
    await json.set('k', { at: new Date(2) }, { durable: true });
    await waitFor(() => rejected.length === 1, { timeout: 30_000, message: 'the json set rejected on the structured instance' });
    const jsonRecord = (await client.readAll(topic)).find((r) => recordMeta(r)?.codec === 'json')!;
    expect(rejected[0]).toMatchObject({ partition: 0, offset: jsonRecord.offset, reason: 'codec-mismatch' });
    expect(structured.stats().records.rejectedByReason).toEqual({ 'codec-mismatch': 1 });
    // Never decoded into a wrong value: the structured instance keeps its own.
    expect(structured.get('k')).toEqual({ at: new Date(1) });
  });
});
