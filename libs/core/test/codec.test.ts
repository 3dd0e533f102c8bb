import { afterEach, describe, expect, it } from 'vitest';
import { bufferCodec, DecodeError, InvalidValueError, isNearCacheError, jsonCodec } from '../src/index.js';

afterEach(() => {
  // No test may leave a polluted prototype behind for the next one.
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
});

describe('jsonCodec', () => {
  const codec = jsonCodec<unknown>();

  it('is named json', () => {
    expect(codec.name).toBe('json');
  });

  it.each<{ name: string; value: unknown }>([
    { name: 'a string', value: 'hello' },
    { name: 'an empty string', value: '' },
    { name: 'a unicode string', value: 'héllo 中文 😀 \u0000 \u2028' },
    { name: 'an integer', value: 42 },
    { name: 'a negative float', value: -3.25 },
    { name: 'the largest safe integer', value: Number.MAX_SAFE_INTEGER },
    { name: 'true', value: true },
    { name: 'false', value: false },
    { name: 'null', value: null },
    { name: 'an empty object', value: {} },
    { name: 'an empty array', value: [] },
    { name: 'a nested object', value: { a: { b: [1, 'two', { c: null }] }, d: true } },
    { name: 'an array of objects', value: [{ id: 1 }, { id: 2, tags: ['x'] }] },
    { name: 'an object with a "constructor" string property', value: { constructor: 'x', prototype: 1 } },
    { name: 'an object with unicode keys', value: { ключ: 1, 鍵: [2] } },
  ])('round-trips $name', ({ value }) => {
    const bytes = codec.encode(value);
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(codec.decode(bytes)).toEqual(value);
  });

  it('encodes UTF-8 JSON', () => {
    expect(Buffer.from(codec.encode({ k: 'é' })).toString('utf8')).toBe('{"k":"é"}');
    expect(codec.encode('é').length).toBe(Buffer.byteLength('"é"'));
  });

  it('turns a Date into its ISO string (documented)', () => {
    const date = new Date('2026-01-02T03:04:05.678Z');
    expect(codec.decode(codec.encode({ at: date }))).toEqual({ at: '2026-01-02T03:04:05.678Z' });
  });

  it('drops undefined object properties, as JSON does', () => {
    expect(codec.decode(codec.encode({ a: 1, b: undefined }))).toEqual({ a: 1 });
  });

  it('decodes a Uint8Array view with a byte offset (not a whole Buffer)', () => {
    const backing = Buffer.from('xxxx{"a":[1,2]}yyyy', 'utf8');
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 4, backing.length - 8);
    expect(codec.decode(view)).toEqual({ a: [1, 2] });
  });

  it('decodes objects with the ordinary prototype', () => {
    const value = codec.decode(Buffer.from('{"a":1}')) as object;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
  });

  it.each([
    { name: 'a function', value: () => () => 1 },
    { name: 'a symbol', value: () => Symbol('s') },
    { name: 'a BigInt', value: () => 1n },
    { name: 'NaN', value: () => Number.NaN },
    { name: 'Infinity', value: () => Number.POSITIVE_INFINITY },
    {
      name: 'a cycle',
      value: () => {
        const o: Record<string, unknown> = {};
        o.o = o;
        return o;
      },
    },
    { name: 'a nested function', value: () => ({ a: [{ f: () => 1 }] }) },
    { name: 'undefined', value: () => undefined },
    { name: 'an own "__proto__" key', value: () => JSON.parse('{"__proto__":{"polluted":1}}') },
  ])('encode refuses $name with InvalidValueError', ({ value }) => {
    let error: unknown;
    try {
      codec.encode(value());
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidValueError);
    expect(isNearCacheError(error, 'NC_INVALID_VALUE')).toBe(true);
  });

  it.each([
    { name: 'plain text', bytes: Buffer.from('not json') },
    { name: 'empty bytes', bytes: Buffer.alloc(0) },
    { name: 'truncated JSON', bytes: Buffer.from('{"a":') },
    { name: 'invalid UTF-8', bytes: Buffer.from([0xff, 0xfe, 0xfd]) },
    { name: 'binary garbage', bytes: Buffer.from([0x00, 0x01, 0x02, 0x7b]) },
    { name: 'two JSON documents', bytes: Buffer.from('{}{}') },
    { name: 'a single quote string', bytes: Buffer.from("'x'") },
    { name: 'NaN literal', bytes: Buffer.from('NaN') },
    { name: 'undefined literal', bytes: Buffer.from('undefined') },
  ])('decode rejects $name with DecodeError', ({ bytes }) => {
    let error: unknown;
    try {
      codec.decode(bytes);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DecodeError);
    expect((error as DecodeError).code).toBe('NC_DECODE_FAILED');
  });

  it.each([
    { name: '__proto__ at the top', text: '{"__proto__":{"polluted":1}}' },
    { name: '__proto__ nested', text: '{"a":{"b":{"__proto__":{"polluted":1}}}}' },
    { name: '__proto__ inside an array', text: '[1,{"__proto__":{"polluted":1}}]' },
    { name: '__proto__ with a scalar', text: '{"__proto__":1}' },
    { name: 'constructor.prototype at the top', text: '{"constructor":{"prototype":{"polluted":1}}}' },
    { name: 'constructor.prototype nested', text: '{"x":[{"constructor":{"prototype":{"polluted":1}}}]}' },
    { name: 'constructor.prototype empty', text: '{"constructor":{"prototype":{}}}' },
    // The same keys written with JSON escapes: JSON.parse turns them into the same property names.
    { name: 'an escaped __proto__ key (\\u005f)', text: '{"\\u005f_proto__":{"polluted":1}}' },
    { name: 'an escaped __proto__ key (\\u0070roto)', text: '{"__\\u0070roto__":{"polluted":1}}' },
    { name: 'an escaped constructor key', text: '{"\\u0063onstructor":{"prototype":{"polluted":1}}}' },
  ])('decode rejects a payload with $name', ({ text }) => {
    let error: unknown;
    let decoded: unknown;
    try {
      decoded = codec.decode(Buffer.from(text, 'utf8'));
    } catch (e) {
      error = e;
    }
    expect(error, `decoded to ${JSON.stringify(decoded)}`).toBeInstanceOf(DecodeError);
    expect((error as DecodeError).code).toBe('NC_DECODE_FAILED');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each([
    { name: 'a "constructor" key with a scalar', text: '{"constructor":1}' },
    { name: 'a "constructor" key with an object without prototype', text: '{"constructor":{"name":"x"}}' },
    { name: 'a "constructor" string value', text: '{"a":"constructor"}' },
    { name: 'a "__proto__" string value', text: '{"a":"__proto__"}' },
    { name: 'a "prototype" key', text: '{"prototype":{"polluted":1}}' },
  ])('decode accepts $name', ({ text }) => {
    expect(codec.decode(Buffer.from(text))).toEqual(JSON.parse(text));
  });
});

describe('bufferCodec', () => {
  const codec = bufferCodec();

  it('is named buffer', () => {
    expect(codec.name).toBe('buffer');
  });

  it.each([
    { name: 'a Buffer', value: Buffer.from([0, 1, 2, 255]) },
    { name: 'a Uint8Array', value: new Uint8Array([9, 8, 7]) },
    { name: 'empty bytes', value: new Uint8Array(0) },
    { name: 'non-UTF-8 bytes', value: Buffer.from([0xff, 0xfe, 0x00]) },
  ])('passes $name through unchanged', ({ value }) => {
    const encoded = codec.encode(value);
    expect(Buffer.from(encoded).equals(Buffer.from(value))).toBe(true);
    const decoded = codec.decode(encoded);
    expect(Buffer.from(decoded).equals(Buffer.from(value))).toBe(true);
  });

  it.each([
    { name: 'a string', value: 'abc' },
    { name: 'a number', value: 5 },
    { name: 'null', value: null },
    { name: 'an array of numbers', value: [1, 2] },
    { name: 'an ArrayBuffer', value: new ArrayBuffer(2) },
    { name: 'a DataView', value: new DataView(new ArrayBuffer(2)) },
  ])('encode refuses $name with InvalidValueError', ({ value }) => {
    expect(() => codec.encode(value as unknown as Uint8Array)).toThrow(InvalidValueError);
  });
});
