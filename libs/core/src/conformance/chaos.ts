import { LogUnavailableError } from '../errors.js';
import type { ConsumeHandlers, LogBatch, LogContext, PartitionOffsets, ReplicationLog, ReplicationLogFactory } from '../log/port.js';
import type { OutgoingRecord } from '../record.js';

/**
 * Wraps a replication log to inject the failures real logs have: a consumer that restarts from
 * offset 0 (as a Kafka consumer group without committed offsets does), appends that fail.
 */
export class ChaosLog implements ReplicationLog {
  readonly kind: string;
  #handlers: ConsumeHandlers | undefined;
  #replayFromZero = false;
  #failAppends = 0;
  #gate: Promise<void> | undefined;
  #stalled = false;
  #release: (() => void) | undefined;
  appends = 0;
  restarts = 0;
  /** Batches held back right now. */
  held = 0;

  constructor(readonly inner: ReplicationLog) {
    this.kind = inner.kind;
  }

  open(): Promise<{ partitions: number }> {
    return this.inner.open();
  }

  offsets(): Promise<PartitionOffsets[]> {
    return this.inner.offsets();
  }

  consume(handlers: ConsumeHandlers): Promise<void> {
    this.#handlers = handlers;
    return this.inner.consume({
      startOffset: (partition) => (this.#replayFromZero ? 0 : handlers.startOffset(partition)),
      onBatch: async (batch: LogBatch) => {
        // A stalled consumer fetches nothing: what it is handed now, it never saw.
        if (this.#stalled) return;
        if (this.#gate) {
          this.held++;
          while (this.#gate) await this.#gate;
          this.held--;
        }
        return handlers.onBatch(batch);
      },
      onError: (error) => handlers.onError(error),
    });
  }

  /** Holds every batch the consumer delivers until `release()`: the cache falls behind the log. */
  hold(): void {
    this.#gate ??= new Promise<void>((resolve) => (this.#release = resolve));
  }

  release(): void {
    const release = this.#release;
    this.#gate = undefined;
    this.#release = undefined;
    release?.();
  }

  /** The consumer stops reading (batches are dropped unseen) until `unstall()`, which restarts it where the cache is. */
  stall(): void {
    this.#stalled = true;
  }

  async unstall(): Promise<void> {
    this.#stalled = false;
    await this.inner.restartConsumer();
  }

  /** Restarts the consumer from offset 0, whatever the cache asks for. */
  async replayFromZero(): Promise<void> {
    this.#replayFromZero = true;
    await this.inner.restartConsumer();
  }

  restartConsumer(): Promise<void> {
    this.restarts++;
    return this.inner.restartConsumer();
  }

  /** The next `count` appends fail with a retriable error. */
  failAppends(count: number): void {
    this.#failAppends = count;
  }

  async append(records: OutgoingRecord[]): Promise<number[] | void> {
    this.appends++;
    if (this.#failAppends > 0) {
      this.#failAppends--;
      throw new LogUnavailableError('injected append failure', { retriable: true });
    }
    return this.inner.append(records);
  }

  close(): Promise<void> {
    this.release();
    return this.inner.close();
  }

  get handlers(): ConsumeHandlers | undefined {
    return this.#handlers;
  }
}

/** A factory whose logs are wrapped (held from the start with `hold`); `last` is the most recent one built. */
export function chaos(factory: ReplicationLogFactory, options: { hold?: boolean } = {}): ReplicationLogFactory & { last: ChaosLog | undefined } {
  const wrapped = ((context: LogContext) => {
    const log = new ChaosLog(factory(context));
    if (options.hold) log.hold();
    wrapped.last = log;
    return log;
  }) as unknown as ReplicationLogFactory & { last: ChaosLog | undefined };
  wrapped.last = undefined;
  return wrapped;
}
