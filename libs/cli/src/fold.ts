import type { LogRecord, ParsedRecord } from '@nearcache/core';

/** What the fold keeps of a key's current set. */
export interface FoldedEntry {
  partition: number;
  offset: number;
  timestamp: number;
  expiresAt: number;
  graceEnd: number;
  tags: readonly string[] | undefined;
  origin: string;
  writeId: number;
  /** The record, when the fold keeps records (for decoding); else undefined. */
  record: LogRecord | undefined;
  /** The set's payload (without its metadata line), when records are kept. */
  payload: Uint8Array | undefined;
}

/** The latest plain write of a key by one origin, and the latest by any other: enough to tell whether a fenced record is stale. */
interface PlainWrites {
  origin: string;
  offset: number;
  /** The latest plain write by an origin other than `origin`, or -1. */
  otherOffset: number;
}

interface Control {
  partition: number;
  offset: number;
  origin: string;
  prefix: string | undefined;
  tag: string | undefined;
}

/**
 * The state a fresh cache reader reaches by applying the topic's valid records in order
 * (docs/record-format.md): sets, tombstones, clears of a prefix and tag invalidations on their
 * partition, fenced records skipped when a plain write of their key by another origin (or a clear
 * or invalidation reaching it) came from their fence on. Expiry is left to the caller (`live`).
 * Records must come in offset order per partition; invalid ones are not given to it.
 */
export class TopicFold {
  readonly entries = new Map<string, FoldedEntry>();
  readonly #plain = new Map<string, PlainWrites>();
  readonly #controls: Control[] = [];

  constructor(
    /** Keep the records of the current sets (to decode them), or only their metadata. */
    readonly keepRecords: boolean,
    /** Apply only records of keys this accepts (clears and invalidations always apply). */
    readonly wanted: (key: string) => boolean = () => true,
  ) {}

  /** Applies a valid record; false when it is skipped (a stale fenced record, or a key not wanted). */
  apply(record: LogRecord, parsed: ParsedRecord): boolean {
    if (parsed.op === 'clear' || parsed.op === 'tag') {
      this.#controls.push({
        partition: record.partition,
        offset: record.offset,
        origin: parsed.origin,
        prefix: parsed.op === 'clear' ? parsed.prefix : undefined,
        tag: parsed.op === 'tag' ? parsed.tag : undefined,
      });
      for (const [key, entry] of this.entries) {
        if (entry.partition !== record.partition) continue;
        if (parsed.op === 'clear' ? key.startsWith(parsed.prefix) : entry.tags?.includes(parsed.tag)) this.entries.delete(key);
      }
      return true;
    }
    // A claim of a fleet-wide load (and its release) never changes what a key holds.
    if (parsed.op === 'claim') return false;
    const key = parsed.key;
    if (!this.wanted(key)) return false;
    if (parsed.fence >= 0) {
      if (this.#stale(key, record.partition, parsed.fence, parsed.origin, parsed.op === 'set' ? parsed.tags : undefined)) return false;
    } else {
      const plain = this.#plain.get(key);
      if (plain === undefined) this.#plain.set(key, { origin: parsed.origin, offset: record.offset, otherOffset: -1 });
      else if (plain.origin === parsed.origin) plain.offset = record.offset;
      else this.#plain.set(key, { origin: parsed.origin, offset: record.offset, otherOffset: plain.offset });
    }
    if (parsed.op === 'delete') {
      this.entries.delete(key);
      return true;
    }
    this.entries.set(key, {
      partition: record.partition,
      offset: record.offset,
      timestamp: record.timestamp,
      expiresAt: parsed.expiresAt,
      graceEnd: parsed.graceEnd,
      tags: parsed.tags,
      origin: parsed.origin,
      writeId: parsed.writeId,
      record: this.keepRecords ? record : undefined,
      payload: this.keepRecords ? parsed.value : undefined,
    });
    return true;
  }

  /** Whether a fenced record of `key` is stale: a plain write, clear or invalidation by another origin sits from its fence on. */
  #stale(key: string, partition: number, fence: number, origin: string, tags: readonly string[] | undefined): boolean {
    const plain = this.#plain.get(key);
    if (plain !== undefined && (plain.origin !== origin ? plain.offset : plain.otherOffset) >= fence) return true;
    return this.#controls.some(
      (c) =>
        c.partition === partition &&
        c.offset >= fence &&
        c.origin !== origin &&
        (c.prefix !== undefined ? key.startsWith(c.prefix) : c.tag !== undefined && tags?.includes(c.tag) === true),
    );
  }

  /** Whether an entry is live at `now` (not expired). */
  static live(entry: FoldedEntry, now: number): boolean {
    return entry.expiresAt === 0 || entry.expiresAt > now;
  }
}
