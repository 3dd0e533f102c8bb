import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';
import { bindInstance, getOperations, isBound } from './operations.js';
import { CacheOperationRunner } from './runner.js';
import { NearCacheRegistry } from './near-cache.registry.js';

/**
 * Finds the providers and controllers whose methods carry `@Cached`, `@CacheEvict` or
 * `@CachePut`, checks that the caches they name exist, and binds each instance to this
 * application's caches, on module init. Request-scoped and transient instances are skipped with
 * a warning: their decorated methods run uncached.
 */
@Injectable()
export class NearCacheExplorer implements OnModuleInit {
  readonly #logger = new Logger('NearCache');

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly registry: NearCacheRegistry,
  ) {}

  onModuleInit(): void {
    this.explore();
  }

  /** Binds every decorated static instance; returns how many were bound. */
  explore(): number {
    const runner = new CacheOperationRunner((name) => this.registry.get(name), this.#logger);
    let bound = 0;
    const wrappers = [...this.discovery.getProviders(), ...this.discovery.getControllers()];
    for (const wrapper of wrappers) {
      const prototype = this.#prototypeOf(wrapper);
      if (!prototype) continue;
      const decorated = this.scanner
        .getAllMethodNames(prototype)
        .map((method) => ({ method, operations: getOperations((prototype as Record<string, unknown>)[method]) }))
        .filter((entry) => entry.operations.length > 0);
      if (decorated.length === 0) continue;
      const className = (prototype.constructor as { name?: string } | undefined)?.name ?? String(wrapper.name);
      if (!wrapper.isDependencyTreeStatic() || wrapper.isTransient) {
        const scope = wrapper.isTransient ? 'transient' : 'request-scoped (or depends on a request-scoped provider)';
        this.#logger.warn(
          `${className} is ${scope}: its cache decorators (${decorated.map((d) => d.method).join(', ')}) are skipped and those methods run uncached; ` +
            'move them to a singleton provider',
        );
        continue;
      }
      for (const { method, operations } of decorated) {
        for (const operation of operations) {
          if (!this.registry.has(operation.cache)) {
            throw new Error(`${className}.${method} uses cache "${operation.cache}", which no NearCacheModule.forRoot({ name: '${operation.cache}' }) registers in this application`);
          }
        }
      }
      const instance = wrapper.instance as object;
      if (!isBound(instance)) {
        bindInstance(instance, runner);
        bound++;
      }
    }
    return bound;
  }

  /** The prototype holding the instance's methods, or undefined when there is nothing to look at. */
  #prototypeOf(wrapper: InstanceWrapper): object | undefined {
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
}
