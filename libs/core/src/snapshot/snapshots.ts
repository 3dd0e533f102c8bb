import { createHash } from 'node:crypto';
import type { LoadFences } from '../cache/fences.js';
import type { LocalStore, StoredEntry } from '../cache/local-store.js';
import type { Clock } from '../clock.js';
import type { Codec } from '../codec.js';
import { SnapshotRefusedError, type SnapshotRefusal } from '../errors.js';
import type { PartitionOffsets, ReplicationLog } from '../log/port.js';
import type { Logger } from '../logger.js';
import { yieldToEventLoop } from '../retry.js';
import { readSnapshotFile, snapshotFile, writeAtomically } from './file.js';
import { FORMAT, SnapshotEncoder, SnapshotFormatError, SnapshotReader, type SnapshotConfig, type SnapshotMeta } from './format.js';
import type { ResolvedSnapshotOptions } from './options.js';

/** Entries restored or encoded between two turns of the event loop. */
const SLICE = 10_000;

/** How a start used its snapshot (the `snapshot` event and `stats().snapshot.load`). */
export interface SnapshotLoadReport {
  op: 'load';
  /** `loaded`: the start read only the log after the snapshot; `refused`: see `reason`; `missing`: there was no snapshot. Both read the whole topic. */
  outcome: 'loaded' | 'refused' | 'missing';
  file: string;
  reason?: SnapshotRefusal;
  message?: string;
  /** Entries restored. */
  entries: number;
  /** The positions the start resumed from, per partition. */
  positions?: number[];
  /** Time spent reading, checking and restoring, in ms. */
  ms: number;
}

/** Why a snapshot was not written: not caught up yet, local writes on their way, no confirmed freshness yet, or a write still running. */
export type SnapshotSkip = 'not-caught-up' | 'writes-in-flight' | 'unconfirmed' | 'busy';

/** A snapshot write (the `snapshot` event and `stats().snapshot.lastWrite`). */
export interface SnapshotWriteReport {
  op: 'write';
  outcome: 'written' | 'skipped' | 'failed';
  file: string;
  reason?: SnapshotSkip;
  message?: string;
  entries: number;
  bytes: number;
  positions?: number[];
  ms: number;
}

export type SnapshotReport = SnapshotLoadReport | SnapshotWriteReport;

/** `stats().snapshot` when option `snapshot` is set. */
export interface SnapshotStats {
  file: string;
  load: SnapshotLoadReport | undefined;
  lastWrite: SnapshotWriteReport | undefined;
  /** Snapshots written, and writes that failed, since the start. */
  written: number;
  failed: number;
}

/** What the snapshots ask of the cache. */
export interface SnapshotHost<V> {
  topic: string;
  origin: string;
  logger: Logger;
  clock: Clock;
  codec: Codec<V>;
  mode: 'replicate' | 'invalidate';
  filter: ((key: string) => boolean) | undefined;
  signed: boolean;
  maxKeyBytes: number;
  maxValueBytes: number;
  bootstrapDecode: 'lazy' | 'eager';
  store: LocalStore<V>;
  fences: LoadFences;
  log: ReplicationLog;
  closed(): boolean;
  bootstrapped(): boolean;
  /** Whether no local write is on its way to the log. */
  idle(): boolean;
  partitions(): number;
  unapplied(partition: number): number;
  staleness(now: number): number;
  report(report: SnapshotReport): void;
}

type Read = { reader: SnapshotReader } | { refused: SnapshotRefusedError } | { missing: true };

/**
 * Local snapshots (docs/snapshots.md): at start, reads the snapshot, checks that it may be used
 * (same topic, configuration and partitions; positions inside the log; the topic not re-created;
 * younger than the topic's tombstone retention), restores its entries and the fences' memory,
 * and tells the follower where to resume. While running and at close, writes the entries with
 * the positions they reflect, atomically. A snapshot that may not be used is refused, reported,
 * and the start reads the whole topic.
 */
export class Snapshots<V> {
  readonly #options: ResolvedSnapshotOptions;
  readonly #host: SnapshotHost<V>;
  readonly #file: Promise<string>;
  #fileName: string;
  readonly #reading: Promise<Read>;
  #decided = false;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> | undefined;
  /** The latest timestamp of a record reflected by the entries (from the snapshot loaded, then from every record applied). */
  #maxTimestamp = 0;
  #load: SnapshotLoadReport | undefined;
  #lastWrite: SnapshotWriteReport | undefined;
  #written = 0;
  #failed = 0;

  constructor(options: ResolvedSnapshotOptions, host: SnapshotHost<V>) {
    this.#options = options;
    this.#host = host;
    this.#fileName = options.path;
    this.#file = snapshotFile(options.path, host.topic).then((file) => (this.#fileName = file));
    this.#reading = this.#read();
  }

  get stats(): SnapshotStats {
    return { file: this.#fileName, load: this.#load, lastWrite: this.#lastWrite, written: this.#written, failed: this.#failed };
  }

  /** A record stamped `timestamp` was applied. */
  saw(timestamp: number): void {
    if (timestamp > this.#maxTimestamp) this.#maxTimestamp = timestamp;
  }

  /** The configuration a snapshot must have been written with. */
  config(): SnapshotConfig {
    const host = this.#host;
    return {
      codec: host.codec.name,
      mode: host.mode,
      filter: host.filter === undefined ? null : createHash('sha256').update(host.filter.toString()).digest('hex'),
      signed: host.signed,
      maxKeyBytes: host.maxKeyBytes,
      maxValueBytes: host.maxValueBytes,
      version: this.#options.version,
    };
  }

  /**
   * The log is open with `partitions` and `offsets`: restores the snapshot if it may be used and
   * returns the positions to resume from; undefined for a full read. Decides once per start.
   */
  async resume(partitions: number, offsets: PartitionOffsets[]): Promise<number[] | undefined> {
    if (this.#decided) return undefined;
    this.#decided = true;
    const started = performance.now();
    const file = await this.#file;
    const read = await this.#reading;
    const done = (outcome: SnapshotLoadReport['outcome'], extra: Partial<SnapshotLoadReport> = {}): void => {
      this.#load = { op: 'load', outcome, file, entries: 0, ms: Math.round(performance.now() - started), ...extra };
      this.#host.report(this.#load);
    };
    if ('missing' in read) {
      done('missing');
      return undefined;
    }
    let restoring = false;
    try {
      if ('refused' in read) throw read.refused;
      const meta = read.reader.meta;
      await this.#check(meta, partitions, offsets);
      if (this.#host.closed()) return undefined;
      restoring = true;
      const entries = await this.#restore(read.reader);
      this.#host.fences.loadRecent(meta.fences);
      this.#maxTimestamp = Math.max(this.#maxTimestamp, meta.maxTimestamp);
      done('loaded', { entries, positions: meta.positions.slice() });
      return meta.positions.slice();
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

  /** Starts the background writes (once the cache caught up). */
  live(): void {
    if (this.#options.interval === 0 || this.#timer !== undefined || this.#host.closed()) return;
    this.#timer = setInterval(() => void this.write(), this.#options.interval);
    this.#timer.unref();
  }

  /** Stops the background writes; with `onClose`, writes a last snapshot once the local writes came back from the log (waiting at most `timeout` ms). */
  async close(timeout: number): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#writing;
    if (!this.#options.onClose || !this.#host.bootstrapped()) return;
    const deadline = performance.now() + timeout;
    while (!this.#host.idle() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    await this.write();
  }

  /** Writes a snapshot now, unless one is being written or the state does not match a log position (see `SnapshotSkip`). */
  async write(): Promise<void> {
    const file = await this.#file;
    const host = this.#host;
    const skip = (reason: SnapshotSkip): void => {
      this.#lastWrite = { op: 'write', outcome: 'skipped', file, reason, entries: 0, bytes: 0, ms: 0 };
      host.report(this.#lastWrite);
    };
    if (this.#writing) return skip('busy');
    if (!host.bootstrapped()) return skip('not-caught-up');
    if (!host.idle()) return skip('writes-in-flight');
    const now = host.clock.now();
    const staleness = host.staleness(now);
    if (!Number.isFinite(staleness)) return skip('unconfirmed');
    // Taken in one go, between two records: the entries, positions and fences' memory agree.
    const positions = Array.from({ length: host.partitions() }, (_, p) => host.unapplied(p));
    const entries: StoredEntry[] = [];
    if (host.mode === 'replicate') for (const entry of host.store.stored()) if (host.filter === undefined || host.filter(entry.key)) entries.push(entry);
    const meta: SnapshotMeta = {
      format: FORMAT,
      topic: host.topic,
      partitions: positions.length,
      positions,
      maxTimestamp: this.#maxTimestamp,
      coveredAt: now - staleness,
      writtenAt: now,
      instanceId: host.origin,
      entries: entries.length,
      config: this.config(),
      fences: host.fences.saveRecent(),
    };
    const started = performance.now();
    const writing = writeAtomically(file, this.#encode(entries, meta)).then(
      (bytes) => {
        this.#written++;
        this.#lastWrite = { op: 'write', outcome: 'written', file, entries: entries.length, bytes, positions, ms: Math.round(performance.now() - started) };
        host.report(this.#lastWrite);
      },
      (error: unknown) => {
        this.#failed++;
        const message = `writing the snapshot ${file} failed: ${error instanceof Error ? error.message : String(error)}`;
        this.#lastWrite = {
          op: 'write',
          outcome: 'failed',
          file,
          message,
          entries: entries.length,
          bytes: 0,
          positions,
          ms: Math.round(performance.now() - started),
        };
        host.report(this.#lastWrite);
      },
    );
    this.#writing = writing.finally(() => (this.#writing = undefined));
    await this.#writing;
  }

  async *#encode(entries: StoredEntry[], meta: SnapshotMeta): AsyncIterable<Buffer> {
    const encoder = new SnapshotEncoder();
    const codec = this.#host.codec;
    for (let i = 0; i < entries.length; i++) {
      if (i > 0 && i % SLICE === 0) await yieldToEventLoop();
      const entry = entries[i]!;
      const value = entry.latin1 !== undefined ? entry.latin1 : codec.encode(entry.value as V);
      if (encoder.add({ key: entry.key, value, expiresAt: entry.expiresAt, graceEnd: entry.graceEnd, tags: entry.tags })) yield encoder.take();
    }
    yield encoder.finish(meta);
  }

  async #read(): Promise<Read> {
    let bytes: Buffer | undefined;
    try {
      bytes = await readSnapshotFile(await this.#file);
    } catch (error) {
      return { refused: new SnapshotRefusedError('unreadable', `the snapshot cannot be read: ${(error as Error).message}`, { cause: error }) };
    }
    if (bytes === undefined) return { missing: true };
    try {
      const reader = new SnapshotReader(bytes);
      if (!wellFormed(reader.meta)) return { refused: new SnapshotRefusedError('corrupt', 'the snapshot meta is not well formed') };
      return { reader };
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
    const config = this.config();
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

  /** Stores the snapshot's entries; returns how many are held. */
  async #restore(reader: SnapshotReader): Promise<number> {
    const host = this.#host;
    const store = host.store;
    const now = host.clock.now();
    const lazy = host.bootstrapDecode === 'lazy';
    let held = 0;
    let i = 0;
    // A value that fails to decode is reported as one of the snapshot: partition and offset -1.
    const from = { partition: -1, offset: -1 };
    while (reader.next()) {
      if (++i % SLICE === 0) {
        await yieldToEventLoop();
        if (host.closed()) return held;
      }
      const { key, latin1, expiresAt, graceEnd, tags } = reader;
      if (host.filter !== undefined && !host.filter(key)) continue;
      if (expiresAt !== 0 && Math.max(expiresAt, graceEnd) <= now) continue;
      const size = latin1.length + key.length;
      if (lazy && graceEnd === 0) {
        store.storeEncoded(key, latin1, from, expiresAt, size, tags);
      } else {
        const decoded = store.decode(reader.value(), from);
        if (decoded === undefined) continue;
        store.store(key, decoded as {}, expiresAt, size, graceEnd, tags);
      }
      held++;
    }
    return held;
  }
}

function wellFormed(meta: SnapshotMeta): boolean {
  const offsets = (list: unknown): boolean => Array.isArray(list) && list.every((n) => Number.isSafeInteger(n) && (n as number) >= 0);
  return (
    typeof meta.topic === 'string' &&
    Number.isSafeInteger(meta.partitions) &&
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
