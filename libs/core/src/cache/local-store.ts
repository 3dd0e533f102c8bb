// Over 400 lines: the LRU with its sizing, expiry, grace periods and lazily decoded values is
// one structure; the count of entries a hit must look into, the prefix and tag indexes and the
// entries restored from a snapshot not moved into the LRU yet change with every store and
// removal, so they live beside it.
import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';
import type { Codec } from '../codec.js';
import { asBuffer } from '../record.js';
import { checkKey } from './input.js';
import { PrefixIndex } from './prefix-index.js';
import type { RestoredEntries } from './restored-entries.js';
import { TagIndex } from './tag-index.js';
import type { RecordPosition } from './types.js';

/** Index changes a cache of any size may make between two prefix clears before the index goes (see `#index`). */
const INDEX_SLACK = 1024;
/** Where a value restored from a snapshot comes from, for the report of one that fails to decode. */
const SNAPSHOT: RecordPosition = { partition: -1, offset: -1 };

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

/**
 * A value stored with a grace period (docs/consistency.md, section 14): kept until `graceEnd`,
 * a miss for `get` once `expiresAt` passed, a fallback for `wrap` until `graceEnd`. Only entries
 * with a grace period are wrapped so.
 */
export class Graced {
  constructor(
    readonly value: unknown,
    readonly expiresAt: number,
    readonly graceEnd: number,
  ) {}
}

/** An entry as `stored()` tells it: its value, or the bytes kept for it not decoded yet. */
export interface StoredEntry {
  key: string;
  value: unknown;
  latin1: string | undefined;
  expiresAt: number;
  graceEnd: number;
  tags: readonly string[] | undefined;
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
 * by `maxTtl`, values decoded lazily after a bootstrap, and, once a prefix is cleared, an index of
 * the keys in order (see PrefixIndex). Reads are synchronous and allocate nothing on a hit.
 * Eviction is local only.
 */
export class LocalStore<V> {
  readonly #lru: LRUCache<string, {}>;
  /**
   * The keys in order, so that a clear of a prefix reads the keys it removes and no other. The
   * first clear of a non-empty prefix reads every key (as one pass, cheaper than a sort); the
   * second builds the index (one sort of the keys held then), kept up to date after that. When
   * keeping it costs more than building it again (`#indexUpdates`), it goes, and the same two
   * steps bring it back. A cache that never clears a prefix never pays for it.
   */
  #index: PrefixIndex | undefined;
  /** Entries removed (not replaced) while the index is kept: tells `#set` whether the key was new. */
  #removed = 0;
  /** Keys added to or removed from the index since the last prefix clear. */
  #indexUpdates = 0;
  /** Whether a prefix clear read every key since the index was last dropped (or ever). */
  #scanned = false;
  /** Whether some entry was stored with an expiry (else no entry can be expired). */
  #expiring = false;
  readonly #options: LocalStoreOptions<V>;
  readonly #maxKeyBytes: number;
  /** Entries stored as bytes not decoded yet (Encoded) or with a grace period (Graced): while there are none, a hit needs no look into the value. */
  #special = 0;
  /** Tag -> keys of the tagged entries, made at the first tagged entry (see TagIndex). */
  #tags: TagIndex | undefined;
  /** Entries restored from a snapshot and not moved into the LRU yet (see `restore`); they count as held, least recently used. */
  #restored: RestoredEntries | undefined;
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
        if (reason !== 'set' && this.#index !== undefined) {
          this.#removed++;
          this.#indexUpdates++;
          this.#index.remove(key);
        }
        if (this.#special > 0 && (value instanceof Encoded || value instanceof Graced)) this.#special--;
        if (reason !== 'set' && this.#tags !== undefined) this.#tags.remove(key);
      },
    });
  }

  /** The value of `key`, or `undefined`; counts a hit or a miss. Throws `InvalidKeyError` on a miss of an invalid key. */
  get(key: string): V | undefined {
    const value: unknown = this.#lru.get(key);
    // A plain hit, kept small so that it is inlined into the facade's get.
    if (value !== undefined && this.#special === 0) {
      this.#hits++;
      return value as V;
    }
    return this.#getRest(key, value);
  }

  /** The rest of `get`: a miss, or a hit while some values are stored encoded. */
  #getRest(key: string, stored: unknown): V | undefined {
    let value = stored;
    if (value === undefined && this.#restored !== undefined && this.#pull(key)) value = this.#lru.get(key);
    // Looking into the value costs a memory access a plain hit does not need: only while some are encoded or graced.
    if (this.#special > 0) {
      if (value instanceof Encoded) value = this.#decodeStored(key, value, true);
      // Expired, kept for its grace period: a miss here, a fallback for wrap.
      else if (value instanceof Graced) value = value.expiresAt > this.#options.clock.now() ? value.value : undefined;
    }
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
    if (this.#restored !== undefined) this.#pull(key);
    if (this.#special > 0) {
      const value = this.#lru.peek(key);
      if (value instanceof Encoded) return this.#decodeStored(key, value, false) !== undefined;
      if (value instanceof Graced) return value.expiresAt > this.#options.clock.now();
    }
    return this.#lru.has(key);
  }

  /** The live value of `key`, or `undefined`, as `get` reads it; not a hit or a miss. */
  peek(key: string): V | undefined {
    if (this.#restored !== undefined) this.#pull(key);
    let value: unknown = this.#lru.get(key);
    if (value instanceof Encoded) value = this.#decodeStored(key, value, true);
    else if (value instanceof Graced) value = value.expiresAt > this.#options.clock.now() ? value.value : undefined;
    return value as V | undefined;
  }

  keys(): IterableIterator<string> {
    this.#settleAll();
    return this.#special === 0 ? this.#lru.keys() : this.#liveKeys();
  }

  /** Keys, without those of entries kept past their expiry for a grace period. */
  *#liveKeys(): IterableIterator<string> {
    const now = this.#options.clock.now();
    for (const [key, value] of this.#lru.entries()) if (!(value instanceof Graced) || value.expiresAt > now) yield key;
  }

  /** Live entries, most recently used first. `settled`: no value will be stored encoded any more (the bootstrap is over). */
  *entries(settled: boolean): IterableIterator<[string, V]> {
    this.#settleAll();
    if (settled && this.#special === 0) {
      // Nothing is stored encoded, and nothing will be.
      for (const [key, value] of this.#lru.entries()) yield [key, value as V];
      return;
    }
    // A snapshot: dropping an undecodable value must not happen under the LRU's own iterator,
    // and the caller may change the cache between two steps.
    const now = this.#options.clock.now();
    for (const [key, value] of [...this.#lru.entries()]) {
      if (value instanceof Graced) {
        if (value.expiresAt > now) yield [key, value.value as V];
        continue;
      }
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

  /**
   * Every live entry as kept, least recently used first, for a snapshot: the decoded value or
   * the bytes kept for it (latin1), its absolute expiry and grace end (0: none) and its tags.
   */
  *stored(): IterableIterator<StoredEntry> {
    this.#settleAll();
    const now = this.#options.clock.now();
    for (const key of this.#lru.rkeys()) {
      const value: unknown = this.#lru.peek(key);
      if (value === undefined) continue;
      const tags = this.#tags?.tagsOf(key);
      if (value instanceof Graced) {
        yield { key, value: value.value, latin1: undefined, expiresAt: value.expiresAt, graceEnd: value.graceEnd, tags };
        continue;
      }
      const left = this.#lru.getRemainingTTL(key);
      const expiresAt = Number.isFinite(left) ? now + Math.max(1, Math.round(left)) : 0;
      if (value instanceof Encoded) yield { key, value: undefined, latin1: value.latin1, expiresAt, graceEnd: 0, tags };
      else yield { key, value, latin1: undefined, expiresAt, graceEnd: 0, tags };
    }
  }

  /** Entries held (expired ones may count until they are read). */
  get size(): number {
    return this.#lru.size + (this.#restored?.live ?? 0);
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

  /** A read that may not answer from here (its `after` or `maxStaleness` does not hold): checks the key, counts a miss. */
  missed(key: string): void {
    checkKey(key, this.#maxKeyBytes);
    this.#misses++;
  }

  /** Entries dropped by the LRU bound. */
  get evictions(): number {
    return this.#evictions;
  }

  /** Whether `key` has an entry, without decoding it. */
  holds(key: string): boolean {
    if (this.#restored !== undefined) this.#pull(key);
    return this.#lru.has(key);
  }

  /**
   * Stores `value` with what is left of its expiry (0: none), or, with a grace period
   * (`graceEnd` after `expiresAt`), of its grace, and its `tags` (undefined: none); returns
   * whether it is held (not past its expiry and grace, not over maxBytes).
   */
  store(key: string, value: {}, expiresAt: number, size: number, graceEnd = 0, tags?: readonly string[]): boolean {
    if (this.#restored !== undefined) this.#forget(key);
    let ttl = 0;
    const graced = expiresAt > 0 && graceEnd > expiresAt;
    const keepUntil = graced ? graceEnd : expiresAt;
    if (keepUntil > 0) {
      ttl = keepUntil - this.#options.clock.now();
      if (ttl <= 0) {
        this.#lru.delete(key);
        return false;
      }
    }
    if (graced) {
      // Counted once the entry is in: the key's previous entry is disposed of first.
      this.#setGraced(key, new Graced(value, expiresAt, graceEnd), size, ttl);
    } else {
      const cap = this.#options.maxTtl;
      if (cap > 0 && (ttl === 0 || ttl > cap)) ttl = cap;
      if (ttl > 0) this.#expiring = true;
      this.#set(key, value, size, { ttl });
    }
    // lru-cache does not keep an entry larger than maxSize (it removes the key's previous entry).
    const held = this.#options.maxBytes === 0 || size <= this.#options.maxBytes;
    // An untagged entry costs one test here while no entry was ever tagged.
    if (tags !== undefined && held) (this.#tags ??= new TagIndex()).set(key, tags);
    else if (this.#tags !== undefined && this.#tags.size > 0) this.#tags.remove(key);
    if (this.#restored !== undefined) this.#bound();
    return held;
  }

  #setGraced(key: string, graced: Graced, size: number, ttl: number): void {
    const cap = this.#options.maxTtl;
    if (cap > 0 && ttl > cap) ttl = cap;
    this.#expiring = true;
    this.#set(key, graced, size, { ttl });
    if (this.#lru.peek(key) === graced) this.#special++;
  }

  /**
   * The entry of `key` when it expired and is still in its grace period (what `wrap` may serve
   * when its loader fails or times out), else undefined. Not a hit or a miss; the entry's place stays.
   */
  stale(key: string): Graced | undefined {
    if (this.#special === 0) return undefined;
    const value = this.#lru.peek(key);
    if (!(value instanceof Graced)) return undefined;
    const now = this.#options.clock.now();
    return value.expiresAt <= now && value.graceEnd > now ? value : undefined;
  }

  /** How long the entry of `key` stays fresh, in ms: Infinity without expiry, 0 when there is none (or it expired). */
  freshFor(key: string): number {
    if (this.#restored !== undefined) this.#pull(key);
    const value = this.#special === 0 ? undefined : this.#lru.peek(key);
    if (value instanceof Graced) return Math.max(0, value.expiresAt - this.#options.clock.now());
    return this.#lru.getRemainingTTL(key);
  }

  /** Stores a value as its record's bytes from `start` (or those bytes as a latin1 string), decoded on its first read; the bytes are copied. */
  storeEncoded(key: string, bytes: Uint8Array | string, start: number, from: RecordPosition, expiresAt: number, size: number, tags?: readonly string[]): void {
    const latin1 = typeof bytes === 'string' ? bytes : asBuffer(bytes).toString('latin1', start);
    if (this.store(key, new Encoded(latin1, from.partition, from.offset), expiresAt, size, 0, tags)) this.#special++;
  }

  /**
   * Removes the entries carrying `tag`, except those `keep` says to keep; tells `removed` each key that had an entry.
   * Reads the keys carrying it and no other (see TagIndex).
   */
  removeTagged(tag: string, keep: ((key: string) => boolean) | undefined, removed: (key: string) => void): void {
    const index = this.#tags;
    if (index === undefined) return;
    for (const key of index.keysOf(tag)) {
      if (keep !== undefined && keep(key)) continue;
      // Deleting the entry takes its key out of the index (the LRU's dispose).
      if (this.#lru.delete(key)) removed(key);
      else index.remove(key);
    }
  }

  /** Removes `key`; returns whether it had an entry. */
  delete(key: string): boolean {
    const restored = this.#restored !== undefined && this.#forget(key);
    return this.#lru.delete(key) || restored;
  }

  /** Removes every entry. */
  clear(): void {
    // Emptied first: removing each key from it as the LRU disposes of it would cost a search each.
    this.#index?.clear();
    this.#tags?.clear();
    this.#restored = undefined;
    this.#lru.clear();
  }

  /**
   * Removes the entries whose key starts with `prefix`, except those `keep` says to keep. Reads
   * the keys under `prefix` only (see `#index`), except for the empty prefix, which is every key.
   * `catchingUp`: the clear is read during the bootstrap, where clears come in a row and nothing
   * waits on one: the index is built at once, without a pass over the keys first.
   */
  removePrefix(prefix: string, keep: ((key: string) => boolean) | undefined, catchingUp = false): void {
    this.#settleAll();
    let keys: readonly string[];
    if (prefix === '') {
      keys = [...this.#lru.keys()];
    } else if (this.#index !== undefined) {
      keys = this.#index.keysUnder(prefix);
    } else if (!this.#scanned && !catchingUp) {
      this.#scanned = true;
      const under: string[] = [];
      for (const key of this.#lru.keys()) if (key.startsWith(prefix)) under.push(key);
      keys = under;
    } else {
      keys = this.#buildIndex().keysUnder(prefix);
    }
    for (const key of keys) {
      if (keep !== undefined && keep(key)) continue;
      if (!this.#lru.delete(key)) this.#index?.remove(key);
    }
    // What a clear removes is its own cost, not the index's upkeep.
    if (prefix !== '') this.#indexUpdates = 0;
  }

  /**
   * Builds the index of the keys held. Expired entries go first: the LRU does not list them,
   * yet holds them until they are read, and a set replacing one would not add its key.
   */
  #buildIndex(): PrefixIndex {
    if (this.#expiring) this.#lru.purgeStale();
    this.#indexUpdates = 0;
    this.#scanned = false;
    return (this.#index = PrefixIndex.of(this.#lru.keys()));
  }

  /**
   * Whether `count` entries restored from a snapshot may stay outside the LRU until read (see
   * `restore`): nothing is held yet, no byte bound (sizes would have to be summed), and they fit.
   */
  canRestore(count: number): boolean {
    return this.#lru.size === 0 && this.#restored === undefined && this.#options.maxBytes === 0 && count <= this.#options.max;
  }

  /**
   * Holds `entries` (of a snapshot, untagged, without grace period, not expired when restored)
   * as the least recently used entries, outside the LRU: an entry moves into it, as bytes
   * decoded on first read, when it is read; it leaves when replaced, removed or evicted (the
   * oldest go first when the LRU and they together pass `max`); `settle` moves them in the
   * background. Listing the entries moves them all first.
   */
  restore(entries: RestoredEntries): void {
    if (entries.live > 0) this.#restored = entries;
  }

  /** Moves up to `limit` restored entries into the LRU, oldest first; returns whether some remain. */
  settle(limit: number): boolean {
    const restored = this.#restored;
    if (restored === undefined) return false;
    for (let i = 0; i < limit; i++) {
      const entry = restored.oldest();
      if (entry < 0) break;
      this.#move(restored.key(entry), restored, entry);
    }
    if (restored.live > 0) return true;
    if (this.#restored === restored) this.#restored = undefined;
    return false;
  }

  #settleAll(): void {
    if (this.#restored !== undefined) this.settle(Infinity);
  }

  /** Moves the restored entry of `key`, if any, into the LRU; returns whether one was moved. */
  #pull(key: string): boolean {
    const restored = this.#restored!;
    const entry = restored.find(key);
    if (entry < 0) return false;
    this.#move(key, restored, entry);
    return true;
  }

  #move(key: string, restored: RestoredEntries, entry: number): void {
    restored.take(entry);
    const expiresAt = restored.expiresAt(entry);
    // Stored as any entry: the key has no other restored entry, and the count held stays the same.
    this.#restored = undefined;
    if (expiresAt === 0 || expiresAt > this.#options.clock.now())
      this.storeEncoded(key, restored.latin1(entry), 0, SNAPSHOT, expiresAt, restored.valueLength(entry) + key.length);
    if (restored.live > 0) this.#restored = restored;
  }

  /** Drops the restored entry of `key`, if any (replaced or removed); returns whether there was one. */
  #forget(key: string): boolean {
    const restored = this.#restored!;
    const entry = restored.find(key);
    if (entry < 0) return false;
    restored.take(entry);
    if (restored.live === 0) this.#restored = undefined;
    return true;
  }

  /** Evicts the oldest restored entries while they and the LRU together pass `max`. */
  #bound(): void {
    const restored = this.#restored!;
    while (this.#lru.size + restored.live > this.#options.max) {
      const entry = restored.oldest();
      if (entry < 0) break;
      restored.take(entry);
      this.#evictions++;
    }
    if (restored.live === 0 && this.#restored === restored) this.#restored = undefined;
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
    const lruOptions = this.#options.maxBytes > 0 ? { ...options, size } : options;
    const index = this.#index;
    if (index === undefined) {
      this.#lru.set(key, value, lruOptions);
      return;
    }
    // Whether the key is new, without a lookup: one more entry, counting those it evicted; one
    // fewer when a value over maxBytes took the key's previous entry away (disposed as a 'set').
    const held = this.#lru.size;
    const removed = this.#removed;
    this.#lru.set(key, value, lruOptions);
    const change = this.#lru.size - held + (this.#removed - removed);
    if (change === 0) return;
    if (change > 0) index.add(key);
    else index.remove(key);
    // Past this many changes since the last prefix clear, keeping the index has cost about what
    // sorting the keys again would: it goes until clears come often enough again.
    if (++this.#indexUpdates > (this.#lru.size >> 1) + INDEX_SLACK) this.#index = undefined;
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
