import { payload, type ParsedDelete, type ReadSet } from '../record.js';

/**
 * Fenced loads (docs/consistency.md, section 11). A value loaded by `wrap` is written as a
 * *fenced* record: it carries its fence, the first offset of the key's partition that the
 * loading instance had not applied when the load began. A fenced record at offset `f` with fence
 * `from` is *stale* when a plain record of its key (a set or delete not fenced, or a clear
 * covering it) written by another instance sits at an offset in [from, f): a write the load may
 * not have seen (the writer's own earlier writes were made before its load began). Every instance
 * refuses a stale fenced record; an instance that cannot tell (it no longer remembers that far
 * back) drops its copy of the key, which is only a miss.
 *
 * The cleaner may remove the plain record that made a fenced record stale (the fenced record,
 * later, supersedes it), and an instance that reads the log after that would accept it. So the
 * instance that wrote a fenced record, on reading it back stale, appends a correction: a fenced
 * record restating the key's state at that point of the log (the value of the last record it
 * accepted, or a tombstone). The newest record of a key is then never a stale fenced one.
 */

/** What a record of the log says the key holds: its value, expiry, grace end (0: none) and tags, or nothing (`null`). */
export type KeyState = { bytes: Buffer; expiresAt: number; graceEnd: number; tags?: readonly string[] | undefined } | null;

/** A fenced write of this instance: a load on its way, or a fenced record appended and not read back yet. */
export interface Fence {
  readonly key: string;
  /** The first offset of the key's partition not applied when the load began (or when the correction was decided). */
  readonly from: number;
  /** 0 while loading; the write id of the fenced record once queued. */
  writeId: number;
  /** A plain record of the key, or a local write while loading, came after `from`: the fenced record is stale. */
  conflict: boolean;
  /** The key's state by the last record of it applied since the fence began (undefined: none). */
  state: KeyState | undefined;
  /** The tags the loaded value will carry, when known (`wrap`); a lease learns them at `fill`. */
  tags?: readonly string[] | undefined;
  /** How many tag invalidations this instance had seen when the load began (see `LoadFences.mayFill`). */
  tagSeq?: number;
}

/**
 * How the applier treats a record, as the fences see it: apply it as usual; leave the key as it
 * is (a stale fenced record, or this instance's own fenced record whose value it holds); or
 * remove the key here (a fenced record this instance cannot judge).
 */
export const Verdict = { Apply: 0, Skip: 1, Drop: 2 } as const;
export type Verdict = (typeof Verdict)[keyof typeof Verdict];

/** Plain records remembered, all partitions together (the oldest is forgotten first). */
const REMEMBERED = 32_768;
/** Clears (and tag invalidations) remembered. */
const MAX_CLEARS = 256;
/** Tag invalidations remembered for running loads. */
const MAX_TAG_MARKS = 256;

/**
 * What a snapshot keeps of the memory of recent records (see `LoadFences.saveRecent`): the plain
 * records remembered, oldest first, as [key, partition, offset, origin]; per partition
 * [partition, horizon] pairs; and the clears.
 */
export interface RecentState {
  records: Array<[string, number, number, string]>;
  horizon: Array<[number, number]>;
  clears: Array<{ prefix: string; tag: string | undefined; partition: number; offset: number; origin: string }>;
}

/**
 * The latest plain records (key, origin, offset), and the recent clears, so that a fenced record
 * can be judged. Bounded: a ring of the last `REMEMBERED` plain records of all partitions; when
 * the oldest is overwritten, its partition's horizon moves past it, and fenced records whose
 * fence lies before the horizon cannot be judged.
 *
 * Noting a record costs a few array stores and no allocation (every instance notes every plain
 * record it applies, a bootstrap a million of them); judging a fenced record walks the records
 * of its partition inside its window, newest first, each linked to the one before it.
 */
class RecentRecords {
  readonly #keys: string[] = [];
  readonly #origins: string[] = [];
  readonly #offsets: number[] = [];
  readonly #partitions: number[] = [];
  /** Per slot: the number (see `#noted`) of the previous record of the same partition, -1: none. */
  readonly #previous: number[] = [];
  /** Per partition: the number of its latest record noted, -1: none. */
  readonly #latest: number[] = [];
  /** Records noted so far; record `n` sits in slot `n % REMEMBERED` while `n >= #noted - REMEMBERED`. */
  #noted = 0;
  /** The slot the next record goes to. */
  #slot = 0;
  /** The origin of the last record noted, kept to store one string per origin rather than one per record. */
  #lastOrigin = '';
  /** Per partition: every plain record at or after this offset is remembered. */
  readonly #horizon: number[] = [];
  #clears: Array<{ prefix: string; tag: string | undefined; partition: number; offset: number; origin: string }> = [];

  note(key: string, partition: number, offset: number, origin: string): void {
    if (origin !== this.#lastOrigin) this.#lastOrigin = origin;
    else origin = this.#lastOrigin;
    const slot = this.#slot;
    const previous = this.#latest[partition] ?? -1;
    if (this.#noted < REMEMBERED) {
      this.#keys.push(key);
      this.#origins.push(origin);
      this.#offsets.push(offset);
      this.#partitions.push(partition);
      this.#previous.push(previous);
    } else {
      // The oldest record is forgotten: its partition is remembered from the offset after it.
      this.#raise(this.#partitions[slot]!, this.#offsets[slot]! + 1);
      this.#keys[slot] = key;
      this.#origins[slot] = origin;
      this.#offsets[slot] = offset;
      this.#partitions[slot] = partition;
      this.#previous[slot] = previous;
    }
    this.#latest[partition] = this.#noted++;
    this.#slot = slot + 1 === REMEMBERED ? 0 : slot + 1;
  }

  /** A clear of `prefix`, or (with `tag`) an invalidation of `tag`. */
  noteClear(prefix: string, partition: number, offset: number, origin: string, tag?: string): void {
    this.#clears.push({ prefix, tag, partition, offset, origin });
    if (this.#clears.length > MAX_CLEARS) {
      const dropped = this.#clears.shift()!;
      this.#raise(dropped.partition, dropped.offset + 1);
    }
  }

  /**
   * Whether a plain record of `key` written by another origin than `origin` (or an invalidation
   * of one of `tags`) sits in [from, offset) of `partition`; undefined when that is not known.
   */
  conflicts(key: string, partition: number, from: number, offset: number, origin: string, tags?: readonly string[]): boolean | undefined {
    if (from < (this.#horizon[partition] ?? 0)) return undefined;
    // Newest first; records that fell out of the ring lie before the horizon, so before `from`.
    const oldest = this.#noted - REMEMBERED;
    for (let n = this.#latest[partition] ?? -1; n >= 0 && n >= oldest;) {
      const slot = n % REMEMBERED;
      const at = this.#offsets[slot]!;
      if (at < from) break;
      if (at < offset && this.#keys[slot] === key && this.#origins[slot] !== origin) return true;
      n = this.#previous[slot]!;
    }
    for (const clear of this.#clears) {
      if (clear.partition !== partition || clear.offset < from || clear.offset >= offset || clear.origin === origin) continue;
      if (clear.tag === undefined ? key.startsWith(clear.prefix) : tags !== undefined && tags.includes(clear.tag)) return true;
    }
    return false;
  }

  #raise(partition: number, offset: number): void {
    if (!((this.#horizon[partition] ?? 0) >= offset)) this.#horizon[partition] = offset;
  }

  save(): RecentState {
    const records: RecentState['records'] = [];
    const count = Math.min(this.#noted, REMEMBERED);
    for (let n = this.#noted - count; n < this.#noted; n++) {
      const slot = n % REMEMBERED;
      records.push([this.#keys[slot]!, this.#partitions[slot]!, this.#offsets[slot]!, this.#origins[slot]!]);
    }
    return {
      records,
      horizon: Object.entries(this.#horizon).map(([p, v]): [number, number] => [Number(p), v]),
      clears: this.#clears.map((c) => ({ ...c })),
    };
  }

  /** Restores what `save` returned, into an empty memory. */
  load(state: RecentState): void {
    for (const [key, partition, offset, origin] of state.records) this.note(key, partition, offset, origin);
    for (const [partition, offset] of state.horizon) this.#raise(partition, offset);
    this.#clears = state.clears.map((c) => ({ ...c }));
  }
}

export interface FenceHost {
  /** Whether a local set, delete or clear of `key` is on its way to the log (it will come after anything before it). */
  pending(key: string): boolean;
  /** The partition of `key`, and how many there are. */
  partitionOf(key: string): number;
  partitions(): number;
  /** The first offset of `partition` this instance has not applied. */
  unapplied(partition: number): number;
  /** Appends the correction of a stale fenced record: `state` as a fenced record with fence `from`; returns its fence, or undefined if it could not be queued. */
  correct(key: string, state: KeyState, from: number): Fence | undefined;
}

/**
 * This instance's fences and its memory of recent plain records: judges fenced records read
 * from the log, tells a load whether its value may still be stored, and corrects its own stale
 * fenced records.
 */
export class LoadFences {
  readonly #recent = new RecentRecords();
  readonly #byKey = new Map<string, Fence[]>();
  readonly #host: FenceHost;
  /** The last tag invalidations seen (local, or read from the log), numbered from 1: `#tagSeq` is the last number. */
  #tagMarks: Array<{ tag: string; seq: number }> = [];
  #tagSeq = 0;

  constructor(host: FenceHost) {
    this.#host = host;
  }

  /**
   * A load of `key` begins: its fence is the first offset of the key's partition not applied
   * yet. `tags`: the tags its value will carry, when known now.
   */
  begin(key: string, tags?: readonly string[]): Fence {
    const host = this.#host;
    const fence: Fence = { key, from: host.unapplied(host.partitionOf(key)), writeId: 0, conflict: false, state: undefined, tags, tagSeq: this.#tagSeq };
    this.#add(fence);
    return fence;
  }

  /**
   * Whether the value of the load `fence` may be stored and appended: no write of its key came
   * after the load began, nor an invalidation of one of `tags` (the tags the value is to carry).
   */
  mayFill(fence: Fence, tags?: readonly string[]): boolean {
    if (fence.conflict) return false;
    const carried = tags ?? fence.tags;
    if (carried === undefined || carried.length === 0 || this.#tagSeq === (fence.tagSeq ?? 0)) return true;
    const marks = this.#tagMarks;
    // Invalidations this instance no longer remembers may have covered the value: not stored (a miss).
    if (marks.length === 0 || marks[0]!.seq > (fence.tagSeq ?? 0) + 1) return false;
    for (let i = marks.length - 1; i >= 0 && marks[i]!.seq > (fence.tagSeq ?? 0); i--) if (carried.includes(marks[i]!.tag)) return false;
    fence.tags = carried;
    return true;
  }

  /** A local invalidation of `tag`: loads whose value carries it must not store their value. */
  wroteTag(tag: string): void {
    this.#markTag(tag);
  }

  /** A tag invalidation read from the log at `offset` of `partition`, written by `origin` (`own`: this instance). */
  tagged(tag: string, partition: number, offset: number, origin: string, own: boolean): void {
    this.#recent.noteClear('', partition, offset, origin, tag);
    if (!own) this.#markTag(tag);
    if (this.#byKey.size === 0) return;
    const host = this.#host;
    const onePartition = host.partitions() > 1;
    for (const [key, fences] of this.#byKey) {
      if (onePartition && host.partitionOf(key) !== partition) continue;
      for (const fence of fences) {
        if (fence.writeId === 0 || fence.tags === undefined || !fence.tags.includes(tag)) continue;
        // A fenced record of this tagged value is on its way: the invalidation sits before it.
        if (!own) fence.conflict = true;
        fence.state = null;
      }
    }
  }

  /** The memory of recent records, for a snapshot: after `loadRecent`, fenced records are judged as they were when it was saved. */
  saveRecent(): RecentState {
    return this.#recent.save();
  }

  /** Restores what `saveRecent` returned (at start, before any record is read). */
  loadRecent(state: RecentState): void {
    this.#recent.load(state);
  }

  #markTag(tag: string): void {
    this.#tagMarks.push({ tag, seq: ++this.#tagSeq });
    if (this.#tagMarks.length > MAX_TAG_MARKS) this.#tagMarks.shift();
  }

  /** The load ended without a fenced record (its value is not stored), or the record will never come back. */
  end(fence: Fence): void {
    const fences = this.#byKey.get(fence.key);
    if (!fences) return;
    const rest = fences.filter((f) => f !== fence);
    if (rest.length === 0) this.#byKey.delete(fence.key);
    else this.#byKey.set(fence.key, rest);
  }

  /** The fenced write `writeId` of `key` will never come back from the log (replaced in the queue, or refused). */
  released(key: string, writeId: number): void {
    const fence = this.#byKey.get(key)?.find((f) => f.writeId === writeId);
    if (fence) this.end(fence);
  }

  /** A local set or delete of `key`: loads of it running now must not store their value. */
  wrote(key: string): void {
    if (this.#byKey.size === 0) return;
    const fences = this.#byKey.get(key);
    if (fences) for (const fence of fences) if (fence.writeId === 0) fence.conflict = true;
  }

  /** A local clear of `prefix`: the same for loads of keys under it. */
  wroteClear(prefix: string): void {
    for (const [key, fences] of this.#byKey) {
      if (key.startsWith(prefix)) for (const fence of fences) if (fence.writeId === 0) fence.conflict = true;
    }
  }

  /** A clear read from the log at `offset` of `partition`, written by `origin` (`own`: this instance). */
  cleared(prefix: string, partition: number, offset: number, origin: string, own: boolean): void {
    this.#recent.noteClear(prefix, partition, offset, origin);
    if (this.#byKey.size === 0) return;
    const host = this.#host;
    const onePartition = host.partitions() > 1;
    for (const [key, fences] of this.#byKey) {
      if (!key.startsWith(prefix) || (onePartition && host.partitionOf(key) !== partition)) continue;
      for (const fence of fences) {
        if (!own) fence.conflict = true;
        fence.state = null;
      }
    }
  }

  /**
   * A set or delete read from the log at `offset` of `partition` (`own`: written by this
   * instance). Remembers plain records, judges fenced ones, and corrects this instance's own
   * stale fenced records.
   */
  judge(record: ReadSet | ParsedDelete, partition: number, offset: number, own: boolean): Verdict {
    const key = record.key;
    if (record.fence < 0) {
      this.#recent.note(key, partition, offset, record.origin);
      // This instance's own plain records before its fenced ones were written before their loads began.
      if (this.#byKey.size !== 0 && this.#byKey.has(key)) this.#observe(key, stateOf(record), !own);
      return Verdict.Apply;
    }
    if (own) {
      const fences = this.#byKey.get(key);
      const fence = fences?.find((f) => f.writeId === record.writeId);
      if (fence) return this.#ownCameBack(fence, fences!, record, offset);
    }
    const conflict = this.#recent.conflicts(key, partition, record.fence, offset, record.origin, record.op === 'set' ? record.tags : undefined);
    if (conflict === true) return Verdict.Skip;
    if (this.#byKey.has(key)) this.#observe(key, conflict === false ? stateOf(record) : null, false);
    return conflict === false ? Verdict.Apply : Verdict.Drop;
  }

  #ownCameBack(fence: Fence, fences: Fence[], record: ReadSet | ParsedDelete, offset: number): Verdict {
    this.end(fence);
    if (!fence.conflict) {
      // Accepted everywhere. This instance stored the value when it was loaded; apply it again
      // only if a record applied since then replaced it here.
      if (fence.state === undefined) return Verdict.Skip;
      this.#observe(fence.key, stateOf(record), false);
      return Verdict.Apply;
    }
    // Stale. Unless a later write of the key is on its way (it comes after this record), restate
    // the key's state after this record, where the cleaner cannot remove it before this one, and
    // drop the local copy until the restatement comes back (a record the write shield kept from
    // the store may have been the one that made this record stale).
    const host = this.#host;
    if (fences.some((f) => f !== fence && f.writeId !== 0) || host.pending(fence.key)) return Verdict.Skip;
    const correction = host.correct(fence.key, fence.state ?? null, offset + 1);
    if (correction) {
      // Applied here when it comes back, whatever happened meanwhile.
      correction.state = null;
      this.#add(correction);
    }
    return Verdict.Drop;
  }

  /** A record of `key` applied: fences of it learn the key's new state, and of a conflict when the record is plain. */
  #observe(key: string, state: KeyState, plain: boolean): void {
    const fences = this.#byKey.get(key);
    if (!fences) return;
    for (const fence of fences) {
      if (plain) fence.conflict = true;
      fence.state = state === null ? null : { bytes: Buffer.from(state.bytes), expiresAt: state.expiresAt, graceEnd: state.graceEnd, tags: state.tags };
    }
  }

  #add(fence: Fence): void {
    const fences = this.#byKey.get(fence.key);
    if (fences) fences.push(fence);
    else this.#byKey.set(fence.key, [fence]);
  }
}

function stateOf(record: ReadSet | ParsedDelete): KeyState {
  return record.op === 'set' ? { bytes: payload(record) as Buffer, expiresAt: record.expiresAt, graceEnd: record.graceEnd, tags: record.tags } : null;
}
