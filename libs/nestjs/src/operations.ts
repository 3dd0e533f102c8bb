import type { NearCache } from '@nearcache/core';
import { NEAR_CACHE_OPERATIONS_METADATA } from './constants.js';
import {
  compileKey,
  defaultCacheKey,
  readParameters,
  UnresolvablePlaceholderError,
  type CacheKeyFunction,
  type CacheKeyOption,
  type MethodSignature,
} from './keys.js';

/** Decides from the method's arguments whether the cache is used for this call. */
export type CacheCondition = (...args: any[]) => boolean;

/** Vetoes caching a result: called with the result, then the method's arguments. */
export type CacheUnless = (result: any, ...args: any[]) => boolean;

/** The session token of a call, from the method's arguments; `undefined` or `''` for none. */
export type CacheSessionToken = (...args: any[]) => string | undefined;

interface OperationBase {
  /** Name of the named cache, `default` when not given. */
  readonly cache: string;
  readonly condition: CacheCondition | undefined;
  /** `ClassName.method` of the declaring class, for messages. */
  readonly where: string;
  readonly method: string;
  /**
   * What the declaration says the method returns: `async` (an `async` function, or declared to
   * return a `Promise`), `sync` (declared to return something else), or undefined when nothing
   * says (the runner learns it from the first call on each instance of the application).
   */
  readonly shape: 'async' | 'sync' | undefined;
  /** A key template that can never resolve on this method: the start fails with it. */
  readonly problem: Error | undefined;
}

/** `@Cached`: look up, or run and store. */
export interface CachedOperation extends OperationBase {
  readonly kind: 'cached';
  /** The key function, or undefined for the default key. */
  readonly key: CacheKeyFunction | undefined;
  readonly ttl: number | undefined;
  readonly unless: CacheUnless | undefined;
  /** The staleness a hit may have, in ms (`NearCache.get`'s `maxStaleness`). */
  readonly maxStaleness: number | undefined;
  /** The call's session token (`NearCache.get`'s `after`). */
  readonly after: CacheSessionToken | undefined;
  /** Grace and loader timeouts (`NearCache.wrap`'s), or undefined when none is set. */
  readonly guard: CachedGuard | undefined;
  /** The tags of the stored value, from the arguments, or undefined for none. */
  readonly tags: ((args: readonly unknown[]) => string[]) | undefined;
  /** Fleet-wide single flight (`NearCache.fleetTurn`'s `fleetWait`); undefined: the cache's option. */
  readonly fleetWait: number | undefined;
}

/** The grace, loader timeouts and early refresh of a `@Cached` method (docs/consistency.md, sections 14 to 16). */
export interface CachedGuard {
  readonly grace: number | undefined;
  readonly softTimeout: number | undefined;
  readonly hardTimeout: number | undefined;
  readonly refreshAhead: number | undefined;
}

/** `@CacheEvict`: remove keys, a prefix or everything. */
export interface EvictOperation extends OperationBase {
  readonly kind: 'evict';
  readonly keys: ((args: readonly unknown[]) => string[]) | undefined;
  readonly allEntries: boolean;
  readonly prefix: CacheKeyFunction | undefined;
  /** Tags to invalidate (`NearCache.invalidateTags`), from the arguments. */
  readonly tags: ((args: readonly unknown[]) => string[]) | undefined;
  readonly beforeInvocation: boolean;
}

/** `@CachePut`: always run, then store the result. */
export interface PutOperation extends OperationBase {
  readonly kind: 'put';
  readonly key: CacheKeyFunction;
  /** The tags of the stored value, from the arguments, or undefined for none. */
  readonly tags: ((args: readonly unknown[]) => string[]) | undefined;
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

/**
 * Finds the runner of an instance no explorer bound at module init (a provider of a module
 * loaded later with `LazyModuleLoader`, or one called before module init); undefined when no
 * application owns it.
 */
export type Adopter = (instance: object) => OperationRunner | undefined;

const adopters = new Set<Adopter>();

/** @internal Registers an application's adopter; returns its removal. */
export function addAdopter(adopter: Adopter): () => void {
  adopters.add(adopter);
  return () => adopters.delete(adopter);
}

function runnerOf(instance: object): OperationRunner | undefined {
  const runner = runners.get(instance);
  if (runner !== undefined || adopters.size === 0) return runner;
  for (const adopter of adopters) {
    const adopted = adopter(instance);
    if (adopted !== undefined) {
      runners.set(instance, adopted);
      return adopted;
    }
  }
  return undefined;
}

/** The operations declared on each prototype, by method name, in declaration order. */
const declared = new WeakMap<object, Map<string, CacheOperation[]>>();

/**
 * The caching operations of an object's class and of every class it extends, by method name:
 * also those of a base method a subclass overrides (and calls with `super`).
 */
export function declaredOperations(prototype: object): Map<string, CacheOperation[]> {
  const all = new Map<string, CacheOperation[]>();
  for (let level: object | null = prototype; level !== null && level !== Object.prototype; level = Object.getPrototypeOf(level) as object | null) {
    for (const [method, operations] of declared.get(level) ?? []) all.set(method, [...(all.get(method) ?? []), ...operations]);
  }
  return all;
}

/** The functions cache decorators wrapped, by wrapper: parameter names come from the original. */
const originals = new WeakMap<Function, Function>();

/** @internal Whether `instance` is bound to a runner. */
export function isBound(instance: object): boolean {
  return runners.has(instance);
}

/** The caching operations declared on a method (through its wrapper), outermost last. */
export function getOperations(method: unknown): readonly CacheOperation[] {
  if (typeof method !== 'function') return [];
  return (Reflect.getMetadata(NEAR_CACHE_OPERATIONS_METADATA, method) as CacheOperation[] | undefined) ?? [];
}

/** Tags: a list of fixed tags or templates (the placeholders of keys), or a function of the arguments returning the tags. */
export type CacheTagsOption = CacheKeyOption[] | ((...args: any[]) => string[]);

type Derived = 'where' | 'method' | 'shape' | 'problem';
type OperationInput =
  | (Omit<CachedOperation, Derived | 'key' | 'tags'> & { key: CacheKeyOption | undefined; tags: CacheTagsOption | undefined })
  | (Omit<EvictOperation, Derived | 'keys' | 'prefix' | 'tags'> & {
      keys: CacheKeyOption[] | ((...args: any[]) => string[]) | undefined;
      prefix: CacheKeyOption | undefined;
      tags: CacheTagsOption | undefined;
    })
  | (Omit<PutOperation, Derived | 'key' | 'tags'> & { key: CacheKeyOption; tags: CacheTagsOption | undefined });

/**
 * Replaces `descriptor.value` by a wrapper that runs `input` through the runner its instance is
 * bound to. The wrapper keeps the original's name and metadata, so decorators applied before or
 * after (`@Get()`, guards...) still see theirs. Wrapping happens on the prototype, so it also
 * holds for controller routes, which Nest binds before modules initialise.
 */
export function decorateMethod(
  decorator: string,
  target: object,
  propertyKey: string | symbol,
  descriptor: PropertyDescriptor,
  input: OperationInput,
): PropertyDescriptor {
  const original = descriptor?.value as ((...args: unknown[]) => unknown) | undefined;
  const className = typeof target === 'function' ? target.name : (target.constructor?.name ?? 'Object');
  const method = String(propertyKey);
  if (typeof original !== 'function') throw new TypeError(`@${decorator}() only decorates methods; ${className}.${method} is not one`);
  if (typeof target === 'function') throw new TypeError(`@${decorator}() does not decorate static methods (${className}.${method})`);
  let source: Function = original;
  while (originals.has(source)) source = originals.get(source)!;
  const types = Reflect.getMetadata('design:paramtypes', target, propertyKey) as unknown[] | undefined;
  const signature: MethodSignature = { ...readParameters(source), types, where: `${className}.${method}` };
  let problem: Error | undefined;
  const compile = (option: CacheKeyOption): CacheKeyFunction => {
    try {
      return compileKey(option, signature);
    } catch (error) {
      if (error instanceof UnresolvablePlaceholderError) {
        // Reported when the module initialises (a class never provided does not break an import).
        problem ??= new UnresolvablePlaceholderError(`@${decorator}() on ${className}.${method}: ${error.message}`);
        return () => {
          throw problem;
        };
      }
      throw new TypeError(`@${decorator}() on ${className}.${method}: ${(error as Error).message}`, { cause: error });
    }
  };
  const returnType = Reflect.getMetadata('design:returntype', target, propertyKey) as unknown;
  const kind = source.constructor?.name;
  // A generator (async or not) returns its iterator at once, whatever the metadata says.
  const shape: OperationBase['shape'] =
    kind === 'AsyncGeneratorFunction' || kind === 'GeneratorFunction'
      ? 'sync'
      : kind === 'AsyncFunction' || returnType === Promise
        ? 'async'
        : typeof returnType === 'function' && returnType !== Object
          ? 'sync'
          : undefined;
  const base = {
    where: `${className}.${method}`,
    method,
    shape,
    get problem() {
      return problem;
    },
  };
  const list = (given: CacheTagsOption | undefined, what: string): ((args: readonly unknown[]) => string[]) | undefined => {
    if (typeof given === 'function') {
      return (args) => {
        const out = given(...args);
        if (!Array.isArray(out) || !out.every((k) => typeof k === 'string')) throw new TypeError(`a ${what} function must return an array of strings`);
        return out;
      };
    }
    if (given === undefined) return undefined;
    const compiled = given.map(compile);
    return (args) => compiled.map((item) => item(...args));
  };
  let operation: CacheOperation;
  switch (input.kind) {
    case 'cached':
      operation = Object.defineProperties(
        { ...input, ...base, key: input.key === undefined ? undefined : compile(input.key), tags: list(input.tags, 'tags') },
        problemOf(base),
      );
      break;
    case 'put':
      operation = Object.defineProperties({ ...input, ...base, key: compile(input.key), tags: list(input.tags, 'tags') }, problemOf(base));
      break;
    case 'evict': {
      const keys = list(input.keys, 'keys');
      operation = Object.defineProperties(
        { ...input, ...base, keys, prefix: input.prefix === undefined ? undefined : compile(input.prefix), tags: list(input.tags, 'tags') },
        problemOf(base),
      );
      break;
    }
  }
  const wrapped = function (this: unknown, ...args: unknown[]): unknown {
    const runner = typeof this === 'object' && this !== null ? runnerOf(this) : undefined;
    if (runner === undefined) return original.apply(this, args);
    return runner.run(operation, this as object, original, args);
  };
  Object.defineProperty(wrapped, 'name', { value: original.name, configurable: true });
  for (const key of Reflect.getMetadataKeys(original)) {
    Reflect.defineMetadata(key, Reflect.getMetadata(key, original), wrapped);
  }
  Reflect.defineMetadata(NEAR_CACHE_OPERATIONS_METADATA, [...getOperations(original), operation], wrapped);
  originals.set(wrapped, original);
  const methods = declared.get(target) ?? new Map<string, CacheOperation[]>();
  declared.set(target, methods);
  methods.set(method, [...(methods.get(method) ?? []), operation]);
  descriptor.value = wrapped;
  return descriptor;
}

function problemOf(base: { readonly problem: Error | undefined }): PropertyDescriptorMap {
  return { problem: { get: () => base.problem, enumerable: true } };
}

/** The key of a `@Cached` call. */
export function cachedKey(operation: CachedOperation, self: object, args: readonly unknown[]): string {
  return operation.key ? operation.key(...args) : defaultCacheKey(self.constructor?.name ?? 'Object', operation.method, args);
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** An Observable (anything with `subscribe`), such as what `HttpService` returns. */
export function isObservable(value: unknown): value is { subscribe: Function; pipe?: Function } {
  return typeof value === 'object' && value !== null && typeof (value as { subscribe?: unknown }).subscribe === 'function';
}

/**
 * A result that is read once and would be stored as something meaningless: a Node stream, a
 * fetch `Response` or `Request`, a web `ReadableStream`, `Blob`, an async or sync iterator
 * (generators), Nest's `StreamableFile`.
 */
export function isStream(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (typeof Response !== 'undefined' && value instanceof Response) return true;
  if (typeof Request !== 'undefined' && value instanceof Request) return true;
  if (typeof ReadableStream !== 'undefined' && value instanceof ReadableStream) return true;
  if (typeof Blob !== 'undefined' && value instanceof Blob) return true;
  const candidate = value as { pipe?: unknown; on?: unknown; getReader?: unknown; getStream?: unknown; next?: unknown; [Symbol.asyncIterator]?: unknown };
  if (typeof candidate.pipe === 'function' && typeof candidate.on === 'function') return true;
  if (typeof candidate.getReader === 'function' || typeof candidate.getStream === 'function') return true;
  if (typeof candidate[Symbol.asyncIterator] === 'function') return true;
  // A generator or another iterator: consumed by the first reader (arrays, maps and sets have no `next`).
  return typeof candidate.next === 'function' && typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
}

/** Values no decorator stores: observables, streams and iterators, functions, symbols. */
export function isUncacheable(value: unknown): boolean {
  return typeof value === 'function' || typeof value === 'symbol' || isObservable(value) || isStream(value);
}

/** The cache a runner resolves operations against. */
export type CacheResolver = (name: string) => NearCache;
