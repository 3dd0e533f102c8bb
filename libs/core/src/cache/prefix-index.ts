/** Keys per block: a block is split in two beyond this, so an insert moves at most this many references. */
const MAX_BLOCK = 512;
/** A block this small is merged into its neighbour when they fit in half a full block together. */
const MIN_BLOCK = MAX_BLOCK / 8;
const NONE: readonly string[] = Object.freeze([]);

/**
 * Keys in order (UTF-16 code units, the order `<` and `Array.prototype.sort` use), so that the
 * keys starting with any prefix are one run, found by binary search: a clear of a prefix reads
 * the keys it removes and no other. Sorted blocks of at most `MAX_BLOCK` keys (a flat B-tree
 * of one level): adding or removing a key costs two binary searches and moving at most one
 * block's references, whatever the number of keys.
 */
export class PrefixIndex {
  #blocks: string[][] = [];
  #size = 0;

  /** An index of `keys` (distinct), sorted once. */
  static of(keys: Iterable<string>): PrefixIndex {
    const index = new PrefixIndex();
    const sorted = [...keys].sort();
    const half = MAX_BLOCK / 2;
    for (let i = 0; i < sorted.length; i += half) index.#blocks.push(sorted.slice(i, i + half));
    index.#size = sorted.length;
    return index;
  }

  get size(): number {
    return this.#size;
  }

  /** Adds `key`; returns false when it was there already. */
  add(key: string): boolean {
    const blocks = this.#blocks;
    if (blocks.length === 0) {
      blocks.push([key]);
      this.#size++;
      return true;
    }
    const b = this.#blockOf(key);
    const block = blocks[b]!;
    const i = lowerBound(block, key);
    if (block[i] === key) return false;
    block.splice(i, 0, key);
    this.#size++;
    if (block.length > MAX_BLOCK) blocks.splice(b + 1, 0, block.splice(MAX_BLOCK / 2));
    return true;
  }

  /** Removes `key`; returns false when it was not there. */
  remove(key: string): boolean {
    const blocks = this.#blocks;
    if (blocks.length === 0) return false;
    const b = this.#blockOf(key);
    const block = blocks[b]!;
    const i = lowerBound(block, key);
    if (block[i] !== key) return false;
    block.splice(i, 1);
    this.#size--;
    if (block.length === 0) blocks.splice(b, 1);
    else if (block.length < MIN_BLOCK && b + 1 < blocks.length && block.length + blocks[b + 1]!.length <= MAX_BLOCK / 2) {
      blocks[b] = block.concat(blocks[b + 1]!);
      blocks.splice(b + 1, 1);
    }
    return true;
  }

  clear(): void {
    this.#blocks = [];
    this.#size = 0;
  }

  /** The keys starting with `prefix`, in order: a copy, which the caller may change the index under. */
  keysUnder(prefix: string): readonly string[] {
    const blocks = this.#blocks;
    if (blocks.length === 0) return NONE;
    let b = this.#blockOf(prefix);
    let i = lowerBound(blocks[b]!, prefix);
    let keys: string[] | undefined;
    for (; b < blocks.length; b++, i = 0) {
      const block = blocks[b]!;
      for (; i < block.length; i++) {
        const key = block[i]!;
        if (!key.startsWith(prefix)) return keys ?? NONE;
        (keys ??= []).push(key);
      }
    }
    return keys ?? NONE;
  }

  /** The first block whose last key is at or after `key`; the last block when none is. */
  #blockOf(key: string): number {
    const blocks = this.#blocks;
    let lo = 0;
    let hi = blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const block = blocks[mid]!;
      if (block[block.length - 1]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** The first place in `block` whose key is at or after `key`. */
function lowerBound(block: readonly string[], key: string): number {
  let lo = 0;
  let hi = block.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (block[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
