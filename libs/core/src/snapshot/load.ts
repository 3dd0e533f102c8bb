import { RestoredEntries } from '../cache/restored-entries.js';
import { SnapshotRefusedError, type SnapshotRefusal } from '../errors.js';
import type { PartitionOffsets } from '../log/port.js';
import { yieldToEventLoop } from '../retry.js';
import { peekFile, type SnapshotBytes } from './read.js';
import { openSnapshot, peekMeta, SnapshotFormatError, TRAILER, type KnownMeta, type SnapshotConfig, type SnapshotMeta, type SnapshotReader } from './format.js';
import type { SnapshotHost, SnapshotLoadReport } from './snapshots.js';

/** Entries restored (before the cache is ready) between two turns of the event loop. */
const SLICE = 10_000;
/** Entries moved into the LRU in the background (the cache is live) per turn: about 3 ms of its thread. */
const SETTLE_SLICE = 2_000;

/** A checked file, with its plain entries indexed while it was checked (see `#index`). */
type Read = { reader: SnapshotReader; index: Index | undefined } | { refused: SnapshotRefusedError } | { missing: true };

/** The untagged entries without a grace period of a snapshot, and how many others it has. */
interface Index {
  plain: RestoredEntries;
  others: number;
}

/** What a start took from its snapshot: where to resume, and the latest record timestamp reflected. */
export interface Resumed {
  positions: number[];
  maxTimestamp: number;
}

/**
 * The load of a snapshot at start: reads and checks the file while the log opens, then checks
 * that it may be used (same topic, configuration and partitions; positions inside the log; the
 * topic not re-created; younger than the topic's tombstone retention), restores its entries and
 * the fences' memory, and reports. Plain entries stay in the file until read (`RestoredEntries`)
 * and move into the LRU in the background once the cache is live.
 */
export class SnapshotLoader<V> {
  readonly #host: SnapshotHost<V>;
  readonly #file: string;
  readonly #bytes: Promise<SnapshotBytes | undefined>;
  /** The meta, read and parsed while the whole file is read (see `peekMeta`); undefined when it could not be. */
  readonly #early: Promise<KnownMeta | undefined>;
  readonly #config: () => SnapshotConfig;
  readonly #reading: Promise<Read>;
  #decided = false;
  #settling = false;
  #report: SnapshotLoadReport | undefined;

  /** `bytes`: the file's, being read since the cache was created (see `startSnapshotRead`). */
  constructor(host: SnapshotHost<V>, file: string, bytes: Promise<SnapshotBytes | undefined>, config: () => SnapshotConfig) {
    this.#host = host;
    this.#file = file;
    this.#bytes = bytes;
    this.#config = config;
    this.#early = peekFile(file, TRAILER, peekMeta).catch(() => undefined);
    this.#reading = this.#read();
  }

  get report(): SnapshotLoadReport | undefined {
    return this.#report;
  }

  /**
   * The log is open with `partitions` and `offsets`: restores the snapshot if it may be used and
   * tells where to resume; undefined for a full read. Decides once per start.
   */
  async resume(partitions: number, offsets: PartitionOffsets[]): Promise<Resumed | undefined> {
    if (this.#decided) return undefined;
    this.#decided = true;
    const started = performance.now();
    const file = this.#file;
    // The checks that ask the log start on the meta read ahead, while the file is still being
    // read; they count only if the checked file's meta is the same (the same object, see openSnapshot).
    const early = await this.#early;
    const checking = early !== undefined && wellFormed(early.meta) ? this.#check(early.meta, partitions, offsets) : undefined;
    checking?.catch(() => undefined);
    const read = await this.#reading;
    // Closed meanwhile (the read may have been stopped): nothing to report.
    if (this.#host.closed()) return undefined;
    const done = (outcome: SnapshotLoadReport['outcome'], extra: Partial<SnapshotLoadReport> = {}): void => {
      this.#report = { op: 'load', outcome, file, entries: 0, ms: Math.round(performance.now() - started), ...extra };
      this.#host.report(this.#report);
    };
    if ('missing' in read) {
      done('missing');
      return undefined;
    }
    let restoring = false;
    try {
      if ('refused' in read) throw read.refused;
      const meta = read.reader.meta;
      await (checking !== undefined && meta === early!.meta ? checking : this.#check(meta, partitions, offsets));
      if (this.#host.closed()) return undefined;
      restoring = true;
      const entries = await this.#restore(read.reader, read.index);
      this.#host.fences.loadRecent(meta.fences);
      done('loaded', { entries, positions: meta.positions.slice() });
      return { positions: meta.positions.slice(), maxTimestamp: meta.maxTimestamp };
    } catch (error) {
      // Nothing of a snapshot that failed half-way stays: the full read starts from an empty store.
      if (restoring) this.#host.store.clear();
      const refused =
        error instanceof SnapshotRefusedError
          ? error
          : new SnapshotRefusedError('unchecked', `the snapshot could not be checked: ${String(error)}`, { cause: error });
      done('refused', { reason: refused.reason, message: refused.message });
      return undefined;
    }
  }

  /** The cache is live: moves the restored entries still outside the LRU into it, a slice per turn of the event loop. */
  async settle(): Promise<void> {
    if (this.#settling) return;
    this.#settling = true;
    const host = this.#host;
    // From the next turn on: whoever waited for ready() goes first.
    do await yieldToEventLoop();
    while (!host.closed() && host.store.settle(SETTLE_SLICE));
  }

  async #read(): Promise<Read> {
    let read: SnapshotBytes | undefined;
    try {
      read = await this.#bytes;
    } catch (error) {
      return { refused: new SnapshotRefusedError('unreadable', `the snapshot cannot be read: ${(error as Error).message}`, { cause: error }) };
    }
    if (read === undefined) return { missing: true };
    try {
      const reader = openSnapshot(read.bytes, read, await this.#early);
      if (!wellFormed(reader.meta)) return { refused: new SnapshotRefusedError('corrupt', 'the snapshot meta is not well formed') };
      return { reader, index: this.#index(reader) };
    } catch (error) {
      if (error instanceof SnapshotFormatError) return { refused: new SnapshotRefusedError(error.reason, `the snapshot is ${error.reason}: ${error.message}`) };
      return { refused: new SnapshotRefusedError('corrupt', `the snapshot cannot be parsed: ${String(error)}`, { cause: error }) };
    }
  }

  /** Throws `SnapshotRefusedError` when the snapshot may not be used. */
  async #check(meta: SnapshotMeta, partitions: number, offsets: PartitionOffsets[]): Promise<void> {
    const host = this.#host;
    const refuse = (reason: SnapshotRefusal, message: string): never => {
      throw new SnapshotRefusedError(reason, message);
    };
    if (meta.topic !== host.topic) refuse('other-topic', `the snapshot is of topic "${meta.topic}", not "${host.topic}"`);
    const config = this.#config();
    const changed = (Object.keys(config) as Array<keyof SnapshotConfig>).filter((name) => meta.config[name] !== config[name]);
    if (changed.length > 0) refuse('config-changed', `the snapshot was written with another ${changed.join(', ')}`);
    if (meta.partitions !== partitions || meta.positions.length !== partitions)
      refuse('partitions-changed', `the snapshot has ${meta.partitions} partitions, the topic ${partitions}`);
    for (const { partition, low, high } of offsets) {
      const position = meta.positions[partition]!;
      if (position < low) refuse('below-log-start', `partition ${partition}: the snapshot's position ${position} is below the log start offset ${low}`);
      if (position > high) refuse('above-log-end', `partition ${partition}: the snapshot's position ${position} is past the end of the log (${high})`);
    }
    if (host.log.snapshotFacts === undefined) refuse('unchecked', `the ${host.log.kind} log cannot tell what a snapshot start checks`);
    const facts = await host.log.snapshotFacts!(meta.maxTimestamp + 1);
    meta.positions.forEach((position, partition) => {
      const first = facts.firstAtOrAfter[partition] ?? 0;
      // Records stamped after every record the snapshot reflects, at offsets it claims to reflect: another topic under the same name.
      if (position > 0 && first < position)
        refuse('topic-recreated', `partition ${partition}: records newer than the snapshot sit at offset ${first}, below its position ${position}`);
    });
    const age = host.clock.now() - meta.coveredAt;
    if (!(age < facts.deleteRetentionMs))
      refuse('too-old', `the snapshot covers the log up to ${age} ms ago, not less than the topic's delete.retention.ms (${facts.deleteRetentionMs})`);
  }

  /**
   * The plain entries of `reader` (untagged, no grace period, not expired now) from its index,
   * when the store may hold them so (see `canRestore`); undefined otherwise. Counts the others.
   */
  #index(reader: SnapshotReader): Index | undefined {
    const host = this.#host;
    const count = reader.meta.entries;
    if (host.bootstrapDecode !== 'lazy' || host.filter !== undefined || !host.store.canRestore(count)) return undefined;
    const plain = reader.index(host.clock.now());
    return plain === undefined ? undefined : { plain, others: count - plain.live };
  }

  /**
   * Stores the snapshot's entries; returns how many are held. Untagged entries without a grace
   * period stay in the file until read (when the store can hold them so: see `canRestore`); the
   * others are stored as before (decoded at once with `bootstrapDecode: 'eager'`).
   */
  async #restore(reader: SnapshotReader, index: Index | undefined): Promise<number> {
    const host = this.#host;
    const store = host.store;
    const now = host.clock.now();
    const lazy = host.bootstrapDecode === 'lazy';
    const count = reader.meta.entries;
    // Local writes made before the snapshot was loaded: every entry is stored (as before indexes).
    const deferred = index !== undefined && store.canRestore(count) ? index.plain : undefined;
    if (deferred !== undefined && index!.others === 0) {
      store.restore(deferred);
      return deferred.live;
    }
    let held = 0;
    let i = 0;
    // A value that fails to decode is reported as one of the snapshot: partition and offset -1.
    const from = { partition: -1, offset: -1 };
    while (reader.next()) {
      if (++i > count) throw new SnapshotRefusedError('corrupt', `the snapshot holds more entries than its meta says (${count})`);
      if (i % SLICE === 0) {
        await yieldToEventLoop();
        if (host.closed()) return held;
      }
      const { expiresAt, graceEnd } = reader;
      if (expiresAt !== 0 && Math.max(expiresAt, graceEnd) <= now) continue;
      // Indexed already.
      if (deferred !== undefined && graceEnd === 0 && reader.tagCount === 0) continue;
      const key = reader.key();
      if (host.filter !== undefined && !host.filter(key)) continue;
      const size = reader.valueLength + key.length;
      if (lazy && graceEnd === 0) {
        store.storeEncoded(key, reader.latin1(), 0, from, expiresAt, size, reader.tags());
      } else {
        const decoded = store.decode(reader.value(), from);
        if (decoded === undefined) continue;
        store.store(key, decoded as {}, expiresAt, size, graceEnd, reader.tags());
      }
      held++;
    }
    if (i !== count) throw new SnapshotRefusedError('corrupt', `the snapshot holds ${i} entries, its meta says ${count}`);
    if (deferred === undefined) return held;
    store.restore(deferred);
    return held + deferred.live;
  }
}

function wellFormed(meta: SnapshotMeta): boolean {
  const offsets = (list: unknown): boolean => Array.isArray(list) && list.every((n) => Number.isSafeInteger(n) && (n as number) >= 0);
  return (
    meta !== null &&
    typeof meta === 'object' &&
    typeof meta.topic === 'string' &&
    Number.isSafeInteger(meta.partitions) &&
    Number.isSafeInteger(meta.entries) &&
    meta.entries >= 0 &&
    offsets(meta.positions) &&
    typeof meta.maxTimestamp === 'number' &&
    typeof meta.coveredAt === 'number' &&
    meta.config !== null &&
    typeof meta.config === 'object' &&
    meta.fences !== null &&
    typeof meta.fences === 'object' &&
    Array.isArray(meta.fences.records) &&
    meta.fences.records.every(
      (r) => Array.isArray(r) && typeof r[0] === 'string' && Number.isSafeInteger(r[1]) && Number.isSafeInteger(r[2]) && typeof r[3] === 'string',
    ) &&
    Array.isArray(meta.fences.horizon) &&
    meta.fences.horizon.every((h) => Array.isArray(h) && Number.isSafeInteger(h[0]) && Number.isSafeInteger(h[1])) &&
    Array.isArray(meta.fences.clears)
  );
}
