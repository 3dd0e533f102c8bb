import { describe, expect, it } from 'vitest';
import {
  compileKey,
  defaultCacheKey,
  KeyTooComplexError,
  MAX_SERIALISED_ARGS,
  stableStringify,
  UnkeyableArgumentError,
  UnresolvablePlaceholderError,
  UnresolvedPlaceholderError,
} from '../src/index.js';
import { parameterNames, readParameters } from '../src/keys.js';

describe('stableStringify', () => {
  it('gives equal strings for objects whose keys were added in another order, nested too', () => {
    const a = { id: 1, filter: { status: 'open', tags: ['x', 'y'] }, page: { size: 10, number: 2 } };
    const b = { page: { number: 2, size: 10 }, filter: { tags: ['x', 'y'], status: 'open' }, id: 1 };
    expect(stableStringify(a)).toBe(stableStringify(b));
    expect(stableStringify(a)).toBe('{"filter":{"status":"open","tags":["x","y"]},"id":1,"page":{"number":2,"size":10}}');
  });

  it('tells apart values JSON would confuse, and keeps array order', () => {
    expect(stableStringify([1, 2])).not.toBe(stableStringify([2, 1]));
    expect(stableStringify('1')).not.toBe(stableStringify(1));
    expect(stableStringify([undefined])).not.toBe(stableStringify([null]));
    expect(stableStringify({ a: undefined })).not.toBe(stableStringify({}));
    expect(stableStringify(10n)).toBe('10n');
    expect(stableStringify(Number.NaN)).toBe('NaN');
    expect(stableStringify(Number.NaN)).not.toBe(stableStringify('NaN'));
    expect(stableStringify(Number.POSITIVE_INFINITY)).not.toBe(stableStringify('Infinity'));
    expect(stableStringify(-0)).not.toBe(stableStringify(0));
  });

  it('serialises built-in types by their contents, never as {}', () => {
    const distinct: Array<[unknown, unknown]> = [
      [new URLSearchParams('a=1'), new URLSearchParams('a=2')],
      [/a/g, /a/i],
      [new Error('one'), new Error('two')],
      [new TypeError('one'), new Error('one')],
      [new URL('https://example.com/a'), new URL('https://example.com/b')],
      [new Date('2026-01-02T00:00:00.000Z'), '2026-01-02T00:00:00.000Z'],
      [new Uint8Array([1]), new Uint8Array([2])],
      [new Map([['a', 1]]), { a: 1 }],
      [Symbol.for('a'), Symbol.for('b')],
    ];
    for (const [a, b] of distinct) {
      expect(stableStringify(a), String(a)).not.toBe(stableStringify(b));
      expect(stableStringify(a)).not.toBe('{}');
    }
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    expect(stableStringify(new Point(1, 2))).toBe('Point{"x":1,"y":2}');
    expect(stableStringify({ toJSON: () => 'x' })).not.toBe(stableStringify('x'));
  });

  it('refuses what it cannot serialise faithfully, instead of collapsing it', () => {
    class Money {
      readonly #cents: number;
      constructor(cents: number) {
        this.#cents = cents;
      }
      get cents(): number {
        return this.#cents;
      }
    }
    class Tagged {
      tag = 'a';
      get secret(): number {
        return 1;
      }
    }
    const refused: unknown[] = [
      () => 1,
      function named() {},
      Symbol('local'),
      new Money(1),
      new Tagged(),
      Object.create({ inherited: 1 }),
      Promise.resolve(1),
      new WeakMap(),
      (function* () {})(),
      [1, { nested: () => 2 }],
    ];
    for (const value of refused) expect(() => stableStringify(value), String(value)).toThrow(UnkeyableArgumentError);
  });

  it('bounds its work: shared sub-objects (2^40 paths) give up fast with KeyTooComplexError', () => {
    let shared: Record<string, unknown> = { leaf: true };
    for (let level = 0; level < 40; level++) shared = { left: shared, right: shared };
    expect(() => stableStringify(shared)).toThrow(KeyTooComplexError);
    expect(() => defaultCacheKey('S', 'm', [shared])).toThrow(KeyTooComplexError);
  });

  it('serialises dates, maps, sets and cycles deterministically', () => {
    expect(stableStringify(new Date('2026-01-02T03:04:05.000Z'))).toBe('Date(2026-01-02T03:04:05.000Z)');
    expect(
      stableStringify(
        new Map([
          ['b', 2],
          ['a', 1],
        ]),
      ),
    ).toBe(
      stableStringify(
        new Map([
          ['a', 1],
          ['b', 2],
        ]),
      ),
    );
    expect(stableStringify(new Set([2, 1]))).toBe(stableStringify(new Set([1, 2])));
    const cyclic: Record<string, unknown> = { name: 'x' };
    cyclic.self = cyclic;
    expect(stableStringify(cyclic)).toBe('{"name":"x","self":[Circular ^1]}');
    expect(stableStringify(cyclic)).not.toBe(stableStringify({ name: 'x', self: '[Circular ^1]' }));
  });
});

describe('defaultCacheKey', () => {
  it('is ClassName.method: and the arguments', () => {
    expect(defaultCacheKey('UsersService', 'find', [42, { b: 2, a: 1 }])).toBe('UsersService.find:[42,{"a":1,"b":2}]');
    expect(defaultCacheKey('UsersService', 'all', [])).toBe('UsersService.all:[]');
    expect(defaultCacheKey('UsersService', 'find', [1, undefined])).toBe('UsersService.find:[1]');
    expect(defaultCacheKey('UsersService', 'find', [undefined, 1])).toBe('UsersService.find:[undefined,1]');
  });

  it('hashes long arguments, still deterministically', () => {
    const long = 'x'.repeat(MAX_SERIALISED_ARGS * 2);
    const key = defaultCacheKey('S', 'm', [long]);
    expect(key).toMatch(/^S\.m:#[0-9a-f]{64}$/);
    expect(defaultCacheKey('S', 'm', [long])).toBe(key);
    expect(defaultCacheKey('S', 'm', [`${long}y`])).not.toBe(key);
  });
});

describe('compileKey', () => {
  const parameters = ['id', 'options'];

  it('keeps a fixed key', () => {
    expect(compileKey('all-users', parameters)(1, 2)).toBe('all-users');
  });

  it('fills {0}, {1} with arguments by position, objects serialised stably', () => {
    expect(compileKey('user:{0}', parameters)(42)).toBe('user:42');
    expect(compileKey('user:{0}:{1}', parameters)('a', { z: 1, a: 2 })).toBe('user:a:{"a":2,"z":1}');
  });

  it('fills {name} with the parameter of that name, and {name.path} with its property', () => {
    expect(compileKey('user:{id}', parameters)('u1', {})).toBe('user:u1');
    expect(compileKey('user:{id}:{options.page}', parameters)('u1', { page: 3 })).toBe('user:u1:3');
    expect(compileKey('user:{0.profile.id}', parameters)({ profile: { id: 7 } })).toBe('user:7');
  });

  it('fills {name} with a property of the only parameter, an object, when no parameter has that name', () => {
    expect(compileKey('user:{email}', ['dto'])({ email: 'ada@example.com' })).toBe('user:ada@example.com');
    expect(compileKey('user:{email}', { names: ['dto'], rest: -1, types: [Object] })({ email: 'ada@example.com' })).toBe('user:ada@example.com');
  });

  it('refuses, when compiled, a placeholder that can never resolve on the method', () => {
    const refusals: Array<[string, Parameters<typeof compileKey>[1]]> = [
      ['user:{email}', { names: ['id', 'dto'], rest: -1 }],
      ['user:{email}', { names: ['id'], rest: -1, types: [String] }],
      ['user:{email}', { names: ['args'], rest: 0, types: [String] }],
      ['user:{email}', { names: ['args'], rest: 0, types: [String, Object] }],
      ['user:{email}', { names: [], rest: -1 }],
      ['user:{1}', { names: ['id'], rest: -1 }],
      // A transpiled async method: `find(_x) { return _find.apply(this, arguments); }`.
      ['user:{email}', { names: ['_x'], rest: -1 }],
    ];
    for (const [template, signature] of refusals)
      expect(() => compileKey(template, signature), JSON.stringify(signature)).toThrow(UnresolvablePlaceholderError);
    // Positions past the declared ones are fine with a rest parameter.
    expect(compileKey('k:{2}', { names: ['first', 'others'], rest: 1 })('a', 'b', 'c')).toBe('k:c');
    expect(compileKey('k:{others}', { names: ['first', 'others'], rest: 1 })('a', 'b', 'c')).toBe('k:["b","c"]');
  });

  it('throws UnresolvedPlaceholderError when a placeholder is undefined or null for a call', () => {
    const key = compileKey('user:{id}:{options.page}', ['id', 'options']);
    expect(() => key(undefined, { page: 1 })).toThrow(UnresolvedPlaceholderError);
    expect(() => key('u1', {})).toThrow(UnresolvedPlaceholderError);
    expect(() => key('u1', { page: null })).toThrow(/placeholder \{options\.page\} of key template "user:\{id\}:\{options\.page\}" is null/);
    expect(key('u1', { page: 0 })).toBe('user:u1:0');
  });

  it('calls a key function with the arguments and insists on a string', () => {
    expect(compileKey((id: number, page: number) => `u:${id}:${page}`)(1, 2)).toBe('u:1:2');
    expect(() => compileKey((() => 5) as never)()).toThrow(/must return a string/);
  });

  it('refuses an empty key or a broken placeholder', () => {
    expect(() => compileKey('')).toThrow();
    expect(() => compileKey('user:{0.}')).toThrow(/invalid placeholder/);
    expect(() => compileKey('user:{}')).toThrow(/empty placeholder \{\} in key template "user:\{\}"/);
    expect(() => compileKey('user:{ }:x')).toThrow(/empty placeholder/);
    expect(() => compileKey('user:{0')).toThrow(/unbalanced braces/);
  });
});

describe('parameterNames', () => {
  it('reads the parameters of methods, with defaults, rest and destructuring', () => {
    class Example {
      plain(id: string, options: object) {
        return [id, options];
      }
      async withDefaults(id: string, page = 1, ...rest: unknown[]) {
        return [id, page, rest];
      }
      destructured({ id }: { id: string }, second: number) {
        return [id, second];
      }
    }
    expect(parameterNames(Example.prototype.plain)).toEqual(['id', 'options']);
    expect(parameterNames(Example.prototype.withDefaults)).toEqual(['id', 'page', 'rest']);
    expect(parameterNames(Example.prototype.destructured)).toEqual([undefined, 'second']);
    expect(readParameters(Example.prototype.withDefaults)).toEqual({ names: ['id', 'page', 'rest'], rest: 2 });
    expect(readParameters((x: number) => Math.max(x, 1))).toEqual({ names: ['x'], rest: -1 });
  });
});
