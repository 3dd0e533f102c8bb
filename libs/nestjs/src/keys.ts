import { createHash } from 'node:crypto';
import { NearCacheError } from '@nearcache/core';

/** Builds a cache key from a method's arguments. */
export type CacheKeyFunction = (...args: any[]) => string;

/**
 * A key: a fixed string, a template or a function of the method's arguments.
 *
 * A template replaces `{0}`, `{1}`... with the argument at that position, and `{name}` with the
 * parameter called `name` (read from the method's declaration). Paths work too: `{0.id}`,
 * `{user.id}`. Strings are inserted as they are, other values in their stable serialisation.
 * A placeholder that resolves to `undefined` or `null` produces no key: the call runs uncached.
 * `{name}` when no parameter has that name is the property `name` of the argument only for a
 * method with a single (non-primitive) parameter; anything else is refused when the module
 * initialises. A string without braces is a fixed key.
 */
export type CacheKeyOption = string | CacheKeyFunction;

/** Arguments serialised longer than this are replaced by their SHA-256 in default keys. */
export const MAX_SERIALISED_ARGS = 256;

/** Most values (objects, array items, properties...) one key serialisation visits before giving up. */
export const MAX_KEY_VALUES = 10_000;

/**
 * An argument has no faithful serialisation (a function, a class instance whose state is not in
 * its own enumerable properties, a WeakMap...): two different calls could share one key, so no
 * key is built and the call runs uncached.
 */
export class UnkeyableArgumentError extends NearCacheError {
  static override readonly code = 'NC_UNKEYABLE_ARGUMENT';
}

/** Serialising the arguments for a key visited more than `MAX_KEY_VALUES` values: the call runs uncached. */
export class KeyTooComplexError extends NearCacheError {
  static override readonly code = 'NC_KEY_TOO_COMPLEX';
}

/** A key template placeholder resolved to `undefined` or `null` for this call: no key, the call runs uncached. */
export class UnresolvedPlaceholderError extends NearCacheError {
  static override readonly code = 'NC_UNRESOLVED_PLACEHOLDER';
}

/**
 * A key template placeholder that can never resolve on the method it decorates (no parameter of
 * that name, a position past the last parameter, parameter names that cannot be read). Raised
 * when the module initialises.
 */
export class UnresolvablePlaceholderError extends NearCacheError {
  static override readonly code = 'NC_UNRESOLVABLE_PLACEHOLDER';
}

/**
 * A deterministic, faithful serialisation for keys: object keys sorted, `undefined` kept apart
 * from `null`, `NaN` apart from `"NaN"`, a `Date` apart from its ISO string, maps and sets as
 * sorted entry lists, and the built-in types whose state is not in their own properties
 * (`RegExp`, `Error`, `URL`, `URLSearchParams`, typed arrays, boxed primitives) by their
 * contents. Objects with `toJSON` are serialised through it (with their class name).
 *
 * Values that cannot be serialised faithfully throw `UnkeyableArgumentError`: functions,
 * symbols (except `Symbol.for` ones), promises, weak collections, streams and iterators, and
 * class instances without `toJSON` whose state may be elsewhere than in their own enumerable
 * properties (no own enumerable property at all, getters or enumerable properties inherited).
 * More than `MAX_KEY_VALUES` visited values throw `KeyTooComplexError`. Cycles serialise as a
 * reference to the enclosing level. Equal inputs always give equal strings.
 */
export function stableStringify(value: unknown): string {
  return serialise(value, [], { left: MAX_KEY_VALUES });
}

interface Budget {
  left: number;
}

const BOXED = [Number, String, Boolean] as const;

function serialise(value: unknown, stack: object[], budget: Budget): string {
  if (--budget.left < 0) throw new KeyTooComplexError(`the arguments hold more than ${MAX_KEY_VALUES} values`);
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      // NaN, Infinity and -0 unquoted: never equal to the strings "NaN", "Infinity" or to 0.
      return Object.is(value, -0) ? '-0' : String(value);
    case 'boolean':
      return String(value);
    case 'undefined':
      return 'undefined';
    case 'bigint':
      return `${value}n`;
    case 'symbol': {
      const registered = Symbol.keyFor(value);
      if (registered === undefined)
        throw new UnkeyableArgumentError(`a symbol (${String(value)}) has no serialisation: two symbols of one description would share a key`);
      return `Symbol.for(${JSON.stringify(registered)})`;
    }
    case 'function':
      throw new UnkeyableArgumentError(`a function (${value.name || 'anonymous'}) has no serialisation: two functions would share a key`);
  }
  if (value === null) return 'null';
  const object = value as object;
  const depth = stack.indexOf(object);
  if (depth >= 0) return `[Circular ^${stack.length - depth}]`;
  stack.push(object);
  try {
    return serialiseObject(object, stack, budget);
  } finally {
    stack.pop();
  }
}

function serialiseObject(object: object, stack: object[], budget: Budget): string {
  if (Array.isArray(object)) {
    let out = '[';
    for (let i = 0; i < object.length; i++) out += (i > 0 ? ',' : '') + serialise(object[i], stack, budget);
    return `${out}]`;
  }
  const prototype = Object.getPrototypeOf(object) as object | null;
  if (prototype === Object.prototype || prototype === null) {
    if (typeof (object as { toJSON?: unknown }).toJSON === 'function') return `toJSON(${serialise((object as { toJSON(): unknown }).toJSON(), stack, budget)})`;
    return serialiseProperties(object, stack, budget);
  }
  if (object instanceof Date) return `Date(${Number.isNaN(object.getTime()) ? 'Invalid' : object.toISOString()})`;
  if (object instanceof RegExp) return `RegExp(${JSON.stringify(object.source)},${JSON.stringify(object.flags)})`;
  if (object instanceof Map) {
    const entries = [...object].map(([k, v]) => `${serialise(k, stack, budget)}=>${serialise(v, stack, budget)}`).sort();
    return `Map{${entries.join(',')}}`;
  }
  if (object instanceof Set) {
    const items = [...object].map((item) => serialise(item, stack, budget)).sort();
    return `Set[${items.join(',')}]`;
  }
  if (ArrayBuffer.isView(object)) {
    return `${object.constructor.name}(${Buffer.from(object.buffer, object.byteOffset, object.byteLength).toString('base64')})`;
  }
  if (object instanceof ArrayBuffer) return `ArrayBuffer(${Buffer.from(object).toString('base64')})`;
  if (object instanceof URL) return `URL(${JSON.stringify(object.href)})`;
  if (object instanceof URLSearchParams) return `URLSearchParams(${JSON.stringify(object.toString())})`;
  for (const Boxed of BOXED) {
    if (object instanceof Boxed) return `${Boxed.name}(${serialise(object.valueOf(), stack, budget)})`;
  }
  if (object instanceof Error) {
    const own = serialiseProperties(object, stack, budget, ['stack', 'message']);
    const cause = 'cause' in object ? `,cause:${serialise(object.cause, stack, budget)}` : '';
    return `${object.constructor.name}(${JSON.stringify(object.name)},${JSON.stringify(object.message)}${cause},${own})`;
  }
  const name = (object.constructor as { name?: string } | undefined)?.name || 'anonymous class';
  if (typeof (object as { toJSON?: unknown }).toJSON === 'function') {
    return `${name}(${serialise((object as { toJSON(): unknown }).toJSON(), stack, budget)})`;
  }
  if (object instanceof Promise || object instanceof WeakMap || object instanceof WeakSet || object instanceof WeakRef) {
    throw new UnkeyableArgumentError(`a ${name} has no serialisation`);
  }
  if (
    typeof (object as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function' ||
    typeof (object as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
  ) {
    throw new UnkeyableArgumentError(`a ${name} (an iterable, a stream or a generator) has no serialisation`);
  }
  // A class instance: its state must be in its own enumerable properties, or two different
  // values would share a key (#private fields and getters are invisible from here).
  if (Object.keys(object).length === 0) {
    throw new UnkeyableArgumentError(
      `an instance of ${name} has no own enumerable property (its state, in #private fields or elsewhere, cannot be read); give the class a toJSON() or use a key`,
    );
  }
  for (let level: object | null = prototype; level !== null && level !== Object.prototype; level = Object.getPrototypeOf(level) as object | null) {
    for (const key of Reflect.ownKeys(level)) {
      const descriptor = Object.getOwnPropertyDescriptor(level, key)!;
      if (descriptor.get !== undefined || descriptor.enumerable) {
        throw new UnkeyableArgumentError(
          `an instance of ${name} has state outside its own enumerable properties (${String(key)} is ${descriptor.get ? 'a getter' : 'inherited'}); give the class a toJSON() or use a key`,
        );
      }
    }
  }
  return `${name}${serialiseProperties(object, stack, budget)}`;
}

function serialiseProperties(object: object, stack: object[], budget: Budget, skip: readonly string[] = []): string {
  const keys = Object.keys(object)
    .filter((key) => !skip.includes(key))
    .sort();
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    out += `${i > 0 ? ',' : ''}${JSON.stringify(key)}:${serialise((object as Record<string, unknown>)[key], stack, budget)}`;
  }
  return `${out}}`;
}

/**
 * The default key of a decorated method: `ClassName.method:` followed by the stable
 * serialisation of the arguments (trailing `undefined` arguments dropped, so `find(1)` and
 * `find(1, undefined)` share a key), or by `#` and their SHA-256 when that is longer than
 * `MAX_SERIALISED_ARGS` characters. Throws `UnkeyableArgumentError` or `KeyTooComplexError`
 * when the arguments cannot be serialised faithfully within bounds.
 */
export function defaultCacheKey(className: string, method: string, args: readonly unknown[]): string {
  let length = args.length;
  while (length > 0 && args[length - 1] === undefined) length--;
  const serialised = stableStringify(length === args.length ? args : args.slice(0, length));
  const tail = serialised.length > MAX_SERIALISED_ARGS ? `#${createHash('sha256').update(serialised).digest('hex')}` : serialised;
  return `${className}.${method}:${tail}`;
}

/** What is known of a method's parameters, for `{name}` placeholders. */
export interface MethodSignature {
  /** Parameter names read from the declaration (`undefined` for a destructured one). */
  readonly names: readonly (string | undefined)[];
  /** Index of the rest parameter, or -1. */
  readonly rest: number;
  /** Declared parameter types (`design:paramtypes`), when the build emits them. */
  readonly types?: readonly unknown[];
  /** `Class.method`, for messages. */
  readonly where?: string;
}

/** Types whose values have no properties a `{name}` placeholder could mean. */
const SCALAR_TYPES: readonly unknown[] = [String, Number, Boolean, Symbol, BigInt, Array, Date, Function];

/**
 * Turns a key option into a function of the arguments. `signature` describes the method, for
 * `{name}` placeholders; without it only positions can be used... and `{name}` reads the
 * property of the first argument (the behaviour of a bare `compileKey(template)`).
 *
 * Throws `TypeError` for a malformed template, and `UnresolvablePlaceholderError` for a
 * placeholder that can never resolve on that method. The key function throws
 * `UnresolvedPlaceholderError` when a placeholder resolves to `undefined` or `null`, and
 * `UnkeyableArgumentError` / `KeyTooComplexError` when a value cannot be serialised.
 */
export function compileKey(option: CacheKeyOption, signature?: MethodSignature | readonly (string | undefined)[]): CacheKeyFunction {
  if (typeof option === 'function') {
    return (...args) => {
      const key = option(...args);
      if (typeof key !== 'string') throw new TypeError(`a key function must return a string, got ${key === null ? 'null' : typeof key}`);
      return key;
    };
  }
  if (typeof option !== 'string' || option.length === 0) throw new TypeError('a key must be a non-empty string or a function of the arguments');
  if (!option.includes('{')) return () => option;
  const method: MethodSignature | undefined = Array.isArray(signature) ? { names: signature, rest: -1 } : (signature as MethodSignature | undefined);
  const parts: Array<string | { expression: string; read: (args: readonly unknown[]) => unknown }> = [];
  const pattern = /\{([^{}]*)\}/g;
  let last = 0;
  for (let match = pattern.exec(option); match; match = pattern.exec(option)) {
    if (match.index > last) parts.push(option.slice(last, match.index));
    const expression = match[1]!.trim();
    if (expression.length === 0) {
      throw new TypeError(
        `empty placeholder ${match[0]} in key template "${option}": put a parameter name ({id}), a position ({0}) or a path ({0.id}) between the braces`,
      );
    }
    parts.push({ expression, read: placeholder(expression, method, option) });
    last = match.index + match[0].length;
  }
  if (last < option.length) parts.push(option.slice(last));
  if (parts.some((part) => typeof part === 'string' && /[{}]/.test(part))) throw new TypeError(`unbalanced braces in key template "${option}"`);
  return (...args) => {
    let key = '';
    for (const part of parts) {
      if (typeof part === 'string') {
        key += part;
        continue;
      }
      const value = part.read(args);
      if (value === undefined || value === null) {
        throw new UnresolvedPlaceholderError(`placeholder {${part.expression}} of key template "${option}" is ${String(value)} for this call`);
      }
      key += typeof value === 'string' ? value : stableStringify(value);
    }
    return key;
  };
}

function placeholder(expression: string, method: MethodSignature | undefined, template: string): (args: readonly unknown[]) => unknown {
  const [head, ...path] = expression.split('.');
  if (!head || path.some((segment) => segment.length === 0)) throw new TypeError(`invalid placeholder {${expression}} in key template "${template}"`);
  let root: (args: readonly unknown[]) => unknown;
  if (/^\d+$/.test(head)) {
    const index = Number(head);
    if (method && method.rest < 0) {
      const count = Math.max(method.names.length, method.types?.length ?? 0);
      if (index >= count) throw unresolvable(expression, template, method, `the method has ${count} parameter${count === 1 ? '' : 's'}`);
    }
    root = (args) => args[index];
  } else if (method === undefined) {
    // No signature (a bare compileKey): a property of the first argument.
    root = (args) => property(args[0], head);
  } else {
    const index = method.names.indexOf(head);
    if (index >= 0) {
      root = index === method.rest ? (args) => args.slice(index) : (args) => args[index];
    } else {
      const reason = fallbackRefusal(method);
      if (reason) throw unresolvable(expression, template, method, reason);
      // One parameter, an object: `{id}` is its property (`'user:{id}'` on `update(dto)`).
      root = (args) => property(args[0], head);
    }
  }
  if (path.length === 0) return root;
  return (args) => path.reduce<unknown>((value, segment) => property(value, segment), root(args));
}

/** Why `{name}` cannot fall back to a property of the first argument, or undefined when it can. */
function fallbackRefusal(method: MethodSignature): string | undefined {
  const count = Math.max(method.names.length, method.types?.length ?? 0);
  if (method.types !== undefined && method.types.length !== method.names.length) {
    return `its parameter names cannot be read (the declaration has ${method.types.length} parameter${method.types.length === 1 ? '' : 's'}, the function that carries it reads as (${listOf(method)}): another decorator wraps it, or a build rewrote it)`;
  }
  if (method.names.length > 0 && method.names.every((name) => name !== undefined && /^_x\d*$/.test(name))) {
    return 'its parameter names cannot be read (a transpiler renamed them)';
  }
  if (method.rest >= 0) return 'no parameter has that name, and a rest parameter has no properties to fall back on';
  if (count !== 1) return `no parameter has that name (the property fallback applies only to a method with exactly one parameter; this one has ${count})`;
  const type = method.types?.[0];
  if (type !== undefined && SCALAR_TYPES.includes(type)) {
    return `no parameter has that name, and its only parameter is declared ${(type as { name?: string }).name}, which has no such property`;
  }
  return undefined;
}

function unresolvable(expression: string, template: string, method: MethodSignature, reason: string): UnresolvablePlaceholderError {
  return new UnresolvablePlaceholderError(
    `placeholder {${expression}} of key template "${template}" can never resolve on ${method.where ?? 'this method'}(${listOf(method)}): ${reason}. ` +
      'Use a parameter name, a position ({0}, {1}...) or a key function; if a build renames parameters (minification, transpilation), use positions or a key function',
  );
}

function listOf(method: MethodSignature): string {
  return method.names.map((name, i) => (i === method.rest ? '...' : '') + (name ?? `<destructured #${i}>`)).join(', ');
}

function property(value: unknown, name: string): unknown {
  if (value === null || value === undefined) return undefined;
  return (value as Record<string, unknown>)[name];
}

/**
 * The parameter names of a function, read from its source; `undefined` for a destructured
 * parameter. Used for `{name}` placeholders.
 */
export function parameterNames(fn: Function): Array<string | undefined> {
  return readParameters(fn).names;
}

/** @internal The parameter names of a function and the index of its rest parameter (-1 for none). */
export function readParameters(fn: Function): { names: Array<string | undefined>; rest: number } {
  const source = Function.prototype.toString.call(fn);
  const open = source.indexOf('(');
  const arrow = /^\s*(?:async\s+)?([\w$]+)\s*=>/.exec(source);
  if (arrow || open < 0) return { names: arrow ? [arrow[1]] : [], rest: -1 };
  let depth = 0;
  let end = open;
  for (let i = open; i < source.length; i++) {
    const c = source[i];
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      depth--;
      if (depth === 0) {
        end = i;
        break;
      }
    }
  }
  const list = source
    .slice(open + 1, end)
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/[^\n]*/g, '');
  const names: Array<string | undefined> = [];
  let rest = -1;
  let current = '';
  depth = 0;
  const push = (): void => {
    if (/^\s*\.\.\./.test(current)) rest = names.length;
    names.push(nameOf(current));
    current = '';
  };
  for (const c of list) {
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    if (c === ',' && depth === 0) push();
    else current += c;
  }
  if (current.trim().length > 0) push();
  return { names, rest };
}

function nameOf(parameter: string): string | undefined {
  const match = /^\s*(?:\.\.\.)?\s*([\w$]+)\s*(?:=|$)/.exec(parameter);
  return match ? match[1] : undefined;
}
