import type { NearCache } from '@nearcache/core';
import { NEAR_CACHE_OPERATIONS_METADATA } from './constants.js';
import { compileKey, defaultCacheKey, parameterNames, type CacheKeyFunction, type CacheKeyOption } from './keys.js';

/** Decides from the method's arguments whether the cache is used for this call. */
export type CacheCondition = (...args: any[]) => boolean;

/** Vetoes caching a result: called with the result, then the method's arguments. */
export type CacheUnless = (result: any, ...args: any[]) => boolean;

interface OperationBase {
  /** Name of the named cache, `default` when not given. */
  readonly cache: string;
  readonly condition: CacheCondition | undefined;
  /** `ClassName.method` of the declaring class, for messages. */
  readonly where: string;
  readonly method: string;
  /** Whether the method returns a promise; decided at the first call (see `isAsyncMethod`). */
  async: boolean | undefined;
  readonly detectAsync: () => boolean;
}

/** `@Cached`: look up, or run and store. */
export interface CachedOperation extends OperationBase {
  readonly kind: 'cached';
  /** The key function, or undefined for the default key. */
  readonly key: CacheKeyFunction | undefined;
  readonly ttl: number | undefined;
  readonly unless: CacheUnless | undefined;
}

/** `@CacheEvict`: remove keys, a prefix or everything. */
export interface EvictOperation extends OperationBase {
  readonly kind: 'evict';
  readonly keys: ((args: readonly unknown[]) => string[]) | undefined;
  readonly allEntries: boolean;
  readonly prefix: CacheKeyFunction | undefined;
  readonly beforeInvocation: boolean;
}

/** `@CachePut`: always run, then store the result. */
export interface PutOperation extends OperationBase {
  readonly kind: 'put';
  readonly key: CacheKeyFunction;
  readonly ttl: number | undefined;
  readonly unless: CacheUnless | undefined;
}

export type CacheOperation = CachedOperation | EvictOperation | PutOperation;

/** What runs a caching operation for one Nest application; installed on instances by the explorer. */
export interface OperationRunner {
  run(operation: CacheOperation, self: object, original: (...args: unknown[]) => unknown, args: unknown[]): unknown;
}

/**
 * Instances bound to the application that owns them. A decorated method of an instance that is
 * not bound (created with `new`, request-scoped, transient) just runs its body.
 */
const runners = new WeakMap<object, OperationRunner>();

/** @internal Binds `instance` to an application's runner. */
export function bindInstance(instance: object, runner: OperationRunner): void {
  runners.set(instance, runner);
}

/** @internal Whether `instance` is bound to a runner. */
export function isBound(instance: object): boolean {
  return runners.has(instance);
}

/** The caching operations declared on a method (through its wrapper), outermost last. */
export function getOperations(method: unknown): readonly CacheOperation[] {
  if (typeof method !== 'function') return [];
  return (Reflect.getMetadata(NEAR_CACHE_OPERATIONS_METADATA, method) as CacheOperation[] | undefined) ?? [];
}

type OperationInput =
  | Omit<CachedOperation, 'where' | 'method' | 'async' | 'detectAsync' | 'key'> & { key: CacheKeyOption | undefined }
  | Omit<EvictOperation, 'where' | 'method' | 'async' | 'detectAsync' | 'keys' | 'prefix'> & { keys: CacheKeyOption[] | ((...args: any[]) => string[]) | undefined; prefix: CacheKeyOption | undefined }
  | Omit<PutOperation, 'where' | 'method' | 'async' | 'detectAsync' | 'key'> & { key: CacheKeyOption };

/**
 * Replaces `descriptor.value` by a wrapper that runs `input` through the runner its instance is
 * bound to. The wrapper keeps the original's name and metadata, so decorators applied before or
 * after (`@Get()`, guards...) still see theirs. Wrapping happens on the prototype, so it also
 * holds for controller routes, which Nest binds before modules initialise.
 */
export function decorateMethod(decorator: string, target: object, propertyKey: string | symbol, descriptor: PropertyDescriptor, input: OperationInput): PropertyDescriptor {
  const original = descriptor?.value as ((...args: unknown[]) => unknown) | undefined;
  const className = typeof target === 'function' ? target.name : (target.constructor?.name ?? 'Object');
  const method = String(propertyKey);
  if (typeof original !== 'function') throw new TypeError(`@${decorator}() only decorates methods; ${className}.${method} is not one`);
  if (typeof target === 'function') throw new TypeError(`@${decorator}() does not decorate static methods (${className}.${method})`);
  const parameters = parameterNames(original);
  const compile = (option: CacheKeyOption): CacheKeyFunction => {
    try {
      return compileKey(option, parameters);
    } catch (error) {
      throw new TypeError(`@${decorator}() on ${className}.${method}: ${(error as Error).message}`);
    }
  };
  const detectAsync = (): boolean =>
    original.constructor?.name === 'AsyncFunction' || Reflect.getMetadata('design:returntype', target, propertyKey) === Promise;
  const base = { where: `${className}.${method}`, method, async: undefined, detectAsync };
  let operation: CacheOperation;
  switch (input.kind) {
    case 'cached':
      operation = { ...input, ...base, key: input.key === undefined ? undefined : compile(input.key) };
      break;
    case 'put':
      operation = { ...input, ...base, key: compile(input.key) };
      break;
    case 'evict': {
      let keys: EvictOperation['keys'];
      const given = input.keys;
      if (typeof given === 'function') {
        keys = (args) => {
          const list = given(...args);
          if (!Array.isArray(list) || !list.every((k) => typeof k === 'string')) throw new TypeError('a keys function must return an array of strings');
          return list;
        };
      } else if (given !== undefined) {
        const compiled = given.map(compile);
        keys = (args) => compiled.map((key) => key(...args));
      }
      operation = { ...input, ...base, keys, prefix: input.prefix === undefined ? undefined : compile(input.prefix) };
      break;
    }
  }
  const wrapped = function (this: unknown, ...args: unknown[]): unknown {
    const runner = typeof this === 'object' && this !== null ? runners.get(this) : undefined;
    if (runner === undefined) return original.apply(this, args);
    return runner.run(operation, this as object, original, args);
  };
  Object.defineProperty(wrapped, 'name', { value: original.name, configurable: true });
  for (const key of Reflect.getMetadataKeys(original)) {
    Reflect.defineMetadata(key, Reflect.getMetadata(key, original), wrapped);
  }
  Reflect.defineMetadata(NEAR_CACHE_OPERATIONS_METADATA, [...getOperations(original), operation], wrapped);
  descriptor.value = wrapped;
  return descriptor;
}

/** The key of a `@Cached` call. */
export function cachedKey(operation: CachedOperation, self: object, args: readonly unknown[]): string {
  return operation.key ? operation.key(...args) : defaultCacheKey(self.constructor?.name ?? 'Object', operation.method, args);
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** Values that would serialise to something meaningless: observables, streams, functions. */
export function isUncacheable(value: unknown): boolean {
  if (typeof value === 'function' || typeof value === 'symbol') return true;
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as { subscribe?: unknown; pipe?: unknown; on?: unknown };
  return typeof candidate.subscribe === 'function' || (typeof candidate.pipe === 'function' && typeof candidate.on === 'function');
}

/** The cache a runner resolves operations against. */
export type CacheResolver = (name: string) => NearCache;
