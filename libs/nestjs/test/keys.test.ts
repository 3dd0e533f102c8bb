import { describe, expect, it } from 'vitest';
import { compileKey, defaultCacheKey, MAX_SERIALISED_ARGS, stableStringify } from '../src/index.js';
import { parameterNames } from '../src/keys.js';

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
    expect(stableStringify(Number.NaN)).toBe('"NaN"');
  });

  it('serialises dates, maps, sets and cycles deterministically', () => {
    expect(stableStringify(new Date('2026-01-02T03:04:05.000Z'))).toBe('"2026-01-02T03:04:05.000Z"');
    expect(stableStringify(new Map([['b', 2], ['a', 1]]))).toBe(stableStringify(new Map([['a', 1], ['b', 2]])));
    expect(stableStringify(new Set([2, 1]))).toBe(stableStringify(new Set([1, 2])));
    const cyclic: Record<string, unknown> = { name: 'x' };
    cyclic.self = cyclic;
    expect(stableStringify(cyclic)).toBe('{"name":"x","self":"[Circular]"}');
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

  it('fills {name} with a property of the first argument when no parameter has that name', () => {
    expect(compileKey('user:{email}', ['dto'])({ email: 'ada@example.com' })).toBe('user:ada@example.com');
  });

  it('calls a key function with the arguments and insists on a string', () => {
    expect(compileKey((id: number, page: number) => `u:${id}:${page}`)(1, 2)).toBe('u:1:2');
    expect(() => compileKey((() => 5) as never)()).toThrow(/must return a string/);
  });

  it('refuses an empty key or a broken placeholder', () => {
    expect(() => compileKey('')).toThrow();
    expect(() => compileKey('user:{0.}')).toThrow(/invalid placeholder/);
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
  });
});
