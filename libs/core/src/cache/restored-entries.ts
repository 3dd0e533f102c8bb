/**
 * The hash of a key kept in snapshot files (FNV-1a over its UTF-16 code units, then MurmurHash3's
 * finaliser, so that the low bits, which pick a slot, depend on every character): the writer
 * stores it beside each key, so that a start can index the entries without reading their keys.
 */
export function keyHash(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) >>> 0;
}

/** The index of a snapshot's entries (typed arrays, one element per entry, and the hash table; see snapshot/entry-index.ts). */
export interface RestoredIndex {
  keyStart: Float64Array;
  expiresAt: Float64Array;
  hash: Uint32Array;
  keyLength: Uint32Array;
  valueLength: Uint32Array;
  table: Int32Array;
  gone: Uint8Array;
  live: number;
}

/**
 * Entries restored from a snapshot and not moved into the LRU yet (docs/snapshots.md, "Loading"):
 * the checked file stays in memory as it was read, and its index (an open-addressing table from
 * key hashes to entries and a few numbers per entry) is used where it lies. No key, value or
 * object is made per entry until the entry is read, replaced, removed or moved by the
 * background settling. Entries
 * are numbered in the file's order, least recently used first.
 */
export class RestoredEntries {
  readonly #file: Buffer;
  /** Per entry: where its key starts in the file, its key's UTF-8 length, its value's length, its hash, its absolute expiry (0: none). */
  readonly #keyStart: Float64Array;
  readonly #keyLength: Uint32Array;
  readonly #valueLength: Uint32Array;
  readonly #hash: Uint32Array;
  readonly #expiresAt: Float64Array;
  /** 1 for an entry that is not held (not plain, expired at the load, or read, replaced, removed, evicted since). */
  readonly #gone: Uint8Array;
  /** Entry number + 1 per slot; 0: free. */
  readonly #table: Int32Array;
  readonly #mask: number;
  readonly #count: number;
  #live: number;
  /** Entries before it are all gone: where the oldest live entry is looked for. */
  #oldest = 0;

  /** The entries of `file` as its index describes them (see snapshot/entry-index.ts); `gone` is owned from now on. */
  constructor(file: Buffer, index: RestoredIndex) {
    this.#file = file;
    this.#keyStart = index.keyStart;
    this.#keyLength = index.keyLength;
    this.#valueLength = index.valueLength;
    this.#hash = index.hash;
    this.#expiresAt = index.expiresAt;
    this.#gone = index.gone;
    this.#table = index.table;
    this.#mask = index.table.length - 1;
    this.#count = index.keyStart.length;
    this.#live = index.live;
  }

  /** Entries held. */
  get live(): number {
    return this.#live;
  }

  /** The entry of `key`, or -1. */
  find(key: string): number {
    if (this.#live === 0) return -1;
    const hash = keyHash(key);
    let slot = hash & this.#mask;
    for (;;) {
      const entry = this.#table[slot]! - 1;
      if (entry < 0) return -1;
      if (this.#hash[entry] === hash && this.#gone[entry] === 0 && this.#keyIs(entry, key)) return entry;
      slot = (slot + 1) & this.#mask;
    }
  }

  /** Takes `entry` out (it was read, replaced, removed or evicted). */
  take(entry: number): void {
    if (this.#gone[entry] !== 0) return;
    this.#gone[entry] = 1;
    this.#live--;
  }

  /** The oldest entry still held (least recently used), or -1. */
  oldest(): number {
    while (this.#oldest < this.#count && this.#gone[this.#oldest] !== 0) this.#oldest++;
    return this.#oldest < this.#count ? this.#oldest : -1;
  }

  key(entry: number): string {
    const start = this.#keyStart[entry]!;
    return this.#file.toString('utf8', start, start + this.#keyLength[entry]!);
  }

  /** The value's bytes, one character per byte (as lazily decoded values are kept). */
  latin1(entry: number): string {
    const start = this.#keyStart[entry]! + this.#keyLength[entry]! + 4;
    return this.#file.toString('latin1', start, start + this.#valueLength[entry]!);
  }

  valueLength(entry: number): number {
    return this.#valueLength[entry]!;
  }

  expiresAt(entry: number): number {
    return this.#expiresAt[entry]!;
  }

  /** Whether the key of `entry` is `key`: compared byte by byte while `key` is ASCII, decoded otherwise. */
  #keyIs(entry: number, key: string): boolean {
    const file = this.#file;
    const start = this.#keyStart[entry]!;
    const length = this.#keyLength[entry]!;
    for (let i = 0; i < key.length; i++) {
      const code = key.charCodeAt(i);
      if (code >= 0x80) return file.toString('utf8', start, start + length) === key;
      if (i >= length || file[start + i] !== code) return false;
    }
    return length === key.length;
  }
}
