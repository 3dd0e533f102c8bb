import { InvalidValueError } from './errors.js';
import { asBytes } from './codec/shared.js';

/**
 * Turns values into the bytes carried by the log and back. The codec of every instance on a
 * topic must agree: each record names the codec that wrote it, and a record written by another
 * codec is skipped and reported (reason `codec-mismatch`), never decoded. `encode` throws
 * `InvalidValueError` for a value it cannot represent faithfully; `decode` throws `DecodeError`
 * for bytes it does not accept.
 */
export interface Codec<V = unknown> {
  /**
   * The codec's name, written in every record: 1 to 64 printable ASCII characters, no space.
   * Two codecs with the same name must read each other's bytes.
   */
  readonly name: string;
  /**
   * True when `decode(encode(value))` always equals `value` (same types, prototypes and
   * contents) for every value `encode` accepts: the writing instance then keeps the value it was
   * given. Otherwise (the default) it keeps `decode(encode(value))`, the value every other
   * instance reads, at the cost of one decode per `set`.
   */
  readonly exact?: boolean;
  encode(value: V): Uint8Array;
  decode(bytes: Uint8Array): V;
}

/** What a codec name may hold: printable ASCII without spaces (the record's metadata line is space-separated). */
export const CODEC_NAME = /^[\x21-\x7e]{1,64}$/;

export { jsonCodec } from './codec/json.js';
export { structuredCodec } from './codec/structured.js';

/**
 * Passes bytes through: for callers that serialise values themselves. `encode` copies the
 * bytes (so the caller may reuse its buffer); every instance, the writer included, holds them
 * as a `Buffer`.
 */
export function bufferCodec(): Codec<Uint8Array> {
  return {
    name: 'buffer',
    exact: false,
    encode(value: Uint8Array): Uint8Array {
      if (!(value instanceof Uint8Array)) throw new InvalidValueError('the buffer codec accepts Uint8Array or Buffer values only');
      return Buffer.from(value);
    },
    decode(bytes: Uint8Array): Uint8Array {
      return asBytes(bytes);
    },
  };
}
