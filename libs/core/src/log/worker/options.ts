/**
 * The options of replication on a worker thread (`replicationWorker`, `kafkaWorkerLog`), checked
 * up front: the worker's own settings, and Kafka settings that can cross to another thread.
 */
import { InvalidOptionError } from '../../errors.js';
import { integer, plainObject, noUnknownKeys } from '../../validate.js';
import { resolveKafkaOptions, type KafkaLogOptions, type ResolvedKafkaOptions } from '../kafka/options.js';

/** Options of the replication worker. */
export interface ReplicationWorkerOptions {
  /**
   * Most bytes of batches the worker has read and the cache has not applied yet; above it the
   * worker stops fetching (its consumer stays in its group) until the cache caught up to half of
   * it. At least 65536. Default 16777216 (16 MiB).
   */
  maxBufferedBytes?: number;
  /**
   * How many times in a row a worker that crashed or exited is started again (with backoff, the
   * consumer resuming where the cache is) before the cache gives up replicating with a
   * `ReplicationWorkerError`. A worker that ran for a minute starts the count again. 0: never
   * started again. Default 5.
   */
  maxRestarts?: number;
}

const WORKER_OPTION_NAMES = ['maxBufferedBytes', 'maxRestarts'] as const;
const DEFAULT_MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
const DEFAULT_MAX_RESTARTS = 5;
/** The worker's settings, checked. */
export interface WorkerSettings {
  maxBufferedBytes: number;
  maxRestarts: number;
}

/**
 * Checks `kafka` for a worker: every setting must cross to another thread (no kafkajs client
 * object, no functions in `ssl` or `sasl`).
 */
export function resolveForWorker(kafka: KafkaLogOptions, worker: ReplicationWorkerOptions): { options: ResolvedKafkaOptions; settings: WorkerSettings } {
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
  const maxRestarts = integer('replicationWorker.maxRestarts', checked.maxRestarts, DEFAULT_MAX_RESTARTS, 0);
  return { options, settings: { maxBufferedBytes, maxRestarts } };
}
