// How Redis byte strings map onto the values of a topic read with the JSON codec: a Redis value
// is stored as a JSON string, so a Node.js instance with `codec: jsonCodec()` reads a string; a
// value a Node.js instance stored that is not a string reads back as its JSON text.
import { isUtf8 } from 'node:buffer';
import { isNearCacheError } from '@nearcache/core';

/** A command's failure, answered as a Redis error (`message` starts with its code). */
export class CommandError extends Error {
  override readonly name = 'CommandError';
}

/** A key or value as a string: UTF-8 text only (the JSON codec carries text). */
export function text(bytes: Buffer, what: 'key' | 'value' | 'pattern' | 'argument'): string {
  if (!isUtf8(bytes)) {
    throw new CommandError(`ERR the ${what} is not valid UTF-8: the sidecar stores text, which the topic's JSON codec carries`);
  }
  return bytes.toString('utf8');
}

/** The text a cached value is read as (GET, the bulk string a Redis client reads), the HTTP API's body. */
export function valueText(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? 'null');
}

/** A Redis error line for an error a cache call threw. */
export function errorLine(error: unknown): string {
  if (error instanceof CommandError) return error.message;
  if (isNearCacheError(error)) return `ERR ${error.message} (${error.code})`;
  return `ERR ${error instanceof Error ? error.message : String(error)}`;
}

/** A whole number argument, or the Redis error for one that is not. */
export function integerArgument(bytes: Buffer | undefined): number {
  const raw = bytes === undefined ? '' : bytes.toString('latin1');
  if (!/^-?\d{1,16}$/.test(raw)) throw new CommandError('ERR value is not an integer or out of range');
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw new CommandError('ERR value is not an integer or out of range');
  return value;
}
