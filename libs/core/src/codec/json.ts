// The JSON codec, and the JSON fast path the structured codec shares (plain data is written as JSON text).
import type { Codec } from '../codec.js';
import { DecodeError, InvalidValueError } from '../errors.js';
import { asBytes, atKey, describeObject } from './shared.js';

/**
 * What makes a JSON text worth parsing with the key check: a `"__proto__"` or `"constructor"`
 * string, or a `\u` escape (`"\u005f_proto__"` spells `__proto__` without containing it).
 * One regular expression scans the text once: about a third of what three `includes` cost.
 */
const UNSAFE_JSON = /"__proto__"|"constructor"|\\u/;

function rejectUnsafeKeys(this: unknown, key: string, value: unknown): unknown {
  if (key === '__proto__') throw new DecodeError('JSON payload has a "__proto__" key');
  if (key === 'constructor' && value !== null && typeof value === 'object' && 'prototype' in value) {
    throw new DecodeError('JSON payload has a "constructor.prototype" key');
  }
  return value;
}

/** What JSON would turn an object of another kind into, for error messages. */
function jsonShape(value: object): string {
  if (value instanceof Map || value instanceof Set || value instanceof RegExp || value instanceof Error || value instanceof WeakMap) return '{}';
  if (ArrayBuffer.isView(value)) return 'an object of numbered keys';
  return 'a plain object without its class';
}

const BOXED = new Set<unknown>([Number.prototype, String.prototype, Boolean.prototype]);

function strictReplacer(this: unknown, key: string, value: unknown): unknown {
  if (key === '__proto__') throw new InvalidValueError('the JSON codec refuses a "__proto__" key: other instances would reject the record');
  switch (typeof value) {
    case 'function':
    case 'symbol':
    case 'bigint':
      throw new InvalidValueError(`the JSON codec cannot encode a ${typeof value}${atKey(key)}`);
    case 'number':
      if (!Number.isFinite(value)) {
        throw new InvalidValueError(`the JSON codec cannot encode ${String(value)}${atKey(key)}: JSON would turn it into null`);
      }
      return value;
    case 'undefined':
      // A top-level undefined is not a value, and JSON would turn one in an array into null;
      // undefined object properties are dropped, as JSON does.
      if (key === '') throw new InvalidValueError('undefined cannot be cached; use delete() to remove a key');
      if (Array.isArray(this))
        throw new InvalidValueError(`the JSON codec cannot encode undefined in an array (at index ${key}): JSON would turn it into null`);
      return value;
    case 'object': {
      // JSON.stringify called toJSON (a Date's, for example) before this replacer: what is left
      // is plain data, or an object JSON would silently empty (a Map) or strip of its class.
      if (value === null || Array.isArray(value)) return value;
      const proto = Object.getPrototypeOf(value);
      if (proto === Object.prototype || proto === null || BOXED.has(proto)) return value;
      throw new InvalidValueError(`the JSON codec cannot encode ${describeObject(value)}${atKey(key)}: JSON would turn it into ${jsonShape(value)}`);
    }
    default:
      return value;
  }
}

/** Nesting depth the fast check walks; deeper values (and cycles) take the strict path. */
const FAST_DEPTH = 32;

/**
 * Whether plain `JSON.stringify(value)` gives back exactly `value` through `JSON.parse`: true
 * when every value is a string, a finite number other than -0, a boolean, null, an array or an
 * object with the ordinary prototype, without `toJSON`, symbol keys or a `__proto__` key, and
 * no array holds undefined, functions or symbols. Anything else (or anything deeper than
 * FAST_DEPTH) returns false and takes a codec's strict path, which accepts it or throws the
 * precise error. A plain JS walk is several times cheaper than a replacer, which
 * JSON.stringify calls from native code for every key.
 */
function plainJson(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      // JSON writes -0 as 0.
      return value !== 0 ? Number.isFinite(value) : 1 / value > 0;
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
      if (Object.getPrototypeOf(value) !== Object.prototype) return false;
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return false;
      if (Object.hasOwn(value, '__proto__')) return false;
      // JSON.stringify writes the own enumerable string-keyed properties: Object.values' list.
      const items = Object.values(value);
      for (let i = 0; i < items.length; i++) {
        const item: unknown = items[i];
        // An undefined property is dropped by JSON: the structured codec keeps it (strict path).
        if (item === undefined || !plainJson(item, depth + 1)) return false;
      }
      return Object.getOwnPropertySymbols(value).length === 0;
    }
    default:
      return false;
  }
}

/** plainJson from the top; false (the strict path then explains) when a getter throws. */
export function isPlainJson(value: unknown): boolean {
  try {
    return plainJson(value, 0);
  } catch {
    return false;
  }
}

/** JSON.parse of UTF-8 bytes, refusing `__proto__` and `constructor.prototype` keys. */
export function parseJson(bytes: Uint8Array): unknown {
  const text = asBytes(bytes).toString('utf8');
  try {
    return JSON.parse(text, UNSAFE_JSON.test(text) ? rejectUnsafeKeys : undefined);
  } catch (error) {
    if (error instanceof DecodeError) throw error;
    throw new DecodeError(`invalid JSON payload: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * UTF-8 JSON, for topics read by programs in other languages (option `codec: jsonCodec()`).
 *
 * - Encoding accepts JSON data: strings, finite numbers, booleans, null, arrays and plain
 *   objects, and objects with a `toJSON` method (a `Date` travels as its ISO string). It refuses
 *   what JSON would drop, empty or change silently (functions, symbols, BigInt, NaN and
 *   Infinity, undefined in an array, cycles, `__proto__` keys, a `Map` or `Set`, typed arrays,
 *   class instances without `toJSON`) with `InvalidValueError`.
 * - Not exact: the writing instance keeps the decoded JSON, the value every other instance
 *   reads (a `Date` is an ISO string there too; undefined properties are dropped; -0 is 0).
 * - Decoding refuses payloads with a `__proto__` or `constructor.prototype` key
 *   (`DecodeError`), so a record forged onto the topic cannot pollute prototypes downstream.
 */
export function jsonCodec<V = unknown>(): Codec<V> {
  return {
    name: 'json',
    exact: false,
    encode(value: V): Uint8Array {
      let text: string | undefined;
      if (isPlainJson(value)) return Buffer.from(JSON.stringify(value), 'utf8');
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
      return parseJson(bytes) as V;
    },
  };
}
