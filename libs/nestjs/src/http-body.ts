import { createRequire } from 'node:module';

/** The bytes of a handler's result and their media type, as Express would send them. */
export interface SerialisedBody {
  body: Buffer;
  contentType: string;
}

/**
 * Serialises what a route handler returned the way Express sends it (`res.send` / `res.json`),
 * so that an entry stored by Nest and one stored by Express for the same handler result are
 * byte for byte the same:
 * - a string: UTF-8, as `text/html; charset=utf-8`, or as the `Content-Type` already set with
 *   `charset=utf-8`;
 * - a Buffer (any typed array): as it is, as `application/octet-stream` unless a type is set;
 * - a number, a boolean or a bigint: as its text, like a string (what Nest sends for them);
 * - another object or an array: `JSON.stringify`, as `application/json; charset=utf-8` unless
 *   a type is set (then with `charset=utf-8`).
 * Returns `undefined` for what has no such serialisation (`undefined`, `null`, a function, a
 * value `JSON.stringify` gives nothing for). Throws what `JSON.stringify` throws (cycles, bigints
 * inside objects).
 */
export function serialiseResult(value: unknown, contentType: string | undefined): SerialisedBody | undefined {
  switch (typeof value) {
    case 'string':
      return { body: Buffer.from(value, 'utf8'), contentType: contentType === undefined ? 'text/html; charset=utf-8' : withCharset(contentType) };
    case 'number':
    case 'boolean':
    case 'bigint':
      return serialiseResult(String(value), contentType);
    case 'object': {
      if (value === null) return undefined;
      if (ArrayBuffer.isView(value)) {
        return { body: Buffer.from(value.buffer, value.byteOffset, value.byteLength), contentType: contentType ?? 'application/octet-stream' };
      }
      const json = JSON.stringify(value) as string | undefined;
      if (typeof json !== 'string') return undefined;
      return { body: Buffer.from(json, 'utf8'), contentType: withCharset(contentType ?? 'application/json') };
    }
    default:
      return undefined;
  }
}

/** `type` with `charset=utf-8`, parameters sorted by name, as Express's `res.send` sets it. */
export function withCharset(type: string): string {
  const [media = '', ...rest] = type.split(';');
  const parameters = new Map<string, string>();
  for (const part of rest) {
    const at = part.indexOf('=');
    if (at <= 0) continue;
    parameters.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  parameters.set('charset', 'utf-8');
  const formatted = [...parameters].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, value]) => `${name}=${value}`);
  return [media.trim().toLowerCase(), ...formatted].join('; ');
}

/** True when the value is a body Nest streams itself: a web `Response`, a `ReadableStream`, an async iterable. */
export function isStreamingResult(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Object.prototype.toString.call(value) === '[object Response]') return true;
  if (typeof ReadableStream !== 'undefined' && value instanceof ReadableStream) return true;
  return typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function';
}

/**
 * Whether a version of `@nestjs/core` sends a web `Response` returned by a handler or an
 * interceptor as it is (status, headers and body): 12.4.0 and later.
 */
export function sendsWebResponses(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map((part) => Number.parseInt(part, 10));
  return major > 12 || (major === 12 && minor >= 4);
}

let installedCoreSendsWebResponses: boolean | undefined;

/** `sendsWebResponses` of the installed `@nestjs/core` (true when its version cannot be read). */
export function nestSendsWebResponses(): boolean {
  if (installedCoreSendsWebResponses === undefined) {
    try {
      const { version } = createRequire(import.meta.url)('@nestjs/core/package.json') as { version: string };
      installedCoreSendsWebResponses = sendsWebResponses(version);
    } catch {
      installedCoreSendsWebResponses = true;
    }
  }
  return installedCoreSendsWebResponses;
}
