import type { StoredEntry } from '../cache/local-store.js';
import { yieldToEventLoop } from '../retry.js';
import { writeAtomically } from './file.js';
import { BYTE_ORDER } from './entry-index.js';
import { FORMAT, SnapshotEncoder, type SnapshotConfig, type SnapshotMeta } from './format.js';
import type { ResolvedSnapshotOptions } from './options.js';
import type { SnapshotHost, SnapshotSkip, SnapshotWriteReport } from './snapshots.js';

/** Entries encoded between two turns of the event loop. */
const SLICE = 10_000;

/**
 * The writes of snapshots: in the background at the interval once the cache is live, and at
 * close. Each takes the entries, positions and fences' memory in one synchronous step (they
 * agree), encodes them in slices and writes the file atomically.
 */
export class SnapshotWriter<V> {
  readonly #options: ResolvedSnapshotOptions;
  readonly #host: SnapshotHost<V>;
  readonly #file: string;
  readonly #config: () => SnapshotConfig;
  readonly #maxTimestamp: () => number;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> | undefined;
  #lastWrite: SnapshotWriteReport | undefined;
  #written = 0;
  #failed = 0;

  constructor(options: ResolvedSnapshotOptions, host: SnapshotHost<V>, file: string, config: () => SnapshotConfig, maxTimestamp: () => number) {
    this.#options = options;
    this.#host = host;
    this.#file = file;
    this.#config = config;
    this.#maxTimestamp = maxTimestamp;
  }

  get lastWrite(): SnapshotWriteReport | undefined {
    return this.#lastWrite;
  }

  get written(): number {
    return this.#written;
  }

  get failed(): number {
    return this.#failed;
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
    const file = this.#file;
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
      maxTimestamp: this.#maxTimestamp(),
      coveredAt: now - staleness,
      writtenAt: now,
      instanceId: host.origin,
      entries: entries.length,
      byteOrder: BYTE_ORDER,
      config: this.#config(),
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
    const encoder = new SnapshotEncoder(entries.length);
    const codec = this.#host.codec;
    for (let i = 0; i < entries.length; i++) {
      if (i > 0 && i % SLICE === 0) await yieldToEventLoop();
      const entry = entries[i]!;
      const value = entry.latin1 !== undefined ? entry.latin1 : codec.encode(entry.value as V);
      if (encoder.add({ key: entry.key, value, expiresAt: entry.expiresAt, graceEnd: entry.graceEnd, tags: entry.tags })) yield encoder.take();
    }
    yield encoder.finish(meta);
  }
}
