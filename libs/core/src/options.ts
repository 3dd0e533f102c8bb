import { randomUUID } from 'node:crypto';
import { getHeapStatistics } from 'node:v8';
import { systemClock, type Clock } from './clock.js';
import { CODEC_NAME, structuredCodec, type Codec } from './codec.js';
import { InvalidOptionError } from './errors.js';
import type { ReplicationLogFactory } from './log/port.js';
import { consoleLogger, type Logger } from './logger.js';
import { fail, integer, noUnknownKeys, oneOf, plainObject, string } from './validate.js';
import type { KafkaLogOptions } from './log/kafka/index.js';
import type { ReplicationWorkerOptions } from './log/worker/options.js';
import { recordSigner, type RecordSigner, type SigningOptions } from './crypto.js';
import { resolveSnapshotOptions, type ResolvedSnapshotOptions, type SnapshotOptions } from './snapshot/options.js';

/**
 * The default `maxBytes`: an eighth of this process's V8 heap limit (`--max-old-space-size`),
 * at least 16 MiB. Counted bytes are encoded sizes; decoded values take more room on the heap.
 */
export function defaultMaxBytes(): number {
  return Math.max(16 * 1024 * 1024, Math.floor(getHeapStatistics().heap_size_limit / 8));
}

/** `replicate` stores values written by other instances; `invalidate` only evicts the local copy. */
export type CacheMode = 'replicate' | 'invalidate';

/** Where the Kafka client runs: on the application's thread, or on a worker thread. */
export type ReplicationMode = 'inline' | 'worker';

/** Options of `createNearCache`. Every one is checked up front; see docs/configuration.md. */
export interface NearCacheOptions<V = unknown> {
  /** The compacted topic that replicates this cache. Required. Instances sharing a topic share the cache. */
  topic: string;
  /** Connect to Kafka with kafkajs. Give exactly one of `kafka` and `log`. */
  kafka?: KafkaLogOptions;
  /** Any other replication log, such as `inProcessLog(broker)`. Give exactly one of `kafka` and `log`. */
  log?: ReplicationLogFactory;
  /**
   * Where the Kafka client runs: `inline` on this thread (the application's event loop), or
   * `worker` on a worker thread of its own (fetching, record decoding, producing and heartbeats
   * off this thread; the cache stays here). Only with option `kafka`. Default `inline`. See
   * docs/replication-modes.md.
   */
  replication?: ReplicationMode;
  /** Settings of the replication worker (with `replication: 'worker'`): `maxBufferedBytes`. */
  replicationWorker?: ReplicationWorkerOptions;
  /** This instance's id, in its records (with a nonce of each start) and consumer group id. Default: a random UUID. */
  instanceId?: string;
  /** Most entries this instance keeps, 1 to 10000000; least recently used ones are evicted locally (never on other instances). Memory for the index is reserved up front. Default 100000. */
  max?: number;
  /**
   * Most bytes (encoded key + value sizes) this instance keeps; 0 for no byte bound. Default
   * `defaultMaxBytes()`: an eighth of the V8 heap limit, at least 16 MiB, so that no stream of
   * writes (a client requesting endless distinct URLs of a cached route) can fill the heap.
   */
  maxBytes?: number;
  /** Default time to live of a `set`, in ms; 0 for none. Default 0. */
  ttl?: number;
  /** This instance keeps no entry longer than this, in ms, whatever its TTL; 0 for no cap. Default 0. */
  maxTtl?: number;
  /** Longest key, in UTF-8 bytes. Default 1024. */
  maxKeyBytes?: number;
  /** Largest encoded value, in bytes. Default 524288 (512 KiB); keep it under the broker's `message.max.bytes`. */
  maxValueBytes?: number;
  /**
   * Turns values into bytes and back; every instance on a topic must use the same one (records
   * name their codec; those of another codec are rejected with reason `codec-mismatch`).
   * Default `structuredCodec()`: exact round trips of JSON data, Date, Map, Set, BigInt, typed
   * arrays and more, refusing what it cannot give back. `jsonCodec()` for readers in other languages.
   */
  codec?: Codec<V>;
  /** Default deadline of `ready()`, in ms. Default 60000. */
  bootstrapTimeout?: number;
  /** Deadline of `flush()` and of durable writes, in ms. Default 10000. */
  flushTimeout?: number;
  /** How long `close()` waits for queued writes to reach the log, in ms. Default 5000. */
  closeTimeout?: number;
  /** Which remote keys this instance materialises: records of other keys only evict a local copy. Default: all keys. */
  filter?: (key: string) => boolean;
  /** `replicate` (default) or `invalidate`. */
  mode?: CacheMode;
  /** Most distinct keys waiting for replication; a write of a new key beyond it rejects with `WriteQueueFullError`. Default 100000. */
  maxQueuedWrites?: number;
  /** Most writes sent to the log in one append (a clear is one record per partition). Default 1000. */
  maxBatchRecords?: number;
  /** Most bytes (keys, values, record overhead) sent in one append; keep it under the topic's `max.message.bytes`. A single larger record is still sent alone. Default 921600 (900 KiB). */
  maxBatchBytes?: number;
  /** Restart the consumer when it made no progress for this long while the log had records for it, in ms. Default 30000. */
  stallTimeout?: number;
  /** How often the log's end offsets are polled for lag and the stall watchdog, in ms. Default 5000. */
  lagPollInterval?: number;
  /** Where nearcache logs. Default: warnings and errors to the console. */
  logger?: Logger;
  /**
   * How a bootstrap decodes values: `lazy` (default) stores the bytes of keys this instance does
   * not hold yet and decodes each on its first read; `eager` decodes every value as it is applied.
   * With `lazy`, a value that fails to decode is reported (`rejected`, reason `decode-failed`, with
   * its offset) when it is first read, and that read misses.
   */
  bootstrapDecode?: 'lazy' | 'eager';
  /**
   * Fleet-wide single flight, the default of `wrap`'s `fleetWait`: on a miss, wait up to this many
   * ms for another instance's load of the key (through the log) instead of loading here, so that
   * instances missing a key together load it once for the fleet. 0 (the default): off, every
   * instance loads on its own (docs/consistency.md, section 18).
   */
  fleetWait?: number;
  /** Sign every record written (HMAC-SHA256, header `nc-sig`) and reject unsigned or forged records (reason `bad-signature`). Default: off. */
  signing?: SigningOptions;
  /**
   * Where the cache reads wall-clock time: absolute expiry stamps of writes and of records read,
   * replication lag, the stall watchdog. For tests that move time. Default: the system clock (`Date.now()`).
   */
  clock?: Clock;
  /**
   * A local snapshot of this instance's entries and log positions, written in the background and
   * at `close()`, from which the next start reads only the rest of the log (docs/snapshots.md).
   * Default: none (every start reads the whole topic).
   */
  snapshot?: SnapshotOptions;
}

export interface ResolvedOptions<V> {
  topic: string;
  log: ReplicationLogFactory | undefined;
  kafka: KafkaLogOptions | undefined;
  replication: ReplicationMode;
  replicationWorker: ReplicationWorkerOptions;
  instanceId: string;
  max: number;
  maxBytes: number;
  ttl: number;
  maxTtl: number;
  maxKeyBytes: number;
  maxValueBytes: number;
  codec: Codec<V>;
  bootstrapTimeout: number;
  flushTimeout: number;
  closeTimeout: number;
  filter: ((key: string) => boolean) | undefined;
  mode: CacheMode;
  maxQueuedWrites: number;
  maxBatchRecords: number;
  maxBatchBytes: number;
  stallTimeout: number;
  lagPollInterval: number;
  logger: Logger;
  bootstrapDecode: 'lazy' | 'eager';
  fleetWait: number;
  signer: RecordSigner | undefined;
  clock: Clock;
  snapshot: ResolvedSnapshotOptions | undefined;
}

/** Every option `createNearCache` takes, in the order of the configuration reference. */
export const NEAR_CACHE_OPTION_NAMES = [
  'topic',
  'kafka',
  'log',
  'replication',
  'replicationWorker',
  'instanceId',
  'max',
  'maxBytes',
  'ttl',
  'maxTtl',
  'maxKeyBytes',
  'maxValueBytes',
  'codec',
  'bootstrapTimeout',
  'flushTimeout',
  'closeTimeout',
  'filter',
  'mode',
  'maxQueuedWrites',
  'maxBatchRecords',
  'maxBatchBytes',
  'stallTimeout',
  'lagPollInterval',
  'logger',
  'bootstrapDecode',
  'fleetWait',
  'signing',
  'clock',
  'snapshot',
] as const satisfies ReadonlyArray<keyof NearCacheOptions>;
// Fails to compile when an option is missing from the list above.
const everyOption: [Exclude<keyof NearCacheOptions, (typeof NEAR_CACHE_OPTION_NAMES)[number]>] extends [never] ? true : never = true;
void everyOption;

/** Kafka's legal topic names. */
export const TOPIC_PATTERN = /^[a-zA-Z0-9._-]{1,249}$/;
const DAY = 24 * 60 * 60 * 1000;
/** Longest TTL: 100 years, in ms. */
export const MAX_TTL = 100 * 365 * DAY;
const MAX_TIMEOUT = 2_147_483_647; // setTimeout's limit

/** Checks `options` and fills in defaults; throws `InvalidOptionError` on the first problem. */
export function resolveOptions<V>(input: NearCacheOptions<V>): ResolvedOptions<V> {
  const options = plainObject('options', input) as unknown as NearCacheOptions<V>;
  noUnknownKeys('', options, NEAR_CACHE_OPTION_NAMES);
  const topic = string('topic', options.topic, undefined, TOPIC_PATTERN, 'a Kafka topic name: 1 to 249 of a-z A-Z 0-9 . _ -');
  if ((options.kafka === undefined) === (options.log === undefined)) {
    throw new InvalidOptionError(
      'give exactly one of option "kafka" (Kafka connection settings) and option "log" (a replication log factory such as inProcessLog(broker))',
    );
  }
  if (options.log !== undefined && typeof options.log !== 'function')
    fail('log', 'a replication log factory function, such as inProcessLog(broker)', options.log);
  if (options.kafka !== undefined) plainObject('kafka', options.kafka);
  const replication = oneOf('replication', options.replication, 'inline', ['inline', 'worker'] as const);
  if (replication === 'worker' && options.kafka === undefined) {
    throw new InvalidOptionError('option "replication" is "worker", which needs option "kafka": a log given in option "log" runs where it was made');
  }
  if (options.replicationWorker !== undefined && replication !== 'worker') {
    throw new InvalidOptionError('option "replicationWorker" is set, but option "replication" is not "worker"');
  }
  const codec = options.codec === undefined ? (structuredCodec() as Codec<V>) : options.codec;
  if (
    typeof codec !== 'object' ||
    codec === null ||
    typeof codec.encode !== 'function' ||
    typeof codec.decode !== 'function' ||
    typeof codec.name !== 'string'
  ) {
    fail('codec', 'an object with name, encode(value) and decode(bytes)', options.codec);
  }
  if (!CODEC_NAME.test(codec.name)) {
    throw new InvalidOptionError(
      `option "codec" has name ${JSON.stringify(codec.name.slice(0, 80))}; a codec name is 1 to 64 printable ASCII characters without spaces (it is written in every record)`,
    );
  }
  if (codec.exact !== undefined && typeof codec.exact !== 'boolean') fail('codec.exact', 'true, false or undefined', codec.exact);
  if (options.filter !== undefined && typeof options.filter !== 'function') fail('filter', 'a function (key) => boolean', options.filter);
  const clock = options.clock === undefined ? systemClock : options.clock;
  if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function')
    fail('clock', 'an object with a now() method returning ms since the epoch', options.clock);
  if (clock.schedule !== undefined && typeof clock.schedule !== 'function')
    fail('clock.schedule', 'a function (callback, ms) => cancel, or undefined', clock.schedule);
  const logger = options.logger === undefined ? consoleLogger : options.logger;
  if (
    typeof logger !== 'object' ||
    logger === null ||
    ['debug', 'info', 'warn', 'error'].some((m) => typeof (logger as unknown as Record<string, unknown>)[m] !== 'function')
  ) {
    fail('logger', 'an object with debug, info, warn and error methods', options.logger);
  }
  // lru-cache allocates its index arrays for `max` entries up front.
  const max = integer('max', options.max, 100_000, 1, 10_000_000);
  const resolved: ResolvedOptions<V> = {
    topic,
    log: options.log,
    kafka: options.kafka,
    replication,
    replicationWorker: options.replicationWorker ?? {},
    instanceId: string('instanceId', options.instanceId, randomUUID(), /^[\x21-\x7e]{1,128}$/, '1 to 128 printable ASCII characters'),
    max,
    maxBytes: integer('maxBytes', options.maxBytes, defaultMaxBytes(), 0),
    ttl: integer('ttl', options.ttl, 0, 0, MAX_TTL),
    maxTtl: integer('maxTtl', options.maxTtl, 0, 0, MAX_TTL),
    maxKeyBytes: integer('maxKeyBytes', options.maxKeyBytes, 1024, 1, 65_536),
    maxValueBytes: integer('maxValueBytes', options.maxValueBytes, 512 * 1024, 1, 64 * 1024 * 1024),
    codec,
    bootstrapTimeout: integer('bootstrapTimeout', options.bootstrapTimeout, 60_000, 1, MAX_TIMEOUT),
    flushTimeout: integer('flushTimeout', options.flushTimeout, 10_000, 1, MAX_TIMEOUT),
    closeTimeout: integer('closeTimeout', options.closeTimeout, 5_000, 0, MAX_TIMEOUT),
    filter: options.filter,
    mode: oneOf('mode', options.mode, 'replicate', ['replicate', 'invalidate'] as const),
    maxQueuedWrites: integer('maxQueuedWrites', options.maxQueuedWrites, 100_000, 1),
    maxBatchRecords: integer('maxBatchRecords', options.maxBatchRecords, 1000, 1, 100_000),
    maxBatchBytes: integer('maxBatchBytes', options.maxBatchBytes, 900 * 1024, 1024),
    stallTimeout: integer('stallTimeout', options.stallTimeout, 30_000, 100, MAX_TIMEOUT),
    lagPollInterval: integer('lagPollInterval', options.lagPollInterval, 5_000, 10, MAX_TIMEOUT),
    logger,
    bootstrapDecode: oneOf('bootstrapDecode', options.bootstrapDecode, 'lazy', ['lazy', 'eager'] as const),
    fleetWait: integer('fleetWait', options.fleetWait, 0, 0, MAX_TIMEOUT),
    signer: options.signing === undefined ? undefined : recordSigner(options.signing),
    clock,
    snapshot: resolveSnapshotOptions(options.snapshot),
  };
  if (resolved.maxBytes !== 0 && resolved.maxBytes < resolved.maxKeyBytes + resolved.maxValueBytes) {
    // Allowed, but an entry larger than maxBytes is never kept locally.
    resolved.logger.warn(`maxBytes (${resolved.maxBytes}) is below maxKeyBytes + maxValueBytes: the largest entries will not be kept locally`);
  }
  return resolved;
}
