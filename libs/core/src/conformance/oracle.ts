import type { LogRecord } from '../record.js';
import { decodePayload, recordMeta } from './records.js';

/**
 * What a fresh reader folding the topic must hold: an implementation of the record format written
 * from docs/record-format.md, independent of the cache's own apply code. Records that are not
 * valid version 3, 2 or 1 records are ignored, and so are version 3 sets of another codec than
 * `codec` (default 'structured'); sets already expired at `now` are left out. A fenced set or
 * delete (`nc-fence` header) is ignored when a plain record of its key, or a clear of a prefix of
 * it on its partition, written by another origin, sits at an offset from its fence up to its own
 * (docs/consistency.md, 11). A tag invalidation (op `t`, docs/consistency.md, 15) removes the sets
 * of its partition carrying its tag (`nc-tags` header) read before it; a fenced set carrying the
 * tag is also ignored when such an invalidation by another origin sits from its fence up to it.
 */
export function foldTopic(records: LogRecord[], options: { now?: number; decode?: (bytes: Uint8Array) => unknown; codec?: string } = {}): Map<string, unknown> {
  const now = options.now ?? Date.now();
  const decode = options.decode ?? decodePayload;
  const codec = options.codec ?? 'structured';
  const state = new Map<string, { value: unknown; expiresAt: number; tags: string[] }>();
  const ordered = [...records].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  // Offsets and origins of the plain sets and deletes of each key, and of the clears, for fenced records.
  const plain = new Map<string, Array<{ offset: number; origin: string }>>();
  const clears: Array<{ prefix: string; partition: number; offset: number; origin: string; tag?: string }> = [];
  for (const record of ordered) {
    const meta = recordMeta(record);
    if (meta === undefined || !['1', '2', '3'].includes(meta.version) || meta.origin === undefined || !/^\d+$/.test(meta.wid ?? '')) continue;
    if (record.key === null) continue;
    const key = Buffer.from(record.key).toString('utf8');
    if ((meta.op === 's' || meta.op === 'd') && meta.fence !== undefined) {
      if (!/^\d+$/.test(meta.fence)) continue;
      const from = Number(meta.fence);
      const origin = meta.origin;
      const tags = meta.op === 's' && meta.tags !== undefined ? meta.tags.split('\n') : [];
      const stale =
        (plain.get(key) ?? []).some((p) => p.offset >= from && p.origin !== origin) ||
        clears.some(
          (c) =>
            c.partition === record.partition &&
            c.offset >= from &&
            c.origin !== origin &&
            (c.tag === undefined ? key.startsWith(c.prefix) : tags.includes(c.tag)),
        );
      if (stale) continue;
    } else if (meta.op === 's' || meta.op === 'd') {
      plain.set(key, [...(plain.get(key) ?? []), { offset: record.offset, origin: meta.origin }]);
    }
    switch (meta.op) {
      case 's': {
        if (meta.payload === null || key.startsWith('\u0000') || (meta.codec !== undefined && meta.codec !== codec)) continue;
        let value: unknown;
        try {
          value = decode(meta.payload);
        } catch {
          continue;
        }
        if (JSON.stringify(value)?.includes('"__proto__"')) continue;
        state.set(key, { value, expiresAt: Number(meta.exp ?? '0'), tags: meta.tags === undefined ? [] : meta.tags.split('\n') });
        break;
      }
      case 'd':
        if (record.value !== null || key.startsWith('\u0000')) continue;
        state.delete(key);
        break;
      case 'c': {
        if (meta.payload === null) continue;
        const prefix = Buffer.from(meta.payload).toString('utf8');
        clears.push({ prefix, partition: record.partition, offset: record.offset, origin: meta.origin });
        for (const k of [...state.keys()]) {
          if (k.startsWith(prefix) && partitionOf(k, record, ordered) === record.partition) state.delete(k);
        }
        break;
      }
      case 't': {
        if (meta.payload === null) continue;
        const tag = Buffer.from(meta.payload).toString('utf8');
        if (key !== `\u0000nc:tag:${tag}`) continue;
        clears.push({ prefix: '', tag, partition: record.partition, offset: record.offset, origin: meta.origin });
        for (const [k, entry] of [...state]) {
          if (entry.tags.includes(tag) && partitionOf(k, record, ordered) === record.partition) state.delete(k);
        }
        break;
      }
    }
  }
  const result = new Map<string, unknown>();
  for (const [key, { value, expiresAt }] of state) if (expiresAt === 0 || expiresAt > now) result.set(key, value);
  return result;
}

/** The partition a key's records were written to (all records of a key share one partition). */
function partitionOf(key: string, clear: LogRecord, records: LogRecord[]): number {
  const found = records.find((r) => r.key !== null && Buffer.from(r.key).toString('utf8') === key);
  return found ? found.partition : clear.partition;
}

/** The entries an instance holds, as a Map. */
export function snapshot(cache: { entries(): IterableIterator<[string, unknown]> }): Map<string, unknown> {
  return new Map(cache.entries());
}

/** Differences between `actual` and `expected`, for assertion messages; empty when equal. */
export function diff(actual: Map<string, unknown>, expected: Map<string, unknown>): string[] {
  const problems: string[] = [];
  for (const [key, value] of expected) {
    if (!actual.has(key)) problems.push(`missing ${key}`);
    else if (JSON.stringify(actual.get(key)) !== JSON.stringify(value)) problems.push(`${key}: ${JSON.stringify(actual.get(key))} != ${JSON.stringify(value)}`);
  }
  for (const key of actual.keys()) if (!expected.has(key)) problems.push(`extra ${key}`);
  return problems;
}
