/** Checks of what callers pass in (keys, TTLs) and of what the codec makes of values. */
import { InvalidArgumentError, InvalidKeyError, InvalidValueError, LogUnavailableError, NearCacheError, ValueTooLargeError } from '../errors.js';
import type { Codec } from '../codec.js';
import { MAX_TTL } from '../options.js';
import { MAX_TAGS } from '../record.js';

export function invalidKey(key: unknown): InvalidKeyError {
  return new InvalidKeyError(`a key must be a non-empty string, got ${key === null ? 'null' : typeof key}`);
}

/** Throws `InvalidKeyError` unless `key` is a non-empty string of at most `maxKeyBytes` UTF-8 bytes, not starting with U+0000. */
export function checkKey(key: string, maxKeyBytes: number): void {
  if (typeof key !== 'string') throw invalidKey(key);
  if (key.length === 0) throw new InvalidKeyError('a key must be a non-empty string, got ""');
  if (key.charCodeAt(0) === 0) throw new InvalidKeyError('keys starting with U+0000 are reserved');
  // UTF-8 takes at most 3 bytes per UTF-16 unit: measure only when it could matter.
  if (key.length * 3 > maxKeyBytes) {
    const bytes = Buffer.byteLength(key);
    if (bytes > maxKeyBytes) throw new InvalidKeyError(`the key has ${bytes} UTF-8 bytes; maxKeyBytes allows ${maxKeyBytes}`);
  }
}

/** Throws `InvalidArgumentError` unless `tag` is a non-empty string without a newline, of at most `maxKeyBytes` UTF-8 bytes. */
export function checkTag(tag: unknown, maxKeyBytes: number): string {
  if (typeof tag !== 'string' || tag.length === 0) {
    throw new InvalidArgumentError(`a tag must be a non-empty string, got ${tag === '' ? '""' : tag === null ? 'null' : typeof tag}`);
  }
  if (tag.includes('\n')) throw new InvalidArgumentError('a tag may not contain a newline');
  if (tag.length * 3 > maxKeyBytes && Buffer.byteLength(tag) > maxKeyBytes) {
    throw new InvalidArgumentError(`the tag has ${Buffer.byteLength(tag)} UTF-8 bytes; maxKeyBytes allows ${maxKeyBytes}`);
  }
  return tag;
}

/** The `tags` option checked: an array of at most `MAX_TAGS` tags (duplicates dropped), or undefined for none. */
export function checkTags(tags: unknown, maxKeyBytes: number): readonly string[] | undefined {
  if (tags === undefined) return undefined;
  if (!Array.isArray(tags)) throw new InvalidArgumentError(`tags must be an array of strings, got ${tags === null ? 'null' : typeof tags}`);
  if (tags.length > MAX_TAGS) throw new InvalidArgumentError(`an entry may carry at most ${MAX_TAGS} tags, got ${tags.length}`);
  for (const tag of tags) checkTag(tag, maxKeyBytes);
  if (tags.length === 0) return undefined;
  const distinct = [...new Set(tags as string[])];
  return Object.freeze(distinct);
}

export function checkTtl(ttl: unknown): number {
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 0 || ttl > MAX_TTL) {
    throw new InvalidArgumentError(`ttl must be an integer number of ms from 0 (none) to ${MAX_TTL} (100 years), got ${String(ttl)}`);
  }
  return ttl;
}

/** Throws `InvalidArgumentError` unless `grace` is an integer number of ms from 0 to MAX_TTL. */
export function checkGrace(grace: unknown): number {
  if (typeof grace !== 'number' || !Number.isInteger(grace) || grace < 0 || grace > MAX_TTL) {
    throw new InvalidArgumentError(`grace must be an integer number of ms from 0 (none) to ${MAX_TTL} (100 years), got ${String(grace)}`);
  }
  return grace;
}

/** Setting's largest value: setTimeout's limit. */
const MAX_TIMEOUT = 2_147_483_647;

/** Checks the loader and refresh options of `wrap` (`InvalidArgumentError`); true when one of them is set. */
export function checkLoadOptions(options: { grace?: unknown; softTimeout?: unknown; hardTimeout?: unknown; refreshAhead?: unknown }): boolean {
  const { grace, softTimeout, hardTimeout, refreshAhead } = options;
  if (grace === undefined && softTimeout === undefined && hardTimeout === undefined && refreshAhead === undefined) return false;
  if (grace !== undefined) checkGrace(grace);
  for (const [name, value] of [
    ['softTimeout', softTimeout],
    ['hardTimeout', hardTimeout],
  ] as const) {
    if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_TIMEOUT)) {
      throw new InvalidArgumentError(`${name} must be an integer number of ms from 1 to ${MAX_TIMEOUT}, got ${String(value)}`);
    }
  }
  if (softTimeout !== undefined && hardTimeout !== undefined && (softTimeout as number) >= (hardTimeout as number)) {
    throw new InvalidArgumentError(`softTimeout (${String(softTimeout)}) must be shorter than hardTimeout (${String(hardTimeout)})`);
  }
  if (refreshAhead !== undefined && (typeof refreshAhead !== 'number' || !(refreshAhead > 0 && refreshAhead < 1))) {
    throw new InvalidArgumentError(
      `refreshAhead must be a number between 0 and 1 (exclusive): the part of the ttl after which a hit refreshes, got ${String(refreshAhead)}`,
    );
  }
  return true;
}

/** `error` as a `NearCacheError`: a foreign error becomes a retriable `LogUnavailableError` with it as cause. */
export function asNearCacheError(error: unknown): NearCacheError {
  if (error instanceof NearCacheError) return error;
  return new LogUnavailableError(`replication log error: ${(error as Error)?.message ?? String(error)}`, { cause: error, retriable: true });
}

/** The codec's bytes for `value`; a refusal is an `InvalidValueError` naming `key`, with the codec's error as its cause. */
export function encodeValue<V>(codec: Codec<V>, maxValueBytes: number, key: string, value: V): Uint8Array {
  if (value === undefined) throw new InvalidValueError(`cannot cache key "${key}": undefined cannot be cached; use delete() to remove a key`, { key });
  let bytes: Uint8Array;
  try {
    bytes = codec.encode(value);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InvalidValueError(
      `cannot cache key "${key}": ${error instanceof InvalidValueError ? reason : `the ${codec.name} codec cannot encode the value: ${reason}`}`,
      { cause: error, key },
    );
  }
  if (bytes.length > maxValueBytes) {
    throw new ValueTooLargeError(`cannot cache key "${key}": the encoded value has ${bytes.length} bytes; maxValueBytes allows ${maxValueBytes}`, { key });
  }
  return bytes;
}

/** What every other instance will decode from `bytes`, for a codec that is not exact. */
export function decodeOwnValue<V>(codec: Codec<V>, key: string, bytes: Uint8Array): V {
  let value: V;
  try {
    value = codec.decode(bytes);
  } catch (error) {
    throw new InvalidValueError(
      `cannot cache key "${key}": the ${codec.name} codec cannot decode what it encoded: ${(error as Error)?.message ?? String(error)}`,
      { cause: error, key },
    );
  }
  if (value === undefined) throw new InvalidValueError(`cannot cache key "${key}": the ${codec.name} codec decodes the value as undefined`, { key });
  return value;
}
