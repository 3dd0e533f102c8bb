import { EventEmitter } from 'node:events';
import type { NearCache } from './cache.js';

/**
 * A Keyv storage adapter over a `NearCache`, so that Keyv and everything built on it
 * (cache-manager, @nestjs/cache-manager) read and write the replicated cache:
 *
 * ```ts
 * const keyv = new Keyv({ store: new NearCacheKeyvStore(cache) });
 * ```
 *
 * It implements the shape Keyv 5 expects of a store (get, set, delete, clear, has, getMany,
 * setMany, deleteMany, hasMany, disconnect) without depending on Keyv. Reads are local and
 * synchronous underneath; writes apply here at once and replicate to every instance.
 *
 * - Keyv prefixes keys with its namespace (`keyv:` by default); `clear()` removes the keys of
 *   the current namespace only (a replicated `clearPrefix`), or every key without a namespace.
 * - Keyv's TTL is passed to the cache (rounded up to a whole ms); without one, the cache's `ttl`
 *   option applies. Keyv also checks the expiry it stores with the value.
 * - `disconnect()` leaves the cache open unless `closeOnDisconnect` is set: the cache usually
 *   belongs to the application, not to Keyv.
 * - Keyv only iterates stores of the SQL, Mongo, Redis... families; `iterator()` is here for
 *   direct use.
 */
export class NearCacheKeyvStore extends EventEmitter {
  /** Keyv reads its adapter's options from `opts`. */
  readonly opts: { dialect: 'nearcache'; url: string; closeOnDisconnect: boolean; durable: boolean };
  /** Set by Keyv to its namespace. */
  namespace?: string | undefined;
  readonly cache: NearCache<any>;

  constructor(cache: NearCache<any>, options: NearCacheKeyvStoreOptions = {}) {
    super();
    if (typeof cache !== 'object' || cache === null || typeof cache.get !== 'function' || typeof cache.set !== 'function') {
      throw new TypeError('NearCacheKeyvStore needs a NearCache (from createNearCache)');
    }
    this.cache = cache;
    this.opts = { dialect: 'nearcache', url: '', closeOnDisconnect: options.closeOnDisconnect === true, durable: options.durable === true };
  }

  async get<Value>(key: string): Promise<Value | undefined> {
    return this.cache.get(key) as Value | undefined;
  }

  async getMany<Value>(keys: string[]): Promise<Array<Value | undefined>> {
    return keys.map((key) => this.cache.get(key) as Value | undefined);
  }

  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    await this.cache.set(key, value, this.#setOptions(ttl));
    return true;
  }

  async setMany(entries: Array<{ key: string; value: unknown; ttl?: number }>): Promise<boolean[]> {
    await Promise.all(entries.map((entry) => this.cache.set(entry.key, entry.value, this.#setOptions(entry.ttl))));
    return entries.map(() => true);
  }

  /** Removes `key` on every instance; resolves to whether it was present here. */
  async delete(key: string): Promise<boolean> {
    const present = this.cache.has(key);
    await this.cache.delete(key, { durable: this.opts.durable });
    return present;
  }

  /** Removes `keys` on every instance; resolves to whether all of them were present here. */
  async deleteMany(keys: string[]): Promise<boolean> {
    const present = keys.map((key) => this.cache.has(key));
    await Promise.all(keys.map((key) => this.cache.delete(key, { durable: this.opts.durable })));
    return present.length > 0 && present.every(Boolean);
  }

  /** Removes the keys of the current namespace (every key when there is none), on every instance. */
  async clear(): Promise<void> {
    if (this.namespace) await this.cache.clearPrefix(`${this.namespace}:`, { durable: this.opts.durable });
    else await this.cache.clear({ durable: this.opts.durable });
  }

  async has(key: string): Promise<boolean> {
    return this.cache.has(key);
  }

  async hasMany(keys: string[]): Promise<boolean[]> {
    return keys.map((key) => this.cache.has(key));
  }

  /** The entries of `namespace` (all entries without one) held here, as `[key, value]`. */
  async *iterator<Value>(namespace?: string): AsyncGenerator<[string, Value], void> {
    const prefix = namespace ? `${namespace}:` : '';
    for (const [key, value] of this.cache.entries()) {
      if (key.startsWith(prefix)) yield [key, value as Value];
    }
  }

  /** Closes the cache when `closeOnDisconnect` is set; otherwise does nothing. */
  async disconnect(): Promise<void> {
    if (this.opts.closeOnDisconnect) await this.cache.close();
  }

  #setOptions(ttl: number | undefined): { ttl?: number; durable: boolean } {
    if (typeof ttl === 'number' && Number.isFinite(ttl) && ttl > 0) return { ttl: Math.ceil(ttl), durable: this.opts.durable };
    return { durable: this.opts.durable };
  }
}

/** Options of `NearCacheKeyvStore`. */
export interface NearCacheKeyvStoreOptions {
  /** Close the cache when Keyv's `disconnect()` is called. Default false. */
  closeOnDisconnect?: boolean;
  /** Resolve writes only once the log acknowledged them (see `SetOptions.durable`). Default false. */
  durable?: boolean;
}
