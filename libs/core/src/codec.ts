import { DecodeError, InvalidValueError } from './errors.js';

/**
 * Turns values into the bytes carried by the log and back. The codec of every instance on a
 * topic must agree. `encode` throws `InvalidValueError` for a value it cannot represent
 * faithfully; `decode` throws `DecodeError` for bytes it does not accept.
 */
export interface Codec<V = unknown> {
  /** A short name, for error messages and stats. */
  readonly name: string;
  encode(value: V): Uint8Array;
  decode(bytes: Uint8Array): V;
}

const PROTO_MARK = Buffer.from('"__proto__"');
const CONSTRUCTOR_MARK = Buffer.from('"constructor"');
/** A JSON escape: `"\u005f_proto__"` spells `__proto__` without containing it. */
const ESCAPE_MARK = Buffer.from('\\u');

function rejectUnsafeKeys(this: unknown, key: string, value: unknown): unknown {
  if (key === '__proto__') throw new DecodeError('JSON payload has a "__proto__" key');
  if (key === 'constructor' && value !== null && typeof value === 'object' && 'prototype' in value) {
    throw new DecodeError('JSON payload has a "constructor.prototype" key');
  }
  return value;
}

function strictReplacer(this: unknown, key: string, value: unknown): unknown {
  if (key === '__proto__') throw new InvalidValueError('the JSON codec refuses a "__proto__" key: other instances would reject the record');
  switch (typeof value) {
    case 'function':
    case 'symbol':
    case 'bigint':
      throw new InvalidValueError(`the JSON codec cannot encode a ${typeof value}${key ? ` (at key "${key}")` : ''}`);
    case 'number':
      if (!Number.isFinite(value)) {
        throw new InvalidValueError(`the JSON codec cannot encode ${String(value)}${key ? ` (at key "${key}")` : ''}: JSON would turn it into null`);
      }
      return value;
    case 'undefined':
      // A top-level undefined is not a value, and JSON would turn one in an array into null;
      // undefined object properties are dropped, as JSON does.
      if (key === '') throw new InvalidValueError('undefined cannot be cached; use delete() to remove a key');
      if (Array.isArray(this)) throw new InvalidValueError(`the JSON codec cannot encode undefined in an array (at index ${key}): JSON would turn it into null`);
      return value;
    default:
      return value;
  }
}

/**
 * The default codec: UTF-8 JSON.
 *
 * - Encoding refuses what JSON would silently change or cannot represent (functions, symbols,
 *   BigInt, NaN and Infinity, cycles, `__proto__` keys) with `InvalidValueError`, so every
 *   instance decodes the value the writer meant. Dates travel as ISO strings (their `toJSON`).
 * - Decoding refuses payloads with a `__proto__` or `constructor.prototype` key
 *   (`DecodeError`), so a record forged onto the topic cannot pollute prototypes downstream.
 */
export function jsonCodec<V = unknown>(): Codec<V> {
  return {
    name: 'json',
    encode(value: V): Uint8Array {
      let text: string | undefined;
      try {
        text = JSON.stringify(value, strictReplacer);
      } catch (error) {
        if (error instanceof InvalidValueError) throw error;
        throw new InvalidValueError(`the JSON codec cannot encode this value: ${(error as Error).message}`, { cause: error });
      }
      if (text === undefined) throw new InvalidValueError(`the JSON codec cannot encode a value of type ${typeof value}`);
      return Buffer.from(text, 'utf8');
    },
    decode(bytes: Uint8Array): V {
      const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const text = buffer.toString('utf8');
      const suspicious = buffer.includes(PROTO_MARK) || buffer.includes(CONSTRUCTOR_MARK) || buffer.includes(ESCAPE_MARK);
      try {
        return JSON.parse(text, suspicious ? rejectUnsafeKeys : undefined) as V;
      } catch (error) {
        if (error instanceof DecodeError) throw error;
        throw new DecodeError(`invalid JSON payload: ${(error as Error).message}`, { cause: error });
      }
    },
  };
}

/** Passes bytes through unchanged: for callers that serialise values themselves. */
export function bufferCodec(): Codec<Uint8Array> {
  return {
    name: 'buffer',
    encode(value: Uint8Array): Uint8Array {
      if (!(value instanceof Uint8Array)) throw new InvalidValueError('the buffer codec accepts Uint8Array or Buffer values only');
      return value;
    },
    decode(bytes: Uint8Array): Uint8Array {
      return bytes;
    },
  };
}
