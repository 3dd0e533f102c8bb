import type { RawRecord } from '@nearcache/core';

/** A valid version-1 record written as another instance would, for tests that write straight to the topic. */
export function foreignSet(key: string, value: unknown, options: { origin?: string; writeId?: number; expiresAt?: number; partition?: number } = {}): RawRecord {
  return {
    ...(options.partition === undefined ? {} : { partition: options.partition }),
    key,
    value: JSON.stringify(value),
    headers: {
      'nc-v': '1',
      'nc-op': 's',
      'nc-exp': String(options.expiresAt ?? 0),
      'nc-origin': options.origin ?? 'foreign-instance',
      'nc-wid': String(options.writeId ?? 1),
    },
  };
}

export function foreignDelete(key: string, options: { origin?: string; writeId?: number; partition?: number } = {}): RawRecord {
  return {
    ...(options.partition === undefined ? {} : { partition: options.partition }),
    key,
    value: null,
    headers: { 'nc-v': '1', 'nc-op': 'd', 'nc-origin': options.origin ?? 'foreign-instance', 'nc-wid': String(options.writeId ?? 1) },
  };
}

/** A small seeded PRNG (mulberry32), so a failing random run can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
