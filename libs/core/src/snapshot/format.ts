import { createHash, type Hash } from 'node:crypto';
import type { RecentState } from '../cache/fences.js';

/**
 * The snapshot file (docs/snapshots.md): the magic, the entries, the meta (JSON), then a
 * trailer holding the meta's and the entries' lengths, a SHA-256 of everything before the
 * digest, and an end marker. A file that does not start with the magic is foreign; one that does
 * not end with the end marker, or whose lengths do not add up, is truncated; one whose digest
 * does not match is corrupt. Nothing of a file is used before all three checks passed.
 *
 * An entry: u32 key length, key (UTF-8), u32 value length, value (the codec's bytes), f64
 * expiresAt, f64 graceEnd (ms since the epoch, 0: none), u16 tag count, then per tag u16 length
 * and the tag (UTF-8). Integers big-endian.
 */
export const MAGIC = Buffer.from('NCSNAP\u0000\u0001', 'latin1');
export const END = Buffer.from('NCSNEND\u0000', 'latin1');
/** u32 meta length, u32 zero, f64 entries length, 32 bytes SHA-256, the end marker. */
export const TRAILER = 4 + 4 + 8 + 32 + END.length;
/** The format version in the meta. */
export const FORMAT = 1;

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

/** Writes the entries part into chunks of about `CHUNK` bytes, hashing everything written. */
export class SnapshotEncoder {
  static readonly CHUNK = 1 << 20;
  readonly #hash: Hash = createHash('sha256');
  #buffer = Buffer.allocUnsafe(2 * SnapshotEncoder.CHUNK);
  #at = 0;
  #bodyBytes = 0;

  constructor() {
    this.#at = MAGIC.copy(this.#buffer, 0);
  }

  /** Adds one entry; returns whether a chunk is ready to be taken. */
  add(entry: SnapshotEntry): boolean {
    const { key, value, tags } = entry;
    const valueLength = typeof value === 'string' ? value.length : value.length;
    let tagBytes = 0;
    if (tags !== undefined) for (const tag of tags) tagBytes += 2 + Buffer.byteLength(tag, 'utf8');
    // At most 3 bytes per UTF-16 unit of the key.
    const most = 4 + key.length * 3 + 4 + valueLength + 18 + tagBytes;
    if (this.#at + most > this.#buffer.length) this.#grow(most);
    const buffer = this.#buffer;
    const start = this.#at;
    let at = start;
    const keyLength = buffer.write(key, at + 4, 'utf8');
    buffer.writeUInt32BE(keyLength, at);
    at += 4 + keyLength;
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
    this.#at = at;
    this.#bodyBytes += at - start;
    return at >= SnapshotEncoder.CHUNK;
  }

  /** The bytes added since the last call (a copy: the encoder reuses its buffer). */
  take(): Buffer {
    const chunk = Buffer.from(this.#buffer.subarray(0, this.#at));
    this.#hash.update(chunk);
    this.#at = 0;
    return chunk;
  }

  /** The meta and the trailer: the last bytes of the file. */
  finish(meta: SnapshotMeta): Buffer {
    const json = Buffer.from(JSON.stringify(meta), 'utf8');
    const lengths = Buffer.alloc(16);
    lengths.writeUInt32BE(json.length, 0);
    lengths.writeDoubleBE(this.#bodyBytes, 8);
    const rest = this.take();
    this.#hash.update(json);
    this.#hash.update(lengths);
    return Buffer.concat([rest, json, lengths, this.#hash.digest(), END]);
  }

  #grow(most: number): void {
    const bigger = Buffer.allocUnsafe(Math.max(2 * this.#buffer.length, this.#at + most));
    this.#buffer.copy(bigger, 0, 0, this.#at);
    this.#buffer = bigger;
  }
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

/** A checked snapshot file: its meta, and its entries read one by one. */
export class SnapshotReader {
  readonly meta: SnapshotMeta;
  readonly #file: Buffer;
  #at = MAGIC.length;
  readonly #end: number;

  /** Checks `file` whole (magic, lengths, digest, meta); throws `SnapshotFormatError`. */
  constructor(file: Buffer) {
    if (file.length < MAGIC.length || !file.subarray(0, MAGIC.length).equals(MAGIC))
      throw new SnapshotFormatError('foreign', 'the file is not a snapshot of this format');
    if (file.length < MAGIC.length + TRAILER || !file.subarray(file.length - END.length).equals(END))
      throw new SnapshotFormatError('truncated', `the file ends before its end marker (${file.length} bytes)`);
    const trailer = file.length - TRAILER;
    const metaLength = file.readUInt32BE(trailer);
    const bodyLength = file.readDoubleBE(trailer + 8);
    if (MAGIC.length + bodyLength + metaLength !== trailer)
      throw new SnapshotFormatError('truncated', `the file's lengths do not add up (${file.length} bytes)`);
    const digest = createHash('sha256')
      .update(file.subarray(0, trailer + 16))
      .digest();
    if (!digest.equals(file.subarray(trailer + 16, trailer + 48))) throw new SnapshotFormatError('corrupt', 'the checksum does not match the content');
    let meta: SnapshotMeta;
    try {
      meta = JSON.parse(file.subarray(trailer - metaLength, trailer).toString('utf8')) as SnapshotMeta;
    } catch (error) {
      throw new SnapshotFormatError('corrupt', `the meta is not JSON: ${(error as Error).message}`);
    }
    if (meta === null || typeof meta !== 'object' || meta.format !== FORMAT)
      throw new SnapshotFormatError('foreign', `the snapshot format is ${String(meta?.format)}, not ${FORMAT}`);
    this.meta = meta;
    this.#file = file;
    this.#end = MAGIC.length + bodyLength;
  }

  /** The entry read by the last `next()` that returned true. */
  key = '';
  /** Its value's bytes as a latin1 string (one character per byte). */
  latin1 = '';
  expiresAt = 0;
  graceEnd = 0;
  tags: string[] | undefined;
  #valueStart = 0;

  /** Reads the next entry into the fields above; false after the last. */
  next(): boolean {
    const file = this.#file;
    let at = this.#at;
    if (at >= this.#end) return false;
    const keyLength = file.readUInt32BE(at);
    this.key = file.toString('utf8', at + 4, at + 4 + keyLength);
    at += 4 + keyLength;
    const valueLength = file.readUInt32BE(at);
    this.#valueStart = at + 4;
    this.latin1 = file.toString('latin1', at + 4, at + 4 + valueLength);
    at += 4 + valueLength;
    this.expiresAt = file.readDoubleBE(at);
    this.graceEnd = file.readDoubleBE(at + 8);
    const count = file.readUInt16BE(at + 16);
    at += 18;
    this.tags = undefined;
    if (count > 0) {
      const tags: string[] = [];
      for (let i = 0; i < count; i++) {
        const length = file.readUInt16BE(at);
        tags.push(file.toString('utf8', at + 2, at + 2 + length));
        at += 2 + length;
      }
      this.tags = tags;
    }
    this.#at = at;
    return true;
  }

  /** The value of the entry read last, as bytes (a view of the file). */
  value(): Buffer {
    return this.#file.subarray(this.#valueStart, this.#valueStart + this.latin1.length);
  }
}
