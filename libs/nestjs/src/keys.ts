import { createHash } from 'node:crypto';

/** Builds a cache key from a method's arguments. */
export type CacheKeyFunction = (...args: any[]) => string;

/**
 * A key: a fixed string, a template or a function of the method's arguments.
 *
 * A template replaces `{0}`, `{1}`... with the arguments at that position, and `{name}` with the
 * parameter called `name` (read from the method's declaration) or, when the method has no such
 * parameter, with the property `name` of the first argument. Paths work too: `{0.id}`,
 * `{user.id}`. Strings are inserted as they are, other values in their stable serialisation.
 * A string without braces is a fixed key.
 */
export type CacheKeyOption = string | CacheKeyFunction;

/** Arguments serialised longer than this are replaced by their SHA-256 in default keys. */
export const MAX_SERIALISED_ARGS = 256;

/**
 * A deterministic JSON-like serialisation: object keys sorted, `undefined` kept (as `undefined`),
 * dates as ISO strings, bigints as `123n`, maps and sets as sorted entry lists, functions and
 * symbols by name. Objects with `toJSON` are serialised through it. Cycles serialise as
 * `"[Circular]"`. Equal inputs always give equal strings, whatever the order their keys were added.
 */
export function stableStringify(value: unknown): string {
  return serialise(value, new Set());
}

function serialise(value: unknown, seen: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : `"${String(value)}"`;
    case 'boolean':
      return String(value);
    case 'undefined':
      return 'undefined';
    case 'bigint':
      return `${value}n`;
    case 'symbol':
      return `Symbol(${value.description ?? ''})`;
    case 'function':
      return `[Function ${value.name || 'anonymous'}]`;
  }
  if (value === null) return 'null';
  const object = value as object;
  if (seen.has(object)) return '"[Circular]"';
  seen.add(object);
  try {
    if (object instanceof Date) return Number.isNaN(object.getTime()) ? '"Invalid Date"' : JSON.stringify(object.toISOString());
    if (typeof (object as { toJSON?: unknown }).toJSON === 'function') {
      return serialise((object as { toJSON(): unknown }).toJSON(), seen);
    }
    if (Array.isArray(object)) return `[${object.map((item) => serialise(item, seen)).join(',')}]`;
    if (ArrayBuffer.isView(object)) return `${object.constructor.name}(${Buffer.from(object.buffer, object.byteOffset, object.byteLength).toString('base64')})`;
    if (object instanceof Map) {
      const entries = [...object].map(([k, v]) => `${serialise(k, seen)}:${serialise(v, seen)}`).sort();
      return `Map{${entries.join(',')}}`;
    }
    if (object instanceof Set) {
      const items = [...object].map((item) => serialise(item, seen)).sort();
      return `Set[${items.join(',')}]`;
    }
    const keys = Object.keys(object).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${serialise((object as Record<string, unknown>)[key], seen)}`).join(',')}}`;
  } finally {
    seen.delete(object);
  }
}

/**
 * The default key of a decorated method: `ClassName.method:` followed by the stable
 * serialisation of the arguments (trailing `undefined` arguments dropped, so `find(1)` and
 * `find(1, undefined)` share a key), or by `#` and their SHA-256 when that is longer than
 * `MAX_SERIALISED_ARGS` characters.
 */
export function defaultCacheKey(className: string, method: string, args: readonly unknown[]): string {
  let length = args.length;
  while (length > 0 && args[length - 1] === undefined) length--;
  const serialised = stableStringify(length === args.length ? args : args.slice(0, length));
  const tail = serialised.length > MAX_SERIALISED_ARGS ? `#${createHash('sha256').update(serialised).digest('hex')}` : serialised;
  return `${className}.${method}:${tail}`;
}

/**
 * Turns a key option into a function of the arguments. `parameters` are the method's parameter
 * names, for `{name}` placeholders.
 */
export function compileKey(option: CacheKeyOption, parameters: readonly (string | undefined)[] = []): CacheKeyFunction {
  if (typeof option === 'function') {
    return (...args) => {
      const key = option(...args);
      if (typeof key !== 'string') throw new TypeError(`a key function must return a string, got ${key === null ? 'null' : typeof key}`);
      return key;
    };
  }
  if (typeof option !== 'string' || option.length === 0) throw new TypeError('a key must be a non-empty string or a function of the arguments');
  if (!option.includes('{')) return () => option;
  const parts: Array<string | ((args: readonly unknown[]) => unknown)> = [];
  const pattern = /\{([^{}]+)\}/g;
  let last = 0;
  for (let match = pattern.exec(option); match; match = pattern.exec(option)) {
    if (match.index > last) parts.push(option.slice(last, match.index));
    parts.push(placeholder(match[1]!.trim(), parameters, option));
    last = match.index + match[0].length;
  }
  if (last < option.length) parts.push(option.slice(last));
  return (...args) => parts.map((part) => (typeof part === 'string' ? part : format(part(args)))).join('');
}

function placeholder(expression: string, parameters: readonly (string | undefined)[], template: string): (args: readonly unknown[]) => unknown {
  const [head, ...path] = expression.split('.');
  if (!head || path.some((segment) => segment.length === 0)) throw new TypeError(`invalid placeholder {${expression}} in key template "${template}"`);
  let root: (args: readonly unknown[]) => unknown;
  if (/^\d+$/.test(head)) {
    const index = Number(head);
    root = (args) => args[index];
  } else {
    const index = parameters.indexOf(head);
    // No parameter of that name: a property of the first argument (`user:{id}` on `update(dto)`).
    root = index >= 0 ? (args) => args[index] : (args) => property(args[0], head);
  }
  if (path.length === 0) return root;
  return (args) => path.reduce<unknown>((value, segment) => property(value, segment), root(args));
}

function property(value: unknown, name: string): unknown {
  if (value === null || value === undefined) return undefined;
  return (value as Record<string, unknown>)[name];
}

function format(value: unknown): string {
  return typeof value === 'string' ? value : stableStringify(value);
}

/**
 * The parameter names of a function, read from its source; `undefined` for a destructured
 * parameter. Used for `{name}` placeholders; a build that renames parameters breaks them
 * (use `{0}` then).
 */
export function parameterNames(fn: Function): Array<string | undefined> {
  const source = Function.prototype.toString.call(fn);
  const open = source.indexOf('(');
  if (open < 0) {
    // `x => ...`
    const arrow = /^\s*(?:async\s+)?([\w$]+)\s*=>/.exec(source);
    return arrow ? [arrow[1]] : [];
  }
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
  const list = source.slice(open + 1, end).replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '');
  const names: Array<string | undefined> = [];
  let current = '';
  depth = 0;
  for (const c of list) {
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    if (c === ',' && depth === 0) {
      names.push(nameOf(current));
      current = '';
    } else {
      current += c;
    }
  }
  if (current.trim().length > 0) names.push(nameOf(current));
  return names;
}

function nameOf(parameter: string): string | undefined {
  const match = /^\s*(?:\.\.\.)?\s*([\w$]+)\s*(?:=|$)/.exec(parameter);
  return match ? match[1] : undefined;
}
