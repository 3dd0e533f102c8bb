import { createHash } from 'node:crypto';
import { getHeapStatistics } from 'node:v8';
import { LRUCache } from 'lru-cache';
import { InvalidArgumentError } from '../errors.js';

/**
 * The HTTP response entry format (version 1), shared by every framework adapter that caches
 * responses on a nearcache topic (`@nearcache/express`'s `cacheResponses`, `@nearcache/nestjs`'s
 * `NearCacheInterceptor`). Framework-free on purpose: Node built-ins only.
 *
 * Under the key `<prefix>GET <url>` (default prefix `http:`, see `httpCacheKey`) the cache holds
 * either:
 * - an `HttpCachedResponse`: `{ v: 1, status, headers, body, storedAt }`, where `headers` maps
 *   lower-case header names to a string or an array of strings, `body` is the response body in
 *   base64 and `storedAt` the store time in ms since the epoch; or
 * - an `HttpVaryIndex`: `{ v: 1, vary, storedAt }`, saying that the response at this URL depends
 *   on the request headers named (lower-case, sorted) in `vary`. The responses then live under
 *   `<prefix>GET <url> <name>=<value>&<name>=<value>` (see `httpVariantKey`).
 *
 * Both are plain JSON objects, so they travel under the default JSON codec.
 */

/** Version of the entry format, the `v` field of every entry. */
export const HTTP_ENTRY_VERSION = 1;

/** The default prefix of response keys. */
export const HTTP_DEFAULT_PREFIX = 'http:';

/** A cached response. */
export interface HttpCachedResponse {
  v: 1;
  /** HTTP status, 200 to 299. */
  status: number;
  /** Stored response headers, lower-case names. Never `content-length` (computed from the body), `set-cookie` or connection-level headers. */
  headers: Record<string, string | string[]>;
  /** The body, base64. */
  body: string;
  /** When the response was stored, in ms since the epoch (for the `Age` header). */
  storedAt: number;
}

/** Marks a URL whose responses vary on request headers; the responses are stored under variant keys. */
export interface HttpVaryIndex {
  v: 1;
  /** Lower-case request header names, sorted, without duplicates. */
  vary: string[];
  storedAt: number;
}

/** What the cache holds under a response key. */
export type HttpCacheEntry = HttpCachedResponse | HttpVaryIndex;

/** A checked response entry with its body decoded. Shared and cached: treat both as read-only. */
export interface DecodedHttpResponse {
  readonly entry: HttpCachedResponse;
  readonly body: Buffer;
}

/** A response as `decodeHttpEntry` makes it: with room for what every hit on it reads, worked out on its first hit (see `httpHitResponse`). */
export interface DecodedHttpEntry extends DecodedHttpResponse {
  hitParts: unknown;
  /** The body as Latin-1 text, once asked for (see `decodedBodyText`). */
  text: string | undefined;
}

/** Request headers as Node gives them (`IncomingMessage.headers`): lower-case names. */
export type HttpRequestHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** A response header value as Node's `getHeader` returns it. */
export type HttpHeaderValue = string | number | readonly string[];

/** Methods whose responses live under a response key. A HEAD is answered from the entry of its GET. */
export type HttpCacheMethod = 'GET' | 'HEAD';

/** Response headers stored with every response unless absent (adapters may store more). */
export const HTTP_STORED_HEADERS: readonly string[] = Object.freeze([
  'content-type',
  'content-language',
  'content-encoding',
  'content-disposition',
  'content-location',
  'cache-control',
  'expires',
  'last-modified',
  'etag',
  'link',
  'location',
  'vary',
]);

/** Headers never stored nor served from an entry, even if one holds them (connection-level or per-user). */
export const HTTP_NEVER_SERVED_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'content-length',
  'keep-alive',
  'proxy-connection',
  'set-cookie',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Request headers whose values appear hashed in variant keys (the default credential headers). */
const HASHED_VARY_HEADERS: ReadonlySet<string> = new Set(['authorization', 'proxy-authorization', 'cookie', 'x-api-key', 'x-auth-token', 'x-access-token']);

const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
// Field values: visible ASCII, space, tab, obs-text. No CR, LF or NUL.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Entries already checked: cached values are shared, immutable objects, so an entry is checked once. */
const checked = new WeakSet<object>();

/**
 * Decoded bodies of the entries served lately. The cache holds each entry as it is stored
 * (the body in base64, counted by its `maxBytes`); a decoded copy of the body is kept only
 * here, bounded by bytes (the decoded body, its text when one was asked for, and the entry's
 * base64 body, which this keeps alive too), least recently served first out. A hit on an entry whose copy was dropped decodes it again.
 */
let decodedBodies = newDecodedBodies(defaultDecodedBodyBytes());

function defaultDecodedBodyBytes(): number {
  return Math.max(8 * 1024 * 1024, Math.floor(getHeapStatistics().heap_size_limit / 32));
}

function newDecodedBodies(maxBytes: number): LRUCache<object, DecodedHttpResponse> {
  return new LRUCache<object, DecodedHttpResponse>({
    maxSize: maxBytes,
    sizeCalculation: (value) => Math.max(1, value.body.length + value.entry.body.length + ((value as Partial<DecodedHttpEntry>).text?.length ?? 0)),
  });
}

/**
 * Sets the bound of decoded response bodies kept for hits, in bytes (each kept body counts its
 * decoded bytes plus its base64 form). Default: a thirty-second of the V8 heap limit, at least
 * 8 MiB. Throws `InvalidArgumentError` unless a positive integer.
 */
export function setHttpDecodedBodyBytes(maxBytes: number): void {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1)
    throw new InvalidArgumentError(`setHttpDecodedBodyBytes: the bound must be a positive integer of bytes, got ${String(maxBytes)}`);
  decodedBodies = newDecodedBodies(maxBytes);
}

/** What the decoded bodies kept for hits hold: entries, bytes (as counted against the bound) and the bound. */
export function httpDecodedBodyStats(): { entries: number; bytes: number; maxBytes: number } {
  return { entries: decodedBodies.size, bytes: decodedBodies.calculatedSize, maxBytes: decodedBodies.maxSize };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isHeaderValue(value: unknown): value is string | string[] {
  if (typeof value === 'string') return FIELD_VALUE.test(value);
  return Array.isArray(value) && value.every((item) => typeof item === 'string' && FIELD_VALUE.test(item));
}

/**
 * True when `value` is a well-formed `HttpCachedResponse`. Entries come from the topic, which
 * other writers share: anything else (another format, a forged record) is treated as a miss.
 */
export function isHttpCachedResponse(value: unknown): value is HttpCachedResponse {
  if (!isRecord(value) || value.v !== HTTP_ENTRY_VERSION) return false;
  if (checked.has(value)) return true;
  const { status, headers, body, storedAt } = value;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 299) return false;
  if (typeof body !== 'string' || !BASE64.test(body)) return false;
  if (typeof storedAt !== 'number' || !Number.isFinite(storedAt)) return false;
  if (!isRecord(headers)) return false;
  for (const [name, headerValue] of Object.entries(headers)) {
    if (!TOKEN.test(name) || !isHeaderValue(headerValue)) return false;
  }
  checked.add(value);
  return true;
}

/** True when `value` is a well-formed `HttpVaryIndex`. */
export function isHttpVaryIndex(value: unknown): value is HttpVaryIndex {
  if (!isRecord(value) || value.v !== HTTP_ENTRY_VERSION || 'status' in value) return false;
  const { vary, storedAt } = value;
  if (typeof storedAt !== 'number' || !Number.isFinite(storedAt)) return false;
  return Array.isArray(vary) && vary.length > 0 && vary.every((name) => typeof name === 'string' && TOKEN.test(name) && name !== '*');
}

/** Parses a `Vary` header into lower-case names, sorted and unique; `['*']` if it holds `*`. */
export function parseVaryHeader(header: HttpHeaderValue | undefined): string[] {
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
 * `<base> <name>=<value>&<name>=<value>`, values URI-encoded, a missing header as empty; the
 * value of a credential header (`Cookie`, `Authorization`, `X-Api-Key`...) as `sha256-<hash>`.
 * A space cannot occur in a request URL, so variant keys never collide with base keys, and
 * `<base> ` is the prefix of every variant of `base`.
 */
export function httpVariantKey(base: string, vary: readonly string[], headers: HttpRequestHeaders): string {
  const parts: string[] = [];
  for (const name of vary) {
    const raw = headers[name];
    const text = raw === undefined ? '' : Array.isArray(raw) ? raw.join(',') : String(raw);
    // Light normalisation: "gzip, br" and "gzip,br" select one variant.
    const normalised = text
      .split(',')
      .map((item) => item.trim())
      .join(',');
    // Credentials never appear in keys, which every reader of the topic sees: their hash does.
    const shown = HASHED_VARY_HEADERS.has(name) && normalised !== '' ? `sha256-${createHash('sha256').update(normalised).digest('base64url')}` : normalised;
    parts.push(`${name}=${encodeURIComponent(shown)}`);
  }
  return `${base} ${parts.join('&')}`;
}

/** What `encodeHttpEntry` takes: a finished response. */
export interface HttpResponseToStore {
  /** 200 to 299. */
  status: number;
  /** The headers to store; names are lower-cased, `HTTP_NEVER_SERVED_HEADERS` dropped, numbers turned into strings. */
  headers: Readonly<Record<string, HttpHeaderValue | undefined>>;
  /** The body bytes. */
  body: Uint8Array;
  /** Store time, ms since the epoch. Default: now. */
  storedAt?: number;
}

/**
 * Builds the entry of a response, ready for `cache.set`. Throws `InvalidArgumentError` when the
 * response cannot be represented (a status outside 200-299, a header name or value that is not
 * valid HTTP), so that a writer never stores what readers would reject.
 */
export function encodeHttpEntry(response: HttpResponseToStore): HttpCachedResponse {
  const { status } = response;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 299) {
    throw new InvalidArgumentError(`encodeHttpEntry: the status must be an integer from 200 to 299, got ${String(status)}`);
  }
  const headers: Record<string, string | string[]> = {};
  for (const [rawName, value] of Object.entries(response.headers)) {
    if (value === undefined) continue;
    const name = rawName.toLowerCase();
    if (HTTP_NEVER_SERVED_HEADERS.has(name)) continue;
    const stored = Array.isArray(value) ? value.map(String) : String(value);
    if (!TOKEN.test(name) || !isHeaderValue(stored)) throw new InvalidArgumentError(`encodeHttpEntry: header "${rawName}" is not a valid HTTP header`);
    headers[name] = stored;
  }
  const body = Buffer.from(response.body.buffer, response.body.byteOffset, response.body.byteLength);
  const storedAt = response.storedAt ?? Date.now();
  if (!Number.isFinite(storedAt)) throw new InvalidArgumentError(`encodeHttpEntry: storedAt must be a finite number, got ${String(storedAt)}`);
  // No decoded copy is kept beside the entry: the writer decodes on its first hit, like every
  // reader, so an entry holds what the cache counts against maxBytes (see `setHttpDecodedBodyBytes`).
  return { v: HTTP_ENTRY_VERSION, status, headers, body: body.toString('base64'), storedAt };
}

/**
 * The response held by `value` with its body decoded, or `undefined` when `value` is not a
 * well-formed `HttpCachedResponse` (a vary index, another format, a forged record). Checks and
 * decodes each entry object once.
 */
export function decodeHttpEntry(value: unknown): DecodedHttpResponse | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const known = decodedBodies.get(value);
  if (known !== undefined) return known;
  if (!isHttpCachedResponse(value)) return undefined;
  const result: DecodedHttpEntry = { entry: value, body: Buffer.from(value.body, 'base64'), hitParts: undefined, text: undefined };
  decodedBodies.set(value, result);
  return result;
}

/** Bodies up to this many bytes have a text form for hits (see `decodedBodyText`). */
const TEXT_BODY_MAX_BYTES = 16 * 1024;

/**
 * The body of a decoded response as Latin-1 text, one character per byte, or `undefined` for a
 * body above 16 KiB or a response `decodeHttpEntry` did not make. Node's `res.end(text, 'latin1')`
 * sends exactly the body's bytes, in one write with the headers (a Buffer goes out as a second
 * buffer of a vectored write). Made on first use, kept with the decoded body and counted with it
 * against the bound of decoded bodies.
 */
export function decodedBodyText(hit: DecodedHttpResponse): string | undefined {
  const slot = hit as Partial<DecodedHttpEntry>;
  if (slot.text !== undefined) return slot.text;
  if (hit.body.length > TEXT_BODY_MAX_BYTES || !('text' in slot)) return undefined;
  const text = hit.body.toString('latin1');
  slot.text = text;
  // Stored again, the decoded response is counted with its text (and is the most recently used).
  if (decodedBodies.peek(hit.entry) === hit) {
    decodedBodies.delete(hit.entry);
    decodedBodies.set(hit.entry, hit);
  }
  return text;
}

/**
 * The cached response for a request under the base key `base`, following an `HttpVaryIndex` to
 * the variant selected by the request's headers; `undefined` on a miss. `get` reads the cache
 * (`(key) => cache.get(key)`).
 */
export function lookupHttpEntry(get: (key: string) => unknown, base: string, requestHeaders: HttpRequestHeaders): DecodedHttpResponse | undefined {
  const value = get(base);
  if (value === undefined) return undefined;
  const response = decodeHttpEntry(value);
  if (response !== undefined) return response;
  if (isHttpVaryIndex(value)) return decodeHttpEntry(get(httpVariantKey(base, value.vary, requestHeaders)));
  return undefined;
}

/**
 * The records that store `entry` for a request under the base key `base`: the entry itself
 * under `base` when the response has no `Vary`; else the entry under its variant key, then an
 * `HttpVaryIndex` under `base`. Empty for `Vary: *` (never stored).
 */
export function httpEntryWrites(
  base: string,
  entry: HttpCachedResponse,
  varyHeader: HttpHeaderValue | undefined,
  requestHeaders: HttpRequestHeaders,
): Array<{ key: string; value: HttpCacheEntry }> {
  const vary = parseVaryHeader(varyHeader);
  if (vary.length === 0) return [{ key: base, value: entry }];
  if (vary[0] === '*') return [];
  const index: HttpVaryIndex = { v: HTTP_ENTRY_VERSION, vary, storedAt: entry.storedAt };
  return [
    { key: httpVariantKey(base, vary, requestHeaders), value: entry },
    { key: base, value: index },
  ];
}

/**
 * Bytes of an entry beyond its base64 body (status, headers, envelope) reserved when sizing
 * bodies against the cache's `maxValueBytes`.
 */
export const HTTP_ENTRY_OVERHEAD_BYTES = 4096;

/** The largest body whose entry fits in `maxValueBytes`: its base64 (4/3 of it) plus `HTTP_ENTRY_OVERHEAD_BYTES`. */
export function maxHttpBodyBytes(maxValueBytes: number): number {
  const room = maxValueBytes - HTTP_ENTRY_OVERHEAD_BYTES;
  return room <= 0 ? 0 : Math.floor(room / 4) * 3;
}
