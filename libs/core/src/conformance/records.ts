import { deserialize } from 'node:v8';
import type { RawRecord } from '../log/in-process.js';

/** A record's metadata fields, as docs/record-format.md names them. */
export interface MetaFields {
  op: string;
  origin: string;
  writeId: number | string;
  expiresAt?: number | string;
  /** For metaHeaders: '2' (the default) writes the `nc-r` header; '1' the five headers of version 1; anything else an `nc-r` of that version. */
  version?: string;
  /** Version 3's codec field. Default 'structured' (the default codec). */
  codec?: string;
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
  return { 'nc-r': metaLine({ ...fields, version }) };
}

/** The metadata line of version 2 or 3 (or of another `version`, for tests of unknown versions). */
function metaLine(fields: MetaFields): string {
  const version = fields.version ?? '2';
  const codec = version === '3' ? ` ${fields.codec ?? 'structured'}` : '';
  return `${version} ${fields.op} ${fields.expiresAt ?? 0} ${fields.writeId}${codec} ${fields.origin}`;
}

/** What a record's metadata says, and its payload: the value without its metadata line. */
export interface RecordMeta {
  version: string;
  op?: string;
  exp?: string;
  origin?: string;
  wid?: string;
  /** The codec that wrote the value (version 3 only). */
  codec?: string;
  /** A fenced record's `nc-fence` header. */
  fence?: string;
  /** A tagged set's `nc-tags` header: its tags, one per line. */
  tags?: string;
  payload: Uint8Array | null;
}

/**
 * Reads a record's metadata back, as docs/record-format.md defines it: the `nc-r` header of
 * versions 2 and 3, or the metadata line at the start of the value, or version 1's headers;
 * undefined when the record has none of them.
 */
export function recordMeta(record: { headers?: Record<string, unknown>; value: Uint8Array | string | null | undefined }): RecordMeta | undefined {
  const text = (name: string): string | undefined => {
    let value = record.headers?.[name];
    if (Array.isArray(value)) value = value[value.length - 1];
    if (value === undefined || value === null) return undefined;
    return typeof value === 'string' ? value : Buffer.from(value as Uint8Array).toString('utf8');
  };
  const value = record.value === null || record.value === undefined ? null : Buffer.from(record.value);
  const fields = (line: string, payload: Uint8Array | null): RecordMeta => {
    const [version = '', op, exp, wid, ...rest] = line.split(' ');
    const codec = version === '3' ? rest.shift() : undefined;
    return { version, op, exp, wid, ...(codec === undefined ? {} : { codec }), origin: rest.length > 0 ? rest.join(' ') : undefined, payload };
  };
  const fence = text('nc-fence');
  const tags = text('nc-tags');
  const fenced = (meta: RecordMeta): RecordMeta =>
    fence === undefined && tags === undefined ? meta : { ...meta, ...(fence === undefined ? {} : { fence }), ...(tags === undefined ? {} : { tags }) };
  const packed = text('nc-r');
  if (packed !== undefined) return fenced(fields(packed, value));
  const version = text('nc-v');
  if (version !== undefined) return { version, op: text('nc-op'), exp: text('nc-exp'), origin: text('nc-origin'), wid: text('nc-wid'), payload: value };
  const newline = value === null ? -1 : value.indexOf(0x0a);
  if (value === null || newline < 0 || !/^[0-9] /.test(value.subarray(0, 2).toString('latin1'))) return undefined;
  return fenced(fields(value.subarray(0, newline).toString('latin1'), value.subarray(newline + 1)));
}

/**
 * A set's payload decoded as docs/record-format.md says of the default codec ("structured"):
 * Node's v8 serializer format when the first byte is 0xff, else UTF-8 JSON. Throws on bytes
 * that are neither.
 */
export function decodePayload(payload: Uint8Array): unknown {
  const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  return bytes[0] === 0xff ? deserialize(bytes) : JSON.parse(bytes.toString('utf8'));
}

/** The value of a set as writers put it: the metadata line, a newline, then the payload. */
export function withMetaLine(fields: Omit<MetaFields, 'version'>, payload: string | Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`${metaLine(fields)}\n`, 'latin1'), Buffer.from(payload)]);
}

/** A valid record written as another instance would, for tests that write straight to the topic. */
export function foreignSet(
  key: string,
  value: unknown,
  options: { origin?: string; writeId?: number; expiresAt?: number; partition?: number; version?: string; payload?: string | Uint8Array } = {},
): RawRecord {
  const payload = options.payload ?? JSON.stringify(value);
  return {
    ...(options.partition === undefined ? {} : { partition: options.partition }),
    key,
    // Version 2 as the cache writes it: the metadata line at the start of the value.
    ...(options.version === undefined
      ? {
          value: withMetaLine(
            { op: 's', expiresAt: options.expiresAt ?? 0, origin: options.origin ?? 'foreign-instance', writeId: options.writeId ?? 1 },
            payload,
          ),
          headers: {},
        }
      : {
          value: payload,
          headers: metaHeaders({
            op: 's',
            expiresAt: options.expiresAt ?? 0,
            origin: options.origin ?? 'foreign-instance',
            writeId: options.writeId ?? 1,
            version: options.version,
          }),
        }),
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
