import type { RawRecord } from '@nearcache/core';
import { mulberry32 } from '../../scripts/lib/shared.mjs';

/** A record's metadata fields, as docs/record-format.md names them. */
export interface MetaFields {
  op: string;
  origin: string;
  writeId: number | string;
  expiresAt?: number | string;
  /** '2' (the default) writes the one `nc-r` header; '1' the five headers of version 1; anything else an `nc-r` of that version. */
  version?: string;
}

/** The headers carrying a record's metadata, written from docs/record-format.md (not from the cache's code). */
export function metaHeaders(fields: MetaFields): Record<string, string> {
  const version = fields.version ?? '2';
  const exp = String(fields.expiresAt ?? 0);
  if (version === '1') {
    const headers: Record<string, string> = { 'nc-v': '1', 'nc-op': fields.op, 'nc-origin': fields.origin, 'nc-wid': String(fields.writeId) };
    if (fields.op === 's') headers['nc-exp'] = exp;
    return headers;
  }
  return { 'nc-r': `${version} ${fields.op} ${exp} ${fields.writeId} ${fields.origin}` };
}

/** Reads a record's metadata back (version 2's `nc-r`, or version 1's headers); undefined when neither is there. */
export function recordMeta(headers: Record<string, unknown> | undefined): { version: string; op?: string; exp?: string; origin?: string; wid?: string } | undefined {
  const text = (name: string): string | undefined => {
    let value = headers?.[name];
    if (Array.isArray(value)) value = value[value.length - 1];
    if (value === undefined || value === null) return undefined;
    return typeof value === 'string' ? value : Buffer.from(value as Uint8Array).toString('utf8');
  };
  const packed = text('nc-r');
  if (packed !== undefined) {
    const [version = '', op, exp, wid, ...origin] = packed.split(' ');
    return { version, op, exp, wid, origin: origin.length > 0 ? origin.join(' ') : undefined };
  }
  const version = text('nc-v');
  if (version === undefined) return undefined;
  return { version, op: text('nc-op'), exp: text('nc-exp'), origin: text('nc-origin'), wid: text('nc-wid') };
}

/** A valid record written as another instance would, for tests that write straight to the topic. */
export function foreignSet(
  key: string,
  value: unknown,
  options: { origin?: string; writeId?: number; expiresAt?: number; partition?: number; version?: string } = {},
): RawRecord {
  return {
    ...(options.partition === undefined ? {} : { partition: options.partition }),
    key,
    value: JSON.stringify(value),
    headers: metaHeaders({ op: 's', expiresAt: options.expiresAt ?? 0, origin: options.origin ?? 'foreign-instance', writeId: options.writeId ?? 1, version: options.version }),
  };
}

export function foreignDelete(key: string, options: { origin?: string; writeId?: number; partition?: number; version?: string } = {}): RawRecord {
  return {
    ...(options.partition === undefined ? {} : { partition: options.partition }),
    key,
    value: null,
    headers: metaHeaders({ op: 'd', origin: options.origin ?? 'foreign-instance', writeId: options.writeId ?? 1, version: options.version }),
  };
}

/** A small seeded PRNG (mulberry32), so a failing random run can be replayed. */
export const prng = mulberry32;
