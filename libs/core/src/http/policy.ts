import { firstHeaderValue, httpConditionals, isNotModified, parseCacheControl } from './conditional.js';
import {
  decodedBodyText,
  HTTP_NEVER_SERVED_HEADERS,
  HTTP_STORED_HEADERS,
  parseVaryHeader,
  type DecodedHttpEntry,
  type DecodedHttpResponse,
  type HttpHeaderValue,
  type HttpRequestHeaders,
} from './entry.js';
import { httpCredentialRefusal, httpRequestCredentials } from './credentials.js';

/**
 * The rules every adapter applies, so that what one stores and serves the others would too:
 * which requests bypass the cache, which responses are never stored, and how a hit is answered.
 */

/** True when the request asks that nothing be stored (`Cache-Control: no-store`): it is neither served from nor written to the cache. */
export function httpRequestBypassesCache(requestHeaders: HttpRequestHeaders): boolean {
  return parseCacheControl(requestHeaders['cache-control']).has('no-store');
}

/** What `httpStoreRefusal` looks at: a finished response to a GET. */
export interface HttpStoreCheck {
  /** The response status. */
  status: number;
  /** Statuses that may be stored, each 200 to 299. Default: every 2xx except 206. */
  statuses?: ReadonlySet<number>;
  /** The request's headers (lower-case names). */
  requestHeaders: HttpRequestHeaders;
  /** Reads a response header (any case). */
  responseHeader: (name: string) => HttpHeaderValue | undefined;
  /** The credential headers the request carries (`httpAdmission(...).credentials`). Default: those of `HTTP_CREDENTIAL_HEADERS` it carries. */
  credentials?: readonly string[];
}

/**
 * Why a finished GET response must not be stored, or `undefined` if it may be:
 * - a status not in `statuses` (never anything outside 2xx, nor 206);
 * - response `Cache-Control: no-store`, `private` or `no-cache`;
 * - a `Set-Cookie`, a `Content-Range`, or `Vary: *`;
 * - a request carrying credentials (`Cookie`, `Authorization`, `X-Api-Key`... see
 *   `httpAdmission`), unless the response says `Cache-Control: public` or `s-maxage`, or its
 *   `Vary` names every credential header the request carries (RFC 9111 3.5: this cache is
 *   shared by every instance).
 * The body size limit is the adapter's (`maxBodyBytes`).
 */
export function httpStoreRefusal(check: HttpStoreCheck): string | undefined {
  const { status } = check;
  const allowed =
    check.statuses === undefined ? status >= 200 && status <= 299 && status !== 206 : check.statuses.has(status) && status >= 200 && status <= 299;
  if (!allowed) return `status ${status}`;
  const directives = parseCacheControl(check.responseHeader('cache-control'));
  for (const directive of ['no-store', 'private', 'no-cache']) {
    if (directives.has(directive)) return `Cache-Control: ${directive}`;
  }
  if (check.responseHeader('set-cookie') !== undefined) return 'Set-Cookie';
  if (check.responseHeader('content-range') !== undefined) return 'Content-Range';
  const vary = check.responseHeader('vary');
  if (vary !== undefined && (Array.isArray(vary) ? vary.join(',') : String(vary)).split(',').some((name) => name.trim() === '*')) return 'Vary: *';
  const credentials = check.credentials ?? httpRequestCredentials(check.requestHeaders);
  return httpCredentialRefusal(credentials, check.responseHeader('cache-control'), vary === undefined ? [] : parseVaryHeader(vary));
}

const DEFAULT_SERVED: ReadonlySet<string> = new Set(HTTP_STORED_HEADERS);

/** How to answer a request from a cached response. */
export interface HttpHitAnswer {
  /** The entry's status, or 304 when the request's conditionals match. */
  status: number;
  /** Headers to send: the stored ones (never `HTTP_NEVER_SERVED_HEADERS`), `age`, and `content-length` when a body goes with the status. */
  headers: Array<[name: string, value: string | string[]]>;
  /** The bytes to send; `undefined` for a 304, a 204 or a HEAD. */
  body: Buffer | undefined;
  /**
   * With the option `text`, the same bytes as Latin-1 text when the body is at most 16 KiB
   * (`res.end(text, 'latin1')` sends them in one write with the headers); else `undefined`.
   */
  text?: string | undefined;
  /** True when the answer is a 304 Not Modified. */
  notModified: boolean;
}

/**
 * The answer to a GET or HEAD from `hit`: its status, stored headers and body, with `Age`
 * (whole seconds since it was stored); or a `304 Not Modified` (without `Content-Type` and body)
 * when the request's `If-None-Match` (or, without it, `If-Modified-Since`) matches.
 * The adapter adds its `X-Cache` header.
 *
 * Only the headers in `served` are sent from the entry (default `HTTP_STORED_HEADERS`; an
 * adapter passes `servedHttpHeaders(cache)`): what the reader itself would have stored. An entry
 * forged onto the topic cannot add `Refresh`, `Access-Control-Allow-Origin` or any other.
 * With `options.text`, a body of at most 16 KiB comes as Latin-1 text as well (see `text`).
 */
export function httpHitResponse(
  hit: DecodedHttpResponse,
  request: { method: string; headers: HttpRequestHeaders },
  now: number = Date.now(),
  served: ReadonlySet<string> = DEFAULT_SERVED,
  options?: { text?: boolean },
): HttpHitAnswer {
  const parts = hitParts(hit);
  const requestHeaders = request.headers;
  // Most requests carry no conditional: they need no parsing.
  const notModified =
    (requestHeaders['if-none-match'] !== undefined || requestHeaders['if-modified-since'] !== undefined) &&
    isNotModified(httpConditionals(requestHeaders), parts.etag, parts.lastModified);
  const headers: Array<[string, string | string[]]> = [];
  const stored = parts.stored;
  for (let i = 0; i < stored.length; i += 2) {
    const name = stored[i] as string;
    if (!served.has(name) || (notModified && name === 'content-type')) continue;
    headers.push([name, stored[i + 1]!]);
  }
  headers.push(['age', String(Math.max(0, Math.floor((now - parts.storedAt) / 1000)))]);
  if (notModified) return { status: 304, headers, body: undefined, text: undefined, notModified };
  const { status } = parts;
  if (status !== 204) headers.push(['content-length', parts.contentLength]);
  const withBody = request.method !== 'HEAD' && status !== 204;
  if (!withBody) return { status, headers, body: undefined, text: undefined, notModified };
  return { status, headers, body: hit.body, text: options?.text === true ? decodedBodyText(hit) : undefined, notModified };
}

/**
 * What every hit on one decoded entry reads, worked out on its first hit, in one object and one
 * array: a hit reads these (recently used) instead of the entry and its headers object.
 */
interface HitParts {
  status: number;
  storedAt: number;
  etag: string | undefined;
  lastModified: string | undefined;
  contentLength: string;
  /** The entry's headers that may ever be served (never `HTTP_NEVER_SERVED_HEADERS`), in the entry's order: name, value, name, value... */
  stored: ReadonlyArray<string | string[]>;
}

function hitParts(hit: DecodedHttpResponse): HitParts {
  // A response from `decodeHttpEntry` keeps its parts (it lives as long as its decoded body); another is worked out on each hit.
  const slot = hit as Partial<DecodedHttpEntry>;
  if (slot.hitParts !== undefined) return slot.hitParts as HitParts;
  const { entry, body } = hit;
  const stored: Array<string | string[]> = [];
  for (const [name, value] of Object.entries(entry.headers)) {
    if (!HTTP_NEVER_SERVED_HEADERS.has(name)) stored.push(name, value);
  }
  const parts: HitParts = {
    status: entry.status,
    storedAt: entry.storedAt,
    etag: firstHeaderValue(entry.headers.etag),
    lastModified: firstHeaderValue(entry.headers['last-modified']),
    contentLength: String(body.length),
    stored,
  };
  if ('hitParts' in slot) slot.hitParts = parts;
  return parts;
}
