import { tracingChannel } from 'node:diagnostics_channel';
import type { LogRecord } from '../record.js';

/**
 * Tracing channels (`node:diagnostics_channel`) around the cache's operations, for APM tools and
 * OpenTelemetry instrumentations (docs/operations.md, "Tracing channels"). Each publishes
 * `start`, `end`, `asyncStart`, `asyncEnd` and `error` with one context object per operation.
 * While nobody subscribes, an operation only reads `hasSubscribers`: no context is built.
 */
export const NEARCACHE_CHANNELS = {
  /** Every `wrap` call, hit or miss (`WrapTrace`). */
  wrap: 'nearcache:wrap',
  /**
   * Every loader call `wrap` makes: misses, early refreshes, fleet-wide loads; and every lease
   * (`lease(key)`, which the Nest decorators and the HTTP caches take around the method or
   * handler they run), from the lease to its fill or release (`LoadTrace`).
   */
  load: 'nearcache:load',
  /** Every `set`, `delete`, `clearPrefix` (and `clear`) and `invalidateTags` call (`WriteTrace`). */
  write: 'nearcache:write',
  /** Every record of the log applied here, this instance's own included (`ApplyTrace`); synchronous. */
  apply: 'nearcache:apply',
} as const;

/** What every context carries: the cache (the `NearCache` instance, to tell caches apart) and its topic. */
export interface TraceSource {
  /** The `NearCache` instance. */
  readonly cache: object;
  /** Its topic. */
  readonly topic: string;
}

interface Settled {
  /** Set before `asyncEnd` (or `end`, for `apply`): what the operation returned. */
  result?: unknown;
  /** Set before `error`: what the operation threw or rejected with. */
  error?: unknown;
}

/** Context of `nearcache:wrap`. `result` is the value returned. */
export interface WrapTrace extends TraceSource, Settled {
  key: string;
}

/** Context of `nearcache:load`. `result` is the loader's value. */
export interface LoadTrace extends TraceSource, Settled {
  key: string;
}

/** Context of `nearcache:write`. */
export interface WriteTrace extends TraceSource, Settled {
  op: 'set' | 'delete' | 'clear' | 'invalidate-tags';
  /** The key of a set or delete, the prefix of a clear ('' for everything), the tags joined by ',' for `invalidate-tags`. */
  key: string;
  /** Whether the call waits for the log's acknowledgement. */
  durable: boolean;
}

/** Context of `nearcache:apply`. The key is the record's raw key (undefined for a record without one). */
export interface ApplyTrace extends TraceSource, Settled {
  partition: number;
  offset: number;
  /** The record's key, as UTF-8 text (a clear's, a tag's or a claim's key is the internal key of that record). */
  key: string | undefined;
}

export const wrapChannel = tracingChannel<unknown, WrapTrace>(NEARCACHE_CHANNELS.wrap);
export const loadChannel = tracingChannel<unknown, LoadTrace>(NEARCACHE_CHANNELS.load);
export const writeChannel = tracingChannel<unknown, WriteTrace>(NEARCACHE_CHANNELS.write);
export const applyChannel = tracingChannel<unknown, ApplyTrace>(NEARCACHE_CHANNELS.apply);

const decoder = new TextDecoder();

/** `run()` traced on `nearcache:wrap`. Call only when `wrapChannel.hasSubscribers`. */
export function traceWrap<T>(source: TraceSource, key: string, run: () => Promise<T>): Promise<T> {
  return wrapChannel.tracePromise(run, { cache: source.cache, topic: source.topic, key });
}

/** The loader called and traced on `nearcache:load` (a loader that throws rejects). Call only when `loadChannel.hasSubscribers`. */
export function traceLoad<T>(source: TraceSource, key: string, loader: () => T | Promise<T>): Promise<T> {
  return loadChannel.tracePromise(async () => loader(), { cache: source.cache, topic: source.topic, key });
}

/**
 * The start of a load run by the caller under a lease, on `nearcache:load`: `start` and `end` now,
 * `asyncStart` and `asyncEnd` (after `error` for a failed load) when `endLeaseTrace` is called.
 * Undefined, and nothing published, while nobody subscribes.
 */
export function startLeaseTrace(source: TraceSource, key: string): LoadTrace | undefined {
  if (!loadChannel.hasSubscribers) return undefined;
  const context: LoadTrace = { cache: source.cache, topic: source.topic, key };
  loadChannel.start.publish(context);
  loadChannel.end.publish(context);
  return context;
}

/** The end of a lease's load: filled with `result`, or released (`failed` with its error, when the load failed). */
export function endLeaseTrace(context: LoadTrace, outcome: { result: unknown } | { error: unknown } | undefined): void {
  if (outcome !== undefined && 'error' in outcome) {
    context.error = outcome.error;
    loadChannel.error.publish(context);
  } else if (outcome !== undefined) {
    context.result = outcome.result;
  }
  loadChannel.asyncStart.publish(context);
  loadChannel.asyncEnd.publish(context);
}

/** `run()` traced on `nearcache:write`. Call only when `writeChannel.hasSubscribers`. */
export function traceWrite(source: TraceSource, op: WriteTrace['op'], key: string, durable: boolean | undefined, run: () => Promise<void>): Promise<void> {
  return writeChannel.tracePromise(run, { cache: source.cache, topic: source.topic, op, key, durable: durable === true });
}

/** The `key` of an `invalidate-tags` trace: the tags joined by ',' (whatever `tags` is: the call checks it). */
export function tagsKey(tags: unknown): string {
  return Array.isArray(tags) ? tags.join(',') : String(tags);
}

/** `apply(record)` traced on `nearcache:apply`. Call only when `applyChannel.hasSubscribers`. */
export function traceApply<This>(source: TraceSource, record: LogRecord, apply: (this: This, record: LogRecord) => void, self: This): void {
  const key = record.key === null ? undefined : decoder.decode(record.key);
  applyChannel.traceSync(apply, { cache: source.cache, topic: source.topic, partition: record.partition, offset: record.offset, key }, self, record);
}
