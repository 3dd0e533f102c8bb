import type { NearCacheError } from '../errors.js';
import type { RejectReason } from '../record.js';
import type { SnapshotReport, SnapshotStats } from '../snapshot/snapshots.js';

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
  /**
   * Tags of the entry (at most 32 non-empty strings without a newline, each at most `maxKeyBytes`
   * UTF-8 bytes): `invalidateTags` removes every entry carrying one of them. Default: none.
   */
  tags?: readonly string[];
}

/** How fresh a read must be; a read this instance cannot show to be that fresh is a miss (`wrap` loads). */
export interface ReadOptions {
  /**
   * A session token (`sessionToken()`, `readToken()`, or several merged with
   * `mergeSessionTokens`): the read answers from the local entries only once this instance
   * applied every record the token covers. `undefined` or `''`: no condition.
   */
  after?: string;
  /**
   * The staleness accepted, in ms: the read answers from the local entries only if this instance
   * is confirmed to have applied every record the log held that long ago (see `staleness()`).
   */
  maxStaleness?: number;
}

/** Options of `lease(key, options)`. */
export interface LeaseOptions {
  /** Whether the lease's load is traced on `nearcache:load` (and counted in the load metrics). Default true. */
  trace?: boolean;
}

/** How a loaded value is stored (`wrap`, a lease's `fill`): as `set`, plus its grace period. */
export interface FillOptions extends SetOptions {
  /**
   * How long after its expiry the value is kept as a fallback, in ms; 0 for none (the default).
   * Needs a `ttl`. `get` misses on an expired entry; `wrap` serves it when its loader fails or
   * times out (docs/consistency.md, section 14). The grace end travels in the record.
   */
  grace?: number;
}

/**
 * Options of `wrap`: how fresh a hit must be, how the loaded value is stored, how long the loader
 * may take and when a hit refreshes ahead (docs/consistency.md, sections 14 to 16).
 */
export interface WrapOptions extends FillOptions, ReadOptions {
  /**
   * With a value in grace: after this many ms the call returns that value and the load goes on
   * in the background. Without one it does nothing. Default: none.
   */
  softTimeout?: number;
  /**
   * After this many ms the call returns the value in grace if there is one, else rejects with
   * `LoaderTimeoutError`; the load goes on in the background. Default: none.
   */
  hardTimeout?: number;
  /**
   * Early refresh: a hit whose entry has lived past this part of the call's `ttl` (0 < part < 1)
   * is returned at once while one background load per key refreshes it. Default: none.
   */
  refreshAhead?: number;
  /**
   * Fleet-wide single flight: on a miss, wait up to this many ms for another instance's load of
   * the key (through the log) instead of loading here; one instance loads for the fleet, the
   * others answer with its value, or load themselves when the wait ends. 0 turns it off for the
   * call. Default: the cache's `fleetWait` (0: off). See docs/consistency.md, section 18.
   */
  fleetWait?: number;
}

/** Why `wrap` served a value past its expiry (the `stale` event). */
export interface StaleServed {
  key: string;
  reason: 'loader-failed' | 'soft-timeout' | 'hard-timeout';
  /** When the value expired (ms since the epoch) and until when it may be served so. */
  expiredAt: number;
  graceEnd: number;
  /** The loader's error, for `loader-failed`. */
  error?: unknown;
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
  /** The key, or the prefix for a clear ('' for everything). A tag invalidation tells a `delete` per entry it removes. */
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
  /** Clears made here, and invalidations of a tag (one per tag). */
  clears: number;
  /** Values `wrap` served past their expiry, from their grace period (the `stale` event). */
  staleServed: number;
  /** Background loads started by `refreshAhead`. */
  refreshes: number;
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
  /** Until the cache is ready: the last failure reported (a start attempt, the consumer), with its code; then undefined. */
  startError: { code: string; message: string } | undefined;
  /** With option `snapshot`: how the start used its snapshot (`load`), the last write and counts (docs/snapshots.md). */
  snapshot?: SnapshotStats;
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
  /** `wrap` served a value past its expiry because its loader failed or timed out. */
  stale: [served: StaleServed];
  /** With option `snapshot`: a snapshot was loaded, refused or missing at start, or written, skipped or failed (docs/snapshots.md). */
  snapshot: [report: SnapshotReport];
}

/** Where a record sits in the log. */
export interface RecordPosition {
  partition: number;
  offset: number;
}
