import type { RawRecord } from '@nearcache/core';
import { mulberry32 } from '../../scripts/lib/shared.mjs';

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
export const prng = mulberry32;
