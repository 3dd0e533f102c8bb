/**
 * Replication on a worker thread: the Kafka adapter (kafkajs: connections, fetching, record
 * decoding, producing, heartbeats) runs in a `worker_threads` worker, the cache stays on the
 * caller's thread. Batches read come over as one transferred ArrayBuffer each; appends go the
 * other way, those of one tick in one message. See docs/replication-modes.md.
 */
import { Worker } from 'node:worker_threads';
import { systemClock } from '../../clock.js';
import { LogUnavailableError, NearCacheError, ReplicationWorkerError } from '../../errors.js';
import { backoff, CancellableDelay, RETRY } from '../../retry.js';
import { partitionFor } from '../../partitioner.js';
import type { OutgoingRecord } from '../../record.js';
import type { KafkaLogOptions, ResolvedKafkaOptions } from '../kafka/options.js';
import type { ConsumeHandlers, LogContext, PartitionOffsets, ReplicationLog, ReplicationLogFactory, SnapshotFacts } from '../port.js';
import { resolveForWorker, type ReplicationWorkerOptions, type WorkerSettings } from './options.js';
import { decodeBatch, encodeAppends, fromErrorData, type FromWorker, type ToWorker, type WorkerStart } from './protocol.js';

/** A worker that ran this long before it was lost counts as a first failure again, in ms. */
const STABLE_RUN_MS = 60_000;

/** What the worker's flow control did so far (see `KafkaWorkerLog.flow`). */
export interface WorkerFlow {
  /** Bytes of batches received and not yet applied. */
  bufferedBytes: number;
  /** The most `bufferedBytes` have been. */
  peakBufferedBytes: number;
  /** Whether the worker stopped fetching. */
  paused: boolean;
  /** How many times it stopped fetching. */
  pauses: number;
  /** The bound the worker keeps to. */
  maxBufferedBytes: number;
  /** How many times a worker that crashed or exited was started again. */
  restarts: number;
}

export type { ReplicationWorkerOptions } from './options.js';

/** The worker's entry, next to this module (`.js` in the built package). */
const ENTRY = new URL('./entry.js', import.meta.url);

/**
 * Returns a log factory for `createNearCache({ log })` that replicates through Kafka from a
 * worker thread. Checks `kafka` and `worker` at once.
 */
export function kafkaWorkerLog(kafka: KafkaLogOptions, worker: ReplicationWorkerOptions = {}): ReplicationLogFactory {
  const { options, settings } = resolveForWorker(kafka, worker);
  return (context) => new KafkaWorkerLog(options, settings, context);
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/**
 * The cache's side of a replication worker: a `ReplicationLog` whose calls are messages to the
 * worker. A worker that crashes or exits is started again with backoff (`RETRY.workerRestart`),
 * its consumer resuming at the cache's own positions, up to `maxRestarts` times in a row.
 */
export class KafkaWorkerLog implements ReplicationLog {
  readonly kind = 'kafka';
  /** Kafka's framing of a record in a batch (lengths, attributes, deltas, header count), generously. */
  readonly recordOverhead = 96;
  readonly #start: WorkerStart;
  readonly #context: LogContext;
  readonly #maxRestarts: number;
  #worker: Worker | undefined;
  /** Workers started so far. */
  #generation = 0;
  /** When the current worker started (systemClock). */
  #startedAt = 0;
  /** Why replication ended for good (restarts exhausted): every later call rejects with it. */
  #gone: NearCacheError | undefined;
  /** A lost worker is being started again: calls meanwhile reject (retriable). */
  #restarting = false;
  /** Workers lost in a row (reset by one that ran `STABLE_RUN_MS`). */
  #failures = 0;
  readonly #restartDelay = new CancellableDelay();
  #closing: Promise<void> | undefined;
  #nextId = 0;
  readonly #pending = new Map<number, Pending>();
  /** Where batches go (from `consume`). */
  #handlers: ConsumeHandlers | undefined;
  /** Whether the consumer runs (`consume` answered): a lost worker's consumer is then started again. */
  #consuming = false;
  /** Batches are applied one at a time, in the order they arrived. */
  #applying: Promise<void> = Promise.resolve();
  /** Appends of this tick, sent together. */
  #appends: Array<{ id: number; records: OutgoingRecord[] }> = [];
  readonly #flow: WorkerFlow;
  /** Bytes applied and not told to the worker yet (see #appliedBytes). */
  #unreported = 0;
  #partitions = 0;

  constructor(options: ResolvedKafkaOptions, settings: WorkerSettings, context: LogContext) {
    const { logger: _logger, ...rest } = context;
    this.#start = { options, context: rest, maxBufferedBytes: settings.maxBufferedBytes };
    this.#context = context;
    this.#maxRestarts = settings.maxRestarts;
    this.#flow = { bufferedBytes: 0, peakBufferedBytes: 0, paused: false, pauses: 0, maxBufferedBytes: settings.maxBufferedBytes, restarts: 0 };
  }

  /** Kafka's default partitioner: murmur2 of the key bytes, as the Java client and kafkajs compute it. */
  partitionFor(key: string, partitions: number): number {
    return partitionFor(key, partitions);
  }

  /** The worker's flow control and restarts so far (a copy). */
  flow(): WorkerFlow {
    return { ...this.#flow };
  }

  /**
   * The worker thread (started by `open()`), for monitoring: its `threadId`, its
   * `performance.eventLoopUtilization()`. Undefined before, after, and while a lost one is started again.
   */
  get thread(): Worker | undefined {
    return this.#worker;
  }

  /** The worker thread, started on first use. `restart`: the call of a restart, which may start it. */
  #thread(restart = false): Worker {
    if (this.#gone) throw this.#gone;
    if (this.#closing) throw new LogUnavailableError('the Kafka log is closed', { retriable: false });
    if (this.#worker) return this.#worker;
    if (this.#restarting && !restart) throw new LogUnavailableError('the replication worker is being started again', { retriable: true });
    let worker: Worker;
    // A later worker's consumers take groups of their own: the lost one's member may still be in its group.
    const generation = this.#generation++;
    const context = generation === 0 ? this.#start.context : { ...this.#start.context, instanceId: `${this.#start.context.instanceId}.w${generation}` };
    try {
      worker = new Worker(ENTRY, { workerData: { ...this.#start, context } satisfies WorkerStart, name: `nearcache replication ${this.#context.topic}` });
    } catch (cause) {
      throw (this.#gone = new LogUnavailableError(`cannot start the replication worker: ${(cause as Error)?.message ?? String(cause)}`, { cause }));
    }
    this.#worker = worker;
    this.#startedAt = systemClock.now();
    worker.on('message', (message: FromWorker) => this.#receive(message));
    worker.on('error', (cause) => this.#lost(worker, `the replication worker failed: ${cause?.message ?? String(cause)}`, cause));
    worker.on('exit', (code) => this.#lost(worker, `the replication worker exited (code ${code})`, undefined));
    return worker;
  }

  /**
   * `worker` is gone (an uncaught error, or its thread ended; told once per worker). Pending calls
   * reject; unless `close()` ended it, a consuming log starts a new worker after a backoff, up to
   * `maxRestarts` in a row, then reports a `ReplicationWorkerError` and replicates no more.
   */
  #lost(worker: Worker, message: string, cause: unknown): void {
    if (worker !== this.#worker) return;
    this.#worker = undefined;
    this.#appends = [];
    this.#unreported = 0;
    if (this.#closing) {
      this.#rejectPending(new LogUnavailableError(`${message} while closing`, { retriable: false }));
      return;
    }
    if (systemClock.now() - this.#startedAt >= STABLE_RUN_MS) this.#failures = 0;
    const attempt = ++this.#failures;
    const options = cause === undefined ? {} : { cause };
    if (attempt > this.#maxRestarts) {
      const error = (this.#gone = new ReplicationWorkerError(
        `${message}; replication stopped (the worker was started again ${this.#maxRestarts} times in a row, replicationWorker.maxRestarts)`,
        { ...options, retriable: false },
      ));
      this.#rejectPending(error);
      this.#handlers?.onError(error);
      return;
    }
    const error = new LogUnavailableError(`${message}; starting it again (attempt ${attempt} of ${this.#maxRestarts})`, { ...options, retriable: true });
    // Appends in flight are sent again by the replication queue; a start in progress is retried by the cache.
    this.#rejectPending(error);
    const handlers = this.#handlers;
    if (!handlers || !this.#consuming) return; // Not consuming yet: the cache's start tries again, with a new worker.
    this.#restarting = true;
    if (handlers.onInterrupted) handlers.onInterrupted(error);
    else handlers.onError(error);
    void this.#restart(handlers, attempt - 1);
  }

  #rejectPending(error: NearCacheError): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const call of pending) call.reject(error);
  }

  /**
   * Starts a new worker after a backoff and its consumer at the cache's positions, once every batch
   * of the lost worker is applied: nothing is read twice or skipped.
   */
  async #restart(handlers: ConsumeHandlers, attempt: number): Promise<void> {
    await this.#restartDelay.wait(backoff(attempt, RETRY.workerRestart));
    await this.#applying;
    for (let tries = 0; !this.#closing && !this.#gone; tries++) {
      let worker: Worker | undefined;
      try {
        worker = this.#thread(true);
        this.#flow.paused = false;
        await this.#call({ type: 'open', id: this.#nextId++ }, true);
        await this.#call({ type: 'consume', id: this.#nextId++, start: this.#startOffsets(handlers) }, true);
        this.#restarting = false;
        this.#flow.restarts++;
        this.#context.logger.info(`the replication worker was started again; its consumer resumed at the cache's positions`, { attempt: attempt + 1 });
        handlers.onResumed?.();
        return;
      } catch (error) {
        // No thread could be started: replication ends here.
        if (worker === undefined) return handlers.onError(asNearCacheError(error));
        // The worker was lost again: #lost goes on from there. Otherwise Kafka failed: try again.
        if (this.#worker !== worker || this.#closing) return;
        const failure = asNearCacheError(error);
        handlers.onError(failure);
        if (!failure.retriable) return;
        await this.#restartDelay.wait(backoff(tries, RETRY.start));
      }
    }
  }

  #call<T>(message: ToWorker & { id: number }, restart = false): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const worker = this.#thread(restart);
      this.#pending.set(message.id, { resolve: resolve as (value: unknown) => void, reject });
      worker.postMessage(message);
    });
  }

  #receive(message: FromWorker): void {
    switch (message.type) {
      case 'batch':
        return this.#batch(message.buffer);
      case 'reply': {
        const pending = this.#pending.get(message.id);
        if (!pending) return;
        this.#pending.delete(message.id);
        if (message.error) pending.reject(fromErrorData(message.error));
        else pending.resolve(message.value);
        return;
      }
      case 'error':
        this.#handlers?.onError(asNearCacheError(fromErrorData(message.error)));
        return;
      case 'log':
        this.#context.logger[message.level](message.message, message.context);
        return;
      case 'flow':
        if (message.paused && !this.#flow.paused) this.#flow.pauses++;
        this.#flow.paused = message.paused;
        if (message.paused && this.#worker) this.#tellApplied(this.#worker);
        return;
    }
  }

  /**
   * The worker counts what it sent and the cache has not applied only to know when to stop and
   * start fetching: it is told at once while it stopped, else in steps of a quarter of its bound,
   * so that applying a batch does not wake its thread each time.
   */
  #appliedBytes(worker: Worker, bytes: number): void {
    this.#unreported += bytes;
    if (this.#flow.paused || this.#unreported >= this.#start.maxBufferedBytes / 4) this.#tellApplied(worker);
  }

  #tellApplied(worker: Worker): void {
    if (this.#unreported === 0) return;
    worker.postMessage({ type: 'applied', bytes: this.#unreported } satisfies ToWorker);
    this.#unreported = 0;
  }

  #batch(buffer: ArrayBuffer): void {
    const bytes = buffer.byteLength;
    const flow = this.#flow;
    flow.bufferedBytes += bytes;
    if (flow.bufferedBytes > flow.peakBufferedBytes) flow.peakBufferedBytes = flow.bufferedBytes;
    const handlers = this.#handlers;
    const from = this.#worker;
    this.#applying = this.#applying.then(async () => {
      try {
        if (handlers && !this.#closing) await handlers.onBatch(decodeBatch(buffer));
      } catch (error) {
        handlers?.onError(asNearCacheError(error));
      } finally {
        flow.bufferedBytes -= bytes;
        // Only the worker that sent it counts it (a new one starts at 0).
        if (from !== undefined && from === this.#worker) this.#appliedBytes(from, bytes);
      }
    });
  }

  async open(): Promise<{ partitions: number }> {
    const opened = await this.#call<{ partitions: number }>({ type: 'open', id: this.#nextId++ });
    this.#partitions = opened.partitions;
    return opened;
  }

  offsets(): Promise<PartitionOffsets[]> {
    return this.#call({ type: 'offsets', id: this.#nextId++ });
  }

  /** Asked of the worker's Kafka log (a start from a snapshot checks it). */
  snapshotFacts(since: number): Promise<SnapshotFacts> {
    return this.#call({ type: 'snapshotFacts', id: this.#nextId++, since });
  }

  async consume(handlers: ConsumeHandlers): Promise<void> {
    if (this.#partitions === 0) await this.open();
    this.#handlers = handlers;
    await this.#call({ type: 'consume', id: this.#nextId++, start: this.#startOffsets(handlers) });
    this.#consuming = true;
  }

  /**
   * The consumer starts again where the cache asks. A rejoin the worker's consumer goes through on
   * its own resumes past the last batch it sent: the worker does not wait for this thread, which
   * may be busy, to ask it.
   */
  restartConsumer(): Promise<void> {
    const handlers = this.#handlers;
    return this.#call({ type: 'restart', id: this.#nextId++, start: handlers ? this.#startOffsets(handlers) : [] });
  }

  #startOffsets(handlers: ConsumeHandlers): number[] {
    return Array.from({ length: this.#partitions }, (_, partition) => handlers.startOffset(partition));
  }

  append(records: OutgoingRecord[]): Promise<number[]> {
    return new Promise<number[]>((resolve, reject) => {
      this.#thread();
      const id = this.#nextId++;
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      if (this.#appends.push({ id, records }) === 1) process.nextTick(() => this.#sendAppends());
    });
  }

  /** Every append of this tick, in one message with one buffer. */
  #sendAppends(): void {
    const appends = this.#appends;
    this.#appends = [];
    const worker = this.#worker;
    if (!worker) return; // Gone: #lost rejected them.
    const buffer = encodeAppends(appends.map((a) => a.records));
    const message: ToWorker = { type: 'append', ids: appends.map((a) => a.id), counts: appends.map((a) => a.records.length), buffer };
    worker.postMessage(message, [buffer]);
  }

  /** Closes the Kafka log in the worker (within the cache's close deadline), then ends the worker. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#restartDelay.cancel();
    const worker = this.#worker;
    if (!worker || this.#gone) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    const budget = Math.max(500, this.#context.closeTimeout ?? 5000);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), budget)));
    const id = this.#nextId++;
    const closed = new Promise<unknown>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    worker.postMessage({ type: 'close', id } satisfies ToWorker);
    try {
      const outcome = await Promise.race([closed.then(() => exited), late]);
      if (outcome === 'late') {
        this.#context.logger.warn(`closing: the replication worker did not stop within ${budget} ms; ended`);
        await worker.terminate();
      }
    } catch (error) {
      // The log in the worker failed to close: the worker ends all the same.
      await worker.terminate();
      throw asNearCacheError(error);
    } finally {
      clearTimeout(timer);
    }
  }
}

function asNearCacheError(error: unknown): NearCacheError {
  return error instanceof NearCacheError ? error : new LogUnavailableError(String((error as Error)?.message ?? error), { cause: error, retriable: true });
}
