import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Codec } from './codec.js';
import { DecodeError, InvalidOptionError } from './errors.js';
import type { HeaderValue, LogRecord, OutgoingRecord } from './record.js';
import { fail, noUnknownKeys, plainObject, string } from './validate.js';

/**
 * Optional protection of the records on the topic:
 *
 * - `encryptedCodec`: AES-256-GCM around another codec, so values are not readable on the topic.
 * - the `signing` cache option: an HMAC-SHA256 over each record, so records not written by a
 *   holder of a key are rejected.
 *
 * Both take keys by id, so a key can be rotated: readers know the old and new keys, writers
 * switch `currentKeyId`, and the old key is dropped once no record under it is left on the topic.
 */

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const KEY_ID_TEXT = '1 to 64 of A-Z a-z 0-9 . _ -';

/** The header carrying a record's signature: `<keyId>:<base64 HMAC-SHA256>`. */
export const SIGNATURE_HEADER = 'nc-sig';

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function checkKeys(name: string, keys: unknown, keyBytes: number | undefined): Map<string, Buffer> {
  const object = plainObject(name, keys);
  const result = new Map<string, Buffer>();
  for (const [id, key] of Object.entries(object)) {
    if (!KEY_ID.test(id)) throw new InvalidOptionError(`option "${name}" has key id ${JSON.stringify(id.slice(0, 40))}; key ids must be ${KEY_ID_TEXT}`);
    if (typeof key === 'string') {
      if (keyBytes !== undefined) fail(`${name}.${id}`, `a Buffer or Uint8Array of ${keyBytes} bytes`, key);
      if (Buffer.byteLength(key) < 16) fail(`${name}.${id}`, 'a secret of at least 16 bytes', '(a shorter secret)');
      result.set(id, Buffer.from(key, 'utf8'));
    } else if (key instanceof Uint8Array) {
      if (keyBytes !== undefined && key.length !== keyBytes) fail(`${name}.${id}`, `a Buffer or Uint8Array of ${keyBytes} bytes`, `(${key.length} bytes)`);
      if (keyBytes === undefined && key.length < 16) fail(`${name}.${id}`, 'a secret of at least 16 bytes', `(${key.length} bytes)`);
      result.set(id, Buffer.from(key));
    } else {
      fail(`${name}.${id}`, keyBytes === undefined ? 'a string or Buffer secret of at least 16 bytes' : `a Buffer or Uint8Array of ${keyBytes} bytes`, key);
    }
  }
  if (result.size === 0) fail(name, 'an object with at least one key, by key id', keys);
  return result;
}

// -------------------------------------------------------------------------------------------
// Value encryption.

export interface EncryptionOptions {
  /** AES-256 keys (32 bytes each) by key id. Readers need every key still used on the topic. */
  keys: Record<string, Uint8Array>;
  /** The key id new values are encrypted with. */
  currentKeyId: string;
}

const ENCRYPTION_VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Wraps `inner` so that values are encrypted with AES-256-GCM on the topic. Payload:
 * `0x01`, key id length (1 byte), key id (ASCII), IV (12 random bytes), GCM tag (16 bytes),
 * ciphertext. Decoding accepts any key id in `keys` (key rotation); an unknown key id, a
 * payload that is not of this format or that fails authentication throws `DecodeError`,
 * so the cache skips and counts the record (reason `decode-failed`). Keys are checked at
 * once (`InvalidOptionError`). Every instance on a topic must use the same codec.
 */
export function encryptedCodec<V>(inner: Codec<V>, options: EncryptionOptions): Codec<V> {
  if (typeof inner !== 'object' || inner === null || typeof inner.encode !== 'function' || typeof inner.decode !== 'function') {
    fail('inner', 'a codec', inner);
  }
  const resolved = plainObject('encryption', options);
  noUnknownKeys('encryption.', resolved, ['keys', 'currentKeyId']);
  const keys = checkKeys('encryption.keys', resolved.keys, 32);
  const currentKeyId = string('encryption.currentKeyId', resolved.currentKeyId, undefined, KEY_ID, KEY_ID_TEXT);
  const currentKey = keys.get(currentKeyId);
  if (currentKey === undefined) fail('encryption.currentKeyId', 'one of the ids in encryption.keys', currentKeyId);
  const prefix = Buffer.concat([Buffer.from([ENCRYPTION_VERSION, currentKeyId.length]), Buffer.from(currentKeyId, 'ascii')]);
  return {
    name: `aes-256-gcm(${inner.name})`,
    // Decryption gives back the inner codec's bytes: as exact as the inner codec.
    exact: inner.exact === true,
    encode(value: V): Uint8Array {
      const plain = inner.encode(value);
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', currentKey, iv);
      const body = Buffer.concat([cipher.update(plain), cipher.final()]);
      return Buffer.concat([prefix, iv, cipher.getAuthTag(), body]);
    },
    decode(bytes: Uint8Array): V {
      const buffer = toBuffer(bytes);
      if (buffer.length < 2 || buffer[0] !== ENCRYPTION_VERSION) throw new DecodeError('not an encrypted value (unknown format)');
      const idLength = buffer[1]!;
      const headerLength = 2 + idLength + IV_BYTES + TAG_BYTES;
      if (idLength === 0 || buffer.length < headerLength) throw new DecodeError('encrypted value is truncated');
      const keyId = buffer.subarray(2, 2 + idLength).toString('latin1');
      const key = keys.get(keyId);
      if (key === undefined) throw new DecodeError(`encrypted with unknown key id ${JSON.stringify(keyId.slice(0, 64))}`);
      const iv = buffer.subarray(2 + idLength, 2 + idLength + IV_BYTES);
      const tag = buffer.subarray(2 + idLength + IV_BYTES, headerLength);
      let plain: Buffer;
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv);
        decipher.setAuthTag(tag);
        plain = Buffer.concat([decipher.update(buffer.subarray(headerLength)), decipher.final()]);
      } catch (error) {
        throw new DecodeError(`encrypted value failed authentication with key "${keyId}"`, { cause: error });
      }
      return inner.decode(plain);
    },
  };
}

// -------------------------------------------------------------------------------------------
// Record signing.

export interface SigningOptions {
  /** HMAC-SHA256 secrets (strings or bytes, at least 16 bytes) by key id. Readers need every key still used on the topic. */
  keys: Record<string, string | Uint8Array>;
  /** The key id this instance signs its records with. */
  currentKeyId: string;
  /** Reject records without a signature. Default true; false only while moving a topic to signed records. */
  requireSigned?: boolean;
}

/** Why a record failed verification, or `undefined` when it passed. */
export type SignatureProblem = string | undefined;

export interface RecordSigner {
  /** Adds the signature header to `record` (in place). */
  sign(topic: string, record: OutgoingRecord): void;
  /** Checks `record`'s signature; returns why it is not acceptable, or undefined. */
  verify(topic: string, record: LogRecord): SignatureProblem;
}

const DOMAIN = Buffer.from('nearcache-record-signature-v1\u0000', 'utf8');
const NULL_LENGTH = 0xffffffff;

function lastHeader(value: HeaderValue): Buffer | undefined {
  const one = Array.isArray(value) ? value[value.length - 1] : value;
  if (one === undefined || one === null) return undefined;
  return typeof one === 'string' ? Buffer.from(one, 'utf8') : toBuffer(one);
}

/**
 * The bytes a signature covers: a domain tag, then length-prefixed (4 bytes, big endian) topic,
 * key, value (length 0xffffffff for a tombstone) and every `nc-*` header except the signature,
 * sorted by name, as name/value pairs. Other headers (tracing...) are not covered.
 */
function mac(secret: Buffer, topic: string, key: Buffer | null, value: Buffer | null, headers: Array<[string, Buffer]>): Buffer {
  const hmac = createHmac('sha256', secret);
  const length = Buffer.alloc(4);
  const field = (bytes: Buffer | null): void => {
    length.writeUInt32BE(bytes === null ? NULL_LENGTH : bytes.length, 0);
    hmac.update(length);
    if (bytes !== null) hmac.update(bytes);
  };
  hmac.update(DOMAIN);
  field(Buffer.from(topic, 'utf8'));
  field(key);
  field(value);
  headers.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  length.writeUInt32BE(headers.length, 0);
  hmac.update(length);
  for (const [name, bytes] of headers) {
    field(Buffer.from(name, 'utf8'));
    field(bytes);
  }
  return hmac.digest();
}

function coveredHeaders(headers: Record<string, HeaderValue>): Array<[string, Buffer]> {
  const covered: Array<[string, Buffer]> = [];
  for (const name of Object.keys(headers)) {
    if (!name.startsWith('nc-') || name === SIGNATURE_HEADER) continue;
    const value = lastHeader(headers[name]);
    if (value !== undefined) covered.push([name, value]);
  }
  return covered;
}

/** Checks signing options (`InvalidOptionError`) and returns a signer. Used by the `signing` cache option. */
export function recordSigner(options: SigningOptions): RecordSigner {
  const resolved = plainObject('signing', options);
  noUnknownKeys('signing.', resolved, ['keys', 'currentKeyId', 'requireSigned']);
  const keys = checkKeys('signing.keys', resolved.keys, undefined);
  const currentKeyId = string('signing.currentKeyId', resolved.currentKeyId, undefined, KEY_ID, KEY_ID_TEXT);
  const currentKey = keys.get(currentKeyId);
  if (currentKey === undefined) fail('signing.currentKeyId', 'one of the ids in signing.keys', currentKeyId);
  if (resolved.requireSigned !== undefined && typeof resolved.requireSigned !== 'boolean')
    fail('signing.requireSigned', 'true or false', resolved.requireSigned);
  const requireSigned = resolved.requireSigned !== false;
  return {
    sign(topic, record) {
      const value = record.value === null ? null : toBuffer(record.value);
      const digest = mac(currentKey, topic, Buffer.from(record.key, 'utf8'), value, coveredHeaders(record.headers));
      record.headers[SIGNATURE_HEADER] = `${currentKeyId}:${digest.toString('base64')}`;
    },
    verify(topic, record) {
      const headers = record.headers ?? {};
      const raw = headers[SIGNATURE_HEADER];
      if (raw === undefined || raw === null) return requireSigned ? 'the record is not signed' : undefined;
      if (Array.isArray(raw) && raw.length !== 1) return 'the record has more than one signature header';
      const text = lastHeader(raw)!.toString('utf8');
      const colon = text.indexOf(':');
      if (colon <= 0) return 'the signature header is malformed';
      const keyId = text.slice(0, colon);
      const secret = keys.get(keyId);
      if (secret === undefined) return `the record is signed with unknown key id ${JSON.stringify(keyId.slice(0, 64))}`;
      const given = Buffer.from(text.slice(colon + 1), 'base64');
      const expected = mac(
        secret,
        topic,
        record.key === null ? null : toBuffer(record.key),
        record.value === null ? null : toBuffer(record.value),
        coveredHeaders(headers),
      );
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return `the signature does not match (key "${keyId}")`;
      return undefined;
    },
  };
}
