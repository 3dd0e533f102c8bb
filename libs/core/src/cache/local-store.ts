import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';
import type { Codec } from '../codec.js';
import { checkKey } from './input.js';
import { groupOf, KeyGroups } from './key-groups.js';
import type { RecordPosition } from './types.js';

/**
 * A value read during bootstrap for a key this instance did not hold, kept as the record's bytes
 * and decoded on its first read (option `bootstrapDecode: 'lazy'`). Where it came from is kept
 * so that a value that fails to decode is reported like any rejected record.
 */
export class Encoded {
  constructor(
    /** The value's bytes, one character per byte (latin1): one compact heap object, cheaper to keep than a Buffer. */
    readonly latin1: string,
    readonly partition: number,
    readonly offset: number,
  ) {}

  get bytes(): Buffer {
    return Buffer.from(this.latin1, 'latin1');
  }
}

export interface LocalStoreOptions<V> {
  max: number;
  /** 0 for no byte bound. */
  maxBytes: number;
  /** No entry is kept longer than this, in ms; 0 for no cap. */
  maxTtl: number;
  maxKeyBytes: number;
  codec: Codec<V>;
  clock: Clock;
  /** A stored value that came from `from` cannot be decoded. */
  undecodable(from: RecordPosition, detail: string): void;
}

/**
 * This instance's entries: an LRU bounded by entries and encoded bytes, absolute expiry capped
 * by `maxTtl`, values decoded lazily after a bootstrap, and an index of response keys by path
 * (see KeyGroups). Reads are synchronous and allocate nothing on a hit. Eviction is local only.
 */
export class LocalStore<V> {
  readonly #lru: LRUCache<string, {}>;
  readonly #groups = new KeyGroups();
  readonly #options: LocalStoreOptions<V>;
  readonly #maxKeyBytes: number;
  /** Entries stored as bytes and not decoded yet (see Encoded). */
  #encoded = 0;
  #hits = 0;
  #misses = 0;
  #evictions = 0;

  constructor(options: LocalStoreOptions<V>) {
    this.#options = options;
    this.#maxKeyBytes = options.maxKeyBytes;
    this.#lru = new LRUCache<string, {}>({
      max: options.max,
      ...(options.maxBytes > 0 ? { maxSize: options.maxBytes } : {}),
      ttlAutopurge: false,
      allowStale: false,
      updateAgeOnGet: false,
      dispose: (value, key, reason) => {
        if (reason === 'evict') this.#evictions++;
        if (reason !== 'set') this.#groups.removed(key);
        if (this.#encoded > 0 && value instanceof Encoded) this.#encoded--;
      },
    });
  }

  /** The value of `key`, or `undefined`; counts a hit or a miss. Throws `InvalidKeyError` on a miss of an invalid key. */
  get(key: string): V | undefined {
    const value: unknown = this.#lru.get(key);
    // A plain hit, kept small so that it is inlined into the facade's get.
    if (value !== undefined && this.#encoded === 0) {
      this.#hits++;
      return value as V;
    }
    return this.#getRest(key, value);
  }

  /** The rest of `get`: a miss, or a hit while some values are stored encoded. */
  #getRest(key: string, stored: unknown): V | undefined {
    let value = stored;
    // Looking into the value costs a memory access a plain hit does not need: only while some are encoded.
    if (this.#encoded > 0 && value instanceof Encoded) value = this.#decodeStored(key, value, true);
    if (value === undefined) {
      // Only valid keys are ever stored, so a hit needs no check: a miss does.
      checkKey(key, this.#maxKeyBytes);
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    return value as V;
  }

  /** Whether `key` has a live entry. Not a hit or a miss, and the entry's place in the LRU stays. */
  has(key: string): boolean {
    if (this.#encoded > 0) {
      const value = this.#lru.peek(key);
      if (value instanceof Encoded) return this.#decodeStored(key, value, false) !== undefined;
    }
    return this.#lru.has(key);
  }

  keys(): IterableIterator<string> {
    return this.#lru.keys();
  }

  /** Live entries, most recently used first. `settled`: no value will be stored encoded any more (the bootstrap is over). */
  *entries(settled: boolean): IterableIterator<[string, V]> {
    if (settled && this.#encoded === 0) {
      // Nothing is stored encoded, and nothing will be.
      for (const [key, value] of this.#lru.entries()) yield [key, value as V];
      return;
    }
    // A snapshot: dropping an undecodable value must not happen under the LRU's own iterator,
    // and the caller may change the cache between two steps.
    for (const [key, value] of [...this.#lru.entries()]) {
      if (!(value instanceof Encoded)) {
        yield [key, value as V];
        continue;
      }
      // Replaced or removed since the snapshot: its bytes are no longer the key's value.
      if (this.#lru.peek(key, { allowStale: true }) !== value) continue;
      const decoded = this.#decodeStored(key, value, false);
      if (decoded !== undefined) yield [key, decoded];
    }
  }

  /** Entries held (expired ones may count until they are read). */
  get size(): number {
    return this.#lru.size;
  }

  /** Sum of entry sizes when `maxBytes` is set, else 0. */
  get bytes(): number {
    return this.#options.maxBytes > 0 ? this.#lru.calculatedSize : 0;
  }

  get hits(): number {
    return this.#hits;
  }

  get misses(): number {
    return this.#misses;
  }

  /** Entries dropped by the LRU bound. */
  get evictions(): number {
    return this.#evictions;
  }

  /** Whether `key` has an entry, without decoding it. */
  holds(key: string): boolean {
    return this.#lru.has(key);
  }

  /** Stores `value` with what is left of its expiry (0: none); returns whether it is held (not expired, not over maxBytes). */
  store(key: string, value: {}, expiresAt: number, size: number): boolean {
    let ttl = 0;
    if (expiresAt > 0) {
      ttl = expiresAt - this.#options.clock.now();
      if (ttl <= 0) {
        this.#lru.delete(key);
        return false;
      }
    }
    const cap = this.#options.maxTtl;
    if (cap > 0 && (ttl === 0 || ttl > cap)) ttl = cap;
    this.#set(key, value, size, { ttl });
    // lru-cache does not keep an entry larger than maxSize (it removes the key's previous entry).
    return this.#options.maxBytes === 0 || size <= this.#options.maxBytes;
  }

  /** Stores a value as its record's bytes, decoded on its first read; `bytes` is copied. */
  storeEncoded(key: string, bytes: Buffer, from: RecordPosition, expiresAt: number, size: number): void {
    if (this.store(key, new Encoded(bytes.toString('latin1'), from.partition, from.offset), expiresAt, size)) this.#encoded++;
  }

  /** Removes `key`; returns whether it had an entry. */
  delete(key: string): boolean {
    return this.#lru.delete(key);
  }

  /** Removes every entry. */
  clear(): void {
    this.#lru.clear();
    this.#groups.clear();
  }

  /** Removes the entries whose key starts with `prefix`, except those `keep` says to keep. */
  removePrefix(prefix: string, keep: ((key: string) => boolean) | undefined): void {
    const doomed: string[] = [];
    // Response keys are indexed by path: a clear of a response's variants or query strings, or
    // of a path prefix, reads the index, not every key.
    const { keys, indexed } = this.#groups.candidates(prefix, () => this.#lru.keys());
    for (const key of keys) {
      if (!key.startsWith(prefix)) continue;
      if (indexed && this.#lru.peek(key, { allowStale: true }) === undefined) {
        this.#groups.removed(key);
        continue;
      }
      if (keep !== undefined && keep(key)) continue;
      doomed.push(key);
    }
    for (const key of doomed) this.#lru.delete(key);
  }

  /** The codec's value of `bytes`, or undefined after reporting the record they came from. */
  decode(bytes: Uint8Array, from: RecordPosition): V | undefined {
    let value: V;
    try {
      value = this.#options.codec.decode(bytes);
    } catch (error) {
      this.#options.undecodable(from, (error as Error).message);
      return undefined;
    }
    if (value === undefined) this.#options.undecodable(from, 'the codec decoded undefined');
    return value;
  }

  /** lru-cache takes an entry's size only when it bounds bytes (maxBytes). */
  #set(key: string, value: {}, size: number, options: { ttl?: number; noUpdateTTL?: boolean }): void {
    const group = groupOf(key);
    const loose = group === undefined && key.includes('/') && !this.#lru.has(key);
    this.#lru.set(key, value, this.#options.maxBytes > 0 ? { ...options, size } : options);
    this.#groups.added(key, group, loose);
  }

  /**
   * Decodes a value stored lazily. An undecodable one is reported and dropped. With `keep` (a
   * get, which makes the entry recently used anyway), the decoded value replaces the bytes,
   * with the same expiry and size; has() and entries() leave the entry as it is.
   */
  #decodeStored(key: string, stored: Encoded, keep: boolean): V | undefined {
    const value = this.decode(stored.bytes, stored);
    // Only while the key still holds these bytes (always, from get and has).
    if (this.#lru.peek(key, { allowStale: true }) !== stored) return value;
    if (value === undefined) {
      this.#lru.delete(key);
      return undefined;
    }
    if (keep) this.#set(key, value as {}, stored.latin1.length + key.length, { noUpdateTTL: true });
    return value;
  }
}
