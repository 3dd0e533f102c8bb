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

const PROTO_MARK = '"__proto__"';
const CONSTRUCTOR_MARK = '"constructor"';
/** A JSON escape: `"\u005f_proto__"` spells `__proto__` without containing it. */
const ESCAPE_MARK = '\\u';

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

/** Nesting depth the fast check walks; deeper values (and cycles) take the strict path. */
const FAST_DEPTH = 32;

/**
 * Whether plain `JSON.stringify(value)` gives exactly what the strict replacer would: true when
 * every value is a string, finite number, boolean, null, array or plain object without
 * `toJSON`, no array holds undefined, functions or symbols, and no key is `__proto__`. Anything
 * else (or anything deeper than FAST_DEPTH) returns false and takes the strict path, which
 * accepts it or throws the precise error. A plain JS walk is several times cheaper than a
 * replacer, which JSON.stringify calls from native code for every key.
 */
function plainJson(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object': {
      if (value === null) return true;
      if (depth >= FAST_DEPTH) return false;
      if (Array.isArray(value)) {
        if (Object.getPrototypeOf(value) !== Array.prototype || typeof (value as { toJSON?: unknown }).toJSON === 'function') return false;
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i];
          if (item === undefined || !plainJson(item, depth + 1)) return false;
        }
        return true;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return false;
      for (const key in value) {
        if (!Object.hasOwn(value, key)) return false;
        if (key === '__proto__') return false;
        const item: unknown = (value as Record<string, unknown>)[key];
        // An undefined property is dropped, as JSON (and the strict path) does.
        if (item !== undefined && !plainJson(item, depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
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
      if (plainJson(value, 0)) return Buffer.from(JSON.stringify(value), 'utf8');
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
      // The marks are ASCII, so they occur in the UTF-8 bytes exactly when they occur in the text;
      // searching the string avoids three calls into native code per record.
      const suspicious = text.includes(PROTO_MARK) || text.includes(CONSTRUCTOR_MARK) || text.includes(ESCAPE_MARK);
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
