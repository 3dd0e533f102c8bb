/** A local write as the shield sees it. */
export interface ShieldedWrite {
  op: 'set' | 'delete' | 'clear' | 'tag' | 'claim';
  /** The key, the prefix of a clear, or the tag of a tag invalidation. */
  key: string;
  writeId: number;
}

/** A clear or a tag invalidation: one record per partition. */
interface PendingClear {
  /** The prefix of a clear; '' for a tag invalidation. */
  prefix: string;
  /** The tag of a tag invalidation, else undefined. */
  tag: string | undefined;
  writeId: number;
  /** Partitions whose copy of the clear record came back (or was passed: see `offsets`). */
  seen: Set<number>;
  /** Where the log put the clear record, per partition, once it acknowledged it. */
  offsets: Map<number, number> | undefined;
}

/** Where the log put a pending local write of a key. */
interface AckedWrite {
  writeId: number;
  partition: number;
  offset: number;
}

/**
 * Read-your-writes on the writing instance. A local write is applied at once; until its record
 * comes back from the log, older records of its key (or, for a clear, of keys under its prefix)
 * from other instances must not undo it. The shield of a write ends when its record comes back,
 * when the consumer reads past the offset the log gave it without seeing it (the cleaner removed
 * it: a later record of the key superseded it, and that one wins), or when the log refuses it.
 */
export class WriteShield {
  /** Keys written here whose record has not come back from the log yet, with the latest write id. */
  readonly #pendingKeys = new Map<string, number>();
  /**
   * Offsets of pending writes the log acknowledged. Once the consumer reads past one without
   * seeing it, the cleaner removed it (a later record of the key superseded it): the shield ends.
   */
  readonly #ackedKeys = new Map<string, AckedWrite>();
  #pendingClears: PendingClear[] = [];
  /**
   * Whether the last record `admits` refused sits before a pending local invalidation of one of
   * its tags: its key is then removed here (in log order the invalidation removes what it set).
   */
  tagShadowed = false;

  /** `partitions()`: the topic's partition count (a clear is one record per partition). */
  constructor(private readonly partitions: () => number) {}

  /** Whether some local set or delete is still on its way. */
  get pendingKeys(): number {
    return this.#pendingKeys.size;
  }

  /** Whether no local write (set, delete, clear, tag invalidation) is on its way: the entries then are what the log says. */
  get idle(): boolean {
    return this.#pendingKeys.size === 0 && this.#pendingClears.length === 0;
  }

  /** Whether a local set, delete or clear of `key` is on its way to the log. */
  isPending(key: string): boolean {
    return (
      this.#pendingKeys.has(key) ||
      (this.#pendingClears.length > 0 && this.#pendingClears.some((clear) => clear.tag === undefined && key.startsWith(clear.prefix)))
    );
  }

  /** A local set or delete of `key`. */
  wroteKey(key: string, writeId: number): void {
    this.#pendingKeys.set(key, writeId);
  }

  /** A local clear of `prefix`. */
  wroteClear(prefix: string, writeId: number): void {
    this.#pendingClears.push({ prefix, tag: undefined, writeId, seen: new Set(), offsets: undefined });
  }

  /** A local invalidation of `tag`: shielded like a clear, for the records carrying the tag. */
  wroteTag(tag: string, writeId: number): void {
    this.#pendingClears.push({ prefix: '', tag, writeId, seen: new Set(), offsets: undefined });
  }

  /** The log acknowledged `write` (one of its records, for a clear) at `offset` of `partition`. */
  acknowledged(write: ShieldedWrite, partition: number, offset: number): void {
    if (write.op === 'clear' || write.op === 'tag') {
      const clear = this.#pendingClears.find((c) => c.writeId === write.writeId);
      if (clear) (clear.offsets ??= new Map()).set(partition, offset);
    } else if (this.#pendingKeys.get(write.key) === write.writeId) {
      this.#ackedKeys.set(write.key, { writeId: write.writeId, partition, offset });
    }
  }

  /** `write` will not be sent: a later write of its queue key replaced it. */
  superseded(write: ShieldedWrite): void {
    // The older write will never come back from the log: stop waiting for it. A set or delete
    // replaced by another one is no longer the key's latest; replaced by a loaded value (not
    // shielded: see fences.ts), the key is no longer pending.
    if (write.op === 'clear' || write.op === 'tag') this.#dropClear(write.writeId);
    else this.dropped(write);
  }

  /** The log refused `write` for good: its record will never come back. */
  dropped(write: ShieldedWrite): void {
    if (write.op === 'clear' || write.op === 'tag') this.#dropClear(write.writeId);
    else if (this.#pendingKeys.get(write.key) === write.writeId) {
      this.#pendingKeys.delete(write.key);
      this.#ackedKeys.delete(write.key);
    }
  }

  /**
   * Whether a set or delete of `key` read from the log at `offset` of `partition` is applied
   * here; `own`: the record is this instance's, written as `writeId`; `tags`: the record's tags.
   * Ends the key's shield when the record is the pending write itself, or comes after it in the log.
   */
  admits(key: string, own: boolean, writeId: number, partition: number, offset: number, tags?: readonly string[]): boolean {
    this.tagShadowed = false;
    // Nothing of this instance on its way (a bootstrap, a cache that only reads): no lookup.
    if (this.#pendingKeys.size === 0 && this.#pendingClears.length === 0) return true;
    const pending = this.#pendingKeys.get(key);
    if (pending !== undefined) {
      // A local write of this key is on its way to the log: the local value is newer than
      // anything before it in the log, so it stays (read-your-writes) until it comes back.
      if (own && writeId === pending) {
        this.#pendingKeys.delete(key);
        this.#ackedKeys.delete(key);
        return false;
      }
      const acked = this.#ackedKeys.get(key);
      if (acked === undefined || acked.writeId !== pending || offset < acked.offset) return false;
      // This record comes after the local write in the log, which the cleaner removed: it wins.
      this.#pendingKeys.delete(key);
      this.#ackedKeys.delete(key);
    }
    return this.#pendingClears.length === 0 || !this.#shadowedByClear(key, partition, offset, tags);
  }

  /**
   * Whether a clear read from the log at `offset` keeps `key`: a local write of it is in flight,
   * unless that write is known to sit before the clear (the cleaner removed its record, so it
   * never came back); then its shield ends.
   */
  keepsFromClear(key: string, offset: number): boolean {
    const pending = this.#pendingKeys.get(key);
    if (pending === undefined) return false;
    const acked = this.#ackedKeys.get(key);
    if (acked === undefined || acked.writeId !== pending || acked.offset > offset) return true;
    this.#pendingKeys.delete(key);
    this.#ackedKeys.delete(key);
    return false;
  }

  /** This instance's clear `writeId` came back from `partition`. */
  clearCameBack(writeId: number, partition: number): void {
    const clear = this.#pendingClears.find((c) => c.writeId === writeId);
    if (!clear) return;
    clear.seen.add(partition);
    if (clear.seen.size >= this.partitions()) this.#pendingClears = this.#pendingClears.filter((c) => c !== clear);
  }

  /** The consumer reached `position` of `partition`: ends the shield of local writes it read past without seeing them (the cleaner removed them). */
  passed(partition: number, position: number): void {
    if (this.#ackedKeys.size === 0 && this.#pendingClears.length === 0) return;
    for (const [key, acked] of this.#ackedKeys) {
      if (acked.partition !== partition || acked.offset >= position) continue;
      this.#ackedKeys.delete(key);
      if (this.#pendingKeys.get(key) === acked.writeId) this.#pendingKeys.delete(key);
    }
    for (const clear of [...this.#pendingClears]) {
      const at = clear.offsets?.get(partition);
      if (at !== undefined && at < position) this.clearCameBack(clear.writeId, partition);
    }
  }

  #shadowedByClear(key: string, partition: number, offset: number, tags: readonly string[] | undefined): boolean {
    for (const clear of this.#pendingClears) {
      if (clear.seen.has(partition)) continue;
      if (clear.tag === undefined ? !key.startsWith(clear.prefix) : tags === undefined || !tags.includes(clear.tag)) continue;
      const at = clear.offsets?.get(partition);
      if (at === undefined || offset < at) {
        this.tagShadowed = clear.tag !== undefined;
        return true;
      }
      // The clear record sat before this one and was removed by the cleaner: it is behind us.
      this.clearCameBack(clear.writeId, partition);
    }
    return false;
  }

  #dropClear(writeId: number): void {
    this.#pendingClears = this.#pendingClears.filter((c) => c.writeId !== writeId);
  }
}
