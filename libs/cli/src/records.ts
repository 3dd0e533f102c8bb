import { readFileSync } from 'node:fs';
import {
  bufferCodec,
  encryptedCodec,
  jsonCodec,
  parseRecord,
  recordCodecName,
  recordSigner,
  RecordRejection,
  structuredCodec,
  InvalidOptionError,
  type Codec,
  type LogRecord,
  type ParsedRecord,
  type RecordSigner,
  type RejectReason,
} from '@nearcache/core';
import { integerValue, type ParsedCommandLine } from './args.js';
import type { Env } from './connection.js';
import { UsageError } from './exit-codes.js';

/** How records are read: the readers' limits, the signer (with signing keys), the codecs by name. */
export interface Reading {
  maxKeyBytes: number;
  maxValueBytes: number;
  signer: RecordSigner | undefined;
  /** The codec of version 1 and 2 records, which name none. */
  defaultCodec: Codec;
  codecs: ReadonlyMap<string, Codec>;
}

/** Why a record is bad: the cache's reasons, as its readers report them. */
export interface Problem {
  reason: RejectReason;
  detail: string;
}

/** A record checked: its parsed form, or why a cache skips it. */
export type Checked = { parsed: ParsedRecord; problem?: undefined } | { parsed?: undefined; problem: Problem };

const CODECS: ReadonlyArray<() => Codec> = [structuredCodec, jsonCodec, bufferCodec];

function secretOf(id: string, text: string): string | Buffer {
  if (text.startsWith('hex:')) return Buffer.from(text.slice(4), 'hex');
  if (text.startsWith('base64:')) return Buffer.from(text.slice(7), 'base64');
  if (text.startsWith('@')) {
    try {
      return readFileSync(text.slice(1))
        .toString('utf8')
        .replace(/\r?\n$/, '');
    } catch (error) {
      throw new UsageError(`cannot read the secret of key "${id}" from ${JSON.stringify(text.slice(1))}: ${(error as NodeJS.ErrnoException).code ?? error}`);
    }
  }
  return text;
}

/** Signing keys from `--key ID=SECRET` (repeatable) or NEARCACHE_SIGNING_KEYS, checked by the core's signer. */
function signerFrom(line: ParsedCommandLine, env: Env): RecordSigner | undefined {
  const given = line.values.key ?? env.NEARCACHE_SIGNING_KEYS?.split(',').filter((k) => k.trim() !== '');
  if (given === undefined || given.length === 0) {
    if (line.values['allow-unsigned']) throw new UsageError('--allow-unsigned needs signing keys (--key ID=SECRET)');
    return undefined;
  }
  const keys = keysOf('key', given);
  try {
    return recordSigner({ keys, currentKeyId: Object.keys(keys)[0]!, requireSigned: line.values['allow-unsigned'] !== true });
  } catch (error) {
    if (error instanceof InvalidOptionError) throw new UsageError(error.message.replace(/signing\.keys/g, '--key'));
    throw error;
  }
}

/** `ID=SECRET` entries as keys by id. */
function keysOf(flag: string, given: readonly string[]): Record<string, string | Buffer> {
  const keys: Record<string, string | Buffer> = {};
  for (const entry of given) {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new UsageError(`--${flag} takes ID=SECRET (got ${JSON.stringify(entry.slice(0, 20))}...)`);
    const id = entry.slice(0, eq).trim();
    keys[id] = secretOf(id, entry.slice(eq + 1));
  }
  return keys;
}

/** The encrypted codecs (`aes-256-gcm(<inner>)`) for `--encryption-key ID=SECRET` (32 bytes: hex:, base64: or @FILE), checked by the core. */
function encryptedCodecs(line: ParsedCommandLine, env: Env, inner: readonly Codec[]): Codec[] {
  const given = line.values['encryption-key'] ?? env.NEARCACHE_ENCRYPTION_KEYS?.split(',').filter((k) => k.trim() !== '');
  if (given === undefined || given.length === 0) return [];
  const keys = Object.fromEntries(Object.entries(keysOf('encryption-key', given)).map(([id, key]) => [id, typeof key === 'string' ? Buffer.from(key) : key]));
  try {
    return inner.map((codec) => encryptedCodec(codec, { keys, currentKeyId: Object.keys(keys)[0]! }));
  } catch (error) {
    if (error instanceof InvalidOptionError) throw new UsageError(error.message.replace(/encryption\.keys/g, '--encryption-key'));
    throw error;
  }
}

/** The reading settings of a command line. */
export function readingFrom(line: ParsedCommandLine, env: Env): Reading {
  const plain = CODECS.map((make) => make());
  const codecs = new Map([...plain, ...encryptedCodecs(line, env, plain)].map((codec) => [codec.name, codec]));
  const name = line.values.codec ?? 'structured';
  const defaultCodec = plain.find((codec) => codec.name === name);
  if (defaultCodec === undefined) throw new UsageError(`--codec must be one of ${plain.map((c) => c.name).join(', ')} (got ${JSON.stringify(name)})`);
  return {
    // The cache's defaults (docs/configuration.md): records a default reader skips are bad here too.
    maxKeyBytes: integerValue('max-key-bytes', line.values['max-key-bytes'], 1024, 1, 65_536),
    maxValueBytes: integerValue('max-value-bytes', line.values['max-value-bytes'], 512 * 1024, 1, 64 * 1024 * 1024),
    signer: signerFrom(line, env),
    defaultCodec,
    codecs,
  };
}

/** Checks a record as a cache reader does before applying it: signature, then the format. The value is not decoded. */
export function checkRecord(topic: string, record: LogRecord, reading: Reading): Checked {
  if (reading.signer !== undefined) {
    const problem = reading.signer.verify(topic, record);
    if (problem !== undefined) return { problem: { reason: 'bad-signature', detail: problem } };
  }
  const parsed = parseRecord(record, { maxKeyBytes: reading.maxKeyBytes, maxValueBytes: reading.maxValueBytes });
  if (parsed instanceof RecordRejection) return { problem: { reason: parsed.reason, detail: parsed.detail } };
  return { parsed };
}

/** A set's value, decoded with the codec its record names; a problem when it cannot be. */
export function decodeValue(record: LogRecord, payload: Uint8Array, reading: Reading): { value: unknown; codec: string } | { problem: Problem; codec: string } {
  const name = recordCodecName(record);
  const codec = name === undefined ? reading.defaultCodec : reading.codecs.get(name);
  if (codec === undefined) {
    return {
      codec: name!,
      problem: {
        reason: 'codec-mismatch',
        detail: name!.startsWith('aes-256-gcm(')
          ? `written by codec "${name!.slice(0, 64)}": give its key with --encryption-key to decode it`
          : `written by codec "${name!.slice(0, 64)}", which this tool does not decode (it reads ${[...reading.codecs.keys()].join(', ')})`,
      },
    };
  }
  try {
    const value = codec.decode(payload);
    if (value === undefined) return { codec: codec.name, problem: { reason: 'decode-failed', detail: `codec "${codec.name}" decoded undefined` } };
    return { value, codec: codec.name };
  } catch (error) {
    return { codec: codec.name, problem: { reason: 'decode-failed', detail: (error as Error)?.message ?? String(error) } };
  }
}

/** The key of a record as UTF-8 text, or null when it has none (`showKey` escapes it for printing). */
export function keyText(record: LogRecord): string | null {
  return record.key === null ? null : Buffer.from(record.key.buffer, record.key.byteOffset, record.key.byteLength).toString('utf8');
}
