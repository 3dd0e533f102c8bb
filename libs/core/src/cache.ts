import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { LRUCache } from 'lru-cache';
import {
  BootstrapTimeoutError,
  CacheClosedError,
  ConsumerStalledError,
  InvalidArgumentError,
  InvalidKeyError,
  InvalidValueError,
  LogUnavailableError,
  NearCacheError,
  ValueTooLargeError,
} from './errors.js';
import { kafkaLog } from './log/kafka.js';
import type { LogBatch, ReplicationLog } from './log/port.js';
import { RepeatedLines, type Logger } from './logger.js';
import { MAX_TTL, resolveOptions, type NearCacheOptions, type ResolvedOptions } from './options.js';
import { partitionFor } from './partitioner.js';
import {
  asBuffer,
  clearRecord,
  clearRecordKey,
  deleteRecord,
  parseRecord,
  RecordRejection,
  setRecord,
  type LogRecord,
  type OutgoingRecord,
  type RejectReason,
} from './record.js';
import { Replicator, type QueuedWrite } from './replicator.js';
import { backoff, CancellableDelay, withDeadline, yieldToEventLoop } from './retry.js';

/**
 * - `starting`: connecting to the log, creating or checking the topic.
 * - `bootstrapping`: reading the topic up to the end offsets captured at start.
 * - `live`: caught up; following the log.
 * - `degraded`: caught up once, but writes cannot reach the log or the consumer stalled; reads and
 *   local writes go on, writes queue.
 * - `closed`: `close()` was called, or the start failed for good (see the `error` event).
 */
export type CacheState = 'starting' | 'bootstrapping' | 'live' | 'degraded' | 'closed';

export interface SetOptions {
  /** Time to live in ms; 0 for none. Default: the cache's `ttl` option. */
  ttl?: number;
  /** Resolve only once the log acknowledged the write (rejects with `ReplicationTimeoutError` after `flushTimeout`). Default false. */
  durable?: boolean;
}

export interface WriteOptions {
  /** Resolve only once the log acknowledged the write. Default false. */
  durable?: boolean;
}

/** A record of the log that this instance skipped. */
export interface RejectedRecord {
  partition: number;
  offset: number;
  reason: RejectReason;
  detail: string;
}

/** A change to this instance's entries, local or from the log. Emitted only while someone listens. */
export interface CacheChange {
  op: 'set' | 'delete' | 'clear';
  /** The key, or the prefix for a clear ('' for everything). */
  key: string;
  source: 'local' | 'remote';
}

export interface PartitionStats {
  partition: number;
  /** Next offset this instance will read. */
  position: number;
  /** Last known high watermark (next offset to be written). */
  highWatermark: number;
  /** Records written but not yet applied here. */
  lagRecords: number;
  /** How long this partition has been behind, in ms (0 when caught up). */
  lagMs: number;
  /** Time from a record's creation to its application here, for the last record applied, in ms. */
  lastApplyDelayMs: number;
}

export interface CacheStats {
  state: CacheState;
  instanceId: string;
  topic: string;
  log: string;
  mode: 'replicate' | 'invalidate';
  entries: number;
  /** Sum of entry sizes (encoded key and value bytes) when `maxBytes` is set, else 0. */
  bytes: number;
  hits: number;
  misses: number;
  /** Entries dropped locally by the LRU bound (never propagated). */
  evictions: number;
  sets: number;
  deletes: number;
  clears: number;
  queue: { depth: number; inFlight: number };
  records: {
    /** Records from the log applied here (including this instance's own). */
    applied: number;
    /** Records already applied, delivered again after a consumer restart, and skipped. */
    replayed: number;
    /** Records skipped as invalid, by reason. */
    rejected: number;
    rejectedByReason: Partial<Record<RejectReason, number>>;
    /** The last rejected records (at most 20). */
    lastRejected: RejectedRecord[];
  };
  partitions: PartitionStats[];
}

export interface NearCacheEvents {
  /** The state changed. */
  state: [state: CacheState, previous: CacheState];
  /** Bootstrap finished: every record up to the end offsets captured at start is applied. */
  ready: [];
  /** Something failed that the cache recovers from, or the start failed for good. */
  error: [error: NearCacheError];
  /** A record of the log was skipped. */
  rejected: [record: RejectedRecord];
  /** An entry changed. */
  change: [change: CacheChange];
}

interface CacheWrite extends QueuedWrite {
  op: 'set' | 'delete' | 'clear';
  key: string;
  value: Uint8Array | null;
  expiresAt: number;
}

interface PendingClear {
  prefix: string;
  writeId: number;
  /** Partitions whose copy of the clear record came back (or was passed: see `offsets`). */
  seen: Set<number>;
  /** Where the log put the clear record, per partition, once it acknowledged it. */
  offsets: Map<number, number> | undefined;
}

/** Where the log put a pending local write of a key. */
interface AckedWrite {
  writeId: number;
  partition: number;
  offset: number;
}

/** Where a record sits in the log. */
interface RecordPosition {
  partition: number;
  offset: number;
}

const RESOLVED = Promise.resolve();
const APPLY_SLICE = 1000;
const LAST_REJECTED = 20;
/** Keys whose refused `wrap` values were warned about (see #refusedLoad). */
const WARNED_KEYS = 1000;

/**
 * A value read during bootstrap for a key this instance did not hold, kept as the record's bytes
 * and decoded on its first read (option `bootstrapDecode: 'lazy'`). Where it came from is kept
 * so that a value that fails to decode is reported like any rejected record.
 */
class Encoded {
  constructor(
    /** The value's bytes, one character per byte (latin1): one compact heap object, cheaper to keep than a Buffer. */
    readonly latin1: string,
    readonly partition: number,
    readonly offset: number,
  ) {}

  get bytes(): Buffer {
    return Buffer.from(this.latin1, 'latin1');
  }
}

/** The replicated cache. Create it with `createNearCache`. */
/**
 * The group of `key`: its part before the first space or '?' that follows its first '/'
 * (`http:GET /products/1` for `http:GET /products/1?x=1 https://h`), or `undefined` when it has
 * none. A key starting with a prefix that has a group is in the same group.
 */
function groupOf(key: string): string | undefined {
  const slash = key.indexOf('/');
  if (slash < 0) return undefined;
  for (let i = slash + 1; i < key.length; i++) {
    const code = key.charCodeAt(i);
    if (code === 0x20 || code === 0x3f) return key.slice(0, i);
  }
  return undefined;
}

export class NearCache<V = unknown> extends EventEmitter {
  readonly #options: ResolvedOptions<V>;
  readonly #lru: LRUCache<string, {}>;
  readonly #log: ReplicationLog;
  readonly #replicator: Replicator<CacheWrite>;
  readonly #id: string;
  /** Carried by this instance's records: its id plus a nonce of this start, so a restart with the same id is another writer. */
  readonly #origin: string;
  /** Bytes a record takes beyond its key and value: headers (with the origin) and Kafka's per-record framing. */
  readonly #recordOverhead: number;
  /** The codec's name, written in every record. */
  readonly #codecName: string;
  /** Whether the codec gives back exactly what it encodes: the writer then keeps the value it was given, else the decoded copy. */
  readonly #keepGiven: boolean;

  #state: CacheState = 'starting';
  #bootstrapped = false;
  #closing = false;
  #fatal: NearCacheError | undefined;
  #partitions = 0;
  /** Highest offset applied per partition; nothing at or below it is applied again. */
  #applied: number[] = [];
  /** Next offset to read per partition. */
  #position: number[] = [];
  #high: number[] = [];
  #targets: number[] = [];
  #behindSince: number[] = [];
  #applyDelay: number[] = [];
  #lastProgress = Date.now();
  #degraded = new Set<'producer' | 'consumer'>();

  /** Keys written here whose record has not come back from the log yet, with the latest write id. */
  readonly #pendingKeys = new Map<string, number>();
  /**
   * Offsets of pending writes the log acknowledged. Once the consumer reads past one without
   * seeing it, the cleaner removed it (a later record of the key superseded it): the shield ends.
   */
  readonly #ackedKeys = new Map<string, AckedWrite>();
  #pendingClears: PendingClear[] = [];
  readonly #loading = new Map<string, Promise<unknown>>();
  #writeSeq = 0;
  readonly #warnedKeys = new Set<string>();
  /** The value the last `#set` stored (see there). */
  #held: V = undefined as V;
  /** Entries stored as bytes during the bootstrap and not decoded yet (see Encoded). */
  #encoded = 0;

  #hits = 0;
  #misses = 0;
  #evictions = 0;
  #sets = 0;
  #deletes = 0;
  #clears = 0;
  /**
   * Keys holding a '/' then a space or '?' (response keys of the HTTP adapters: a path, then a
   * query or a host), by their part before that space or '?' (see `groupOf`), so that a clear of
   * a prefix that has a group (a response's variants, its query strings) reads that group only,
   * and a clear that matches nothing costs nothing (at start-up above all). Other keys are not
   * indexed, and other clears read every key.
   */
  readonly #groups = new Map<string, Set<string>>();
  /** Keys holding a '/' but no group: while there is none, a clear of a path prefix reads the groups only. */
  #looseSlashKeys = 0;
  #appliedCount = 0;
  #replayed = 0;
  #rejected = 0;
  readonly #rejectedByReason: Partial<Record<RejectReason, number>> = {};
  readonly #lastRejected: RejectedRecord[] = [];

  #readyWaiters: Array<{ resolve(): void; reject(error: unknown): void; timer: NodeJS.Timeout }> = [];
  readonly #startDelay = new CancellableDelay();
  #lagTimer: NodeJS.Timeout | undefined;
  #closePromise: Promise<void> | undefined;
  /** The last error reported before the cache was ready: what a timed-out ready() names as the cause. */
  #lastError: NearCacheError | undefined;
  readonly #repeats = new RepeatedLines();
  /** Lag polls failed in a row. */
  #pollFailures = 0;
  readonly #started: Promise<void>;

  constructor(options: NearCacheOptions<V>) {
    super();
    const resolved = resolveOptions(options);
    this.#options = resolved;
    this.#id = resolved.instanceId;
    this.#origin = `${resolved.instanceId}.${randomBytes(4).toString('hex')}`;
    this.#codecName = resolved.codec.name;
    this.#keepGiven = resolved.codec.exact === true;
    this.#recordOverhead = 160 + this.#origin.length + this.#codecName.length;
    this.#lru = new LRUCache<string, {}>({
      max: resolved.max,
      ...(resolved.maxBytes > 0 ? { maxSize: resolved.maxBytes } : {}),
      ttlAutopurge: false,
      allowStale: false,
      updateAgeOnGet: false,
      dispose: (value, key, reason) => {
        if (reason === 'evict') this.#evictions++;
        if (reason !== 'set') this.#unindex(key);
        if (this.#encoded > 0 && value instanceof Encoded) this.#encoded--;
      },
    });
    const factory = resolved.log ?? kafkaLog(resolved.kafka!);
    this.#log = factory({
      topic: resolved.topic,
      instanceId: this.#origin,
      maxKeyBytes: resolved.maxKeyBytes,
      maxValueBytes: resolved.maxValueBytes,
      logger: resolved.logger,
      closeTimeout: Math.max(resolved.closeTimeout, 1000),
    });
    this.#replicator = new Replicator<CacheWrite>(
      {
        send: (writes) => this.#send(writes),
        superseded: (write) => {
          // The older clear will never come back from the log: stop waiting for it.
          if (write.op === 'clear') this.#pendingClears = this.#pendingClears.filter((c) => c.writeId !== write.writeId);
        },
        dropped: (write, error) => this.#dropped(write, error),
        failing: (error) => this.#degrade('producer', error),
        recovered: () => this.#recover('producer'),
      },
      {
        maxQueued: resolved.maxQueuedWrites,
        maxBatch: resolved.maxBatchRecords,
        maxBatchBytes: resolved.maxBatchBytes,
        // Encoded value and key, plus headers and record overhead; a clear is one record per partition.
        size: (write) =>
          (Buffer.byteLength(write.key) + (write.value?.length ?? 0) + this.#recordOverhead) * (write.op === 'clear' ? Math.max(1, this.#partitions) : 1),
      },
    );
    this.#started = this.#start();
  }

  /** This instance's id (the `instanceId` option, or a random UUID). */
  get instanceId(): string {
    return this.#id;
  }

  /** The origin written in this instance's records and its consumer group suffix: the instance id and a nonce of this start. */
  get origin(): string {
    return this.#origin;
  }

  get state(): CacheState {
    return this.#state;
  }

  /** The topic this cache replicates through. */
  get topic(): string {
    return this.#options.topic;
  }

  /** The logger this cache writes to (the `logger` option), for adapters that log beside it. */
  get logger(): Logger {
    return this.#options.logger;
  }

  /** Size limits of keys and encoded values, for adapters that check input up front. */
  get limits(): { maxKeyBytes: number; maxValueBytes: number } {
    return { maxKeyBytes: this.#options.maxKeyBytes, maxValueBytes: this.#options.maxValueBytes };
  }

  /**
   * Whether this instance holds every live key of the records it applied: it caught up once,
   * stores remote values (`mode: 'replicate'`, no key `filter`) and never evicted an entry
   * (`max`, `maxBytes`). The HTTP invalidation helpers then delete the keys they find instead
   * of writing prefix clears, which every later start-up would apply.
   */
  get holdsEveryKey(): boolean {
    return this.#bootstrapped && this.#evictions === 0 && this.#options.mode === 'replicate' && this.#options.filter === undefined;
  }

  /** Whether this cache signs its records and rejects unsigned ones (the `signing` option). */
  get signed(): boolean {
    return this.#options.signer !== undefined;
  }

  // ---------------------------------------------------------------------------------------
  // Reads: synchronous, local, no allocation on a hit.

  /**
   * The value of `key`, or `undefined`. Never leaves the process. The returned object is the
   * cached one, shared by every caller: treat it as read-only.
   */
  get(key: string): V | undefined {
    let value: unknown = this.#lru.get(key);
    // Looking into the value costs a memory access a plain hit does not need: only while some are encoded.
    if (this.#encoded > 0 && value instanceof Encoded) value = this.#decodeStored(key, value, true);
    if (value === undefined) {
      // Only valid keys are ever stored, so a hit needs no check: a miss does.
      this.#checkKey(key);
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    return value as V;
  }

  /** Whether `key` has a live entry here. Does not count as a hit or a miss, and does not make the entry recently used. */
  has(key: string): boolean {
    this.#checkKey(key);
    if (this.#encoded > 0) {
      const value = this.#lru.peek(key);
      if (value instanceof Encoded) return this.#decodeStored(key, value, false) !== undefined;
    }
    return this.#lru.has(key);
  }

  /** Keys of the live entries here, most recently used first. */
  *keys(): IterableIterator<string> {
    yield* this.#lru.keys();
  }

  /** Live entries here, most recently used first. Reading them does not change their order. */
  *entries(): IterableIterator<[string, V]> {
    if (this.#bootstrapped && this.#encoded === 0) {
      // Nothing is stored encoded, and nothing will be once ready.
      for (const [key, value] of this.#lru.entries()) yield [key, value as V];
      return;
    }
    // A snapshot: dropping an undecodable value must not happen under the LRU's own iterator,
    // and the caller may change the cache between two steps.
    for (const [key, value] of [...this.#lru.entries()]) {
      if (!(value instanceof Encoded)) {
        yield [key, value as V];
        continue;
      }
      // Replaced or removed since the snapshot: its bytes are no longer the key's value.
      if (this.#lru.peek(key, { allowStale: true }) !== value) continue;
      const decoded = this.#decodeStored(key, value, false);
      if (decoded !== undefined) yield [key, decoded];
    }
  }

  /** Number of entries held here (expired ones may count until they are read). */
  get size(): number {
    return this.#lru.size;
  }

  // ---------------------------------------------------------------------------------------
  // Writes: applied here at once, then replicated.

  /**
   * Stores `value` here at once and queues it for the log. Resolves at once (or, with
   * `durable`, when the log acknowledged it). A bad key, value or option rejects with a typed
   * error and changes nothing.
   */
  set(key: string, value: V, options?: SetOptions): Promise<void> {
    try {
      const written = this.#set(key, value, options);
      this.#held = undefined as V;
      return written;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * `set`, throwing its errors. Leaves in #held the value this instance now holds: `value`
   * itself under an exact codec, else the codec's decoded copy (what every other instance reads).
   */
  #set(key: string, value: V, options: SetOptions | undefined): Promise<void> {
    this.#assertWritable();
    this.#checkKey(key);
    const ttl = options?.ttl === undefined ? this.#options.ttl : checkTtl(options.ttl);
    const bytes = this.#encode(key, value);
    const held = this.#keepGiven ? value : this.#decodeOwn(key, bytes);
    this.#replicator.admit(key);
    const writeId = ++this.#writeSeq;
    const expiresAt = ttl > 0 ? Date.now() + ttl : 0;
    this.#pendingKeys.set(key, writeId);
    this.#store(key, held as {}, expiresAt, bytes.length + key.length);
    const write = this.#replicator.enqueue({ queueKey: key, writeId, waiters: undefined, op: 'set', key, value: bytes, expiresAt });
    this.#sets++;
    if (this.listenerCount('change') > 0) this.emit('change', { op: 'set', key, source: 'local' } satisfies CacheChange);
    const written = options?.durable ? this.#replicator.acknowledged(write, this.#options.flushTimeout) : RESOLVED;
    this.#held = held;
    return written;
  }

  /** Removes `key` here at once and writes a tombstone, so every instance drops it. */
  delete(key: string, options?: WriteOptions): Promise<void> {
    try {
      this.#assertWritable();
      this.#checkKey(key);
      this.#replicator.admit(key);
      const writeId = ++this.#writeSeq;
      this.#pendingKeys.set(key, writeId);
      this.#lru.delete(key);
      const write = this.#replicator.enqueue({ queueKey: key, writeId, waiters: undefined, op: 'delete', key, value: null, expiresAt: 0 });
      this.#deletes++;
      if (this.listenerCount('change') > 0) this.emit('change', { op: 'delete', key, source: 'local' } satisfies CacheChange);
      return options?.durable ? this.#replicator.acknowledged(write, this.#options.flushTimeout) : RESOLVED;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Removes every entry, here at once and on every instance. */
  clear(options?: WriteOptions): Promise<void> {
    return this.clearPrefix('', options);
  }

  /** Removes every entry whose key starts with `prefix`, here at once and on every instance. */
  clearPrefix(prefix: string, options?: WriteOptions): Promise<void> {
    try {
      this.#assertWritable();
      if (typeof prefix !== 'string') throw new InvalidArgumentError(`a clear prefix must be a string, got ${typeof prefix}`);
      if (Buffer.byteLength(prefix) > this.#options.maxKeyBytes) {
        throw new InvalidArgumentError(`a clear prefix may have at most maxKeyBytes (${this.#options.maxKeyBytes}) bytes`);
      }
      const queueKey = clearRecordKey(prefix);
      this.#replicator.admit(queueKey);
      const writeId = ++this.#writeSeq;
      this.#pendingClears.push({ prefix, writeId, seen: new Set(), offsets: undefined });
      this.#wipe(prefix, undefined, undefined);
      const write = this.#replicator.enqueue({ queueKey, writeId, waiters: undefined, op: 'clear', key: prefix, value: null, expiresAt: 0 });
      this.#clears++;
      if (this.listenerCount('change') > 0) this.emit('change', { op: 'clear', key: prefix, source: 'local' } satisfies CacheChange);
      return options?.durable ? this.#replicator.acknowledged(write, this.#options.flushTimeout) : RESOLVED;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Get-or-load: the cached value of `key`, or the result of `loader`, which is then cached.
   * Concurrent calls for one key share one `loader` call. A loader error is passed on and never
   * cached; an `undefined` result is returned and not cached. If the result cannot be cached
   * (the codec refuses it, it is too large), it is still returned and the problem is reported
   * on the `error` event, or, when nothing listens, logged as a warning once per key. Under a codec that is not exact (such as `jsonCodec()`), the result
   * returned is the decoded copy this and every other instance holds, not the loader's object.
   */
  wrap<T extends V>(key: string, loader: () => T | Promise<T>, options?: SetOptions): Promise<T> {
    try {
      this.#checkKey(key);
      if (typeof loader !== 'function') throw new InvalidArgumentError('wrap() needs a loader function');
      if (options?.ttl !== undefined) checkTtl(options.ttl);
    } catch (error) {
      return Promise.reject(error);
    }
    const hit = this.get(key);
    if (hit !== undefined) return Promise.resolve(hit as T);
    const running = this.#loading.get(key);
    if (running) return running as Promise<T>;
    const load = (async () => {
      try {
        const value = await loader();
        if (value !== undefined && !this.#closing && this.#state !== 'closed') {
          let written: Promise<void>;
          let held: V;
          try {
            written = this.#set(key, value, options);
            held = this.#held;
            this.#held = undefined as V;
          } catch (error) {
            if (options?.durable) throw error;
            this.#refusedLoad(key, asNearCacheError(error));
            return value;
          }
          await written;
          return held as T;
        }
        return value;
      } finally {
        this.#loading.delete(key);
      }
    })();
    this.#loading.set(key, load);
    return load;
  }

  /** A view of this cache whose keys are all prefixed with `prefix`. */
  namespace(prefix: string): NearCacheNamespace<V> {
    if (typeof prefix !== 'string' || prefix.length === 0) throw new InvalidArgumentError('a namespace prefix must be a non-empty string');
    return new NearCacheNamespace(this, prefix);
  }

  /** Resolves when every write made so far is acknowledged by the log; rejects with `ReplicationTimeoutError` after `flushTimeout`. */
  flush(options: { timeout?: number } = {}): Promise<void> {
    const timeout = options.timeout ?? this.#options.flushTimeout;
    if (!Number.isInteger(timeout) || timeout < 1) return Promise.reject(new InvalidArgumentError(`flush timeout must be an integer >= 1 (ms), got ${String(timeout)}`));
    if (this.#state === 'closed') return Promise.reject(new CacheClosedError('the cache is closed; writes not replicated before close() were dropped'));
    return this.#replicator.flush(timeout);
  }

  // ---------------------------------------------------------------------------------------
  // Lifecycle.

  /**
   * Resolves once this instance applied every record up to the end offsets captured at start.
   * Rejects with `BootstrapTimeoutError` after `timeout` (default `bootstrapTimeout`); the cache
   * keeps trying, and a later `ready()` can still resolve. Rejects with the start error if the
   * start failed for good (a topic that is not compacted, for example).
   */
  ready(options: { timeout?: number } = {}): Promise<void> {
    if (this.#bootstrapped) return RESOLVED;
    if (this.#fatal) return Promise.reject(this.#fatal);
    if (this.#state === 'closed') return Promise.reject(new CacheClosedError('the cache is closed'));
    const timeout = options.timeout ?? this.#options.bootstrapTimeout;
    if (!Number.isInteger(timeout) || timeout < 1) return Promise.reject(new InvalidArgumentError(`ready timeout must be an integer >= 1 (ms), got ${String(timeout)}`));
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#readyWaiters = this.#readyWaiters.filter((other) => other !== waiter);
          const cause = this.#lastError;
          const last = cause ? `; last error: ${cause.message}` : '';
          reject(new BootstrapTimeoutError(`not caught up with topic "${this.topic}" within ${timeout} ms (state ${this.#state}${this.#describeLag()})${last}`, { retriable: true, cause }));
        }, timeout),
      };
      this.#readyWaiters.push(waiter);
    });
  }

  /**
   * Flushes queued writes (waiting at most `closeTimeout`), stops the consumer and disconnects.
   * Leaves no timer or socket behind. Reads still answer from local entries afterwards; writes
   * reject with `CacheClosedError`.
   */
  close(): Promise<void> {
    this.#closePromise ??= this.#close();
    return this.#closePromise;
  }

  /** Counters and replication positions. */
  stats(): CacheStats {
    const now = Date.now();
    return {
      state: this.#state,
      instanceId: this.#id,
      topic: this.#options.topic,
      log: this.#log.kind,
      mode: this.#options.mode,
      entries: this.#lru.size,
      bytes: this.#options.maxBytes > 0 ? this.#lru.calculatedSize : 0,
      hits: this.#hits,
      misses: this.#misses,
      evictions: this.#evictions,
      sets: this.#sets,
      deletes: this.#deletes,
      clears: this.#clears,
      queue: { depth: this.#replicator.depth, inFlight: this.#replicator.inFlight },
      records: {
        applied: this.#appliedCount,
        replayed: this.#replayed,
        rejected: this.#rejected,
        rejectedByReason: { ...this.#rejectedByReason },
        lastRejected: this.#lastRejected.slice(),
      },
      partitions: this.#position.map((position, partition) => {
        const high = Math.max(this.#high[partition] ?? 0, position);
        const behind = this.#behindSince[partition] ?? 0;
        return {
          partition,
          position,
          highWatermark: high,
          lagRecords: high - position,
          lagMs: high > position && behind > 0 ? now - behind : 0,
          lastApplyDelayMs: this.#applyDelay[partition] ?? 0,
        };
      }),
    };
  }

  // ---------------------------------------------------------------------------------------
  // Start, consume, apply.

  async #start(): Promise<void> {
    for (let attempt = 0; !this.#closing; attempt++) {
      try {
        const { partitions } = await this.#log.open();
        const offsets = await this.#log.offsets();
        if (this.#closing) return;
        this.#partitions = partitions;
        this.#position = Array.from({ length: partitions }, (_, p) => Math.max(this.#position[p] ?? 0, offsets[p]?.low ?? 0));
        this.#applied = Array.from({ length: partitions }, (_, p) => this.#applied[p] ?? -1);
        this.#high = offsets.map((o) => o.high);
        this.#targets = offsets.map((o) => o.high);
        this.#behindSince = offsets.map((o, p) => (o.high > this.#position[p]! ? Date.now() : 0));
        this.#applyDelay = offsets.map(() => 0);
        this.#setState('bootstrapping');
        this.#replicator.start();
        await this.#log.consume({
          startOffset: (partition) => this.#position[partition] ?? 0,
          onBatch: (batch) => this.#onBatch(batch),
          onError: (error) => this.#consumerError(error),
        });
        if (this.#closing) return;
        this.#lastProgress = Date.now();
        this.#lagTimer = setInterval(() => void this.#pollLag(), this.#options.lagPollInterval);
        this.#lagTimer.unref();
        this.#checkCaughtUp();
        return;
      } catch (cause) {
        const error = asNearCacheError(cause);
        if (this.#closing) return;
        if (!error.retriable) {
          this.#fail(error);
          return;
        }
        this.#report(error);
        await this.#startDelay.wait(backoff(attempt, { initial: 200, max: 5000 }));
      }
    }
  }

  async #onBatch(batch: LogBatch): Promise<void> {
    const partition = batch.partition;
    const records = batch.records;
    for (let i = 0; i < records.length; i++) {
      if (i > 0 && i % APPLY_SLICE === 0) {
        // Long batches (bootstrap) give reads and timers a turn.
        await yieldToEventLoop();
      }
      if (this.#state === 'closed') return;
      const record = records[i]!;
      if (record.offset <= this.#applied[partition]!) {
        this.#replayed++;
        continue;
      }
      this.#apply(record);
      this.#applied[partition] = record.offset;
      this.#appliedCount++;
    }
    const now = Date.now();
    const last = records[records.length - 1];
    if (last) this.#applyDelay[partition] = Math.max(0, now - last.timestamp);
    if (batch.nextOffset > this.#position[partition]!) this.#position[partition] = batch.nextOffset;
    if (batch.highWatermark > this.#high[partition]!) this.#high[partition] = batch.highWatermark;
    if (this.#ackedKeys.size > 0 || this.#pendingClears.length > 0) this.#passedPendingWrites(partition);
    this.#trackBehind(partition, now);
    this.#lastProgress = now;
    if (this.#degraded.has('consumer')) this.#recover('consumer');
    this.#checkCaughtUp();
  }

  #apply(record: LogRecord): void {
    const signer = this.#options.signer;
    if (signer) {
      const problem = signer.verify(this.#options.topic, record);
      if (problem !== undefined) {
        this.#rejectRecord(record, 'bad-signature', problem);
        return;
      }
    }
    const parsed = parseRecord(record, this.#options);
    if (parsed instanceof RecordRejection) {
      this.#rejectRecord(record, parsed.reason, parsed.detail);
      return;
    }
    const own = parsed.origin === this.#origin;
    if (parsed.op === 'clear') {
      if (own) {
        this.#clearCameBack(parsed.writeId, record.partition);
      } else {
        this.#wipe(parsed.prefix, record.partition, record.offset);
        if (this.listenerCount('change') > 0) this.emit('change', { op: 'clear', key: parsed.prefix, source: 'remote' } satisfies CacheChange);
      }
      return;
    }
    const key = parsed.key;
    const pending = this.#pendingKeys.get(key);
    if (pending !== undefined) {
      // A local write of this key is on its way to the log: the local value is newer than
      // anything before it in the log, so it stays (read-your-writes) until it comes back.
      if (own && parsed.writeId === pending) {
        this.#pendingKeys.delete(key);
        this.#ackedKeys.delete(key);
        return;
      }
      const acked = this.#ackedKeys.get(key);
      if (acked === undefined || acked.writeId !== pending || record.offset < acked.offset) return;
      // This record comes after the local write in the log, which the cleaner removed: it wins.
      this.#pendingKeys.delete(key);
      this.#ackedKeys.delete(key);
    }
    if (this.#pendingClears.length > 0 && this.#shadowedByClear(key, record.partition, record.offset)) return;
    if (parsed.op === 'delete' || (parsed.expiresAt !== 0 && parsed.expiresAt <= Date.now())) {
      if (this.#lru.delete(key) && this.listenerCount('change') > 0) this.emit('change', { op: 'delete', key, source: 'remote' } satisfies CacheChange);
      return;
    }
    if (this.#options.mode === 'invalidate' || (this.#options.filter !== undefined && !this.#options.filter(key))) {
      if (this.#lru.delete(key) && this.listenerCount('change') > 0) this.emit('change', { op: 'delete', key, source: 'remote' } satisfies CacheChange);
      return;
    }
    const size = parsed.value.length + key.length;
    if (this.#options.bootstrapDecode === 'lazy' && !this.#bootstrapped && !this.#lru.has(key)) {
      // Nothing to keep intact if this value turns out undecodable: decode it when it is read.
      // The copy lets the fetched batch go.
      const latin1 = asBuffer(parsed.value).toString('latin1');
      if (this.#store(key, new Encoded(latin1, record.partition, record.offset), parsed.expiresAt, size)) this.#encoded++;
    } else {
      const value = this.#decode(parsed.value, record);
      if (value === undefined) return;
      this.#store(key, value as {}, parsed.expiresAt, size);
    }
    if (this.listenerCount('change') > 0) this.emit('change', { op: 'set', key, source: 'remote' } satisfies CacheChange);
  }

  /** Stores `value` with what is left of its expiry; returns whether it is held (not expired, not over maxBytes). */
  #store(key: string, value: {}, expiresAt: number, size: number): boolean {
    let ttl = 0;
    if (expiresAt > 0) {
      ttl = expiresAt - Date.now();
      if (ttl <= 0) {
        this.#lru.delete(key);
        return false;
      }
    }
    const cap = this.#options.maxTtl;
    if (cap > 0 && (ttl === 0 || ttl > cap)) ttl = cap;
    this.#lruSet(key, value, size, { ttl });
    // lru-cache does not keep an entry larger than maxSize (it removes the key's previous entry).
    return this.#options.maxBytes === 0 || size <= this.#options.maxBytes;
  }

  /** lru-cache takes an entry's size only when it bounds bytes (maxBytes). */
  #lruSet(key: string, value: {}, size: number, options: { ttl?: number; noUpdateTTL?: boolean }): void {
    const group = groupOf(key);
    // Counted at least once per entry (a stale entry replaced counts again: the count only errs upwards).
    const loose = group === undefined && key.includes('/') && !this.#lru.has(key);
    this.#lru.set(key, value, this.#options.maxBytes > 0 ? { ...options, size } : options);
    if (loose) this.#looseSlashKeys++;
    if (group !== undefined) {
      let keys = this.#groups.get(group);
      if (keys === undefined) this.#groups.set(group, (keys = new Set()));
      keys.add(key);
    }
  }

  /** Forgets a key that left the LRU (deleted, evicted, expired). */
  #unindex(key: string): void {
    const group = groupOf(key);
    if (group === undefined) {
      if (this.#looseSlashKeys > 0 && key.includes('/')) this.#looseSlashKeys--;
      return;
    }
    const keys = this.#groups.get(group);
    if (keys !== undefined && keys.delete(key) && keys.size === 0) this.#groups.delete(group);
  }

  /**
   * The keys a clear of `prefix` must look at, and whether they come from the index: the keys
   * of one group (a prefix with a group); the keys of the groups a path prefix covers, while
   * every key holding a '/' is in a group (`http:GET /products/`); else every key.
   */
  #clearCandidates(prefix: string): { keys: Iterable<string>; indexed: boolean } {
    const group = groupOf(prefix);
    if (group !== undefined) return { keys: [...(this.#groups.get(group) ?? [])], indexed: true };
    if (this.#looseSlashKeys === 0 && prefix.includes('/')) {
      const keys: string[] = [];
      for (const [name, held] of this.#groups) if (name.startsWith(prefix) || prefix.startsWith(name)) for (const key of held) keys.push(key);
      return { keys, indexed: true };
    }
    return { keys: this.#lru.keys(), indexed: false };
  }

  /** The codec's value of `bytes`, or undefined after rejecting the record they came from. */
  #decode(bytes: Uint8Array, from: RecordPosition): V | undefined {
    let value: V;
    try {
      value = this.#options.codec.decode(bytes);
    } catch (error) {
      this.#rejectRecord(from, 'decode-failed', (error as Error).message);
      return undefined;
    }
    if (value === undefined) this.#rejectRecord(from, 'decode-failed', 'the codec decoded undefined');
    return value;
  }

  /**
   * Decodes a value stored lazily. An undecodable one is reported and dropped. With `keep` (a
   * get, which makes the entry recently used anyway), the decoded value replaces the bytes,
   * with the same expiry and size; has() and entries() leave the entry as it is.
   */
  #decodeStored(key: string, stored: Encoded, keep: boolean): V | undefined {
    const value = this.#decode(stored.bytes, stored);
    // Only while the key still holds these bytes (always, from get and has).
    if (this.#lru.peek(key, { allowStale: true }) !== stored) return value;
    if (value === undefined) {
      this.#lru.delete(key);
      return undefined;
    }
    if (keep) this.#lruSet(key, value as {}, stored.latin1.length + key.length, { noUpdateTTL: true });
    return value;
  }

  /**
   * Removes entries under `prefix` (on `partition` only, when given). For a remote clear read at
   * `offset`, keys with a local write in flight are kept, unless that write is known to sit
   * before the clear in the log (its record was removed by the cleaner, so it never came back).
   */
  #wipe(prefix: string, partition: number | undefined, offset: number | undefined): void {
    const keepPending = offset !== undefined;
    const everything = prefix === '' && (partition === undefined || this.#partitions <= 1) && (!keepPending || this.#pendingKeys.size === 0);
    if (everything) {
      this.#lru.clear();
      this.#groups.clear();
      this.#looseSlashKeys = 0;
      return;
    }
    const doomed: string[] = [];
    // Response keys are indexed by path: a clear of a response's variants or query strings, or
    // of a path prefix, reads the index, not every key.
    const { keys, indexed } = this.#clearCandidates(prefix);
    for (const key of keys) {
      if (!key.startsWith(prefix)) continue;
      if (indexed && this.#lru.peek(key, { allowStale: true }) === undefined) {
        this.#unindex(key);
        continue;
      }
      if (partition !== undefined && this.#partitions > 1 && partitionFor(key, this.#partitions) !== partition) continue;
      if (keepPending) {
        const pending = this.#pendingKeys.get(key);
        if (pending !== undefined) {
          const acked = this.#ackedKeys.get(key);
          if (acked === undefined || acked.writeId !== pending || acked.offset > offset) continue;
          this.#pendingKeys.delete(key);
          this.#ackedKeys.delete(key);
        }
      }
      doomed.push(key);
    }
    for (const key of doomed) this.#lru.delete(key);
  }

  #shadowedByClear(key: string, partition: number, offset: number): boolean {
    for (const clear of this.#pendingClears) {
      if (clear.seen.has(partition) || !key.startsWith(clear.prefix)) continue;
      const at = clear.offsets?.get(partition);
      if (at === undefined || offset < at) return true;
      // The clear record sat before this one and was removed by the cleaner: it is behind us.
      this.#clearCameBack(clear.writeId, partition);
    }
    return false;
  }

  /** Ends the shield of local writes the consumer read past without seeing them (the cleaner removed them). */
  #passedPendingWrites(partition: number): void {
    const position = this.#position[partition]!;
    for (const [key, acked] of this.#ackedKeys) {
      if (acked.partition !== partition || acked.offset >= position) continue;
      this.#ackedKeys.delete(key);
      if (this.#pendingKeys.get(key) === acked.writeId) this.#pendingKeys.delete(key);
    }
    for (const clear of [...this.#pendingClears]) {
      const at = clear.offsets?.get(partition);
      if (at !== undefined && at < position) this.#clearCameBack(clear.writeId, partition);
    }
  }

  #clearCameBack(writeId: number, partition: number): void {
    const clear = this.#pendingClears.find((c) => c.writeId === writeId);
    if (!clear) return;
    clear.seen.add(partition);
    if (clear.seen.size >= this.#partitions) this.#pendingClears = this.#pendingClears.filter((c) => c !== clear);
  }

  #rejectRecord(record: RecordPosition, reason: RejectReason, detail: string): void {
    this.#rejected++;
    this.#rejectedByReason[reason] = (this.#rejectedByReason[reason] ?? 0) + 1;
    const info: RejectedRecord = { partition: record.partition, offset: record.offset, reason, detail };
    this.#lastRejected.push(info);
    if (this.#lastRejected.length > LAST_REJECTED) this.#lastRejected.shift();
    if (this.listenerCount('rejected') > 0) this.emit('rejected', info);
    else this.#options.logger.warn(`skipped record at ${this.topic}/${record.partition}@${record.offset}: ${reason}: ${detail}`);
  }

  #checkCaughtUp(): void {
    if (this.#bootstrapped || this.#state !== 'bootstrapping') return;
    for (let p = 0; p < this.#partitions; p++) {
      if (this.#position[p]! < this.#targets[p]!) return;
    }
    this.#bootstrapped = true;
    this.#setState(this.#degraded.size > 0 ? 'degraded' : 'live');
    const waiters = this.#readyWaiters;
    this.#readyWaiters = [];
    for (const waiter of waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
    this.emit('ready');
  }

  #trackBehind(partition: number, now: number): void {
    if (this.#high[partition]! > this.#position[partition]!) {
      if (this.#behindSince[partition] === 0) this.#behindSince[partition] = now;
    } else {
      this.#behindSince[partition] = 0;
    }
  }

  async #pollLag(): Promise<void> {
    if (this.#closing) return;
    let offsets;
    try {
      offsets = await this.#log.offsets();
    } catch (error) {
      // Work cancelled by close() reports nothing.
      if (this.#closing) return;
      // The stall clock runs only while the log answers: after an outage, the consumer gets its
      // own recovery time before the watchdog counts it as stalled.
      this.#lastProgress = Date.now();
      // The next poll retries: one failure (a leader moving) is no news; a second in a row is.
      const reported = asNearCacheError(error);
      if (++this.#pollFailures >= 2) this.#report(reported);
      else this.#options.logger.debug(reported.message, { code: reported.code });
      return;
    }
    this.#pollFailures = 0;
    if (this.#closing) return;
    const now = Date.now();
    let behind = false;
    for (const { partition, high } of offsets) {
      if (partition >= this.#partitions) continue;
      if (high > this.#high[partition]!) this.#high[partition] = high;
      this.#trackBehind(partition, now);
      if (this.#high[partition]! > this.#position[partition]!) behind = true;
    }
    if (behind && now - this.#lastProgress >= this.#options.stallTimeout && !this.#closing) {
      this.#lastProgress = now;
      this.#degrade('consumer', new ConsumerStalledError(`the consumer made no progress for ${this.#options.stallTimeout} ms while behind${this.#describeLag()}; restarting it`, { retriable: true }));
      try {
        await this.#log.restartConsumer();
      } catch (error) {
        if (!this.#closing) this.#report(asNearCacheError(error));
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // Internals.

  /** Appends `writes`; notes where the log put those still pending, when it says. */
  async #send(writes: CacheWrite[]): Promise<void> {
    const owners: CacheWrite[] = [];
    const records = this.#toRecords(writes, owners);
    const offsets = await this.#log.append(records);
    if (!offsets) return;
    for (let i = 0; i < records.length; i++) {
      const write = owners[i]!;
      const offset = offsets[i];
      if (offset === undefined || Number.isNaN(offset)) continue;
      const partition = records[i]!.partition;
      if (write.op === 'clear') {
        const clear = this.#pendingClears.find((c) => c.writeId === write.writeId);
        if (clear) (clear.offsets ??= new Map()).set(partition, offset);
      } else if (this.#pendingKeys.get(write.key) === write.writeId) {
        this.#ackedKeys.set(write.key, { writeId: write.writeId, partition, offset });
      }
    }
  }

  #toRecords(writes: CacheWrite[], owners: CacheWrite[]): OutgoingRecord[] {
    const records: OutgoingRecord[] = [];
    for (const write of writes) {
      switch (write.op) {
        case 'set':
          records.push(setRecord(partitionFor(write.key, this.#partitions), write.key, write.value!, write.expiresAt, this.#origin, write.writeId, this.#codecName));
          owners.push(write);
          break;
        case 'delete':
          records.push(deleteRecord(partitionFor(write.key, this.#partitions), write.key, this.#origin, write.writeId, this.#codecName));
          owners.push(write);
          break;
        case 'clear':
          // A clear goes to every partition, ordered there with the writes it clears.
          for (let p = 0; p < this.#partitions; p++) {
            records.push(clearRecord(p, write.key, this.#origin, write.writeId, this.#codecName));
            owners.push(write);
          }
          break;
      }
    }
    const signer = this.#options.signer;
    if (signer) for (const record of records) signer.sign(this.#options.topic, record);
    return records;
  }

  #consumerError(error: NearCacheError): void {
    if (error.retriable) {
      this.#report(error);
    } else if (!this.#bootstrapped) {
      // The consumer gave up (authorization, for example): this start cannot succeed.
      this.#fail(error);
    } else {
      // Keep serving; the stall watchdog restarts the consumer once the log moves on.
      this.#degrade('consumer', error);
    }
  }

  #dropped(write: CacheWrite, error: NearCacheError): void {
    // The record will never come back: stop shielding the key from remote writes.
    if (write.op === 'clear') this.#pendingClears = this.#pendingClears.filter((c) => c.writeId !== write.writeId);
    else if (this.#pendingKeys.get(write.key) === write.writeId) {
      this.#pendingKeys.delete(write.key);
      this.#ackedKeys.delete(write.key);
    }
    this.#report(new NearCacheError(`the log refused the ${write.op} of "${write.key}"; it is applied on this instance only`, { cause: error }));
  }

  /**
   * A loaded value `wrap` could not cache: on the `error` event each time, or, when nobody
   * listens, a warning once per key (a loader returns the same kind of value on every call).
   */
  #refusedLoad(key: string, error: NearCacheError): void {
    const refused = error instanceof InvalidValueError || error instanceof ValueTooLargeError;
    if (!refused || this.listenerCount('error') > 0) {
      this.#report(error);
      return;
    }
    if (this.#warnedKeys.has(key)) return;
    // Bounded: past WARNED_KEYS distinct keys, warnings start over.
    if (this.#warnedKeys.size >= WARNED_KEYS) this.#warnedKeys.clear();
    this.#warnedKeys.add(key);
    this.#options.logger.warn(`${error.message}; wrap() returns the value uncached (warned once per key)`, { code: error.code, cause: error.cause });
  }

  #degrade(reason: 'producer' | 'consumer', error: NearCacheError): void {
    const first = !this.#degraded.has(reason);
    this.#degraded.add(reason);
    if (this.#bootstrapped && this.#state === 'live') this.#setState('degraded');
    if (first) this.#report(error);
  }

  #recover(reason: 'producer' | 'consumer'): void {
    this.#degraded.delete(reason);
    if (this.#degraded.size === 0 && this.#state === 'degraded') this.#setState('live');
  }

  #fail(error: NearCacheError): void {
    this.#fatal = error;
    this.#report(error);
    for (const waiter of this.#readyWaiters) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    this.#readyWaiters = [];
    void this.close();
  }

  #report(error: NearCacheError): void {
    if (!this.#bootstrapped) this.#lastError = error;
    if (this.listenerCount('error') > 0) {
      this.emit('error', error);
      return;
    }
    // The same failure on every retry is summarised, not repeated.
    const line = this.#repeats.next(error.message);
    if (line !== undefined) this.#options.logger.error(line, { code: error.code, cause: error.cause });
  }

  #setState(state: CacheState): void {
    const previous = this.#state;
    if (previous === state || previous === 'closed') return;
    this.#state = state;
    this.emit('state', state, previous);
  }

  async #close(): Promise<void> {
    this.#closing = true;
    this.#startDelay.cancel();
    clearInterval(this.#lagTimer);
    // A start still connecting is abandoned after closeTimeout; the log's close() below ends it.
    await withDeadline(this.#started, Math.max(this.#options.closeTimeout, 1000), () => new LogUnavailableError('start still running')).catch(() => undefined);
    const left = await this.#replicator.close(this.#fatal ? 0 : this.#options.closeTimeout);
    if (left > 0) this.#options.logger.warn(`closed with ${left} writes not replicated to topic "${this.topic}"`);
    try {
      await withDeadline(this.#log.close(), Math.max(this.#options.closeTimeout, 1000), () => new LogUnavailableError('closing the log timed out'));
    } catch (error) {
      this.#report(asNearCacheError(error));
    }
    for (const waiter of this.#readyWaiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new CacheClosedError('the cache was closed before it was ready'));
    }
    this.#readyWaiters = [];
    this.#setState('closed');
  }

  #assertWritable(): void {
    if (this.#closing || this.#state === 'closed') {
      throw new CacheClosedError(this.#fatal ? `the cache stopped: ${this.#fatal.message}` : 'the cache is closed', { cause: this.#fatal });
    }
  }

  #checkKey(key: string): void {
    if (typeof key !== 'string') throw invalidKey(key);
    if (key.length === 0) throw new InvalidKeyError('a key must be a non-empty string, got ""');
    if (key.charCodeAt(0) === 0) throw new InvalidKeyError('keys starting with U+0000 are reserved');
    // UTF-8 takes at most 3 bytes per UTF-16 unit: measure only when it could matter.
    if (key.length * 3 > this.#options.maxKeyBytes) {
      const bytes = Buffer.byteLength(key);
      if (bytes > this.#options.maxKeyBytes) throw new InvalidKeyError(`the key has ${bytes} UTF-8 bytes; maxKeyBytes allows ${this.#options.maxKeyBytes}`);
    }
  }

  /** The codec's bytes for `value`; a refusal is an `InvalidValueError` naming `key`, with the codec's error as its cause. */
  #encode(key: string, value: V): Uint8Array {
    if (value === undefined) throw new InvalidValueError(`cannot cache key "${key}": undefined cannot be cached; use delete() to remove a key`, { key });
    let bytes: Uint8Array;
    try {
      bytes = this.#options.codec.encode(value);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new InvalidValueError(`cannot cache key "${key}": ${error instanceof InvalidValueError ? reason : `the ${this.#codecName} codec cannot encode the value: ${reason}`}`, { cause: error, key });
    }
    if (bytes.length > this.#options.maxValueBytes) {
      throw new ValueTooLargeError(`cannot cache key "${key}": the encoded value has ${bytes.length} bytes; maxValueBytes allows ${this.#options.maxValueBytes}`, { key });
    }
    return bytes;
  }

  /** What every other instance will decode from `bytes`, for a codec that is not exact. */
  #decodeOwn(key: string, bytes: Uint8Array): V {
    let value: V;
    try {
      value = this.#options.codec.decode(bytes);
    } catch (error) {
      throw new InvalidValueError(`cannot cache key "${key}": the ${this.#codecName} codec cannot decode what it encoded: ${(error as Error)?.message ?? String(error)}`, { cause: error, key });
    }
    if (value === undefined) throw new InvalidValueError(`cannot cache key "${key}": the ${this.#codecName} codec decodes the value as undefined`, { key });
    return value;
  }

  #describeLag(): string {
    const parts = this.#position.map((position, p) => `${p}: ${position}/${this.#targets[p] ?? '?'}`);
    return parts.length > 0 ? `; partitions at ${parts.join(', ')}` : '';
  }
}

// The typed events merge into the class: its type parameter must be declared here too.
// eslint-disable-next-line @typescript-eslint/no-unused-vars
export interface NearCache<V = unknown> {
  on<E extends keyof NearCacheEvents>(event: E, listener: (...args: NearCacheEvents[E]) => void): this;
  once<E extends keyof NearCacheEvents>(event: E, listener: (...args: NearCacheEvents[E]) => void): this;
  off<E extends keyof NearCacheEvents>(event: E, listener: (...args: NearCacheEvents[E]) => void): this;
  emit<E extends keyof NearCacheEvents>(event: E, ...args: NearCacheEvents[E]): boolean;
}

/** A prefixed view of a `NearCache`: same operations, keys scoped under the prefix. */
export class NearCacheNamespace<V = unknown> {
  constructor(
    readonly cache: NearCache<V>,
    readonly prefix: string,
  ) {}

  get(key: string): V | undefined {
    return this.cache.get(this.#key(key));
  }

  has(key: string): boolean {
    return this.cache.has(this.#key(key));
  }

  set(key: string, value: V, options?: SetOptions): Promise<void> {
    try {
      return this.cache.set(this.#key(key), value, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  delete(key: string, options?: WriteOptions): Promise<void> {
    try {
      return this.cache.delete(this.#key(key), options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  wrap<T extends V>(key: string, loader: () => T | Promise<T>, options?: SetOptions): Promise<T> {
    try {
      return this.cache.wrap(this.#key(key), loader, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Removes every entry of this namespace, on every instance. */
  clear(options?: WriteOptions): Promise<void> {
    return this.cache.clearPrefix(this.prefix, options);
  }

  /** Removes every entry of this namespace whose key (without the namespace prefix) starts with `prefix`, on every instance. */
  clearPrefix(prefix: string, options?: WriteOptions): Promise<void> {
    if (typeof prefix !== 'string') return Promise.reject(new InvalidArgumentError(`a clear prefix must be a string, got ${typeof prefix}`));
    return this.cache.clearPrefix(this.prefix + prefix, options);
  }

  /** Keys of this namespace, without the prefix. */
  *keys(): IterableIterator<string> {
    for (const key of this.cache.keys()) if (key.startsWith(this.prefix)) yield key.slice(this.prefix.length);
  }

  namespace(prefix: string): NearCacheNamespace<V> {
    if (typeof prefix !== 'string' || prefix.length === 0) throw new InvalidArgumentError('a namespace prefix must be a non-empty string');
    return new NearCacheNamespace(this.cache, this.prefix + prefix);
  }

  #key(key: string): string {
    if (typeof key !== 'string') throw invalidKey(key);
    if (key.length === 0) throw new InvalidKeyError('a key must be a non-empty string, got ""');
    return this.prefix + key;
  }
}

/** Creates a replicated cache and starts connecting; await `ready()` before relying on its contents. */
export function createNearCache<V = unknown>(options: NearCacheOptions<V>): NearCache<V> {
  return new NearCache<V>(options);
}

function invalidKey(key: unknown): InvalidKeyError {
  return new InvalidKeyError(`a key must be a non-empty string, got ${key === null ? 'null' : typeof key}`);
}

function checkTtl(ttl: unknown): number {
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 0 || ttl > MAX_TTL) {
    throw new InvalidArgumentError(`ttl must be an integer number of ms from 0 (none) to ${MAX_TTL} (100 years), got ${String(ttl)}`);
  }
  return ttl;
}

function asNearCacheError(error: unknown): NearCacheError {
  if (error instanceof NearCacheError) return error;
  return new LogUnavailableError(`replication log error: ${(error as Error)?.message ?? String(error)}`, { cause: error, retriable: true });
}
