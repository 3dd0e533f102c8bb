/**
 * What crosses between the cache's thread and its replication worker: the messages, the binary
 * frame of a batch of records (one transferable ArrayBuffer per batch, read from the log) and of
 * the records of appends (one per tick, to be written), and errors turned into plain data and back
 * into the same typed errors.
 */
import * as errors from '../../errors.js';
import type { LogRecord, OutgoingRecord } from '../../record.js';
import type { LogBatch, LogContext, PartitionOffsets, SnapshotFacts } from '../port.js';
import type { ResolvedKafkaOptions } from '../kafka/options.js';

/** What the worker is started with (`workerData`). */
export interface WorkerStart {
  options: ResolvedKafkaOptions;
  context: Omit<LogContext, 'logger'>;
  /** Bytes of batches sent and not yet applied above which the worker stops fetching. */
  maxBufferedBytes: number;
}

/** An error as plain data: its class (by `code`), message, own fields and cause. */
export interface ErrorData {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  retriable?: boolean;
  fields: Record<string, string | number | boolean | null>;
  cause?: ErrorData | string | number | boolean | null;
}

export type ToWorker =
  | { type: 'open' | 'offsets' | 'close'; id: number }
  /** What a start from a snapshot checks (`ReplicationLog.snapshotFacts`). */
  | { type: 'snapshotFacts'; id: number; since: number }
  /** Starts (or restarts) the consumer at `start`, the cache's next offset of each partition. */
  | { type: 'consume' | 'restart'; id: number; start: number[] }
  | { type: 'append'; ids: number[]; counts: number[]; buffer: ArrayBuffer }
  /** Batches of `bytes` in all were applied: the worker may fetch again below its bound. */
  | { type: 'applied'; bytes: number };

export type FromWorker =
  | { type: 'reply'; id: number; value?: { partitions: number } | PartitionOffsets[] | number[] | SnapshotFacts | null; error?: ErrorData }
  | { type: 'batch'; buffer: ArrayBuffer }
  | { type: 'error'; error: ErrorData }
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; message: string; context?: Record<string, unknown> }
  | { type: 'flow'; paused: boolean };

// ---- errors ---------------------------------------------------------------------------------

const ERROR_CLASSES = new Map<string, typeof errors.NearCacheError>(
  Object.values(errors)
    .filter(
      (value): value is typeof errors.NearCacheError =>
        typeof value === 'function' && (value === errors.NearCacheError || value.prototype instanceof errors.NearCacheError),
    )
    .map((type) => [type.code, type]),
);

/** `error` as plain data that survives the structured clone, its cause chain included (4 deep). */
export function errorData(error: unknown, depth = 0): ErrorData {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error), fields: {} };
  const fields: ErrorData['fields'] = {};
  for (const [name, value] of Object.entries(error)) {
    if (name === 'cause' || name === 'code' || name === 'retriable') continue;
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) fields[name] = value as string | number | boolean | null;
  }
  const record = error as Error & { code?: unknown; retriable?: unknown };
  const data: ErrorData = { name: error.name, message: error.message, fields };
  if (error.stack !== undefined) data.stack = error.stack;
  if (typeof record.code === 'string') data.code = record.code;
  if (typeof record.retriable === 'boolean') data.retriable = record.retriable;
  const cause = error.cause;
  if (cause !== undefined && depth < 4) {
    data.cause = cause === null || ['string', 'number', 'boolean'].includes(typeof cause) ? (cause as string) : errorData(cause, depth + 1);
  }
  return data;
}

/** The error `data` describes: a nearcache error of the same class (code), else a plain Error with the same name and fields. */
export function fromErrorData(data: ErrorData): Error {
  const cause = data.cause === undefined ? undefined : typeof data.cause === 'object' && data.cause !== null ? fromErrorData(data.cause) : data.cause;
  const type = data.code === undefined ? undefined : ERROR_CLASSES.get(data.code);
  let error: Error;
  if (type) {
    const options: { cause?: unknown; retriable?: boolean; key?: string } = { retriable: data.retriable ?? false };
    if (cause !== undefined) options.cause = cause;
    if (typeof data.fields.key === 'string') options.key = data.fields.key;
    error = new (type as new (message: string, options: object) => Error)(data.message, options);
  } else {
    error = new Error(data.message, cause === undefined ? undefined : { cause });
    error.name = data.name;
    if (data.code !== undefined) (error as Error & { code: string }).code = data.code;
    if (data.retriable !== undefined) (error as Error & { retriable: boolean }).retriable = data.retriable;
  }
  for (const [name, value] of Object.entries(data.fields)) {
    if (!(name in error)) (error as unknown as Record<string, unknown>)[name] = value;
  }
  if (data.stack !== undefined) error.stack = data.stack;
  return error;
}

// ---- frames ---------------------------------------------------------------------------------

const NULL_LENGTH = 0xffffffff;

/** Writes into one ArrayBuffer, sized by a first pass that measured the same fields. */
class Writer {
  readonly buffer: Buffer;
  readonly #view: DataView;
  offset = 0;

  constructor(size: number) {
    const memory = new ArrayBuffer(size);
    this.buffer = Buffer.from(memory);
    this.#view = new DataView(memory);
  }

  u32(value: number): void {
    this.#view.setUint32(this.offset, value);
    this.offset += 4;
  }

  f64(value: number): void {
    this.#view.setFloat64(this.offset, value);
    this.offset += 8;
  }

  bytes(value: Uint8Array | null): void {
    if (value === null) return this.u32(NULL_LENGTH);
    this.u32(value.byteLength);
    this.buffer.set(value, this.offset);
    this.offset += value.byteLength;
  }

  text(value: string): void {
    const length = this.buffer.write(value, this.offset + 4, 'utf8');
    this.u32(length);
    this.offset += length;
  }
}

/** Reads what a Writer wrote; bytes are views of the frame (no copy), text is decoded. */
class Reader {
  readonly #buffer: Buffer;
  readonly #view: DataView;
  offset = 0;

  constructor(memory: ArrayBuffer) {
    this.#buffer = Buffer.from(memory);
    this.#view = new DataView(memory);
  }

  u32(): number {
    const value = this.#view.getUint32(this.offset);
    this.offset += 4;
    return value;
  }

  f64(): number {
    const value = this.#view.getFloat64(this.offset);
    this.offset += 8;
    return value;
  }

  bytes(): Buffer | null {
    const length = this.u32();
    if (length === NULL_LENGTH) return null;
    const value = this.#buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  text(): string {
    const length = this.u32();
    const value = this.#buffer.toString('utf8', this.offset, this.offset + length);
    this.offset += length;
    return value;
  }
}

/** Upper bound of the UTF-8 bytes of `text` (3 per UTF-16 unit), cheap to compute. */
const textBound = (text: string): number => 4 + text.length * 3;
const bytesSize = (value: Uint8Array | null): number => 4 + (value?.byteLength ?? 0);

/** Header values as text or bytes: kind 0 text, 1 bytes, 2 a list of either. */
type Header = LogRecord['headers'][string];

function headerSize(value: Header): number {
  if (value === undefined) return 1;
  if (typeof value === 'string') return 1 + textBound(value);
  if (Array.isArray(value)) return 5 + value.reduce((sum: number, item) => sum + headerSize(item), 0);
  return 1 + bytesSize(value);
}

function writeHeader(writer: Writer, value: Header): void {
  const kind = value === undefined ? 3 : typeof value === 'string' ? 0 : Array.isArray(value) ? 2 : 1;
  writer.buffer[writer.offset++] = kind;
  if (kind === 0) writer.text(value as string);
  else if (kind === 1) writer.bytes(value as Uint8Array);
  else if (kind === 2) {
    const list = value as Array<Uint8Array | string>;
    writer.u32(list.length);
    for (const item of list) writeHeader(writer, item);
  }
}

function readHeader(reader: Reader, buffer: Buffer): Header {
  const kind = buffer[reader.offset++];
  if (kind === 0) return reader.text();
  if (kind === 1) return reader.bytes() ?? Buffer.alloc(0);
  if (kind === 2) {
    const list: Array<Uint8Array | string> = [];
    for (let i = reader.u32(); i > 0; i--) list.push(readHeader(reader, buffer) as Uint8Array | string);
    return list;
  }
  return undefined;
}

/** One batch read from the log as one ArrayBuffer (to be transferred). */
export function encodeBatch(batch: LogBatch): ArrayBuffer {
  let size = 4 + 8 + 8 + 4;
  for (const record of batch.records) {
    size += 8 + 8 + bytesSize(record.key) + bytesSize(record.value) + 4;
    for (const name in record.headers) size += textBound(name) + headerSize(record.headers[name]);
  }
  const writer = new Writer(size);
  writer.u32(batch.partition);
  writer.f64(batch.nextOffset);
  writer.f64(batch.highWatermark);
  writer.u32(batch.records.length);
  for (const record of batch.records) {
    writer.f64(record.offset);
    writer.f64(record.timestamp);
    writer.bytes(record.key);
    writer.bytes(record.value);
    const names = Object.keys(record.headers);
    writer.u32(names.length);
    for (const name of names) {
      writer.text(name);
      writeHeader(writer, record.headers[name]);
    }
  }
  // Sized from upper bounds of text lengths: the slack at the end is not worth a copy.
  return writer.buffer.buffer as ArrayBuffer;
}

/** The headers of every record without any (most sets): one object, frozen, instead of one per record. */
const NO_HEADERS: LogRecord['headers'] = Object.freeze({});

/** The batch `memory` holds; keys and values are views of it; records without headers share one frozen empty object. */
export function decodeBatch(memory: ArrayBuffer): LogBatch {
  const reader = new Reader(memory);
  const buffer = Buffer.from(memory);
  const partition = reader.u32();
  const nextOffset = reader.f64();
  const highWatermark = reader.f64();
  const records: LogRecord[] = new Array(reader.u32());
  for (let i = 0; i < records.length; i++) {
    const offset = reader.f64();
    const timestamp = reader.f64();
    const key = reader.bytes();
    const value = reader.bytes();
    const count = reader.u32();
    let headers = NO_HEADERS;
    if (count > 0) {
      headers = {};
      for (let h = count; h > 0; h--) {
        const name = reader.text();
        headers[name] = readHeader(reader, buffer);
      }
    }
    records[i] = { partition, offset, key, value, headers, timestamp };
  }
  return { partition, records, nextOffset, highWatermark };
}

/** The records of several appends, in order, as one ArrayBuffer. */
export function encodeAppends(appends: OutgoingRecord[][]): ArrayBuffer {
  let size = 0;
  for (const records of appends) {
    for (const record of records) {
      size += 4 + textBound(record.key) + bytesSize(record.value) + 4;
      for (const name in record.headers) size += textBound(name) + textBound(record.headers[name]!);
    }
  }
  const writer = new Writer(size);
  for (const records of appends) {
    for (const record of records) {
      writer.u32(record.partition);
      writer.text(record.key);
      writer.bytes(record.value);
      const names = Object.keys(record.headers);
      writer.u32(names.length);
      for (const name of names) {
        writer.text(name);
        writer.text(record.headers[name]!);
      }
    }
  }
  return writer.buffer.buffer as ArrayBuffer;
}

/** The appends `memory` holds, `counts[i]` records for the i-th. */
export function decodeAppends(memory: ArrayBuffer, counts: number[]): OutgoingRecord[][] {
  const reader = new Reader(memory);
  return counts.map((count) => {
    const records: OutgoingRecord[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const partition = reader.u32();
      const key = reader.text();
      const value = reader.bytes();
      const headers: Record<string, string> = {};
      for (let h = reader.u32(); h > 0; h--) {
        const name = reader.text();
        headers[name] = reader.text();
      }
      records[i] = { partition, key, value, headers };
    }
    return records;
  });
}
