// The structured codec (the default): exact round trips of JSON data and of what Node's v8
// serializer keeps whole, refusing what it cannot give back.
import { deserialize, serialize } from 'node:v8';
import type { Codec } from '../codec.js';
import { DecodeError, InvalidValueError } from '../errors.js';
import { isPlainJson, parseJson } from './json.js';
import { asBytes, describeObject, ENTRY, formatPath } from './shared.js';

/** First byte of every payload of Node's v8 serializer (its version tag); never the first byte of UTF-8 JSON. */
const V8_TAG = 0xff;

/** Classes whose instances the v8 serializer keeps whole, class included: checked by prototype, so subclasses are refused. */
const OPAQUE = new Set<unknown>(
  [
    Date,
    RegExp,
    ArrayBuffer,
    DataView,
    Buffer,
    Int8Array,
    Uint8Array,
    Uint8ClampedArray,
    Int16Array,
    Uint16Array,
    Int32Array,
    Uint32Array,
    Float32Array,
    Float64Array,
    BigInt64Array,
    BigUint64Array,
    Number,
    String,
    Boolean,
    BigInt,
  ].map((type) => type.prototype),
);
/** Error classes the v8 serializer keeps by name; others arrive as a plain Error. */
const ERRORS = new Set<unknown>([Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError].map((type) => type.prototype));
/** The own properties of an Error the v8 serializer keeps. */
const ERROR_PROPERTIES = new Set(['message', 'stack', 'cause']);
/**
 * Deepest nesting the structured codec accepts: well below where `v8.deserialize` (recursive,
 * about 1,800 levels on a default stack, fewer when called deep in an application's stack)
 * would fail on the readers, so that every value written can be read back.
 */
const MAX_DEPTH = 500;

/** Why the structured codec refuses a value, and where: `path` is filled in as the refusal unwinds. */
class Refusal {
  readonly path: Array<string | number> = [];
  constructor(readonly what: string) {}
}

/** Prepends `segment` to the path of a Refusal passing through. */
function at(error: unknown, segment: string | number): unknown {
  if (error instanceof Refusal) error.path.unshift(segment);
  return error;
}

/**
 * Throws a Refusal for anything the v8 serializer would not give back identically: functions,
 * symbols, symbol keys, `__proto__` keys, objects whose prototype is not one it restores (class
 * instances, null prototypes, subclasses of built-ins), Errors with properties it drops, and
 * what it cannot clone at all (WeakMap, Promise...). `seen` holds the containers already
 * checked (cycles and shared references are kept as such).
 */
function checkStructured(value: unknown, seen: Set<object>, depth: number): void {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'bigint':
    case 'undefined':
      return;
    case 'function':
      throw new Refusal('a function');
    case 'symbol':
      throw new Refusal('a symbol');
  }
  if (value === null) return;
  const object = value as object;
  const proto: unknown = Object.getPrototypeOf(object);
  // Dates, typed arrays...: nothing inside to check.
  if (OPAQUE.has(proto)) return;
  if (seen.has(object)) return;
  if (depth >= MAX_DEPTH) throw new Refusal(`a value nested more than ${MAX_DEPTH} levels deep`);
  seen.add(object);
  if (proto === Object.prototype) {
    // The own enumerable string keys: what the serializer writes.
    const keys = Object.keys(object);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      if (key === '__proto__') throw at(new Refusal('a "__proto__" key (other instances would reject the record)'), key);
      try {
        checkStructured((object as Record<string, unknown>)[key], seen, depth + 1);
      } catch (error) {
        throw at(error, key);
      }
    }
    if (Object.getOwnPropertySymbols(object).length > 0) throw new Refusal('an object with symbol keys (they would be dropped)');
  } else if (proto === Array.prototype) {
    const array = object as unknown[];
    for (let i = 0; i < array.length; i++) {
      try {
        checkStructured(array[i], seen, depth + 1);
      } catch (error) {
        throw at(error, i);
      }
    }
  } else if (proto === Map.prototype) {
    let i = 0;
    for (const [key, item] of object as Map<unknown, unknown>) {
      try {
        checkStructured(key, seen, depth + 1);
      } catch (error) {
        throw at(error, `${ENTRY}<key ${i}>`);
      }
      try {
        checkStructured(item, seen, depth + 1);
      } catch (error) {
        throw at(error, `${ENTRY}<value ${i}>`);
      }
      i++;
    }
  } else if (proto === Set.prototype) {
    let i = 0;
    for (const item of object as Set<unknown>) {
      try {
        checkStructured(item, seen, depth + 1);
      } catch (error) {
        throw at(error, `${ENTRY}<item ${i}>`);
      }
      i++;
    }
  } else if (ERRORS.has(proto)) {
    for (const name of Object.getOwnPropertyNames(object)) {
      if (!ERROR_PROPERTIES.has(name)) throw new Refusal(`an Error with an own "${name}" property (only message, stack and cause are kept)`);
    }
    if (Object.getOwnPropertySymbols(object).length > 0) throw new Refusal('an Error with symbol keys (they would be dropped)');
    if (Object.hasOwn(object, 'cause')) {
      try {
        checkStructured((object as Error).cause, seen, depth + 1);
      } catch (error) {
        throw at(error, 'cause');
      }
    }
  } else {
    throw new Refusal(describeObject(object));
  }
}

const UNSAFE_MARKS = ['__proto__', 'constructor'].flatMap((word) => [Buffer.from(word, 'latin1'), Buffer.from(word, 'utf16le')]);

/** Throws DecodeError when a decoded value holds an own `__proto__` key or a `constructor` key holding a `prototype`. */
function checkDecoded(value: unknown, seen: Set<object>): void {
  if (typeof value !== 'object' || value === null || seen.has(value)) return;
  seen.add(value);
  if (value instanceof Map) {
    for (const [key, item] of value) {
      checkDecoded(key, seen);
      checkDecoded(item, seen);
    }
    return;
  }
  if (value instanceof Set) {
    for (const item of value) checkDecoded(item, seen);
    return;
  }
  if (Object.hasOwn(value, '__proto__')) throw new DecodeError('structured payload has a "__proto__" key');
  const ctor: unknown = Object.hasOwn(value, 'constructor') ? (value as { constructor: unknown }).constructor : undefined;
  if (typeof ctor === 'object' && ctor !== null && 'prototype' in ctor) throw new DecodeError('structured payload has a "constructor.prototype" key');
  for (const key of Object.keys(value)) checkDecoded((value as Record<string, unknown>)[key], seen);
  if (value instanceof Error && Object.hasOwn(value, 'cause')) checkDecoded(value.cause, seen);
}

/**
 * The default codec: every instance reads back exactly the value that was cached, or the value
 * is refused.
 *
 * - Plain JSON data (strings, finite numbers, booleans, null, arrays, plain objects) is written
 *   as UTF-8 JSON: the cheapest encoding for the most common values, and readable as JSON.
 * - Everything else is written with Node's v8 serializer (`node:v8`, the structured clone
 *   format): `undefined` in objects and arrays, sparse arrays, NaN, Infinity and -0, BigInt,
 *   `Date`, `Map`, `Set`, `RegExp`, `Buffer`, typed arrays, `ArrayBuffer`, `DataView`, `Error`
 *   and the standard error classes (message, stack, cause), boxed primitives, cycles and shared
 *   references. The payload starts with byte 0xff, which UTF-8 JSON never does.
 * - Refused with `InvalidValueError`, naming where in the value: functions, symbols, class
 *   instances (their prototype and methods would be lost), objects with a null prototype,
 *   subclasses of Map, Set, Date, arrays or typed arrays, Errors of other classes or with
 *   other own properties (such as `code`), symbol or `__proto__` keys, WeakMap, WeakSet,
 *   Promise and anything else the serializer cannot clone.
 * - Exact: the writing instance keeps the value it was given (do not change it afterwards).
 * - Decoding refuses payloads with a `__proto__` or `constructor.prototype` key (`DecodeError`).
 *
 * Not kept (the same on every instance, so they are not refused): non-enumerable properties,
 * accessors (their current value is written), properties added to arrays, dates, regular
 * expressions or typed arrays, a regular expression's `lastIndex`.
 */
export function structuredCodec<V = unknown>(): Codec<V> {
  return {
    name: 'structured',
    exact: true,
    encode(value: V): Uint8Array {
      if (isPlainJson(value)) return Buffer.from(JSON.stringify(value), 'utf8');
      if (value === undefined) throw new InvalidValueError('undefined cannot be cached; use delete() to remove a key');
      try {
        checkStructured(value, new Set(), 0);
      } catch (error) {
        if (error instanceof Refusal) throw new InvalidValueError(`the structured codec cannot encode ${formatPath(error.path)}: ${error.what}`);
        // A getter that threw, a call stack exhausted...
        throw new InvalidValueError(`the structured codec cannot encode this value: ${(error as Error)?.message ?? String(error)}`, { cause: error });
      }
      try {
        return serialize(value);
      } catch (error) {
        throw new InvalidValueError(`the structured codec cannot encode this value: ${(error as Error)?.message ?? String(error)}`, { cause: error });
      }
    },
    decode(bytes: Uint8Array): V {
      if (bytes[0] !== V8_TAG) return parseJson(bytes) as V;
      const buffer = asBytes(bytes);
      let value: unknown;
      try {
        value = deserialize(buffer);
      } catch (error) {
        throw new DecodeError(`invalid structured payload: ${(error as Error)?.message ?? String(error)}`, { cause: error });
      }
      if (UNSAFE_MARKS.some((mark) => buffer.includes(mark))) {
        try {
          checkDecoded(value, new Set());
        } catch (error) {
          if (error instanceof DecodeError) throw error;
          throw new DecodeError(`structured payload cannot be checked: ${(error as Error)?.message ?? String(error)}`, { cause: error });
        }
      }
      return value as V;
    },
  };
}
