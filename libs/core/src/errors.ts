/**
 * Every error nearcache raises is a `NearCacheError` with a stable `code` (never the message:
 * messages may be reworded) and, where something underneath failed, a `cause`.
 * `retriable` tells whether trying the same call again later can succeed.
 */
export class NearCacheError extends Error {
  static readonly code: string = 'NC_ERROR';
  readonly code: string;
  readonly retriable: boolean;

  constructor(message: string, options: { cause?: unknown; retriable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = (new.target as typeof NearCacheError).code;
    this.retriable = options.retriable ?? false;
  }
}

/** An option given to `createNearCache` (or to an adapter) is missing, of the wrong type or out of range. */
export class InvalidOptionError extends NearCacheError {
  static override readonly code = 'NC_INVALID_OPTION';
}

/** An argument of a cache call (such as `ttl` on `set`) is invalid. */
export class InvalidArgumentError extends NearCacheError {
  static override readonly code = 'NC_INVALID_ARGUMENT';
}

/** A key is not a non-empty string, is too long, or uses the reserved prefix. */
export class InvalidKeyError extends NearCacheError {
  static override readonly code = 'NC_INVALID_KEY';
}

/**
 * The codec cannot encode the value faithfully (a function, a class instance, a symbol...), so
 * it is cached nowhere. From a cache call, `key` names the key and `cause` holds the codec's own
 * error, which says what in the value was refused.
 */
export class InvalidValueError extends NearCacheError {
  static override readonly code = 'NC_INVALID_VALUE';
  /** The key the value was refused for; undefined when the codec itself threw. */
  readonly key: string | undefined;

  constructor(message: string, options: { cause?: unknown; retriable?: boolean; key?: string } = {}) {
    super(message, options);
    this.key = options.key;
  }
}

/** The encoded value is larger than `maxValueBytes`; `key` names the key. */
export class ValueTooLargeError extends NearCacheError {
  static override readonly code = 'NC_VALUE_TOO_LARGE';
  /** The key the value was refused for. */
  readonly key: string | undefined;

  constructor(message: string, options: { cause?: unknown; retriable?: boolean; key?: string } = {}) {
    super(message, options);
    this.key = options.key;
  }
}

/** The codec could not decode bytes read from the log. */
export class DecodeError extends NearCacheError {
  static override readonly code = 'NC_DECODE_FAILED';
}

/** `ready()` did not see the cache catch up with the log before its deadline. */
export class BootstrapTimeoutError extends NearCacheError {
  static override readonly code = 'NC_BOOTSTRAP_TIMEOUT';
}

/** A durable write or `flush()` was not acknowledged by the log before its deadline. The write stays queued. */
export class ReplicationTimeoutError extends NearCacheError {
  static override readonly code = 'NC_REPLICATION_TIMEOUT';
}

/** The replication queue holds `maxQueuedWrites` distinct keys already; the write was not applied. */
export class WriteQueueFullError extends NearCacheError {
  static override readonly code = 'NC_QUEUE_FULL';
}

/** The cache was closed; no more writes are accepted. */
export class CacheClosedError extends NearCacheError {
  static override readonly code = 'NC_CLOSED';
}

/** The topic exists but its `cleanup.policy` does not include `compact`. */
export class TopicNotCompactedError extends NearCacheError {
  static override readonly code = 'NC_TOPIC_NOT_COMPACTED';
}

/** A call to the replication log (Kafka) failed or did not answer in time. */
export class LogUnavailableError extends NearCacheError {
  static override readonly code = 'NC_LOG_UNAVAILABLE';
}

/** The log rejected a write permanently (for example a record larger than the broker accepts). */
export class WriteRejectedError extends NearCacheError {
  static override readonly code = 'NC_WRITE_REJECTED';
}

/**
 * The replication worker (`replication: 'worker'`) crashed or exited more times in a row than
 * `replicationWorker.maxRestarts` allows, and is not started again: the cache keeps serving what it
 * holds and takes writes locally, without replication, until it is replaced.
 */
export class ReplicationWorkerError extends NearCacheError {
  static override readonly code = 'NC_REPLICATION_WORKER_FAILED';
}

/** The consumer made no progress while the log had records for it; it is being restarted. */
export class ConsumerStalledError extends NearCacheError {
  static override readonly code = 'NC_CONSUMER_STALLED';
}

/** A session token is not one this version reads (malformed, another version), or belongs to another topic or partition count. */
export class InvalidSessionTokenError extends NearCacheError {
  static override readonly code = 'NC_INVALID_SESSION_TOKEN';
}

/** `catchUpTo()` did not see this instance reach the token's positions before its deadline. */
export class CatchUpTimeoutError extends NearCacheError {
  static override readonly code = 'NC_CATCH_UP_TIMEOUT';
}

/**
 * A `wrap` loader did not settle within its `hardTimeout`, and no value in grace could be served
 * instead. The load goes on in the background; its value is cached if it comes (through its fence).
 */
export class LoaderTimeoutError extends NearCacheError {
  static override readonly code = 'NC_LOADER_TIMEOUT';
  /** The key being loaded. */
  readonly key: string;

  constructor(message: string, options: { cause?: unknown; key: string }) {
    super(message, { cause: options.cause, retriable: true });
    this.key = options.key;
  }
}

/**
 * The handler of a cached HTTP route answered a server error (a status of 500 or more): its
 * load failed and nothing was stored. What a failed load ends with on `nearcache:load`, and what
 * `grace` answers for with the response in grace. `status` is the status answered.
 */
export class HandlerFailedError extends NearCacheError {
  static override readonly code = 'NC_HANDLER_FAILED';
  readonly status: number;

  constructor(status: number) {
    super(`the handler answered ${status}`, { retriable: true });
    this.status = status;
  }

  /** What a handler's `status` makes of its load: a HandlerFailedError for a server error (500 or more), else undefined (an answer). */
  static ofStatus(status: number): HandlerFailedError | undefined {
    return status >= 500 ? new HandlerFailedError(status) : undefined;
  }
}

/** True when `error` is a nearcache error, optionally of the given code. */
export function isNearCacheError(error: unknown, code?: string): error is NearCacheError {
  return error instanceof NearCacheError && (code === undefined || error.code === code);
}

/**
 * Why a snapshot was not used at start (docs/snapshots.md): the cache then reads the whole topic,
 * as without a snapshot. Reported through the logger, the `snapshot` event and `stats().snapshot`.
 */
export type SnapshotRefusal =
  | 'unreadable'
  | 'foreign'
  | 'truncated'
  | 'corrupt'
  | 'other-topic'
  | 'config-changed'
  | 'partitions-changed'
  | 'below-log-start'
  | 'above-log-end'
  | 'topic-recreated'
  | 'too-old'
  | 'unchecked';

/** A snapshot was refused at start; `reason` says why (see `SnapshotRefusal`). The start goes on with a full read of the topic. */
export class SnapshotRefusedError extends NearCacheError {
  static override readonly code = 'NC_SNAPSHOT_REFUSED';
  readonly reason: SnapshotRefusal;

  constructor(reason: SnapshotRefusal, message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.reason = reason;
  }
}
