import { PrefixIndex } from '../cache/prefix-index.js';
import { InvalidArgumentError } from '../errors.js';

/**
 * Per-path budgets of the HTTP caches: a client requesting one route with endless distinct
 * query strings (cache busting) must not fill every instance's cache with one path's entries.
 * A path's entries are those whose key starts with `<prefix>GET <path>` followed by `?` or a
 * space: every query string, every host, every `Vary` variant. A response is not stored when
 * its path already holds `maxEntries` entries, or when storing it would take the path's entries
 * above `maxBytes` bytes (admission, not eviction: the entries already held, the hot ones among
 * them, stay). Every instance replicates every entry, so what a writer sees is what every
 * instance holds, give or take the replication lag.
 *
 * Bytes are counted the way the cache counts an entry (`httpEntryBytes`: its key and its encoded
 * value). The index knows the size of the entries stored through an adapter of this process;
 * an entry that came from another instance counts as the response being admitted (the responses
 * of one path are alike in size), until this process stores it again.
 */

/** The path group of a response key: the key up to the first `?` or space after `GET `, or `undefined` for another key. */
export function httpPathGroup(key: string): string | undefined {
  const at = key.indexOf('GET /');
  if (at < 0) return undefined;
  for (let i = at + 5; i < key.length; i++) {
    const code = key.charCodeAt(i);
    if (code === 0x3f || code === 0x20) return key.slice(0, i);
  }
  return key;
}

/** What the index needs of a cache: its keys, membership, and its change events. */
export interface HttpIndexedCache {
  keys(): Iterable<string>;
  has(key: string): boolean;
  on(event: 'change', listener: (change: { op: 'set' | 'delete' | 'clear'; key: string }) => void): unknown;
}

/**
 * The keys of a cache's response entries by path group, kept from the cache's `change` events
 * (local and remote writes, deletes, clears). Entries the cache evicted or let expire locally
 * raise no event: they are pruned when a group reaches its budget. One index per cache, built
 * on first use with one pass over the keys.
 */
export class HttpPathIndex {
  /** Each path group's keys, with their size in bytes (`UNKNOWN` for an entry from the log). */
  readonly #groups = new Map<string, Map<string, number>>();
  /** The groups' names in order: a prefix that covers whole groups reads those groups only. */
  readonly #names = new PrefixIndex();

  private constructor(private readonly cache: HttpIndexedCache) {
    for (const key of cache.keys()) this.#add(key);
    cache.on('change', (change) => {
      if (change.op === 'set') this.#add(change.key);
      else if (change.op === 'delete') this.#remove(change.key);
      else this.#clear(change.key);
    });
  }

  static #indexes = new WeakMap<object, HttpPathIndex>();

  /** The index of `cache`, built on first use. */
  static of(cache: HttpIndexedCache): HttpPathIndex {
    let index = HttpPathIndex.#indexes.get(cache);
    if (index === undefined) {
      index = new HttpPathIndex(cache);
      HttpPathIndex.#indexes.set(cache, index);
    }
    return index;
  }

  /** Entries of the group of `key` the index knows (some may have been evicted since). */
  count(key: string): number {
    const group = httpPathGroup(key);
    return group === undefined ? 0 : (this.#groups.get(group)?.size ?? 0);
  }

  /**
   * Whether the entries under `keys` (a response and, for a `Vary` response, its index) may be
   * stored within `maxEntries` for their path (`0`: no entry budget): yes when each is already
   * held (a replacement) or the path holds fewer than `maxEntries` entries once evicted and
   * expired ones are pruned. With `bytes` (`max` > 0 and the size of each entry of `keys`, see
   * `httpEntryBytes`), also only when the path's entries, these included, stay within `max` bytes.
   */
  admits(keys: readonly string[], maxEntries: number, bytes?: { readonly max: number; readonly sizes: readonly number[] }): boolean {
    const group = keys.length === 0 ? undefined : httpPathGroup(keys[0]!);
    if (group === undefined) return true;
    const byteBudget = bytes !== undefined && bytes.max > 0 ? bytes : undefined;
    const held = this.#groups.get(group);
    if (held === undefined) return (maxEntries === 0 || keys.length <= maxEntries) && (byteBudget === undefined || sum(byteBudget.sizes) <= byteBudget.max);
    if (this.#within(held, keys, maxEntries, byteBudget)) return true;
    for (const key of held.keys()) if (!this.cache.has(key)) held.delete(key);
    return this.#within(held, keys, maxEntries, byteBudget);
  }

  /** Records the size in bytes of `key`, just stored through an adapter (see `httpEntryBytes`); nothing when the cache does not hold it. */
  sized(key: string, bytes: number): void {
    const group = httpPathGroup(key);
    const held = group === undefined ? undefined : this.#groups.get(group);
    if (held?.has(key) === true) held.set(key, bytes);
  }

  /** Bytes of the entries of the group of `key` the index knows (some may have been evicted since), an entry of unknown size counting `unknownAs`. */
  bytes(key: string, unknownAs = 0): number {
    const group = httpPathGroup(key);
    const held = group === undefined ? undefined : this.#groups.get(group);
    if (held === undefined) return 0;
    let total = 0;
    for (const size of held.values()) total += size === UNKNOWN ? unknownAs : size;
    return total;
  }

  #within(held: Map<string, number>, keys: readonly string[], maxEntries: number, bytes: { max: number; sizes: readonly number[] } | undefined): boolean {
    if (maxEntries > 0 && held.size + keys.filter((key) => !held.has(key)).length > maxEntries) return false;
    if (bytes === undefined) return true;
    const incoming = sum(bytes.sizes);
    // An entry of unknown size (from the log) counts as the largest of the incoming entries.
    const unknownAs = Math.max(0, ...bytes.sizes);
    let total = incoming;
    for (const [key, size] of held) {
      if (keys.includes(key)) continue;
      total += size === UNKNOWN ? unknownAs : size;
      if (total > bytes.max) return false;
    }
    return total <= bytes.max;
  }

  /**
   * The keys the cache holds under `prefix`, or `undefined` when there are more than `limit`.
   * A prefix that ends within a path's group (`<prefix>GET /p?`, `<prefix>GET /p `) reads that
   * group only; a shorter one (`<prefix>GET /products/`) reads every group it covers.
   */
  keysUnder(prefix: string, limit: number): string[] | undefined {
    const found: string[] = [];
    const take = (held: Map<string, number>, all: boolean): boolean => {
      for (const key of held.keys()) {
        if ((all || key.startsWith(prefix)) && this.cache.has(key)) {
          if (found.length >= limit) return false;
          found.push(key);
        }
      }
      return true;
    };
    const group = httpPathGroup(prefix);
    if (group !== undefined && group.length < prefix.length) {
      const held = this.#groups.get(group);
      return held === undefined || take(held, false) ? found : undefined;
    }
    // Any other group holding a key under `prefix` has a name starting with it: a group's keys
    // follow its name with a '?' or a space, which a prefix without its own group does not have there.
    for (const name of this.#names.keysUnder(prefix)) if (!take(this.#groups.get(name)!, true)) return undefined;
    return found;
  }

  #add(key: string): void {
    const group = httpPathGroup(key);
    if (group === undefined) return;
    let held = this.#groups.get(group);
    if (held === undefined) {
      held = new Map();
      this.#groups.set(group, held);
      this.#names.add(group);
    }
    held.set(key, UNKNOWN);
  }

  #remove(key: string): void {
    const group = httpPathGroup(key);
    if (group === undefined) return;
    const held = this.#groups.get(group);
    if (held === undefined) return;
    held.delete(key);
    if (held.size === 0) this.#drop(group);
  }

  /** Forgets the keys under `prefix`, reading the groups it covers only (see `keysUnder`). */
  #clear(prefix: string): void {
    const group = httpPathGroup(prefix);
    if (group !== undefined && group.length < prefix.length) {
      const held = this.#groups.get(group);
      if (held === undefined) return;
      for (const key of held.keys()) if (key.startsWith(prefix)) held.delete(key);
      if (held.size === 0) this.#drop(group);
      return;
    }
    for (const name of this.#names.keysUnder(prefix)) this.#drop(name);
  }

  #drop(group: string): void {
    this.#groups.delete(group);
    this.#names.remove(group);
  }
}

/** The size of an entry whose bytes the index does not know (it came from the log). */
const UNKNOWN = -1;

function sum(sizes: readonly number[]): number {
  let total = 0;
  for (const size of sizes) total += size;
  return total;
}

/**
 * The bytes the cache counts for `value` under `key`: the key's length and the value's encoded
 * length. An HTTP entry is plain JSON data, which the default codec and the JSON codec encode
 * as UTF-8 JSON: its size is that of its JSON text.
 */
export function httpEntryBytes(key: string, value: unknown): number {
  return key.length + Buffer.byteLength(JSON.stringify(value));
}

/** Checks a per-path entry budget option: 0 (none) or a positive integer. Throws `InvalidArgumentError`. */
export function httpPathBudget(value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= 10_000_000) return value;
  throw new InvalidArgumentError(`option "maxPathEntries" must be an integer from 0 (no budget) to 10000000, got ${JSON.stringify(value)}`);
}

/** Checks a per-path byte budget option (`maxPathBytes`): 0 (none) or a positive integer of bytes. Throws `InvalidArgumentError`. */
export function httpPathByteBudget(value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= 2 ** 40) return value;
  throw new InvalidArgumentError(`option "maxPathBytes" must be an integer from 0 (no budget) to 1099511627776 bytes, got ${JSON.stringify(value)}`);
}
