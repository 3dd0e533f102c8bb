// Over 400 lines: the record format is one specification, and its readers (every version, the
// string path and the in-place reading of a set's line) and writers are kept side by side.
/**
 * The record format on the replication topic (version 3; versions 1 and 2 are still read). See
 * docs/record-format.md.
 *
 * - Kafka key: the cache key, UTF-8 (so compaction keeps the latest record per key).
 * - Metadata: one line of ASCII, `<version> <op> <expiresAt> <writeId> <codec> <origin>`
 *   separated by single spaces: version `3`, op s|d|c|t|f, absolute expiry in ms since the epoch
 *   (0: none), the writing instance's write sequence number, the name of the codec that wrote
 *   the value, the writer's origin (printable ASCII, no spaces). A set written by another codec
 *   than the reader's is rejected (`codec-mismatch`), never decoded.
 * - Kafka value of a set: the metadata line, a newline, then the codec's bytes. A delete is a
 *   tombstone (null value) and a clear's value is its prefix (never null, so the cleaner cannot
 *   drop it): both carry the metadata line in the `nc-r` header instead. Readers accept the
 *   header on any record. A tag invalidation (op t) is written like a clear, under a key per tag,
 *   its value the tag. A tagged set carries its tags in the `nc-tags` header. A claim of a
 *   fleet-wide load (op f) is written under a key per claimed key, on that key's partition, its
 *   value the key and its expiry field its deadline; its release is a tombstone of that key.
 *
 * Version 2 had the same line without the codec (`2 <op> <expiresAt> <writeId> <origin>`): its
 * values are decoded with the reader's codec. Version 1 carried the same fields in five headers (`nc-v`, `nc-op`, `nc-exp`, `nc-origin`,
 * `nc-wid`). Kafka clients encode and decode every header as its own object; a set, the record
 * written most, now has none.
 */

export const RECORD_FORMAT_VERSION = 3;

export const HEADERS = {
  /** Versions 2 and 3: the metadata line of a delete or clear (a set carries it in its value). */
  record: 'nc-r',
  /** Version 1 (read, no longer written). */
  version: 'nc-v',
  op: 'nc-op',
  expiresAt: 'nc-exp',
  origin: 'nc-origin',
  writeId: 'nc-wid',
  /**
   * On a fenced set or delete (a value loaded by `wrap`, or the record that corrects a stale one):
   * the first offset of the key's partition that the writer had not applied when its load began.
   */
  fence: 'nc-fence',
  /**
   * On a set with a grace period: when the grace ends, in ms since the epoch (after its expiry).
   * Until then an expired value may still be served by `wrap` as a fallback.
   */
  grace: 'nc-grace',
  /** On a tagged set: its tags, separated by newlines (see docs/consistency.md, section 17). */
  tags: 'nc-tags',
} as const;

const OP_CODES = { set: 's', delete: 'd', clear: 'c', tag: 't', claim: 'f' } as const;

/** Most tags one entry may carry. */
export const MAX_TAGS = 32;

/** Keys starting with this character are reserved for control records. */
export const RESERVED_KEY_PREFIX = '\u0000';
const CLEAR_KEY_PREFIX = '\u0000nc:clear:';
const TAG_KEY_PREFIX = '\u0000nc:tag:';
const CLAIM_KEY_PREFIX = '\u0000nc:claim:';

/** A header value as Kafka clients deliver it. */
export type HeaderValue = Uint8Array | string | Array<Uint8Array | string> | undefined;

/** A record read from the log. Offsets are numbers (safe up to 2^53). */
export interface LogRecord {
  partition: number;
  offset: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: Record<string, HeaderValue>;
  /** Create time in ms since the epoch. */
  timestamp: number;
}

/** A record to append to the log. */
export interface OutgoingRecord {
  partition: number;
  key: string;
  value: Uint8Array | null;
  headers: Record<string, string>;
}

export type Operation = keyof typeof OP_CODES;

interface ParsedBase {
  origin: string;
  writeId: number;
}
export interface ParsedSet extends ParsedBase {
  op: 'set';
  key: string;
  value: Uint8Array;
  expiresAt: number;
  /** A fenced record's fence (the `nc-fence` header), else -1: see docs/consistency.md, fenced loads. */
  fence: number;
  /** The end of the value's grace period (the `nc-grace` header), else 0: see docs/consistency.md, grace. */
  graceEnd: number;
  /** The entry's tags (the `nc-tags` header), or undefined when it has none. */
  tags: readonly string[] | undefined;
}
export interface ParsedDelete extends ParsedBase {
  op: 'delete';
  key: string;
  fence: number;
}
export interface ParsedClear extends ParsedBase {
  op: 'clear';
  prefix: string;
}
/** A tag invalidation: removes the entries carrying `tag` written before it (in its partition). */
export interface ParsedTagInvalidation extends ParsedBase {
  op: 'tag';
  tag: string;
}
/**
 * A claim of a fleet-wide load of `key` (docs/consistency.md, section 18), or, with `release`, the
 * end of the claimer's load. `deadline`: when the claim lapses (ms since the epoch).
 */
export interface ParsedClaim extends ParsedBase {
  op: 'claim';
  key: string;
  deadline: number;
  release: boolean;
}
export type ParsedRecord = ParsedSet | ParsedDelete | ParsedClear | ParsedTagInvalidation | ParsedClaim;

/**
 * A set as the cache reads it: the codec's bytes are `bytes` from `start` on, so that no view of
 * them is made per record (`parseRecord` gives `value`, that view).
 */
export interface ReadSet extends Omit<ParsedSet, 'value'> {
  /** The record's value as read, with its metadata line when it has one. */
  bytes: Uint8Array;
  /** Where the codec's bytes start in `bytes`. */
  start: number;
}
export type ReadRecord = ReadSet | ParsedDelete | ParsedClear | ParsedTagInvalidation | ParsedClaim;

/** Why a record read from the log was skipped. */
export type RejectReason =
  | 'missing-header'
  | 'unknown-version'
  | 'unknown-operation'
  | 'malformed'
  | 'invalid-key'
  | 'key-too-large'
  | 'value-too-large'
  | 'decode-failed'
  /** A set written by another codec than this instance's (see the `codec` option). */
  | 'codec-mismatch'
  /** The `signing` option is set and the record is unsigned, or its signature does not verify. */
  | 'bad-signature';

export class RecordRejection {
  constructor(
    readonly reason: RejectReason,
    readonly detail: string,
  ) {}
}

export interface ParseLimits {
  maxKeyBytes: number;
  maxValueBytes: number;
  /** The reader's codec: a version 3 set written by a codec of another name is rejected. Not checked when absent. */
  codec?: { readonly name: string };
}

function header(headers: Record<string, HeaderValue>, name: string): string | undefined {
  let value = headers[name];
  if (Array.isArray(value)) value = value[value.length - 1];
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
}

const DECIMAL = /^(0|[1-9][0-9]{0,15})$/;

export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

interface Meta {
  op: string;
  origin: string;
  writeIdText: string;
  expText: string | undefined;
  /** A version 3 record's codec when it is not the reader's (`expected`); undefined when it is, or for versions 1 and 2. */
  otherCodec: string | undefined;
}

/**
 * The metadata of a version 2 or 3 record, from its metadata line. The codec field is compared
 * with `expected` in place: a string is cut out of the line only when it differs.
 */
function metaLineFields(text: string, expected: string | undefined): Meta | RecordRejection {
  const a = text.indexOf(' ');
  const version = a < 0 ? text : text.slice(0, a);
  if (version !== '3' && version !== '2') return unsupported(version);
  const b = text.indexOf(' ', a + 1);
  const c = b < 0 ? -1 : text.indexOf(' ', b + 1);
  const d = c < 0 ? -1 : text.indexOf(' ', c + 1);
  if (version === '2') {
    if (d < 0 || d === text.length - 1) {
      return new RecordRejection('malformed', 'the metadata does not hold five space-separated fields (version, op, expiry, write id, origin)');
    }
    return { op: text.slice(a + 1, b), expText: text.slice(b + 1, c), writeIdText: text.slice(c + 1, d), origin: text.slice(d + 1), otherCodec: undefined };
  }
  const e = d < 0 ? -1 : text.indexOf(' ', d + 1);
  if (e < 0 || e === d + 1 || e === text.length - 1) {
    return new RecordRejection('malformed', 'the metadata does not hold six space-separated fields (version, op, expiry, write id, codec, origin)');
  }
  const same = expected === undefined || (e - d - 1 === expected.length && text.startsWith(expected, d + 1));
  return {
    op: text.slice(a + 1, b),
    expText: text.slice(b + 1, c),
    writeIdText: text.slice(c + 1, d),
    otherCodec: same ? undefined : text.slice(d + 1, e),
    origin: text.slice(e + 1),
  };
}

/** The metadata of a version 1 record, from its five headers. */
function metaV1(headers: Record<string, HeaderValue>, version: string): Meta | RecordRejection {
  if (version !== '1') return unsupported(version);
  const op = header(headers, HEADERS.op);
  const origin = header(headers, HEADERS.origin);
  const writeIdText = header(headers, HEADERS.writeId);
  if (op === undefined || origin === undefined || writeIdText === undefined) {
    return new RecordRejection('missing-header', `a ${HEADERS.op}, ${HEADERS.origin} or ${HEADERS.writeId} header is missing`);
  }
  return { op, origin, writeIdText, expText: header(headers, HEADERS.expiresAt), otherCodec: undefined };
}

function unsupported(version: string): RecordRejection {
  return new RecordRejection('unknown-version', `format version "${version.slice(0, 16)}" is not supported (this instance reads 1, 2 and 3)`);
}

const NEWLINE = 0x0a;
const SPACE = 0x20;
/** Longest metadata line looked for at the start of a value: six fields with a 64-character codec name and a 137-character origin fit within it. */
const MAX_LINE = 256;

/** Where the metadata line of a version 2 or 3 value ends (its newline), or -1 when the value does not start with one. */
function lineEnd(value: Uint8Array): number {
  // The version field, then a space: a cheap test before searching for the newline.
  const first = value[0];
  if (first === undefined || first < 0x30 || first > 0x39) return -1;
  const limit = Math.min(value.length, MAX_LINE);
  let sawSpace = false;
  for (let i = 1; i < limit; i++) {
    const byte = value[i]!;
    if (byte === NEWLINE) return sawSpace ? i : -1;
    if (byte === SPACE) sawSpace = true;
  }
  return -1;
}

/** The op of a metadata line by its character code: only the single-character ops. */
const OP_BY_CODE: Record<number, string> = Object.fromEntries(Object.values(OP_CODES).map((op) => [op.charCodeAt(0), op]));

/** One reused answer of `fastMeta` (the caller copies its fields out before the next call). */
const FAST: { op: string; expiresAt: number; writeId: number; origin: string; end: number } = { op: '', expiresAt: 0, writeId: 0, origin: '', end: 0 };
/** The origin read last: records of one writer come in runs, and keep one string between them. */
let lastOrigin = '';

/**
 * A decimal field of the metadata line read in place from `from`, or -1 when it is not the
 * common form (1 to 15 digits, no leading zero, then a space): the string path then decides.
 * Sets FAST.end to the space after it.
 */
function decimalAt(bytes: Uint8Array, from: number, limit: number): number {
  let n = 0;
  let i = from;
  for (; i < limit; i++) {
    const c = bytes[i]!;
    if (c === SPACE) break;
    if (c < 0x30 || c > 0x39) return -1;
    n = n * 10 + (c - 0x30);
  }
  const digits = i - from;
  if (i === limit || digits === 0 || digits > 15 || (digits > 1 && bytes[from] === 0x30)) return -1;
  FAST.end = i;
  return n;
}

/**
 * The metadata of the line `[0, end)` of `bytes`, read without making a string of it, for the
 * lines sets are written with (version 3 with the reader's codec, or version 2; a one-character
 * op; decimal fields of the common form). Anything else (undefined) goes the string path, which
 * reads every form and words every rejection: this one answers only where that one would accept.
 */
function fastMeta(bytes: Uint8Array, end: number, expected: string | undefined): typeof FAST | undefined {
  const version = bytes[0];
  if ((version !== 0x33 && version !== 0x32) || bytes[1] !== SPACE || bytes[3] !== SPACE) return undefined;
  const op = OP_BY_CODE[bytes[2]!];
  if (op === undefined) return undefined;
  const expiresAt = decimalAt(bytes, 4, end);
  if (expiresAt < 0) return undefined;
  const writeId = decimalAt(bytes, FAST.end + 1, end);
  if (writeId < 0) return undefined;
  let at = FAST.end + 1;
  if (version === 0x33) {
    // The codec's name, compared with the reader's in place.
    if (expected !== undefined) {
      const length = expected.length;
      if (at + length >= end || bytes[at + length] !== SPACE) return undefined;
      for (let i = 0; i < length; i++) if (bytes[at + i] !== expected.charCodeAt(i)) return undefined;
      at += length + 1;
    } else {
      let i = at;
      while (i < end && bytes[i] !== SPACE) i++;
      if (i === at || i >= end) return undefined;
      at = i + 1;
    }
  }
  if (at >= end) return undefined;
  // The origin: the string of the last record when the bytes are the same (latin1, as the string path reads them).
  let origin = lastOrigin;
  let same = origin.length === end - at;
  for (let i = 0; same && i < origin.length; i++) same = bytes[at + i] === origin.charCodeAt(i);
  if (!same) origin = lastOrigin = asBuffer(bytes).toString('latin1', at, end);
  FAST.op = op;
  FAST.expiresAt = expiresAt;
  FAST.writeId = writeId;
  FAST.origin = origin;
  return FAST;
}

/** A set whose metadata line `fastMeta` read: the checks of the string path's set, in its order. */
function fastSet(
  record: LogRecord,
  headers: Record<string, HeaderValue>,
  bytes: Uint8Array,
  start: number,
  meta: typeof FAST,
  limits: ParseLimits,
): ReadSet | RecordRejection {
  const { expiresAt, writeId, origin } = meta;
  if (record.key === null || record.key.length === 0) return new RecordRejection('invalid-key', 'the record has no key');
  if (record.key.length > limits.maxKeyBytes) {
    return new RecordRejection('key-too-large', `the key has ${record.key.length} bytes, more than maxKeyBytes (${limits.maxKeyBytes})`);
  }
  const key = asBuffer(record.key).toString('utf8');
  const fence = fenceOf(headers);
  if (fence instanceof RecordRejection) return fence;
  if (key.startsWith(RESERVED_KEY_PREFIX)) return new RecordRejection('invalid-key', 'a set uses a reserved key');
  const length = bytes.length - start;
  if (length > limits.maxValueBytes) {
    return new RecordRejection('value-too-large', `the value has ${length} bytes, more than maxValueBytes (${limits.maxValueBytes})`);
  }
  const graceEnd = graceOf(headers);
  if (graceEnd instanceof RecordRejection) return graceEnd;
  const tags = tagsOf(headers);
  if (tags instanceof RecordRejection) return tags;
  return { op: 'set', key, bytes, start, expiresAt, origin, writeId, fence, graceEnd, tags };
}

/** The fence of a fenced set or delete, -1 for none. */
function fenceOf(headers: Record<string, HeaderValue>): number | RecordRejection {
  const text = headers[HEADERS.fence] === undefined ? undefined : header(headers, HEADERS.fence);
  if (text === undefined) return -1;
  return DECIMAL.test(text) ? Number(text) : new RecordRejection('malformed', 'the fence is not a decimal integer');
}

/** The end of a set's grace period, 0 for none. */
function graceOf(headers: Record<string, HeaderValue>): number | RecordRejection {
  const text = headers[HEADERS.grace] === undefined ? undefined : header(headers, HEADERS.grace);
  if (text === undefined) return 0;
  return DECIMAL.test(text) ? Number(text) : new RecordRejection('malformed', 'the grace end is not a decimal integer');
}

/** A set's tags, undefined for none. */
function tagsOf(headers: Record<string, HeaderValue>): readonly string[] | undefined | RecordRejection {
  if (headers[HEADERS.tags] === undefined) return undefined;
  const tags = (header(headers, HEADERS.tags) ?? '').split('\n');
  if (tags.length > MAX_TAGS || tags.includes('')) return new RecordRejection('malformed', `the tags are not 1 to ${MAX_TAGS} non-empty lines`);
  return tags;
}

/** Reads a record's metadata and key; returns a rejection instead of throwing. Values are not decoded here. */
export function parseRecord(record: LogRecord, limits: ParseLimits): ParsedRecord | RecordRejection {
  const read = readRecord(record, limits);
  if (read instanceof RecordRejection || read.op !== 'set') return read;
  const { op, key, expiresAt, origin, writeId, fence, graceEnd, tags } = read;
  return { op, key, value: payload(read), expiresAt, origin, writeId, fence, graceEnd, tags };
}

/** The codec's bytes of a set read by `readRecord`. */
export function payload(set: ReadSet): Uint8Array {
  return set.start === 0 ? set.bytes : set.bytes.subarray(set.start);
}

/** `parseRecord` as the cache applies records: a set's bytes are not cut out of its value. */
export function readRecord(record: LogRecord, limits: ParseLimits): ReadRecord | RecordRejection {
  const headers = record.headers ?? {};
  const packed = header(headers, HEADERS.record);
  let meta: Meta | RecordRejection;
  // The payload: the value without its metadata line, if it has one.
  let value = record.value;
  if (packed !== undefined) {
    meta = metaLineFields(packed, limits.codec?.name);
  } else {
    const version = header(headers, HEADERS.version);
    if (version !== undefined) {
      meta = metaV1(headers, version);
    } else {
      const end = value === null ? -1 : lineEnd(value);
      if (end < 0) {
        return new RecordRejection(
          'missing-header',
          `no metadata: neither a metadata line at the start of the value, an ${HEADERS.record} header nor the ${HEADERS.version} header of version 1`,
        );
      }
      const fast = fastMeta(value!, end, limits.codec?.name);
      if (fast !== undefined && fast.op === OP_CODES.set) return fastSet(record, headers, value!, end + 1, fast, limits);
      meta = metaLineFields(asBuffer(value!).toString('latin1', 0, end), limits.codec?.name);
      value = value!.subarray(end + 1);
    }
  }
  if (meta instanceof RecordRejection) return meta;
  const { op, origin } = meta;
  if (!DECIMAL.test(meta.writeIdText)) return new RecordRejection('malformed', 'the write id is not a decimal integer');
  const writeId = Number(meta.writeIdText);
  if (record.key === null || record.key.length === 0) return new RecordRejection('invalid-key', 'the record has no key');
  if (record.key.length > limits.maxKeyBytes && op !== OP_CODES.clear && op !== OP_CODES.tag && op !== OP_CODES.claim) {
    return new RecordRejection('key-too-large', `the key has ${record.key.length} bytes, more than maxKeyBytes (${limits.maxKeyBytes})`);
  }
  const key = asBuffer(record.key).toString('utf8');
  const fence = fenceOf(headers);
  if (fence instanceof RecordRejection) return fence;
  switch (op) {
    case OP_CODES.set: {
      if (key.startsWith(RESERVED_KEY_PREFIX)) return new RecordRejection('invalid-key', 'a set uses a reserved key');
      if (value === null) return new RecordRejection('malformed', 'a set record has a null value');
      if (value.length > limits.maxValueBytes) {
        return new RecordRejection('value-too-large', `the value has ${value.length} bytes, more than maxValueBytes (${limits.maxValueBytes})`);
      }
      const expText = meta.expText ?? '0';
      if (!DECIMAL.test(expText)) return new RecordRejection('malformed', 'the expiry is not a decimal integer');
      if (meta.otherCodec !== undefined) {
        return new RecordRejection(
          'codec-mismatch',
          `the value was written by codec "${meta.otherCodec.slice(0, 64)}"; this instance uses "${limits.codec!.name}"`,
        );
      }
      const graceEnd = graceOf(headers);
      if (graceEnd instanceof RecordRejection) return graceEnd;
      const tags = tagsOf(headers);
      if (tags instanceof RecordRejection) return tags;
      return { op: 'set', key, bytes: value, start: 0, expiresAt: Number(expText), origin, writeId, fence, graceEnd, tags };
    }
    case OP_CODES.delete:
      if (key.startsWith(RESERVED_KEY_PREFIX)) return new RecordRejection('invalid-key', 'a delete uses a reserved key');
      if (record.value !== null) return new RecordRejection('malformed', 'a delete record is not a tombstone');
      return { op: 'delete', key, origin, writeId, fence };
    case OP_CODES.clear: {
      if (value === null) return new RecordRejection('malformed', 'a clear record has a null value');
      const prefix = asBuffer(value).toString('utf8');
      if (key !== clearRecordKey(prefix)) return new RecordRejection('malformed', 'a clear record key does not match its prefix');
      return { op: 'clear', prefix, origin, writeId };
    }
    case OP_CODES.tag: {
      if (value === null) return new RecordRejection('malformed', 'a tag invalidation has a null value');
      const tag = asBuffer(value).toString('utf8');
      if (tag === '' || key !== tagRecordKey(tag)) return new RecordRejection('malformed', 'a tag invalidation key does not match its tag');
      return { op: 'tag', tag, origin, writeId };
    }
    case OP_CODES.claim: {
      if (!key.startsWith(CLAIM_KEY_PREFIX) || key.length === CLAIM_KEY_PREFIX.length)
        return new RecordRejection('malformed', 'a claim record key is not a claim key');
      const claimed = key.slice(CLAIM_KEY_PREFIX.length);
      if (claimed.startsWith(RESERVED_KEY_PREFIX) || Buffer.byteLength(claimed) > limits.maxKeyBytes) {
        return new RecordRejection('invalid-key', 'a claim record claims a reserved key or one over maxKeyBytes');
      }
      if (value !== null && asBuffer(value).toString('utf8') !== claimed)
        return new RecordRejection('malformed', 'a claim record value does not match its key');
      const expText = meta.expText ?? '0';
      if (!DECIMAL.test(expText)) return new RecordRejection('malformed', 'the claim deadline is not a decimal integer');
      return { op: 'claim', key: claimed, deadline: Number(expText), release: value === null, origin, writeId };
    }
    default:
      return new RecordRejection('unknown-operation', `operation "${op.slice(0, 16)}" is not one of s, d, c, t, f`);
  }
}

/**
 * The name of the codec a record says wrote it (the codec field of a version 3 metadata line),
 * or undefined for a version 1 or 2 record or one without metadata. For tools that read records
 * of any codec: `parseRecord` without `limits.codec` then checks everything else.
 */
export function recordCodecName(record: LogRecord): string | undefined {
  const headers = record.headers ?? {};
  let line = header(headers, HEADERS.record);
  if (line === undefined && header(headers, HEADERS.version) === undefined && record.value !== null) {
    const end = lineEnd(record.value);
    if (end >= 0) line = asBuffer(record.value).toString('latin1', 0, end);
  }
  if (line === undefined || !line.startsWith('3 ')) return undefined;
  const fields = line.split(' ');
  return fields.length >= 6 && fields[4] !== '' ? fields[4] : undefined;
}

/** The metadata line of a version 3 record. */
function metaLine(op: Operation, expiresAt: number, origin: string, writeId: number, codec: string): string {
  return `${RECORD_FORMAT_VERSION} ${OP_CODES[op]} ${expiresAt} ${writeId} ${codec} ${origin}`;
}

/** The `nc-r` header of a version 3 delete or clear. */
function metaHeader(op: Operation, origin: string, writeId: number, codec: string): Record<string, string> {
  return { [HEADERS.record]: metaLine(op, 0, origin, writeId, codec) };
}

/**
 * A set: its value is the metadata line, a newline and the bytes of `codec` (its name); no
 * header, unless `fence` (>= 0) makes it a fenced set (`nc-fence`) or `graceEnd` (> 0) gives
 * its value a grace period (`nc-grace`).
 */
export function setRecord(
  partition: number,
  key: string,
  value: Uint8Array,
  expiresAt: number,
  origin: string,
  writeId: number,
  codec: string,
  fence = -1,
  graceEnd = 0,
  tags?: readonly string[],
): OutgoingRecord {
  const line = `${metaLine('set', expiresAt, origin, writeId, codec)}\n`;
  // The line is ASCII (the origin and the codec name are printable ASCII): one byte per character.
  const bytes = Buffer.allocUnsafe(line.length + value.length);
  bytes.write(line, 0, 'latin1');
  bytes.set(value, line.length);
  const headers: Record<string, string> = fence < 0 ? {} : { [HEADERS.fence]: String(fence) };
  if (graceEnd > 0) headers[HEADERS.grace] = String(graceEnd);
  if (tags !== undefined) headers[HEADERS.tags] = tags.join('\n');
  return { partition, key, value: bytes, headers };
}

/** A delete (a tombstone); fenced when `fence` >= 0. */
export function deleteRecord(partition: number, key: string, origin: string, writeId: number, codec: string, fence = -1): OutgoingRecord {
  const headers = metaHeader('delete', origin, writeId, codec);
  if (fence >= 0) headers[HEADERS.fence] = String(fence);
  return { partition, key, value: null, headers };
}

/** The key a clear of `prefix` is written under: one per prefix, so compaction keeps the latest clear. */
export function clearRecordKey(prefix: string): string {
  return CLEAR_KEY_PREFIX + prefix;
}

export function clearRecord(partition: number, prefix: string, origin: string, writeId: number, codec: string): OutgoingRecord {
  return { partition, key: clearRecordKey(prefix), value: Buffer.from(prefix, 'utf8'), headers: metaHeader('clear', origin, writeId, codec) };
}

/** The key a tag invalidation of `tag` is written under: one per tag, so compaction keeps the latest. */
export function tagRecordKey(tag: string): string {
  return TAG_KEY_PREFIX + tag;
}

/** A tag invalidation of `tag`: its value is the tag (never null, so the cleaner cannot drop it). */
export function tagRecord(partition: number, tag: string, origin: string, writeId: number, codec: string): OutgoingRecord {
  return { partition, key: tagRecordKey(tag), value: Buffer.from(tag, 'utf8'), headers: metaHeader('tag', origin, writeId, codec) };
}

/** The key the claims of a fleet-wide load of `key` are written under: one per key, apart from its values. */
export function claimRecordKey(key: string): string {
  return CLAIM_KEY_PREFIX + key;
}

/**
 * A claim of a fleet-wide load of `key` (its value: the key, never null), or its release (a
 * tombstone, so compaction ends up removing the key's claims). Placed on `key`'s partition, so it
 * is ordered with the key's values. `deadline`: when the claim lapses, in the expiry field.
 */
export function claimRecord(
  partition: number,
  key: string,
  deadline: number,
  release: boolean,
  origin: string,
  writeId: number,
  codec: string,
): OutgoingRecord {
  return {
    partition,
    key: claimRecordKey(key),
    value: release ? null : Buffer.from(key, 'utf8'),
    headers: { [HEADERS.record]: metaLine('claim', release ? 0 : deadline, origin, writeId, codec) },
  };
}
