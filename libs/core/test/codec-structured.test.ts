import { serialize } from 'node:v8';
import { isDeepStrictEqual } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { bufferCodec, DecodeError, InvalidValueError, isNearCacheError, jsonCodec, structuredCodec } from '../src/index.js';

afterEach(() => {
  // No test may leave a polluted prototype behind for the next one.
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
});

const codec = structuredCodec<unknown>();

/** Strict deep equality (types, prototypes, contents), plus the prototype of the top value and -0. */
function expectSame(actual: unknown, expected: unknown): void {
  if (expected instanceof Date && Number.isNaN(expected.getTime())) {
    // isDeepStrictEqual never finds two invalid Dates equal (NaN times).
    expect(actual).toBeInstanceOf(Date);
    expect(Object.getPrototypeOf(actual)).toBe(Date.prototype);
    expect((actual as Date).getTime()).toBeNaN();
    return;
  }
  expect(isDeepStrictEqual(actual, expected), `${String(actual)} vs ${String(expected)}`).toBe(true);
  if (expected !== null && typeof expected === 'object') expect(Object.getPrototypeOf(actual)).toBe(Object.getPrototypeOf(expected));
  else expect(Object.is(actual, expected)).toBe(true);
}

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
  length(): number {
    return Math.hypot(this.x, this.y);
  }
}
class Tagged extends Map<string, number> {}
class AppError extends Error {}

function refusal(value: unknown): InvalidValueError {
  let error: unknown;
  try {
    codec.encode(value);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(InvalidValueError);
  expect(isNearCacheError(error, 'NC_INVALID_VALUE')).toBe(true);
  return error as InvalidValueError;
}

describe('structuredCodec', () => {
  it('is named structured, exact, and the values it writes say which encoding they use', () => {
    expect(codec.name).toBe('structured');
    expect(codec.exact).toBe(true);
    // Plain JSON data: byte for byte what JSON.stringify writes.
    const plain = { id: 1, name: 'a', tags: ['x'], nested: { ok: true, n: null } };
    expect(Buffer.from(codec.encode(plain)).toString('utf8')).toBe(JSON.stringify(plain));
    // Anything else: the v8 serializer's format, whose first byte (0xff) UTF-8 JSON never starts with.
    expect(codec.encode({ at: new Date(0) })[0]).toBe(0xff);
  });

  const cyclic = (): unknown => {
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    return a;
  };
  it.each<{ name: string; value: () => unknown }>([
    { name: 'a string', value: () => 'héllo 中文 😀 \u0000 \u2028 \ud800' },
    { name: 'an integer', value: () => 42 },
    { name: 'a float', value: () => 0.1 + 0.2 },
    { name: 'NaN', value: () => Number.NaN },
    { name: 'Infinity', value: () => Number.POSITIVE_INFINITY },
    { name: '-Infinity', value: () => Number.NEGATIVE_INFINITY },
    { name: '-0', value: () => -0 },
    { name: '-0 nested', value: () => ({ a: [-0] }) },
    { name: 'true', value: () => true },
    { name: 'null', value: () => null },
    { name: 'a BigInt', value: () => 2n ** 100n },
    { name: 'a negative BigInt', value: () => -(2n ** 70n) },
    { name: 'undefined in an object', value: () => ({ a: undefined, b: 1 }) },
    { name: 'undefined in an array', value: () => [1, undefined, 3] },
    { name: 'a sparse array', value: () => [1, , 3] }, // eslint-disable-line no-sparse-arrays
    { name: 'a plain object', value: () => ({ a: { b: [1, 'two', { c: null }] }, d: true }) },
    { name: 'a Date', value: () => new Date('2026-01-02T03:04:05.678Z') },
    { name: 'an invalid Date', value: () => new Date(Number.NaN) },
    {
      name: 'a Map with object keys',
      value: () =>
        new Map<unknown, unknown>([
          ['a', 1],
          [{ k: 1 }, new Set([1])],
        ]),
    },
    { name: 'a Map with string keys (not an object)', value: () => new Map([['a', 1]]) },
    { name: 'a Set', value: () => new Set([1, 'a', { b: 2 }]) },
    { name: 'a Buffer', value: () => Buffer.from('hello') },
    { name: 'a Buffer slice of a pooled buffer', value: () => Buffer.from('hello world').subarray(6) },
    { name: 'a Uint8Array', value: () => new Uint8Array([1, 2, 255]) },
    { name: 'a Float64Array with NaN and -0', value: () => new Float64Array([Number.NaN, -0, 1.5]) },
    { name: 'a BigInt64Array', value: () => new BigInt64Array([-1n, 2n ** 62n]) },
    { name: 'an ArrayBuffer', value: () => new Uint16Array([1, 2]).buffer },
    { name: 'a DataView', value: () => new DataView(new ArrayBuffer(4)) },
    { name: 'a RegExp with flags', value: () => /ab+c/giu },
    { name: 'an Error', value: () => new Error('boom') },
    { name: 'a TypeError with a cause', value: () => new TypeError('outer', { cause: new RangeError('inner') }) },
    { name: 'boxed primitives', value: () => [Object(1), Object('s'), Object(false), Object(1n)] },
    { name: 'an object with a "constructor" string and a "__proto__" string value', value: () => ({ constructor: 'x', a: '__proto__' }) },
    { name: 'a Map with a "__proto__" key', value: () => new Map([['__proto__', { polluted: 1 }]]) },
    { name: 'a cycle', value: cyclic },
    {
      name: 'a value nested 400 levels deep',
      value: () => {
        let v: unknown = new Date(0);
        for (let i = 0; i < 400; i++) v = { v };
        return v;
      },
    },
    { name: 'a row with dates', value: () => ({ id: 1, createdAt: new Date(1), lines: [{ at: new Date(2), qty: 1 }] }) },
  ])('round-trips $name exactly', ({ value }) => {
    const original = value();
    const back = codec.decode(codec.encode(original));
    expectSame(back, original);
  });

  it('keeps cycles and shared references as such', () => {
    const shared = { n: 1 };
    const value: Record<string, unknown> = { a: shared, b: shared, at: new Date(0) };
    value.self = value;
    const back = codec.decode(codec.encode(value)) as Record<string, unknown>;
    expect(back.self).toBe(back);
    expect(back.a).toBe(back.b);
  });

  it("keeps an Error's message, stack and cause, and its class among the standard ones", () => {
    const error = new RangeError('outer', { cause: new Error('inner') });
    const back = codec.decode(codec.encode(error)) as RangeError;
    expect(back).toBeInstanceOf(RangeError);
    expect(back.message).toBe('outer');
    expect(back.stack).toBe(error.stack);
    expect((back.cause as Error).message).toBe('inner');
  });

  it.each<{ name: string; value: () => unknown; says: RegExp }>([
    { name: 'a class instance with methods', value: () => new Point(1, 2), says: /cannot encode value: an instance of class Point/ },
    {
      name: 'a class instance deep in a value',
      value: () => ({ items: [{ at: new Date(0) }, { where: new Point(1, 2) }] }),
      says: /cannot encode value\.items\[1\]\.where: an instance of class Point/,
    },
    {
      name: 'a class instance as a Map value',
      value: () => new Map([['p', new Point(1, 2)]]),
      says: /cannot encode value<value 0>: an instance of class Point/,
    },
    { name: 'a function', value: () => ({ f: () => 1 }), says: /value\.f: a function/ },
    {
      name: 'a function under a key that looks like a path',
      value: () => ({ '<key 0>': { at: new Date(0), f: () => 1 } }),
      says: /value\["<key 0>"\]\.f: a function/,
    },
    { name: 'a function in a Set', value: () => new Set([1, () => 1]), says: /value<item 1>: a function/ },
    { name: 'a method (a function in a plain object)', value: () => ({ at: new Date(0), m() {} }), says: /value\.m: a function/ },
    { name: 'a symbol', value: () => Symbol('s'), says: /a symbol/ },
    { name: 'a symbol key', value: () => ({ [Symbol('s')]: 1, at: new Date(0) }), says: /symbol keys/ },
    { name: 'a WeakMap', value: () => new WeakMap(), says: /WeakMap/ },
    { name: 'a WeakSet', value: () => ({ s: new WeakSet() }), says: /WeakSet/ },
    { name: 'a Promise', value: () => Promise.resolve(1), says: /Promise/ },
    { name: 'an object with a null prototype', value: () => Object.assign(Object.create(null) as object, { a: 1 }), says: /null prototype/ },
    { name: 'a subclass of Map', value: () => new Tagged([['a', 1]]), says: /class Tagged/ },
    { name: 'an Error of a custom class', value: () => new AppError('x'), says: /Error of class AppError/ },
    { name: 'an Error with a code', value: () => Object.assign(new Error('x'), { code: 'E_X' }), says: /own "code" property/ },
    { name: 'an own "__proto__" key (JSON.parse)', value: () => JSON.parse('{"a":{"__proto__":{"polluted":1}}}'), says: /"__proto__" key/ },
    {
      name: 'a getter that throws',
      value: () => ({
        at: new Date(0),
        get bad(): never {
          throw new Error('no');
        },
      }),
      says: /no/,
    },
    {
      name: 'a value nested too deeply',
      value: () => {
        let v: unknown = new Date(0);
        for (let i = 0; i < 600; i++) v = [v];
        return v;
      },
      says: /nested more than 500/,
    },
  ])('refuses $name with InvalidValueError saying what and where', ({ value, says }) => {
    expect(refusal(value()).message).toMatch(says);
  });

  it('refuses a top-level undefined', () => {
    expect(refusal(undefined).message).toMatch(/undefined cannot be cached/);
  });

  it('decodes JSON payloads (version 2 records, written by the JSON codec)', () => {
    expect(codec.decode(Buffer.from('{"a":[1,"x"]}'))).toEqual({ a: [1, 'x'] });
  });

  it.each([
    { name: 'empty bytes', bytes: Buffer.alloc(0) },
    { name: 'invalid JSON', bytes: Buffer.from('{"a":') },
    { name: 'a v8 tag and garbage', bytes: Buffer.from([0xff, 0x0f, 0x99, 0x01]) },
    { name: 'a truncated v8 payload', bytes: Buffer.from(serialize({ at: new Date(0), list: [1, 2, 3] })).subarray(0, 12) },
    { name: 'a v8 payload of a future version', bytes: Buffer.from([0xff, 0x7f, 0x49, 0x02]) },
  ])('decode rejects $name with DecodeError', ({ bytes }) => {
    expect(() => codec.decode(bytes)).toThrow(DecodeError);
  });

  const twoByte = (key: string): Buffer => {
    const utf16 = Buffer.from(key, 'utf16le');
    // { <key as a two-byte string>: 2 } in the v8 format: header, begin object, two-byte string, int32 (zigzag), end object with 1 property.
    return Buffer.concat([Buffer.from([0xff, 0x0f, 0x6f, 0x63, utf16.length]), utf16, Buffer.from([0x49, 0x04, 0x7b, 0x01])]);
  };
  it.each([
    { name: 'a __proto__ key', bytes: () => serialize(JSON.parse('{"__proto__":{"polluted":1}}')) },
    { name: 'a nested __proto__ key', bytes: () => serialize({ at: new Date(0), list: [new Map([['m', JSON.parse('{"__proto__":{"polluted":1}}')]])] }) },
    { name: 'a __proto__ key as a two-byte string', bytes: () => twoByte('__proto__') },
    { name: 'a constructor.prototype key', bytes: () => serialize({ constructor: { prototype: { polluted: 1 } } }) },
    // { v: { v: ... { constructor: 1 } } }, 50,000 levels, written by hand (v8.serialize itself would overflow).
    {
      name: 'a "constructor" key nested too deeply to check',
      bytes: () =>
        Buffer.concat([
          Buffer.from([0xff, 0x0f]),
          Buffer.from('6f220176'.repeat(50_000), 'hex'),
          Buffer.from([0x6f, 0x22, 11]),
          Buffer.from('constructor'),
          Buffer.from([0x49, 0x02, 0x7b, 0x01]),
          Buffer.from('7b01'.repeat(50_000), 'hex'),
        ]),
    },
  ])('decode rejects a v8 payload with $name (no prototype pollution)', ({ bytes }) => {
    expect(() => codec.decode(bytes())).toThrow(DecodeError);
  });
});

describe('jsonCodec (for readers in other languages)', () => {
  const json = jsonCodec<unknown>();

  it('is not exact: the writer keeps what it decodes', () => {
    expect(json.exact).toBe(false);
  });

  it.each<{ name: string; value: () => unknown; says: RegExp }>([
    { name: 'a Map (JSON would write {})', value: () => ({ m: new Map([['a', 1]]) }), says: /Map.*\{\}/ },
    { name: 'a Set', value: () => new Set([1]), says: /Set/ },
    { name: 'a class instance', value: () => new Point(1, 2), says: /class Point/ },
    { name: 'a typed array', value: () => new Uint8Array([1]), says: /Uint8Array/ },
    { name: 'a RegExp', value: () => /x/, says: /RegExp/ },
  ])('refuses $name instead of changing it silently', ({ value, says }) => {
    let error: unknown;
    try {
      json.encode(value());
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidValueError);
    expect((error as Error).message).toMatch(says);
  });

  it('accepts objects with a null prototype and values with toJSON (a Date travels as its ISO string)', () => {
    const bare = Object.assign(Object.create(null) as object, { a: 1 });
    expect(json.decode(json.encode({ bare, at: new Date(0) }))).toEqual({ bare: { a: 1 }, at: '1970-01-01T00:00:00.000Z' });
  });
});

describe('bufferCodec', () => {
  it('copies the bytes (the caller may reuse its buffer) and gives back a Buffer', () => {
    const codec = bufferCodec();
    const source = new Uint8Array([1, 2, 3]);
    const encoded = codec.encode(source);
    source[0] = 9;
    const decoded = codec.decode(encoded);
    expect(Buffer.isBuffer(decoded)).toBe(true);
    expect([...decoded]).toEqual([1, 2, 3]);
    expect(codec.exact).toBe(false);
  });
});
