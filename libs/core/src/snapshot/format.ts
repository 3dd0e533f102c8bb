import { crc32 } from 'node:zlib';
import type { RecentState } from '../cache/fences.js';
import { keyHash } from '../cache/restored-entries.js';
import type { RestoredEntries } from '../cache/restored-entries.js';
import { BYTE_ORDER, IndexBuilder, indexLength, readIndex } from './entry-index.js';

/**
 * The snapshot file (docs/snapshots.md), format 2: the magic (which carries the format), the
 * entries, zero bytes up to a multiple of 8, the index of the entries (see entry-index.ts), the
 * meta (JSON), then a trailer holding the meta's length, a CRC-32 of everything before the
 * trailer, the entries' length, their count, and an end marker. A file that does not start with a
 * magic is foreign, one with the magic of another format is refused as foreign too (format 1
 * ended with a SHA-256 and had no key hashes); one that does not end with the end marker, or
 * whose lengths do not add up, is truncated; one whose checksum does not match is corrupt.
 * Nothing of a file is used before all three checks passed, except its meta read ahead (see
 * `peekMeta`) to ask the log what the checks need.
 *
 * An entry: u32 hash of the key (`keyHash`), u32 key length, key (UTF-8), u32 value length,
 * value (the codec's bytes), f64 expiresAt, f64 graceEnd (ms since the epoch, 0: none), u16 tag
 * count, then per tag u16 length and the tag (UTF-8). Integers big-endian.
 */
export const MAGIC = Buffer.from('NCSNAP\u0000\u0002', 'latin1');
/** The magic's first bytes, the same in every format; its last byte is the format. */
const MAGIC_STEM = MAGIC.subarray(0, MAGIC.length - 1);
export const END = Buffer.from('NCSNEND\u0000', 'latin1');
/** u32 meta length, u32 CRC-32, f64 entries length, f64 entry count, the end marker. */
export const TRAILER = 4 + 4 + 8 + 8 + END.length;
/** The format version (the magic's last byte, and in the meta). */
export const FORMAT = 2;

/** What the cache's configuration must match for a snapshot to be used. */
export interface SnapshotConfig {
  codec: string;
  mode: string;
  /** SHA-256 of the key filter's source text, or null without a filter. */
  filter: string | null;
  signed: boolean;
  maxKeyBytes: number;
  maxValueBytes: number;
  /** The user's own marker (option `snapshot.version`). */
  version: string;
}

/** The meta of a snapshot: where in the log its state stands, and what it was made with. */
export interface SnapshotMeta {
  format: number;
  topic: string;
  partitions: number;
  /** Per partition, the first offset whose record the state does not reflect. */
  positions: number[];
  /** The latest timestamp of a record the state reflects (0: none), for the topic identity check. */
  maxTimestamp: number;
  /** Every record appended before this time (ms since the epoch) is reflected: the snapshot's age counts from here. */
  coveredAt: number;
  writtenAt: number;
  instanceId: string;
  entries: number;
  /** The byte order the index was written in ('LE' or 'BE'): a machine with another reads the entries one by one. */
  byteOrder: string;
  config: SnapshotConfig;
  fences: RecentState;
}

/** One entry as written to a snapshot: its value as the codec's bytes, or as those bytes in a latin1 string. */
export interface SnapshotEntry {
  key: string;
  value: Uint8Array | string;
  expiresAt: number;
  graceEnd: number;
  tags: readonly string[] | undefined;
}

/** Writes the entries part into chunks of about `CHUNK` bytes, with a CRC-32 of everything written. */
export class SnapshotEncoder {
  static readonly CHUNK = 1 << 20;
  #crc = 0;
  #buffer = Buffer.allocUnsafe(2 * SnapshotEncoder.CHUNK);
  #at = 0;
  #bodyBytes = 0;
  readonly #index: IndexBuilder;

  /** For `count` entries. */
  constructor(count: number) {
    this.#at = MAGIC.copy(this.#buffer, 0);
    this.#index = new IndexBuilder(count);
  }

  /** Adds one entry; returns whether a chunk is ready to be taken. */
  add(entry: SnapshotEntry): boolean {
    const { key, value, tags } = entry;
    const valueLength = typeof value === 'string' ? value.length : value.length;
    let tagBytes = 0;
    if (tags !== undefined) for (const tag of tags) tagBytes += 2 + Buffer.byteLength(tag, 'utf8');
    // At most 3 bytes per UTF-16 unit of the key.
    const most = 8 + key.length * 3 + 4 + valueLength + 18 + tagBytes;
    if (this.#at + most > this.#buffer.length) this.#grow(most);
    const buffer = this.#buffer;
    const start = this.#at;
    let at = start;
    const hash = keyHash(key);
    buffer.writeUInt32BE(hash, at);
    const keyLength = buffer.write(key, at + 8, 'utf8');
    buffer.writeUInt32BE(keyLength, at + 4);
    at += 8 + keyLength;
    buffer.writeUInt32BE(valueLength, at);
    at += 4;
    if (typeof value === 'string') at += buffer.write(value, at, 'latin1');
    else {
      buffer.set(value, at);
      at += valueLength;
    }
    buffer.writeDoubleBE(entry.expiresAt, at);
    buffer.writeDoubleBE(entry.graceEnd, at + 8);
    buffer.writeUInt16BE(tags?.length ?? 0, at + 16);
    at += 18;
    if (tags !== undefined) {
      for (const tag of tags) {
        const length = buffer.write(tag, at + 2, 'utf8');
        buffer.writeUInt16BE(length, at);
        at += 2 + length;
      }
    }
    const plain = (tags === undefined || tags.length === 0) && entry.graceEnd === 0;
    this.#index.note(hash, MAGIC.length + this.#bodyBytes + 8, keyLength, valueLength, entry.expiresAt, plain);
    this.#at = at;
    this.#bodyBytes += at - start;
    return at >= SnapshotEncoder.CHUNK;
  }

  /** The bytes added since the last call (a copy: the encoder reuses its buffer). */
  take(): Buffer {
    const chunk = Buffer.from(this.#buffer.subarray(0, this.#at));
    this.#crc = crcAfter(chunk, this.#crc);
    this.#at = 0;
    return chunk;
  }

  /** The meta and the trailer: the last bytes of the file. */
  /** The index, the meta and the trailer: the last bytes of the file. */
  finish(meta: SnapshotMeta): Buffer {
    const rest = this.take();
    const pad = Buffer.alloc(align8(MAGIC.length + this.#bodyBytes) - (MAGIC.length + this.#bodyBytes));
    const json = Buffer.from(JSON.stringify(meta), 'utf8');
    let crc = this.#crc;
    const tail = [pad, ...this.#index.bytes(), json];
    for (const piece of tail) crc = crcAfter(piece, crc);
    const trailer = Buffer.alloc(TRAILER);
    trailer.writeUInt32BE(json.length, 0);
    trailer.writeUInt32BE(crc, 4);
    trailer.writeDoubleBE(this.#bodyBytes, 8);
    trailer.writeDoubleBE(this.#index.count, 16);
    END.copy(trailer, 24);
    return Buffer.concat([rest, ...tail, trailer]);
  }

  #grow(most: number): void {
    const bigger = Buffer.allocUnsafe(Math.max(2 * this.#buffer.length, this.#at + most));
    this.#buffer.copy(bigger, 0, 0, this.#at);
    this.#buffer = bigger;
  }
}

/**
 * The CRC-32 `crc` continued over `bytes`. Node's `crc32` answers 0 for no bytes over an empty
 * ArrayBuffer (the index of a snapshot without entries) instead of `crc`: no bytes change nothing.
 */
function crcAfter(bytes: Uint8Array, crc: number): number {
  return bytes.length === 0 ? crc : crc32(bytes, crc);
}

/** Why a snapshot file cannot be read: foreign, truncated or corrupt. */
export class SnapshotFormatError extends Error {
  constructor(
    readonly reason: 'foreign' | 'truncated' | 'corrupt',
    message: string,
  ) {
    super(message);
  }
}

/** The smallest entry: hash, key length, value length, expiry, grace end, tag count. */
export const MIN_ENTRY = 4 + 4 + 4 + 8 + 8 + 2;

/** A meta parsed before the file was checked (see `peekMeta`), and its bytes. */
export interface KnownMeta {
  bytes: Buffer;
  meta: SnapshotMeta;
}

/**
 * The meta of a snapshot whose trailer is `trailer` (its last TRAILER bytes), read by
 * `readMeta(start, length)`, parsed; undefined when the trailer does not end a snapshot or the
 * meta is not JSON. Unchecked: used only once `openSnapshot` found the checked file's meta
 * the same bytes (`known`), so that a start parses it while the file is still being read.
 */
export async function peekMeta(size: number, trailer: Buffer, readMeta: (start: number, length: number) => Promise<Buffer>): Promise<KnownMeta | undefined> {
  if (trailer.length !== TRAILER || !trailer.subarray(TRAILER - END.length).equals(END)) return undefined;
  const length = trailer.readUInt32BE(0);
  if (length > size - TRAILER) return undefined;
  const bytes = await readMeta(size - TRAILER - length, length);
  let meta: unknown;
  try {
    meta = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  return meta !== null && typeof meta === 'object' && !Array.isArray(meta) ? { bytes, meta: meta as SnapshotMeta } : undefined;
}

/**
 * Checks `file` (magic, end marker, lengths, checksum) and parses its meta; throws
 * `SnapshotFormatError`. `read`: the CRC-32 of its first `checked` bytes, computed as the file
 * was read (see read.ts); used when it covers exactly what the checksum covers, else the
 * checksum is computed here. `known`: a meta parsed already, used when the file's meta is the
 * same bytes.
 */
export function openSnapshot(file: Buffer, read?: { crc: number; checked: number }, known?: KnownMeta): SnapshotReader {
  if (file.length < MAGIC.length || !file.subarray(0, MAGIC_STEM.length).equals(MAGIC_STEM))
    throw new SnapshotFormatError('foreign', 'the file is not a snapshot');
  const format = file[MAGIC.length - 1]!;
  if (format !== FORMAT) throw new SnapshotFormatError('foreign', `the snapshot is in format ${format}, which this version does not read (it reads ${FORMAT})`);
  if (file.length < MAGIC.length + TRAILER || !file.subarray(file.length - END.length).equals(END))
    throw new SnapshotFormatError('truncated', `the file ends before its end marker (${file.length} bytes)`);
  const trailer = file.length - TRAILER;
  const metaLength = file.readUInt32BE(trailer);
  const bodyLength = file.readDoubleBE(trailer + 8);
  const count = file.readDoubleBE(trailer + 16);
  const indexStart = align8(MAGIC.length + bodyLength);
  if (!Number.isSafeInteger(count) || count < 0 || count * MIN_ENTRY > bodyLength || indexStart + indexLength(count) + metaLength !== trailer)
    throw new SnapshotFormatError('truncated', `the file's lengths do not add up (${file.length} bytes)`);
  const expected = file.readUInt32BE(trailer + 4);
  const crc = read !== undefined && read.checked === trailer ? read.crc : crc32(file.subarray(0, trailer));
  if (crc !== expected) throw new SnapshotFormatError('corrupt', 'the checksum does not match the content');
  const metaBytes = file.subarray(trailer - metaLength, trailer);
  let meta: SnapshotMeta;
  try {
    meta = known !== undefined && metaBytes.equals(known.bytes) ? known.meta : (JSON.parse(metaBytes.toString('utf8')) as SnapshotMeta);
  } catch (error) {
    throw new SnapshotFormatError('corrupt', `the meta is not JSON: ${(error as Error).message}`);
  }
  if (meta === null || typeof meta !== 'object' || meta.format !== FORMAT)
    throw new SnapshotFormatError('corrupt', `the meta names format ${String(meta?.format)}, not ${FORMAT}`);
  if (meta.entries !== count) throw new SnapshotFormatError('corrupt', `the meta's entry count (${String(meta.entries)}) is not the file's (${count})`);
  return new SnapshotReader(file, meta, MAGIC.length + bodyLength, indexStart);
}

/**
 * The entries of a checked snapshot file, read one by one: `next()` reads an entry's lengths,
 * hash and expiry without making strings; `key()`, `latin1()` and `tags()` make them on demand.
 */
export class SnapshotReader {
  readonly meta: SnapshotMeta;
  readonly file: Buffer;
  #at = MAGIC.length;
  readonly #end: number;
  readonly #indexStart: number;

  constructor(file: Buffer, meta: SnapshotMeta, end: number, indexStart: number) {
    this.file = file;
    this.meta = meta;
    this.#end = end;
    this.#indexStart = indexStart;
  }

  /**
   * The plain entries (untagged, no grace period, not expired at `now`) as `RestoredEntries`,
   * from the index where it lies in the file; undefined when the index was written in another
   * byte order, or the file's memory does not allow it.
   */
  index(now: number): RestoredEntries | undefined {
    if (this.meta.byteOrder !== BYTE_ORDER) return undefined;
    return readIndex(this.file, this.#indexStart, this.meta.entries, now);
  }

  /** The entry read by the last `next()` that returned true: its key's hash, where its key starts, the lengths. */
  hash = 0;
  keyStart = 0;
  keyLength = 0;
  valueLength = 0;
  expiresAt = 0;
  graceEnd = 0;
  tagCount = 0;
  #tagsStart = 0;

  /** Reads the next entry into the fields above; false after the last. Throws `SnapshotFormatError` on an entry that runs past the entries part. */
  next(): boolean {
    const file = this.file;
    let at = this.#at;
    const end = this.#end;
    if (at >= end) return false;
    if (at + 8 > end) throw overrun();
    this.hash = file.readUInt32BE(at);
    const keyLength = file.readUInt32BE(at + 4);
    this.keyStart = at + 8;
    this.keyLength = keyLength;
    at += 8 + keyLength;
    if (at + 4 > end) throw overrun();
    const valueLength = file.readUInt32BE(at);
    this.valueLength = valueLength;
    at += 4 + valueLength;
    if (at + 18 > end) throw overrun();
    this.expiresAt = file.readDoubleBE(at);
    this.graceEnd = file.readDoubleBE(at + 8);
    const count = file.readUInt16BE(at + 16);
    this.tagCount = count;
    at += 18;
    this.#tagsStart = at;
    for (let i = 0; i < count; i++) {
      if (at + 2 > end) throw overrun();
      at += 2 + file.readUInt16BE(at);
    }
    if (at > end) throw overrun();
    this.#at = at;
    return true;
  }

  key(): string {
    return this.file.toString('utf8', this.keyStart, this.keyStart + this.keyLength);
  }

  /** The value's bytes as a latin1 string (one character per byte). */
  latin1(): string {
    const start = this.keyStart + this.keyLength + 4;
    return this.file.toString('latin1', start, start + this.valueLength);
  }

  /** The value's bytes (a view of the file). */
  value(): Buffer {
    const start = this.keyStart + this.keyLength + 4;
    return this.file.subarray(start, start + this.valueLength);
  }

  tags(): string[] | undefined {
    if (this.tagCount === 0) return undefined;
    const file = this.file;
    const tags: string[] = [];
    let at = this.#tagsStart;
    for (let i = 0; i < this.tagCount; i++) {
      const length = file.readUInt16BE(at);
      tags.push(file.toString('utf8', at + 2, at + 2 + length));
      at += 2 + length;
    }
    return tags;
  }
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

function overrun(): SnapshotFormatError {
  return new SnapshotFormatError('corrupt', 'an entry runs past the end of the entries');
}
