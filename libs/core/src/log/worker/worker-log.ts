/**
 * Replication on a worker thread: the Kafka adapter (kafkajs: connections, fetching, record
 * decoding, producing, heartbeats) runs in a `worker_threads` worker, the cache stays on the
 * caller's thread. Batches read come over as one transferred ArrayBuffer each; appends go the
 * other way, those of one tick in one message. See docs/replication-modes.md.
 */
import { Worker } from 'node:worker_threads';
import { InvalidOptionError, LogUnavailableError, NearCacheError } from '../../errors.js';
import { integer, plainObject, noUnknownKeys } from '../../validate.js';
import { partitionFor } from '../../partitioner.js';
import type { OutgoingRecord } from '../../record.js';
import { resolveKafkaOptions, type KafkaLogOptions, type ResolvedKafkaOptions } from '../kafka/options.js';
import type { ConsumeHandlers, LogContext, PartitionOffsets, ReplicationLog, ReplicationLogFactory, SnapshotFacts } from '../port.js';
import { decodeBatch, encodeAppends, fromErrorData, type FromWorker, type ToWorker, type WorkerStart } from './protocol.js';

/** Options of the replication worker. */
export interface ReplicationWorkerOptions {
  /**
   * Most bytes of batches the worker has read and the cache has not applied yet; above it the
   * worker stops fetching (its consumer stays in its group) until the cache caught up to half of
   * it. At least 65536. Default 16777216 (16 MiB).
   */
  maxBufferedBytes?: number;
}

const WORKER_OPTION_NAMES = ['maxBufferedBytes'] as const;
const DEFAULT_MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

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
}

/** The worker's entry, next to this module (`.js` in the built package). */
const ENTRY = new URL('./entry.js', import.meta.url);

/**
 * Checks `kafka` for a worker: every setting must cross to another thread (no kafkajs client
 * object, no functions in `ssl` or `sasl`).
 */
function resolveForWorker(kafka: KafkaLogOptions, worker: ReplicationWorkerOptions): { options: ResolvedKafkaOptions; maxBufferedBytes: number } {
  const options = resolveKafkaOptions(kafka);
  if (options.client !== undefined) {
    throw new InvalidOptionError(
      'option "kafka.client" cannot be used with replication on a worker thread (a kafkajs client cannot move to another thread): give kafka.brokers and its settings instead',
    );
  }
  for (const name of ['ssl', 'sasl'] as const) {
    try {
      structuredClone(options[name]);
    } catch (cause) {
      throw new InvalidOptionError(
        `option "kafka.${name}" holds something that cannot be copied to the replication worker (a function or a class instance): use plain data (strings, Buffers), or replication "inline"`,
        { cause },
      );
    }
  }
  const checked = plainObject('replicationWorker', worker);
  noUnknownKeys('replicationWorker.', checked, WORKER_OPTION_NAMES);
  const maxBufferedBytes = integer('replicationWorker.maxBufferedBytes', checked.maxBufferedBytes, DEFAULT_MAX_BUFFERED_BYTES, 65_536);
  return { options, maxBufferedBytes };
}

/**
 * Returns a log factory for `createNearCache({ log })` that replicates through Kafka from a
 * worker thread. Checks `kafka` and `worker` at once.
 */
export function kafkaWorkerLog(kafka: KafkaLogOptions, worker: ReplicationWorkerOptions = {}): ReplicationLogFactory {
  const { options, maxBufferedBytes } = resolveForWorker(kafka, worker);
  return (context) => new KafkaWorkerLog(options, maxBufferedBytes, context);
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/** The cache's side of a replication worker: a `ReplicationLog` whose calls are messages to the worker. */
export class KafkaWorkerLog implements ReplicationLog {
  readonly kind = 'kafka';
  /** Kafka's framing of a record in a batch (lengths, attributes, deltas, header count), generously. */
  readonly recordOverhead = 96;
  readonly #start: WorkerStart;
  readonly #context: LogContext;
  #worker: Worker | undefined;
  /** Why the worker is gone, once it is: every later call rejects with it. */
  #gone: NearCacheError | undefined;
  #closing: Promise<void> | undefined;
  #nextId = 0;
  readonly #pending = new Map<number, Pending>();
  #handlers: ConsumeHandlers | undefined;
  /** Batches are applied one at a time, in the order they arrived. */
  #applying: Promise<void> = Promise.resolve();
  /** Appends of this tick, sent together. */
  #appends: Array<{ id: number; records: OutgoingRecord[] }> = [];
  readonly #flow: WorkerFlow;
  #partitions = 0;

  constructor(options: ResolvedKafkaOptions, maxBufferedBytes: number, context: LogContext) {
    const { logger: _logger, ...rest } = context;
    this.#start = { options, context: rest, maxBufferedBytes };
    this.#context = context;
    this.#flow = { bufferedBytes: 0, peakBufferedBytes: 0, paused: false, pauses: 0, maxBufferedBytes };
  }

  /** Kafka's default partitioner: murmur2 of the key bytes, as the Java client and kafkajs compute it. */
  partitionFor(key: string, partitions: number): number {
    return partitionFor(key, partitions);
  }

  /** The worker's flow control so far (a copy). */
  flow(): WorkerFlow {
    return { ...this.#flow };
  }

  /**
   * The worker thread (started by `open()`), for monitoring: its `threadId`, its
   * `performance.eventLoopUtilization()`. Undefined before and after.
   */
  get thread(): Worker | undefined {
    return this.#worker;
  }

  /** The worker thread, started on first use. */
  #thread(): Worker {
    if (this.#gone) throw this.#gone;
    if (this.#closing) throw new LogUnavailableError('the Kafka log is closed', { retriable: false });
    if (this.#worker) return this.#worker;
    let worker: Worker;
    try {
      worker = new Worker(ENTRY, { workerData: this.#start, name: `nearcache replication ${this.#context.topic}` });
    } catch (cause) {
      throw (this.#gone = new LogUnavailableError(`cannot start the replication worker: ${(cause as Error)?.message ?? String(cause)}`, { cause }));
    }
    this.#worker = worker;
    worker.on('message', (message: FromWorker) => this.#receive(message));
    worker.on('error', (cause) => this.#lost(`the replication worker failed: ${cause?.message ?? String(cause)}`, cause));
    worker.on('exit', (code) => this.#lost(`the replication worker exited (code ${code})`, undefined));
    return worker;
  }

  /** The worker is gone: pending calls reject, the consumer reports it (unless close() ended it). */
  #lost(message: string, cause: unknown): void {
    if (this.#gone) return;
    const error = new LogUnavailableError(message, cause === undefined ? { retriable: false } : { cause, retriable: false });
    this.#gone = error;
    this.#worker = undefined;
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
    if (!this.#closing) this.#handlers?.onError(error);
  }

  #call<T>(message: ToWorker & { id: number }): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const worker = this.#thread();
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
        return;
    }
  }

  #batch(buffer: ArrayBuffer): void {
    const bytes = buffer.byteLength;
    const flow = this.#flow;
    flow.bufferedBytes += bytes;
    if (flow.bufferedBytes > flow.peakBufferedBytes) flow.peakBufferedBytes = flow.bufferedBytes;
    const handlers = this.#handlers;
    this.#applying = this.#applying.then(async () => {
      try {
        if (handlers && !this.#closing) await handlers.onBatch(decodeBatch(buffer));
      } catch (error) {
        handlers?.onError(asNearCacheError(error));
      } finally {
        flow.bufferedBytes -= bytes;
        this.#worker?.postMessage({ type: 'applied', bytes } satisfies ToWorker);
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
    this.#handlers = handlers;
    if (this.#partitions === 0) await this.open();
    await this.#call({ type: 'consume', id: this.#nextId++, start: this.#startOffsets() });
  }

  /**
   * The consumer starts again where the cache asks. A rejoin the worker's consumer goes through on
   * its own resumes past the last batch it sent: the worker does not wait for this thread, which
   * may be busy, to ask it.
   */
  restartConsumer(): Promise<void> {
    return this.#call({ type: 'restart', id: this.#nextId++, start: this.#startOffsets() });
  }

  #startOffsets(): number[] {
    const handlers = this.#handlers;
    return Array.from({ length: this.#partitions }, (_, partition) => handlers?.startOffset(partition) ?? 0);
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
