/**
 * The group of `key`: its part before the first space or '?' that follows its first '/'
 * (`http:GET /products/1` for `http:GET /products/1?x=1 https://h`), or `undefined` when it has
 * none. A key starting with a prefix that has a group is in the same group.
 */
export function groupOf(key: string): string | undefined {
  const slash = key.indexOf('/');
  if (slash < 0) return undefined;
  for (let i = slash + 1; i < key.length; i++) {
    const code = key.charCodeAt(i);
    if (code === 0x20 || code === 0x3f) return key.slice(0, i);
  }
  return undefined;
}

/**
 * Keys holding a '/' then a space or '?' (response keys of the HTTP adapters: a path, then a
 * query or a host), by their part before that space or '?' (see `groupOf`), so that a clear of
 * a prefix that has a group (a response's variants, its query strings) reads that group only,
 * and a clear that matches nothing costs nothing (at start-up above all). Other keys are not
 * indexed, and other clears read every key.
 */
export class KeyGroups {
  readonly #groups = new Map<string, Set<string>>();
  /** Keys holding a '/' but no group: while there is none, a clear of a path prefix reads the groups only. */
  #looseSlashKeys = 0;

  /**
   * Notes a key just stored under `group` (its `groupOf`). `loose`: a key with a '/' but no
   * group that was not held before (counted at least once per entry: a stale entry replaced
   * counts again, so the count only errs upwards).
   */
  added(key: string, group: string | undefined, loose: boolean): void {
    if (loose) this.#looseSlashKeys++;
    if (group !== undefined) {
      let keys = this.#groups.get(group);
      if (keys === undefined) this.#groups.set(group, (keys = new Set()));
      keys.add(key);
    }
  }

  /** Forgets a key that left the store (deleted, evicted, expired). */
  removed(key: string): void {
    const group = groupOf(key);
    if (group === undefined) {
      if (this.#looseSlashKeys > 0 && key.includes('/')) this.#looseSlashKeys--;
      return;
    }
    const keys = this.#groups.get(group);
    if (keys !== undefined && keys.delete(key) && keys.size === 0) this.#groups.delete(group);
  }

  clear(): void {
    this.#groups.clear();
    this.#looseSlashKeys = 0;
  }

  /**
   * The keys a clear of `prefix` must look at, and whether they come from the index: the keys
   * of one group (a prefix with a group); the keys of the groups a path prefix covers, while
   * every key holding a '/' is in a group (`http:GET /products/`); else `every()` key.
   */
  candidates(prefix: string, every: () => Iterable<string>): { keys: Iterable<string>; indexed: boolean } {
    const group = groupOf(prefix);
    if (group !== undefined) return { keys: [...(this.#groups.get(group) ?? [])], indexed: true };
    if (this.#looseSlashKeys === 0 && prefix.includes('/')) {
      const keys: string[] = [];
      for (const [name, held] of this.#groups) if (name.startsWith(prefix) || prefix.startsWith(name)) for (const key of held) keys.push(key);
      return { keys, indexed: true };
    }
    return { keys: every(), indexed: false };
  }
}
