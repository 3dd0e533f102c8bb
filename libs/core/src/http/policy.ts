import { firstHeaderValue, httpConditionals, isNotModified, parseCacheControl } from './conditional.js';
import { HTTP_NEVER_SERVED_HEADERS, HTTP_STORED_HEADERS, parseVaryHeader, type DecodedHttpResponse, type HttpHeaderValue, type HttpRequestHeaders } from './entry.js';
import { httpCredentialRefusal, httpRequestCredentials } from './shared.js';

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
  const allowed = check.statuses === undefined ? status >= 200 && status <= 299 && status !== 206 : check.statuses.has(status) && status >= 200 && status <= 299;
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
 */
export function httpHitResponse(hit: DecodedHttpResponse, request: { method: string; headers: HttpRequestHeaders }, now: number = Date.now(), served: ReadonlySet<string> = DEFAULT_SERVED): HttpHitAnswer {
  const { entry, body } = hit;
  const parts = hitParts(hit);
  const requestHeaders = request.headers;
  // Most requests carry no conditional: they need no parsing.
  const notModified =
    (requestHeaders['if-none-match'] !== undefined || requestHeaders['if-modified-since'] !== undefined) &&
    isNotModified(httpConditionals(requestHeaders), parts.etag, parts.lastModified);
  const headers: Array<[string, string | string[]]> = [];
  for (const header of parts.headers) {
    const name = header[0];
    if (!served.has(name) || (notModified && name === 'content-type')) continue;
    headers.push(header);
  }
  headers.push(['age', String(Math.max(0, Math.floor((now - entry.storedAt) / 1000)))]);
  if (notModified) return { status: 304, headers, body: undefined, notModified };
  if (entry.status !== 204) headers.push(['content-length', parts.contentLength]);
  const withBody = request.method !== 'HEAD' && entry.status !== 204;
  return { status: entry.status, headers, body: withBody ? body : undefined, notModified };
}

/** What every hit on one decoded entry reads from it, worked out on its first hit. */
interface HitParts {
  /** The entry's headers that may ever be served (never `HTTP_NEVER_SERVED_HEADERS`), in the entry's order. Shared: never changed. */
  headers: ReadonlyArray<[name: string, value: string | string[]]>;
  etag: string | undefined;
  lastModified: string | undefined;
  contentLength: string;
}

/**
 * The parts of each decoded entry, by its decoded response (one per entry, kept while the
 * decoded body is, see `decodeHttpEntry`): a hit reads them instead of walking the entry's headers.
 */
const hitPartsOf = new WeakMap<DecodedHttpResponse, HitParts>();

function hitParts(hit: DecodedHttpResponse): HitParts {
  let parts = hitPartsOf.get(hit);
  if (parts === undefined) {
    const { entry, body } = hit;
    const headers: Array<[string, string | string[]]> = [];
    for (const [name, value] of Object.entries(entry.headers)) {
      if (!HTTP_NEVER_SERVED_HEADERS.has(name)) headers.push([name, value]);
    }
    parts = { headers, etag: firstHeaderValue(entry.headers.etag), lastModified: firstHeaderValue(entry.headers['last-modified']), contentLength: String(body.length) };
    hitPartsOf.set(hit, parts);
  }
  return parts;
}
