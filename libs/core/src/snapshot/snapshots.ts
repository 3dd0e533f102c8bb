import { createHash } from 'node:crypto';
import type { LoadFences } from '../cache/fences.js';
import type { LocalStore } from '../cache/local-store.js';
import type { Clock } from '../clock.js';
import type { Codec } from '../codec.js';
import type { SnapshotRefusal } from '../errors.js';
import type { PartitionOffsets, ReplicationLog } from '../log/port.js';
import type { Logger } from '../logger.js';
import { snapshotFile } from './file.js';
import { TRAILER, type SnapshotConfig } from './format.js';
import { SnapshotLoader } from './load.js';
import type { ResolvedSnapshotOptions } from './options.js';
import { readSnapshotFile, type SnapshotBytes } from './read.js';
import { SnapshotWriter } from './write.js';

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

/** A start's snapshot file, being read (see `startSnapshotRead`). */
export interface SnapshotRead {
  /** The file: option `snapshot.path`, or `<topic>.ncsnap` in it when it is a directory. */
  file: string;
  /** The file's bytes and checksum; undefined when there is none (or the read was stopped); rejects when it cannot be read. */
  bytes: Promise<SnapshotBytes | undefined>;
  /** Stops the read if it is still running (the cache closed). */
  stop(): void;
}

/**
 * Starts reading the snapshot file of option `snapshot.path` for `topic`: the first thing a
 * cache does when it is created, so that the file is read and checked while the cache builds
 * its store and connects to the log.
 */
export function startSnapshotRead(path: string, topic: string): SnapshotRead {
  const name = snapshotFile(path, topic);
  const stopping = new AbortController();
  // Its thread starts now, while the cache builds its store.
  const bytes = readSnapshotFile(name, TRAILER, { signal: stopping.signal });
  // Awaited when the log is open; not an unhandled rejection meanwhile.
  bytes.catch(() => undefined);
  return { file: name, bytes, stop: () => stopping.abort() };
}

/**
 * Local snapshots (docs/snapshots.md): the load at start (`SnapshotLoader`, load.ts) and the
 * writes while running and at close (`SnapshotWriter`, write.ts), sharing the file, the
 * configuration a snapshot must match and the latest record timestamp the entries reflect.
 */
export class Snapshots<V> {
  readonly #options: ResolvedSnapshotOptions;
  readonly #host: SnapshotHost<V>;
  readonly #loader: SnapshotLoader<V>;
  readonly #writer: SnapshotWriter<V>;
  readonly #read: SnapshotRead;
  /** The latest timestamp of a record reflected by the entries (from the snapshot loaded, then from every record applied). */
  #maxTimestamp = 0;

  /** `read`: the snapshot file's read, started when the cache was created (see `startSnapshotRead`). */
  constructor(options: ResolvedSnapshotOptions, host: SnapshotHost<V>, read: SnapshotRead) {
    this.#options = options;
    this.#host = host;
    this.#read = read;
    const config = () => this.config();
    this.#loader = new SnapshotLoader(host, read.file, read.bytes, config);
    this.#writer = new SnapshotWriter(options, host, read.file, config, () => this.#maxTimestamp);
  }

  get stats(): SnapshotStats {
    const writer = this.#writer;
    return { file: this.#read.file, load: this.#loader.report, lastWrite: writer.lastWrite, written: writer.written, failed: writer.failed };
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
    const resumed = await this.#loader.resume(partitions, offsets);
    if (resumed === undefined) return undefined;
    this.#maxTimestamp = Math.max(this.#maxTimestamp, resumed.maxTimestamp);
    return resumed.positions;
  }

  /** The cache caught up: restored entries move into the LRU in the background, and the background writes start. */
  live(): void {
    void this.#loader.settle();
    this.#writer.live();
  }

  /** Stops the background writes; with `onClose`, writes a last snapshot (see `SnapshotWriter.close`). */
  close(timeout: number): Promise<void> {
    // A start that never used its snapshot does not read it to the end.
    this.#read.stop();
    return this.#writer.close(timeout);
  }

  /** Writes a snapshot now (see `SnapshotWriter.write`). */
  write(): Promise<void> {
    return this.#writer.write();
  }
}
