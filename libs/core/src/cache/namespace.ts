import { InvalidArgumentError, InvalidKeyError } from '../errors.js';
import { invalidKey } from './input.js';
import type { NearCache } from './near-cache.js';
import type { ReadOptions, SetOptions, WrapOptions, WriteOptions } from './types.js';

/** A prefixed view of a `NearCache`: same operations, keys scoped under the prefix. */
export class NearCacheNamespace<V = unknown> {
  constructor(
    readonly cache: NearCache<V>,
    readonly prefix: string,
  ) {}

  get(key: string, options?: ReadOptions): V | undefined {
    return options === undefined ? this.cache.get(this.#key(key)) : this.cache.get(this.#key(key), options);
  }

  has(key: string): boolean {
    return this.cache.has(this.#key(key));
  }

  set(key: string, value: V, options?: SetOptions): Promise<void> {
    try {
      return this.cache.set(this.#key(key), value, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  delete(key: string, options?: WriteOptions): Promise<void> {
    try {
      return this.cache.delete(this.#key(key), options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  wrap<T extends V>(key: string, loader: () => T | Promise<T>, options?: WrapOptions): Promise<T> {
    try {
      return this.cache.wrap(this.#key(key), loader, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Removes every entry of this namespace, on every instance. */
  clear(options?: WriteOptions): Promise<void> {
    return this.cache.clearPrefix(this.prefix, options);
  }

  /** Removes every entry of this namespace whose key (without the namespace prefix) starts with `prefix`, on every instance. */
  clearPrefix(prefix: string, options?: WriteOptions): Promise<void> {
    if (typeof prefix !== 'string') return Promise.reject(new InvalidArgumentError(`a clear prefix must be a string, got ${typeof prefix}`));
    return this.cache.clearPrefix(this.prefix + prefix, options);
  }

  /** Removes every entry carrying one of `tags`, on every instance. Tags are not namespaced: this is `cache.invalidateTags`. */
  invalidateTags(tags: readonly string[], options?: WriteOptions): Promise<void> {
    return this.cache.invalidateTags(tags, options);
  }

  /** Keys of this namespace, without the prefix. */
  *keys(): IterableIterator<string> {
    for (const key of this.cache.keys()) if (key.startsWith(this.prefix)) yield key.slice(this.prefix.length);
  }

  namespace(prefix: string): NearCacheNamespace<V> {
    if (typeof prefix !== 'string' || prefix.length === 0) throw new InvalidArgumentError('a namespace prefix must be a non-empty string');
    return new NearCacheNamespace(this.cache, this.prefix + prefix);
  }

  #key(key: string): string {
    if (typeof key !== 'string') throw invalidKey(key);
    if (key.length === 0) throw new InvalidKeyError('a key must be a non-empty string, got ""');
    return this.prefix + key;
  }
}
