/**
 * The HTTP response entry format (version 1), shared by every framework adapter that caches
 * responses on a nearcache topic. It has no framework dependency on purpose.
 *
 * Under the key `<prefix>GET <url>` (default prefix `http:`) the cache holds either:
 * - a `CachedResponse`: `{ v: 1, status, headers, body, storedAt }`, where `headers` maps
 *   lower-case header names to a string or an array of strings, `body` is the response body
 *   in base64 and `storedAt` the store time in ms since the epoch; or
 * - a `VaryIndex`: `{ v: 1, vary, storedAt }`, saying that the response at this URL depends
 *   on the request headers named (lower-case, sorted) in `vary`. The responses then live
 *   under `<prefix>GET <url> <name>=<value>&<name>=<value>` (see `variantKey`).
 *
 * Both are plain JSON objects, so they travel under the default JSON codec.
 */

/** Version of the entry format, the `v` field of every entry. */
export const HTTP_ENTRY_VERSION = 1;

/** A cached response. */
export interface CachedResponse {
  v: 1;
  /** HTTP status, 200 to 299. */
  status: number;
  /** Stored response headers, lower-case names. Never `content-length` (computed from the body) or `set-cookie`. */
  headers: Record<string, string | string[]>;
  /** The body, base64. */
  body: string;
  /** When the response was stored, in ms since the epoch (for the `Age` header). */
  storedAt: number;
}

/** Marks a URL whose responses vary on request headers; the responses are stored under variant keys. */
export interface VaryIndex {
  v: 1;
  /** Lower-case request header names, sorted, without duplicates. */
  vary: string[];
  storedAt: number;
}

export type HttpCacheEntry = CachedResponse | VaryIndex;

const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
// Field values: visible ASCII, space, tab, obs-text. No CR, LF or NUL.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Headers never served from an entry even if one holds them (connection-level or per-user). */
export const NEVER_SERVED_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'content-length',
  'keep-alive',
  'proxy-connection',
  'set-cookie',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isHeaderValue(value: unknown): value is string | string[] {
  if (typeof value === 'string') return FIELD_VALUE.test(value);
  return Array.isArray(value) && value.every((item) => typeof item === 'string' && FIELD_VALUE.test(item));
}

/**
 * True when `value` is a well-formed `CachedResponse`. Entries come from the topic, which
 * other writers share: anything else (another format, a forged record) is treated as a miss.
 */
export function isCachedResponse(value: unknown): value is CachedResponse {
  if (!isRecord(value) || value.v !== HTTP_ENTRY_VERSION) return false;
  const { status, headers, body, storedAt } = value;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 299) return false;
  if (typeof body !== 'string' || !BASE64.test(body)) return false;
  if (typeof storedAt !== 'number' || !Number.isFinite(storedAt)) return false;
  if (!isRecord(headers)) return false;
  for (const [name, headerValue] of Object.entries(headers)) {
    if (!TOKEN.test(name) || !isHeaderValue(headerValue)) return false;
  }
  return true;
}

/** True when `value` is a well-formed `VaryIndex`. */
export function isVaryIndex(value: unknown): value is VaryIndex {
  if (!isRecord(value) || value.v !== HTTP_ENTRY_VERSION || 'status' in value) return false;
  const { vary, storedAt } = value;
  if (typeof storedAt !== 'number' || !Number.isFinite(storedAt)) return false;
  return Array.isArray(vary) && vary.length > 0 && vary.every((name) => typeof name === 'string' && TOKEN.test(name));
}

/** Parses a `Vary` header into lower-case names, sorted and unique; `['*']` if it holds `*`. */
export function parseVary(header: string | number | string[] | undefined): string[] {
  if (header === undefined) return [];
  const text = Array.isArray(header) ? header.join(',') : String(header);
  const names = new Set<string>();
  for (const part of text.split(',')) {
    const name = part.trim().toLowerCase();
    if (name === '*') return ['*'];
    if (name !== '') names.add(name);
  }
  return [...names].sort();
}

/**
 * The key of the response variant selected by `headers` (the request's headers) for a URL
 * whose base key is `base` and whose responses vary on `vary`:
 * `<base> <name>=<value>&<name>=<value>`, values URI-encoded, a missing header as empty.
 * A space cannot occur in a request URL, so variant keys never collide with base keys, and
 * `<base> ` is the prefix of every variant of `base`.
 */
export function variantKey(base: string, vary: readonly string[], headers: Record<string, string | string[] | undefined>): string {
  const parts: string[] = [];
  for (const name of vary) {
    const raw = headers[name];
    const text = raw === undefined ? '' : Array.isArray(raw) ? raw.join(',') : raw;
    // Light normalisation: "gzip, br" and "gzip,br" select one variant.
    const normalised = text
      .split(',')
      .map((item) => item.trim())
      .join(',');
    parts.push(`${name}=${encodeURIComponent(normalised)}`);
  }
  return `${base} ${parts.join('&')}`;
}

/** The key of the response to `GET url` (and `HEAD url`) under `prefix`: `<prefix>GET <url>`. */
export function responseKey(url: string, prefix = 'http:'): string {
  return `${prefix}GET ${url}`;
}
