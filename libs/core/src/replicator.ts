import { CacheClosedError, NearCacheError, ReplicationTimeoutError, WriteQueueFullError, WriteRejectedError } from './errors.js';
import { backoff, CancellableDelay, RETRY, withDeadline } from './retry.js';

/** A local write waiting for the log: a set, a delete or a clear. */
export interface QueuedWrite {
  /** One entry per queue key: a later write of the same key replaces this one. */
  readonly queueKey: string;
  readonly writeId: number;
  /** Promises waiting for this write (or a later write that replaced it) to be acknowledged. */
  waiters: Array<{ resolve(): void; reject(error: unknown): void }> | undefined;
}

export interface ReplicatorHooks<W extends QueuedWrite> {
  /** Appends writes to the log, in order. */
  send(writes: W[]): Promise<void>;
  /** `write` will not be sent: a later write of the same queue key replaced it. */
  superseded(write: W): void;
  /** The log refused `write` for good; it will not be retried. */
  dropped(write: W, error: NearCacheError): void;
  /** Sending fails and is being retried. */
  failing(error: NearCacheError): void;
  /** Sending works again after failing. */
  recovered(): void;
}

/**
 * The replication queue: bounded, coalesced per key, in order. One append is in flight at a
 * time (so retries cannot reorder), the next batch collects what was written meanwhile, and
 * failures retry with backoff until the write is acknowledged or refused for good.
 */
export class Replicator<W extends QueuedWrite> {
  readonly #queue = new Map<string, W>();
  #inFlight: W[] = [];
  #started = false;
  #closed = false;
  #scheduled = false;
  #sending = false;
  #failures = 0;
  /** After a permanent failure of a batch, send one write at a time to find the bad one. */
  #isolate = 0;
  readonly #delay = new CancellableDelay();

  constructor(
    private readonly hooks: ReplicatorHooks<W>,
    private readonly limits: { maxQueued: number; maxBatch: number; maxBatchBytes: number; size(write: W): number },
  ) {}

  /** Writes queued or in flight. */
  get depth(): number {
    return this.#queue.size + this.#inFlight.length;
  }

  get inFlight(): number {
    return this.#inFlight.length;
  }

  /** Throws `WriteQueueFullError` if a write of `queueKey` would not fit; checked before any local change. */
  admit(queueKey: string): void {
    if (this.#queue.size >= this.limits.maxQueued && !this.#queue.has(queueKey)) {
      throw new WriteQueueFullError(`the replication queue holds ${this.#queue.size} keys (maxQueuedWrites); the log is not keeping up or is unreachable`, {
        retriable: true,
      });
    }
  }

  /** Queues `write` after every write already queued; a queued write of the same key is replaced. */
  enqueue(write: W): W {
    const previous = this.#queue.get(write.queueKey);
    if (previous) {
      this.#queue.delete(write.queueKey);
      if (previous.waiters) (write.waiters ??= []).push(...previous.waiters);
      this.hooks.superseded(previous);
    }
    this.#queue.set(write.queueKey, write);
    this.#schedule();
    return write;
  }

  /** Resolves when `write` (or a later write of its key) is acknowledged; rejects after `timeoutMs`. */
  acknowledged(write: W, timeoutMs: number): Promise<void> {
    const waiter = new Promise<void>((resolve, reject) => (write.waiters ??= []).push({ resolve, reject }));
    return withDeadline(
      waiter,
      timeoutMs,
      () => new ReplicationTimeoutError(`the write was not acknowledged by the log within ${timeoutMs} ms; it stays queued`, { retriable: true }),
    );
  }

  /** Resolves when every write queued or in flight now is acknowledged; rejects after `timeoutMs`. */
  flush(timeoutMs: number): Promise<void> {
    const writes = [...this.#inFlight, ...this.#queue.values()];
    if (writes.length === 0) return Promise.resolve();
    const all = Promise.all(writes.map((write) => new Promise<void>((resolve, reject) => (write.waiters ??= []).push({ resolve, reject }))));
    return withDeadline(
      all.then(() => undefined),
      timeoutMs,
      () => new ReplicationTimeoutError(`${this.depth} writes were not acknowledged by the log within ${timeoutMs} ms; they stay queued`, { retriable: true }),
    );
  }

  /** Starts sending (once the log is open). */
  start(): void {
    this.#started = true;
    this.#schedule();
  }

  /** Tries to flush within `timeoutMs`, then stops; returns how many writes were left unsent. */
  async close(timeoutMs: number): Promise<number> {
    if (this.#started && this.depth > 0 && timeoutMs > 0) {
      await this.flush(timeoutMs).catch(() => undefined);
    }
    this.#closed = true;
    this.#delay.cancel();
    const left = this.depth;
    const error = new CacheClosedError('the cache was closed before this write reached the log');
    for (const write of [...this.#inFlight, ...this.#queue.values()]) settle(write, error);
    this.#queue.clear();
    return left;
  }

  #schedule(): void {
    if (this.#scheduled || this.#sending || !this.#started || this.#closed || this.#queue.size === 0) return;
    this.#scheduled = true;
    // Everything written in this tick goes out in one append.
    setImmediate(() => {
      this.#scheduled = false;
      void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    if (this.#sending || this.#closed) return;
    this.#sending = true;
    try {
      while (this.#queue.size > 0 && !this.#closed) {
        const size = this.#isolate > 0 ? 1 : this.limits.maxBatch;
        const batch: W[] = [];
        let bytes = 0;
        for (const write of this.#queue.values()) {
          // Kafka limits the bytes of a batch, not only of a record; a single write always goes.
          const writeBytes = this.limits.size(write);
          if (batch.length > 0 && bytes + writeBytes > this.limits.maxBatchBytes) break;
          batch.push(write);
          bytes += writeBytes;
          if (batch.length >= size) break;
        }
        for (const write of batch) this.#queue.delete(write.queueKey);
        this.#inFlight = batch;
        try {
          await this.hooks.send(batch);
          if (this.#isolate > 0) this.#isolate--;
          this.#inFlight = [];
          for (const write of batch) settle(write);
          if (this.#failures > 0) {
            this.#failures = 0;
            this.hooks.recovered();
          }
        } catch (cause) {
          this.#inFlight = [];
          const error = cause instanceof NearCacheError ? cause : new WriteRejectedError('the log refused the write', { cause });
          if (!error.retriable && batch.length === 1) {
            this.hooks.dropped(batch[0]!, error);
            settle(batch[0]!, error);
            continue;
          }
          if (!error.retriable) this.#isolate = batch.length;
          this.#requeueFront(batch);
          this.hooks.failing(error);
          await this.#delay.wait(backoff(this.#failures++, RETRY.append));
        }
      }
    } finally {
      this.#sending = false;
    }
  }

  /** Puts a failed batch back before everything queued since, unless a later write of the same key replaced it. */
  #requeueFront(batch: W[]): void {
    const rest = new Map(this.#queue);
    this.#queue.clear();
    for (const write of batch) {
      const later = rest.get(write.queueKey);
      if (later) {
        if (write.waiters) (later.waiters ??= []).push(...write.waiters);
        this.hooks.superseded(write);
      } else {
        this.#queue.set(write.queueKey, write);
      }
    }
    for (const [queueKey, write] of rest) this.#queue.set(queueKey, write);
  }
}

function settle(write: QueuedWrite, error?: unknown): void {
  const waiters = write.waiters;
  write.waiters = undefined;
  if (!waiters) return;
  for (const waiter of waiters) {
    if (error === undefined) waiter.resolve();
    else waiter.reject(error);
  }
}
