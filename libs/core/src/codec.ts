import { deserialize, serialize } from 'node:v8';
import { DecodeError, InvalidValueError } from './errors.js';

/**
 * Turns values into the bytes carried by the log and back. The codec of every instance on a
 * topic must agree: each record names the codec that wrote it, and a record written by another
 * codec is skipped and reported (reason `codec-mismatch`), never decoded. `encode` throws
 * `InvalidValueError` for a value it cannot represent faithfully; `decode` throws `DecodeError`
 * for bytes it does not accept.
 */
export interface Codec<V = unknown> {
  /**
   * The codec's name, written in every record: 1 to 64 printable ASCII characters, no space.
   * Two codecs with the same name must read each other's bytes.
   */
  readonly name: string;
  /**
   * True when `decode(encode(value))` always equals `value` (same types, prototypes and
   * contents) for every value `encode` accepts: the writing instance then keeps the value it was
   * given. Otherwise (the default) it keeps `decode(encode(value))`, the value every other
   * instance reads, at the cost of one decode per `set`.
   */
  readonly exact?: boolean;
  encode(value: V): Uint8Array;
  decode(bytes: Uint8Array): V;
}

/** What a codec name may hold: printable ASCII without spaces (the record's metadata line is space-separated). */
export const CODEC_NAME = /^[\x21-\x7e]{1,64}$/;

/**
 * What makes a JSON text worth parsing with the key check: a `"__proto__"` or `"constructor"`
 * string, or a `\u` escape (`"\u005f_proto__"` spells `__proto__` without containing it).
 * One regular expression scans the text once: about a third of what three `includes` cost.
 */
const UNSAFE_JSON = /"__proto__"|"constructor"|\\u/;

function asBytes(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** How a refused object is named in error messages. */
function describeObject(value: object): string {
  let proto: unknown;
  let name: unknown;
  try {
    proto = Object.getPrototypeOf(value);
    name = proto === null ? undefined : (proto as { constructor?: { name?: unknown } }).constructor?.name;
  } catch {
    return 'an object of an unknown kind';
  }
  if (proto === null) return 'an object with a null prototype (copy it into a plain object, such as { ...value })';
  if (typeof name !== 'string' || name === '') return 'an object of an unnamed class (its prototype would be lost)';
  if (name === 'WeakMap' || name === 'WeakSet' || name === 'WeakRef' || name === 'Promise') return `a ${name}`;
  if (value instanceof Error) return `an Error of class ${name} (only Error and the standard error classes keep their class)`;
  return `an instance of class ${name} (its prototype and methods would be lost on other instances; cache a plain object, or use a codec that knows the class)`;
}

/** Marks a path segment that is not a property (a Map's key or value, a Set's item). */
const ENTRY = '\u0000';

/** "value", "value.a[2]", "value.map<key 0>"... for error messages. */
function formatPath(path: Array<string | number>): string {
  let text = 'value';
  for (const part of path) {
    if (typeof part === 'number') text += `[${part}]`;
    else if (part.startsWith(ENTRY)) text += part.slice(1);
    else if (/^[A-Za-z_$][\w$]*$/.test(part)) text += `.${part}`;
    else text += `[${JSON.stringify(part.length > 40 ? `${part.slice(0, 40)}...` : part)}]`;
  }
  return text;
}

function atKey(key: string): string {
  return key ? ` (at key "${key}")` : '';
}

// -------------------------------------------------------------------------------------------
// JSON.

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
      if (Array.isArray(this)) throw new InvalidValueError(`the JSON codec cannot encode undefined in an array (at index ${key}): JSON would turn it into null`);
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
function isPlainJson(value: unknown): boolean {
  try {
    return plainJson(value, 0);
  } catch {
    return false;
  }
}

/** JSON.parse of UTF-8 bytes, refusing `__proto__` and `constructor.prototype` keys. */
function parseJson(bytes: Uint8Array): unknown {
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

// -------------------------------------------------------------------------------------------
// Structured (the default).

/** First byte of every payload of Node's v8 serializer (its version tag); never the first byte of UTF-8 JSON. */
const V8_TAG = 0xff;

/** Classes whose instances the v8 serializer keeps whole, class included: checked by prototype, so subclasses are refused. */
const OPAQUE = new Set<unknown>(
  [
    Date, RegExp, ArrayBuffer, DataView, Buffer, Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array,
    Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array, Number, String, Boolean, BigInt,
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

// -------------------------------------------------------------------------------------------
// Bytes.

/**
 * Passes bytes through: for callers that serialise values themselves. `encode` copies the
 * bytes (so the caller may reuse its buffer); every instance, the writer included, holds them
 * as a `Buffer`.
 */
export function bufferCodec(): Codec<Uint8Array> {
  return {
    name: 'buffer',
    exact: false,
    encode(value: Uint8Array): Uint8Array {
      if (!(value instanceof Uint8Array)) throw new InvalidValueError('the buffer codec accepts Uint8Array or Buffer values only');
      return Buffer.from(value);
    },
    decode(bytes: Uint8Array): Uint8Array {
      return asBytes(bytes);
    },
  };
}
