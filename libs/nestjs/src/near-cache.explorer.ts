import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, ModulesContainer } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';
import { DefaultKeyCollisionError, UnknownCacheError } from './errors.js';
import { addAdopter, bindInstance, declaredOperations, isBound, type CacheOperation, type OperationRunner } from './operations.js';
import { CacheOperationRunner } from './runner.js';
import { NEAR_CACHE_NAME } from './constants.js';
import { duplicateCacheName, NearCacheRegistry } from './near-cache.registry.js';

interface Decorated {
  readonly wrapper: InstanceWrapper;
  readonly className: string;
  readonly operations: ReadonlyMap<string, CacheOperation[]>;
}

/**
 * Finds the providers and controllers whose methods (or the methods of a class they extend)
 * carry `@Cached`, `@CacheEvict` or `@CachePut`, checks them, and binds each instance to this
 * application's caches, on module init. The start fails when a decorator names a cache that is
 * not registered, when a key template can never resolve on its method (both checked before the
 * first cache is created, see `precheck`), or when two providers would share default keys
 * (once the instances exist); the caches created are closed first. Request-scoped and transient instances are skipped with a warning:
 * their decorated methods run uncached. Providers of modules loaded later (`LazyModuleLoader`)
 * are bound at their first decorated call.
 */
@Injectable()
export class NearCacheExplorer implements OnModuleInit, OnApplicationShutdown {
  readonly #logger = new Logger('NearCache');
  readonly #runner: CacheOperationRunner;
  /** Instances looked at after module init that this application does not own. */
  readonly #foreign = new WeakSet<object>();
  readonly #removeAdopter: () => void;
  #explored = false;
  #prechecked = false;
  /** How many modules the application had when its instances were last bound: more means a lazy load. */
  #modulesBound = 0;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly registry: NearCacheRegistry,
    private readonly modules: ModulesContainer,
  ) {
    this.#runner = new CacheOperationRunner((name) => this.registry.get(name));
    this.#removeAdopter = addAdopter((instance) => this.#adopt(instance));
    runFirst(modules);
  }

  /**
   * Binds the decorated instances. When a decorator cannot run (a placeholder that never
   * resolves, an unknown cache, colliding default keys), closes every cache of the application
   * before failing the start, so that nothing stays connected.
   */
  async onModuleInit(): Promise<void> {
    try {
      this.explore();
    } catch (error) {
      await this.registry.abort();
      throw error;
    }
  }

  onApplicationShutdown(): void {
    this.#removeAdopter();
  }

  /**
   * @internal Before the first cache is created, so that nothing connects for a start bound to
   * fail: throws when two modules register caches of one name, when a decorator of any provider
   * or controller names a cache no module registers, or has a key template that can never
   * resolve. Providers built by factories are checked at module init (`explore`).
   */
  precheck(): void {
    if (this.#prechecked) return;
    this.#prechecked = true;
    const names = new Set<string>();
    for (const wrapper of this.discovery.getProviders()) {
      if (wrapper.token !== NEAR_CACHE_NAME) continue;
      const name = wrapper.instance as string;
      if (names.has(name)) throw duplicateCacheName(name);
      names.add(name);
    }
    for (const { className, operations } of this.#decorated()) {
      const problem = this.#check(className, operations, (name) => names.has(name));
      if (problem) throw problem;
    }
  }

  /** Binds every decorated static instance; returns how many were bound. */
  explore(): number {
    this.#explored = true;
    this.#modulesBound = this.modules.size;
    let bound = 0;
    const defaultKeys = new Map<string, { instance: object; wrapper: InstanceWrapper }>();
    for (const found of this.#decorated()) {
      const { wrapper, className, operations } = found;
      if (!wrapper.isDependencyTreeStatic() || wrapper.isTransient) {
        const scope = wrapper.isTransient ? 'transient' : 'request-scoped (or depends on a request-scoped provider)';
        this.#logger.warn(
          `${className} is ${scope}: its cache decorators (${[...operations.keys()].join(', ')}) are skipped and those methods run uncached; ` +
            'move them to a singleton provider',
        );
        continue;
      }
      const problem = this.#check(className, operations, (name) => this.registry.has(name));
      if (problem) throw problem;
      const instance = wrapper.instance as object;
      for (const [method, list] of operations) {
        for (const operation of list) {
          if (operation.kind !== 'cached' || operation.key !== undefined) continue;
          const name = `${operation.cache}\0${(instance.constructor as { name?: string } | undefined)?.name ?? 'Object'}.${method}`;
          const other = defaultKeys.get(name);
          if (other && other.instance !== instance) {
            throw new DefaultKeyCollisionError(
              `@Cached() on ${className}.${method} builds default keys "${className}.${method}:<arguments>" for two different providers, ` +
                `${describeProvider(other.wrapper)} and ${describeProvider(wrapper)}, which would serve each other's results: ` +
                `give each a key of its own (@Cached({ key: ... })), or give the classes different names`,
            );
          }
          defaultKeys.set(name, { instance, wrapper });
        }
      }
      if (!isBound(instance)) {
        bindInstance(instance, this.#runner);
        bound++;
      }
    }
    return bound;
  }

  /** The decorated providers and controllers of the application. */
  *#decorated(): Generator<Decorated> {
    for (const wrapper of [...this.discovery.getProviders(), ...this.discovery.getControllers()]) {
      const prototype = prototypeOf(wrapper);
      if (!prototype) continue;
      const operations = declaredOperations(prototype);
      if (operations.size === 0) continue;
      const className = (prototype.constructor as { name?: string } | undefined)?.name ?? String(wrapper.name);
      yield { wrapper, className, operations };
    }
  }

  /** Why the decorators of a class cannot run in this application, or undefined. */
  #check(className: string, operations: ReadonlyMap<string, CacheOperation[]>, registered: (name: string) => boolean): Error | undefined {
    for (const [method, list] of operations) {
      for (const operation of list) {
        if (operation.problem) return operation.problem;
        if (!registered(operation.cache)) {
          return new UnknownCacheError(
            `${className}.${method} uses cache "${operation.cache}", which no NearCacheModule.forRoot({ name: '${operation.cache}' }) registers in this application`,
          );
        }
      }
    }
    return undefined;
  }

  /**
   * The runner of an instance of this application no one bound yet: a provider of a module
   * loaded since module init (`LazyModuleLoader`). Only looked for when modules were added since
   * the last binding; then every new decorated instance is bound at once.
   */
  #adopt(instance: object): OperationRunner | undefined {
    if (!this.#explored || this.#foreign.has(instance)) return undefined;
    if (this.modules.size === this.#modulesBound) {
      this.#foreign.add(instance);
      return undefined;
    }
    this.#modulesBound = this.modules.size;
    for (const found of this.#decorated()) {
      const candidate = found.wrapper.instance as object | undefined;
      if (typeof candidate !== 'object' || candidate === null || isBound(candidate)) continue;
      if (!found.wrapper.isDependencyTreeStatic() || found.wrapper.isTransient) continue;
      const problem = this.#check(found.className, found.operations, (name) => this.registry.has(name));
      if (problem) {
        this.#logger.warn(`${problem.message}; the decorated methods of ${found.className} run uncached`);
        continue;
      }
      bindInstance(candidate, this.#runner);
    }
    if (isBound(instance)) return this.#runner;
    this.#foreign.add(instance);
    return undefined;
  }
}

/** The prototype holding the instance's methods, or undefined when there is nothing to look at. */
function prototypeOf(wrapper: InstanceWrapper): object | undefined {
  const instance = wrapper.instance as unknown;
  if (typeof instance === 'object' && instance !== null) {
    const prototype = Object.getPrototypeOf(instance) as object | null;
    return prototype === null || prototype === Object.prototype ? undefined : prototype;
  }
  // A request-scoped or transient class provider has no static instance: look at its class.
  const metatype = wrapper.metatype as unknown;
  if (!wrapper.inject && typeof metatype === 'function' && typeof (metatype as { prototype?: unknown }).prototype === 'object') {
    return (metatype as { prototype: object }).prototype;
  }
  return undefined;
}

function describeProvider(wrapper: InstanceWrapper): string {
  const token = typeof wrapper.token === 'function' ? wrapper.token.name : String(wrapper.token);
  const host = wrapper.host?.metatype?.name ?? 'an unknown module';
  return `provider ${token} of module ${host}`;
}

/**
 * Nest runs module init hooks by distance from the root module, global modules (all at the same
 * maximum distance) in the order they were imported. The cache's module must initialise before
 * any module of the application, global ones included, so that their `onModuleInit` finds the
 * caches ready and the decorated methods bound: give it a distance no other module has.
 */
function runFirst(modules: ModulesContainer): void {
  for (const module of modules.values()) {
    if (module.providers.has(NearCacheExplorer)) {
      try {
        (module as { distance: number }).distance = Number.POSITIVE_INFINITY;
      } catch {
        // A Nest without a settable distance: the import order decides.
      }
    }
  }
}
