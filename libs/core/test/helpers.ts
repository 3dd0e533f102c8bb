/**
 * Test helpers for @nearcache/core: waiting on conditions and events (never fixed sleeps),
 * raw record builders, an oracle that folds a topic independently of the cache code, and a
 * log wrapper that can hold back consumer batches.
 */
import type { InProcessBroker, LogRecord, NearCache, RawRecord } from '../src/index.js';

// ---------------------------------------------------------------------------------------------
// Waiting.

// Shared with the cross-package tests.
import { ChaosLog } from '../../../test/helpers/chaos.js';
import { decodePayload, metaHeaders, recordMeta } from '../../../test/helpers/records.js';
import { waitFor } from '../../../test/helpers/wait.js';

export { waitFor };
export { nextEvent, type WaitOptions as WaitForOptions } from '../../../test/helpers/wait.js';
export { prng } from '../../../test/helpers/records.js';

/** The error `promise` rejects with; fails if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

/** Settles `promise` into a value that can be inspected synchronously later. */
export function track<T>(promise: Promise<T>): { settled: boolean; value?: T; error?: unknown; promise: Promise<T> } {
  const state: { settled: boolean; value?: T; error?: unknown; promise: Promise<T> } = { settled: false, promise };
  promise.then(
    (value) => {
      state.settled = true;
      state.value = value;
    },
    (error: unknown) => {
      state.settled = true;
      state.error = error;
    },
  );
  return state;
}

/** Lets pending setImmediate callbacks and I/O run (not a sleep: no time passes on purpose). */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A fresh topic name for every test. */
let topicSeq = 0;
export function uniqueTopic(label = 't'): string {
  topicSeq++;
  return `nc-test-${label}-${process.pid}-${topicSeq}-${Math.random().toString(36).slice(2, 8)}`;
}

/** True when `cache` applied every record the broker holds now on every partition, and has nothing queued. */
export function caughtUp(cache: NearCache<any>, broker: InProcessBroker, topic: string): boolean {
  const offsets = broker.offsets(topic);
  const stats = cache.stats();
  if (stats.partitions.length !== offsets.length) return false;
  if (stats.queue.depth !== 0) return false;
  return offsets.every((o) => (stats.partitions[o.partition]?.position ?? -1) >= o.high);
}

/** Waits until every cache in `caches` caught up with the broker (see `caughtUp`). */
export async function waitCaughtUp(caches: Array<NearCache<any>>, broker: InProcessBroker, topic: string, timeout = 5000): Promise<void> {
  await waitFor(() => caches.every((c) => caughtUp(c, broker, topic)), {
    timeout,
    message: () =>
      `caches caught up with ${topic}; broker ${JSON.stringify(broker.offsets(topic))}; caches ${JSON.stringify(
        caches.map((c) => ({ state: c.state, depth: c.stats().queue.depth, partitions: c.stats().partitions })),
      )}`,
  });
}

// ---------------------------------------------------------------------------------------------
// Raw records, written with the documented header names (docs/record-format.md), not the code's constants.

export interface RawOptions {
  origin?: string;
  writeId?: number | string;
  partition?: number;
  version?: string;
  expiresAt?: number | string;
}

function baseHeaders(op: string, options: RawOptions): Record<string, string> {
  return metaHeaders({ op, origin: options.origin ?? 'foreign-writer', writeId: options.writeId ?? 1, expiresAt: options.expiresAt, version: options.version });
}

/** A set record; `value` is JSON-encoded unless it is already bytes. */
export function rawSet(key: string, value: unknown, options: RawOptions = {}): RawRecord {
  const headers = baseHeaders('s', options);
  const bytes = value instanceof Uint8Array ? value : Buffer.from(JSON.stringify(value), 'utf8');
  return { partition: options.partition ?? 0, key, value: bytes, headers };
}

export function rawDelete(key: string, options: RawOptions = {}): RawRecord {
  return { partition: options.partition ?? 0, key, value: null, headers: baseHeaders('d', options) };
}

export function rawClear(prefix: string, options: RawOptions = {}): RawRecord {
  return { partition: options.partition ?? 0, key: `\u0000nc:clear:${prefix}`, value: prefix, headers: baseHeaders('c', options) };
}

// ---------------------------------------------------------------------------------------------
// The oracle: a fresh reader folding the topic, written independently of the cache code.

export interface OracleOptions {
  maxKeyBytes?: number;
  maxValueBytes?: number;
  /** Entries expiring at or before this time are dropped. Default: now. */
  now?: number;
}

function hasForbiddenKey(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  for (const key of Object.keys(value)) {
    const child = (value as Record<string, unknown>)[key];
    if (key === '__proto__') return true;
    if (key === 'constructor' && child !== null && typeof child === 'object' && Object.prototype.hasOwnProperty.call(child, 'prototype')) return true;
    if (hasForbiddenKey(child)) return true;
  }
  return false;
}

const DECIMAL_TEXT = /^(0|[1-9][0-9]{0,15})$/;
const CLEAR_PREFIX = '\u0000nc:clear:';

/**
 * What a cache holding every key must hold after reading `records` (as `broker.records(topic)`
 * returns them): per partition, in offset order, sets store, deletes remove, clears remove the
 * keys of their prefix on that partition; invalid records are skipped; expired entries dropped.
 */
export function foldTopic(records: LogRecord[], options: OracleOptions = {}): Map<string, unknown> {
  const maxKeyBytes = options.maxKeyBytes ?? 1024;
  const maxValueBytes = options.maxValueBytes ?? 512 * 1024;
  const now = options.now ?? Date.now();
  const byPartition = new Map<number, LogRecord[]>();
  for (const record of records) {
    const list = byPartition.get(record.partition) ?? [];
    list.push(record);
    byPartition.set(record.partition, list);
  }
  const result = new Map<string, unknown>();
  for (const list of byPartition.values()) {
    list.sort((a, b) => a.offset - b.offset);
    const state = new Map<string, { value: unknown; expiresAt: number }>();
    for (const record of list) {
      const meta = recordMeta(record);
      if (meta === undefined || (meta.version !== '1' && meta.version !== '2' && meta.version !== '3')) continue;
      const { op, origin, wid } = meta;
      if (origin === undefined || wid === undefined || !DECIMAL_TEXT.test(wid)) continue;
      if (record.key === null || record.key.length === 0) continue;
      const key = Buffer.from(record.key).toString('utf8');
      if (op === 's') {
        const payload = meta.payload;
        if (record.key.length > maxKeyBytes || key.startsWith('\u0000') || payload === null || payload.length > maxValueBytes) continue;
        // Written by another codec than the default (structured): skipped.
        if (meta.codec !== undefined && meta.codec !== 'structured') continue;
        const exp = meta.exp ?? '0';
        if (!DECIMAL_TEXT.test(exp)) continue;
        let value: unknown;
        try {
          value = decodePayload(payload);
        } catch {
          continue;
        }
        if (hasForbiddenKey(value)) continue;
        state.set(key, { value, expiresAt: Number(exp) });
      } else if (op === 'd') {
        if (record.key.length > maxKeyBytes || key.startsWith('\u0000') || record.value !== null) continue;
        state.delete(key);
      } else if (op === 'c') {
        if (meta.payload === null) continue;
        const prefix = Buffer.from(meta.payload).toString('utf8');
        if (key !== CLEAR_PREFIX + prefix) continue;
        for (const k of [...state.keys()]) if (k.startsWith(prefix)) state.delete(k);
      }
    }
    for (const [key, entry] of state) {
      if (entry.expiresAt !== 0 && entry.expiresAt <= now) continue;
      result.set(key, entry.value);
    }
  }
  return result;
}

/** Sorted [key, value] pairs, for order-independent comparison. */
export function sortedEntries(entries: Iterable<[string, unknown]>): Array<[string, unknown]> {
  return [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

// ---------------------------------------------------------------------------------------------
// A log wrapper that can hold back batches on their way to the cache.

/** The shared chaos wrapper, with this suite's names: `pause()` holds batches back, `resume()` lets them through. */
export class GatedLog extends ChaosLog {
  pause(): void {
    this.hold();
  }

  resume(): void {
    this.release();
  }
}

/** Records of `topic` appended after the first `from`, as { key, op, value } for readable assertions. */
export function describeRecords(records: LogRecord[]): Array<{ key: string | null; op: string | undefined; value: string | null }> {
  return records.map((r) => {
    const meta = recordMeta(r);
    return {
      key: r.key === null ? null : Buffer.from(r.key).toString('utf8'),
      op: meta?.op,
      value: r.value === null ? null : Buffer.from(meta?.payload ?? r.value).toString('utf8'),
    };
  });
}

export type { RawRecord };
export { recordMeta };
