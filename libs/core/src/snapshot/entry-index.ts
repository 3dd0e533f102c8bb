import { endianness } from 'node:os';
import { RestoredEntries } from '../cache/restored-entries.js';

/** The byte order of this machine: the index is written in it, and used only by a machine with the same. */
export const BYTE_ORDER = endianness();

/** Slots of the hash table for `count` entries: a power of two, at least twice the count. */
function slotsFor(count: number): number {
  let slots = 16;
  while (slots < count * 2) slots *= 2;
  return slots;
}

/**
 * Bytes of the index of `count` entries (docs/snapshots.md, "File format"): per entry the key's
 * start in the file and the absolute expiry (f64), the key's hash, the key's and the value's
 * lengths (u32); the hash table (i32 per slot: entry number + 1, 0 free; linear probing from
 * `hash & (slots - 1)`); per entry 1 when it is plain (untagged, no grace period).
 */
export function indexLength(count: number): number {
  return 29 * count + 4 * slotsFor(count);
}

/** Collects the index of the entries while they are encoded; `bytes()` gives it as written. */
export class IndexBuilder {
  readonly #keyStart: Float64Array;
  readonly #expiresAt: Float64Array;
  readonly #hash: Uint32Array;
  readonly #keyLength: Uint32Array;
  readonly #valueLength: Uint32Array;
  readonly #plain: Uint8Array;
  #count = 0;

  constructor(capacity: number) {
    this.#keyStart = new Float64Array(capacity);
    this.#expiresAt = new Float64Array(capacity);
    this.#hash = new Uint32Array(capacity);
    this.#keyLength = new Uint32Array(capacity);
    this.#valueLength = new Uint32Array(capacity);
    this.#plain = new Uint8Array(capacity);
  }

  get count(): number {
    return this.#count;
  }

  note(hash: number, keyStart: number, keyLength: number, valueLength: number, expiresAt: number, plain: boolean): void {
    const entry = this.#count++;
    this.#keyStart[entry] = keyStart;
    this.#expiresAt[entry] = expiresAt;
    this.#hash[entry] = hash;
    this.#keyLength[entry] = keyLength;
    this.#valueLength[entry] = valueLength;
    this.#plain[entry] = plain ? 1 : 0;
  }

  /** The index in this machine's byte order, in pieces to write one after the other. */
  bytes(): Buffer[] {
    const count = this.#count;
    const slots = slotsFor(count);
    const table = new Int32Array(slots);
    const mask = slots - 1;
    for (let entry = 0; entry < count; entry++) {
      let slot = this.#hash[entry]! & mask;
      while (table[slot] !== 0) slot = (slot + 1) & mask;
      table[slot] = entry + 1;
    }
    const view = (array: Float64Array | Uint32Array | Int32Array | Uint8Array, length: number): Buffer =>
      Buffer.from(array.buffer, array.byteOffset, length * array.BYTES_PER_ELEMENT);
    return [
      view(this.#keyStart, count),
      view(this.#expiresAt, count),
      view(this.#hash, count),
      view(this.#keyLength, count),
      view(this.#valueLength, count),
      view(table, slots),
      view(this.#plain, count),
    ];
  }
}

/**
 * The plain entries of a checked snapshot file as `RestoredEntries`: views of the index at
 * `start` (8-byte aligned in `file`, which starts its memory), nothing copied; entries that are
 * not plain, or expired at `now`, are left out. Undefined when the file's memory does not allow
 * views (not aligned).
 */
export function readIndex(file: Buffer, start: number, count: number, now: number): RestoredEntries | undefined {
  const base = file.byteOffset + start;
  if (base % 8 !== 0) return undefined;
  const memory = file.buffer;
  const slots = slotsFor(count);
  let at = base;
  const next = <T>(make: (offset: number) => T, bytes: number): T => {
    const made = make(at);
    at += bytes;
    return made;
  };
  const keyStart = next((o) => new Float64Array(memory, o, count), 8 * count);
  const expiresAt = next((o) => new Float64Array(memory, o, count), 8 * count);
  const hash = next((o) => new Uint32Array(memory, o, count), 4 * count);
  const keyLength = next((o) => new Uint32Array(memory, o, count), 4 * count);
  const valueLength = next((o) => new Uint32Array(memory, o, count), 4 * count);
  const table = next((o) => new Int32Array(memory, o, slots), 4 * slots);
  const plain = new Uint8Array(memory, at, count);
  const gone = new Uint8Array(count);
  let live = 0;
  for (let entry = 0; entry < count; entry++) {
    const expiry = expiresAt[entry]!;
    if (plain[entry] === 1 && (expiry === 0 || expiry > now)) live++;
    else gone[entry] = 1;
  }
  return new RestoredEntries(file, { keyStart, expiresAt, hash, keyLength, valueLength, table, gone, live });
}
