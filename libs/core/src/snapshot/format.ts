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

/** One entry as written to or read from a snapshot. */
export interface SnapshotEntry {
  key: string;
  value: Uint8Array;
  expiresAt: number;
  graceEnd: number;
  tags: readonly string[] | undefined;
}

/** Writes the entries part in chunks of about `CHUNK` bytes, hashing everything written. */
export class SnapshotEncoder {
  static readonly CHUNK = 1 << 20;
  readonly #hash: Hash = createHash('sha256');
  #chunks: Buffer[] = [];
  #pending = 0;
  #bodyBytes = 0;

  constructor() {
    this.#push(MAGIC);
  }

  /** Adds one entry; returns whether a chunk is ready to be taken. */
  add(entry: SnapshotEntry): boolean {
    const key = Buffer.from(entry.key, 'utf8');
    const tags = (entry.tags ?? []).map((tag) => Buffer.from(tag, 'utf8'));
    const head = Buffer.allocUnsafe(4 + key.length + 4);
    head.writeUInt32BE(key.length, 0);
    key.copy(head, 4);
    head.writeUInt32BE(entry.value.length, 4 + key.length);
    let tail = 8 + 8 + 2;
    for (const tag of tags) tail += 2 + tag.length;
    const rest = Buffer.allocUnsafe(tail);
    rest.writeDoubleBE(entry.expiresAt, 0);
    rest.writeDoubleBE(entry.graceEnd, 8);
    rest.writeUInt16BE(tags.length, 16);
    let at = 18;
    for (const tag of tags) {
      rest.writeUInt16BE(tag.length, at);
      tag.copy(rest, at + 2);
      at += 2 + tag.length;
    }
    this.#bodyBytes += head.length + entry.value.length + rest.length;
    this.#push(head);
    this.#push(Buffer.from(entry.value.buffer, entry.value.byteOffset, entry.value.length));
    this.#push(rest);
    return this.#pending >= SnapshotEncoder.CHUNK;
  }

  /** The bytes added since the last call. */
  take(): Buffer {
    const chunk = Buffer.concat(this.#chunks, this.#pending);
    this.#chunks = [];
    this.#pending = 0;
    return chunk;
  }

  /** The meta and the trailer: the last bytes of the file. */
  finish(meta: SnapshotMeta): Buffer {
    const json = Buffer.from(JSON.stringify(meta), 'utf8');
    this.#push(json);
    const lengths = Buffer.alloc(16);
    lengths.writeUInt32BE(json.length, 0);
    lengths.writeDoubleBE(this.#bodyBytes, 8);
    this.#push(lengths);
    const digest = this.#hash.digest();
    this.#chunks.push(digest, END);
    this.#pending += digest.length + END.length;
    return this.take();
  }

  #push(bytes: Buffer): void {
    this.#hash.update(bytes);
    this.#chunks.push(bytes);
    this.#pending += bytes.length;
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

  /** The next entry, or undefined after the last. */
  next(): SnapshotEntry | undefined {
    const file = this.#file;
    let at = this.#at;
    if (at >= this.#end) return undefined;
    const keyLength = file.readUInt32BE(at);
    const key = file.toString('utf8', at + 4, at + 4 + keyLength);
    at += 4 + keyLength;
    const valueLength = file.readUInt32BE(at);
    const value = file.subarray(at + 4, at + 4 + valueLength);
    at += 4 + valueLength;
    const expiresAt = file.readDoubleBE(at);
    const graceEnd = file.readDoubleBE(at + 8);
    const count = file.readUInt16BE(at + 16);
    at += 18;
    let tags: string[] | undefined;
    if (count > 0) {
      tags = [];
      for (let i = 0; i < count; i++) {
        const length = file.readUInt16BE(at);
        tags.push(file.toString('utf8', at + 2, at + 2 + length));
        at += 2 + length;
      }
    }
    this.#at = at;
    return { key, value, expiresAt, graceEnd, tags };
  }
}
