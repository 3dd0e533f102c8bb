/**
 * Option `kafka` (and `kafkaLog()`) without loading kafkajs up front: the options are checked at
 * once, and the Kafka adapter, with kafkajs, is loaded when the first cache on Kafka opens its
 * log. An application on another log (`inProcessLog`, its own) never loads kafkajs.
 */
import { LogUnavailableError, NearCacheError } from '../errors.js';
import { partitionFor } from '../partitioner.js';
import type { OutgoingRecord } from '../record.js';
import { resolveKafkaOptions, type KafkaLogOptions, type ResolvedKafkaOptions } from './kafka/options.js';
import type { ConsumeHandlers, LogContext, PartitionOffsets, ReplicationLog, ReplicationLogFactory, SnapshotFacts } from './port.js';

type KafkaAdapter = typeof import('./kafka/index.js');
let adapter: Promise<KafkaAdapter> | undefined;

/** The Kafka adapter module, loaded once. */
function loadAdapter(): Promise<KafkaAdapter> {
  adapter ??= import('./kafka/index.js').catch((cause: unknown) => {
    adapter = undefined;
    throw new LogUnavailableError(`cannot load the Kafka adapter (kafkajs): ${(cause as Error)?.message ?? String(cause)}`, { cause });
  });
  return adapter;
}

/** Returns a log factory for `createNearCache({ log })` that replicates through Kafka. Checks `options` at once. */
export function kafkaLog(options: KafkaLogOptions): ReplicationLogFactory {
  const resolved = resolveKafkaOptions(options);
  return (context) => new LazyKafkaLog(resolved, context);
}

/**
 * A `KafkaLog` built once its module is loaded. It answers what the cache asks before opening
 * (how Kafka partitions keys and frames records) and passes every call on to the adapter.
 */
class LazyKafkaLog implements ReplicationLog {
  readonly kind = 'kafka';
  /** Kafka's framing of a record in a batch (lengths, attributes, deltas, header count), generously. */
  readonly recordOverhead = 96;
  readonly #log: Promise<ReplicationLog>;
  #loaded: ReplicationLog | undefined;

  constructor(options: ResolvedKafkaOptions, context: LogContext) {
    this.#log = loadAdapter().then((module) => (this.#loaded = new module.KafkaLog(options, context)));
    // Seen by open(); not an unhandled rejection meanwhile.
    this.#log.catch(() => undefined);
  }

  /** Kafka's default partitioner: murmur2 of the key bytes, as the Java client and kafkajs compute it. */
  partitionFor(key: string, partitions: number): number {
    return partitionFor(key, partitions);
  }

  async open(): Promise<{ partitions: number }> {
    return (await this.#adapter()).open();
  }

  async offsets(): Promise<PartitionOffsets[]> {
    return (this.#loaded ?? (await this.#adapter())).offsets();
  }

  async snapshotFacts(since: number): Promise<SnapshotFacts> {
    return (await this.#adapter()).snapshotFacts!(since);
  }

  async consume(handlers: ConsumeHandlers): Promise<void> {
    return (await this.#adapter()).consume(handlers);
  }

  async restartConsumer(): Promise<void> {
    return (await this.#adapter()).restartConsumer();
  }

  append(records: OutgoingRecord[]): Promise<number[] | void> {
    return this.#loaded ? this.#loaded.append(records) : this.#adapter().then((log) => log.append(records));
  }

  async close(): Promise<void> {
    let log: ReplicationLog;
    try {
      log = await this.#log;
    } catch {
      return; // Never loaded: nothing was opened.
    }
    return log.close();
  }

  /** The adapter; a failure to load it is permanent (the cache stops with it). */
  async #adapter(): Promise<ReplicationLog> {
    try {
      return await this.#log;
    } catch (error) {
      throw error instanceof NearCacheError ? error : new LogUnavailableError(String(error), { cause: error });
    }
  }
}
