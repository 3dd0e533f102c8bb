const NONE: readonly string[] = Object.freeze([]);

/**
 * Which entries carry which tag, for tagged entries only: tag -> keys and key -> tags. An
 * invalidation of a tag reads the keys that carry it and no other; an entry without tags is
 * never in it. Its size follows the tagged entries held (at most `MAX_TAGS` per entry): the
 * local store removes a key from it whenever the entry goes (set without tags, delete,
 * eviction, expiry, clear).
 */
export class TagIndex {
  readonly #keysByTag = new Map<string, Set<string>>();
  readonly #tagsByKey = new Map<string, readonly string[]>();

  /** Tagged keys. */
  get size(): number {
    return this.#tagsByKey.size;
  }

  /** `key` now carries `tags` (and no other). */
  set(key: string, tags: readonly string[]): void {
    const previous = this.#tagsByKey.get(key);
    if (previous !== undefined) this.#unlink(key, previous);
    this.#tagsByKey.set(key, tags);
    for (const tag of tags) {
      let keys = this.#keysByTag.get(tag);
      if (keys === undefined) this.#keysByTag.set(tag, (keys = new Set()));
      keys.add(key);
    }
  }

  /** `key` carries no tag any more. */
  remove(key: string): void {
    const tags = this.#tagsByKey.get(key);
    if (tags === undefined) return;
    this.#tagsByKey.delete(key);
    this.#unlink(key, tags);
  }

  /** The tags `key` carries, or undefined. */
  tagsOf(key: string): readonly string[] | undefined {
    return this.#tagsByKey.get(key);
  }

  /** The keys carrying `tag`: a copy, which the caller may change the index under. */
  keysOf(tag: string): readonly string[] {
    const keys = this.#keysByTag.get(tag);
    return keys === undefined ? NONE : [...keys];
  }

  clear(): void {
    this.#keysByTag.clear();
    this.#tagsByKey.clear();
  }

  #unlink(key: string, tags: readonly string[]): void {
    for (const tag of tags) {
      const keys = this.#keysByTag.get(tag);
      if (keys === undefined) continue;
      keys.delete(key);
      if (keys.size === 0) this.#keysByTag.delete(tag);
    }
  }
}
