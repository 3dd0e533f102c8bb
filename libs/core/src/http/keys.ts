import { InvalidArgumentError } from '../errors.js';
import { HTTP_DEFAULT_PREFIX, type HttpCacheMethod } from './entry.js';

/**
 * The keys of the HTTP caches: the method, the path and query normalised the way a router
 * matches them, then the scheme and host (`httpRequestKey`), so that the spellings a router
 * treats as one URL are one entry and one site's pages are never served to another.
 */

// A path of visible ASCII without `%`, `#` or `?`, optionally followed by a non-empty query of visible ASCII without `%` or `#`.
const NORMAL_PATH = /^\/[\x21\x22\x24\x26-\x3e\x40-\x7e]*$/;
const NORMAL_TARGET = /^\/[\x21\x22\x24\x26-\x3e\x40-\x7e]*(?:\?[\x21\x22\x24\x26-\x7e]+)?$/;
const UNRESERVED = /[A-Za-z0-9\-._~]/;
const HOST = /^(?:[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?$/;

/** Which query parameters select a response: `true` all of them (default), `false` none, or the names that matter (the others are left out of the key). */
export type HttpQueryKeyPolicy = boolean | readonly string[];

/** Checks the `query` option; throws `InvalidArgumentError`. */
export function httpQueryPolicy(value: unknown): HttpQueryKeyPolicy {
  if (value === undefined) return true;
  if (typeof value === 'boolean') return value;
  if (Array.isArray(value) && value.every((name) => typeof name === 'string' && name !== '')) return Object.freeze([...new Set(value as string[])].sort());
  throw new InvalidArgumentError(
    `option "query" must be true (every query parameter is part of the key), false (none is) or an array of parameter names, got ${JSON.stringify(value)}`,
  );
}

/**
 * RFC 3986 6.2.2 normalisation of a path or query: percent-encoded unreserved characters are
 * decoded (`%31` is `1`), other escapes upper-cased, and characters that cannot stand in a
 * request target (spaces, controls, non-ASCII) percent-encoded, so that no key holds a space.
 */
function normaliseComponent(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    const code = text.charCodeAt(i);
    if (char === '%' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      const decoded = String.fromCharCode(Number.parseInt(text.slice(i + 1, i + 3), 16));
      out += UNRESERVED.test(decoded) ? decoded : `%${text.slice(i + 1, i + 3).toUpperCase()}`;
      i += 2;
    } else if (code <= 0x20 || code === 0x7f) {
      out += `%${code.toString(16).toUpperCase().padStart(2, '0')}`;
    } else if (code <= 0xff && code > 0x7e) {
      out += `%${code.toString(16).toUpperCase()}`;
    } else if (code > 0xff) {
      // Characters beyond Latin-1 (a URL given as a JS string, not bytes): UTF-8, a surrogate pair as one character.
      const next = text.charCodeAt(i + 1);
      const pair = code >= 0xd800 && code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff;
      if (pair) i++;
      out += code >= 0xd800 && code <= 0xdfff && !pair ? '%EF%BF%BD' : encodeURIComponent(pair ? text.slice(i - 1, i + 1) : char);
    } else {
      out += char;
    }
  }
  return out;
}

function filterQuery(query: string, policy: HttpQueryKeyPolicy): string {
  if (policy === true) return query;
  if (policy === false) return '';
  const kept: Array<[string, string]> = [];
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const at = pair.indexOf('=');
    const rawName = at < 0 ? pair : pair.slice(0, at);
    let name: string;
    try {
      name = decodeURIComponent(rawName.replace(/\+/g, ' '));
    } catch {
      name = rawName;
    }
    if (policy.includes(name)) kept.push([name, pair]);
  }
  // Allow-listed parameters are put in name order (stable for one name): `?a=1&b=2` and `?b=2&a=1` are one entry.
  kept.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return kept.map(([, pair]) => pair).join('&');
}

/**
 * The normalised path and query of a request target, the part of the key the router matches:
 * the fragment dropped, an absolute-form target (`http://host/p`) reduced to its path,
 * percent-encoding normalised, an empty query dropped, the query filtered by `query`.
 * `undefined` for a target that is not a path (`*`, an authority).
 */
export function normaliseHttpTarget(url: string, query: HttpQueryKeyPolicy = true): string | undefined {
  // Most targets are already in normal form: a path (and, when every query parameter is kept, a
  // query) of visible ASCII without `%` or `#`, which the steps below would leave as it is.
  if (query === true ? NORMAL_TARGET.test(url) : NORMAL_PATH.test(url)) return url;
  let target = url;
  const hash = target.indexOf('#');
  if (hash >= 0) target = target.slice(0, hash);
  const absolute = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?]*/.exec(target);
  if (absolute !== null) {
    target = target.slice(absolute[0].length);
    if (!target.startsWith('/')) target = `/${target}`;
  }
  if (!target.startsWith('/')) return undefined;
  const mark = target.indexOf('?');
  const path = normaliseComponent(mark < 0 ? target : target.slice(0, mark));
  const rawQuery = mark < 0 ? '' : normaliseComponent(target.slice(mark + 1));
  const kept = rawQuery === '' ? '' : filterQuery(rawQuery, query);
  return kept === '' ? path : `${path}?${kept}`;
}

/**
 * The origin part of a key, `<scheme>://<host>`: the scheme (`http` or `https`) and host as the
 * application sees them (after its trust-proxy settings), lower-case, without the default port
 * or a trailing dot. `undefined` when either is not a valid scheme or host name: such a request
 * is not cached.
 */
export function httpOrigin(scheme: unknown, host: unknown): string | undefined {
  if (typeof scheme !== 'string' || typeof host !== 'string') return undefined;
  // The origins of the hosts seen lately, by scheme as the app gives it (`http` or `https`).
  const known = scheme === 'http' ? httpOrigins : scheme === 'https' ? httpsOrigins : undefined;
  if (known !== undefined) {
    let origin = known.get(host);
    if (origin === undefined) {
      origin = originOf(scheme, host) ?? null;
      // Host names come from clients: the memory is bounded.
      if (known.size >= MAX_KNOWN_ORIGINS) known.clear();
      known.set(host, origin);
    }
    return origin ?? undefined;
  }
  return originOf(scheme, host);
}

const MAX_KNOWN_ORIGINS = 256;
const httpOrigins = new Map<string, string | null>();
const httpsOrigins = new Map<string, string | null>();

function originOf(scheme: string, host: string): string | undefined {
  const s = scheme.toLowerCase();
  if (s !== 'http' && s !== 'https') return undefined;
  let h = host.trim().toLowerCase();
  if (h.endsWith('.')) h = h.slice(0, -1);
  if ((s === 'http' && h.endsWith(':80')) || (s === 'https' && h.endsWith(':443'))) h = h.slice(0, h.lastIndexOf(':'));
  if (h === '' || h.length > 255 || !HOST.test(h)) return undefined;
  return `${s}://${h}`;
}

/** What `httpRequestKey` takes: the request as the application sees it. */
export interface HttpKeyRequest {
  /** `GET` or `HEAD` (a HEAD maps to the key of its GET). */
  method: string;
  /** `http` or `https`, after the trust-proxy settings (`req.protocol`). */
  scheme: unknown;
  /** The host name, after the trust-proxy settings (`req.hostname`). */
  host: unknown;
  /** The request target as sent (`req.originalUrl`). */
  url: unknown;
}

/**
 * The default key of a request, after the prefix: `GET <path>[?<query>] <scheme>://<host>`
 * (`GET /products/1?lang=fr https://shop.example`); `undefined` when the request cannot be
 * keyed (not GET or HEAD, no valid scheme, host or path): it is then not cached. The path and
 * query are normalised as `normaliseHttpTarget` says, so that the spellings a router treats as
 * one URL are one entry; the origin keeps one site's pages from being served to another.
 */
export function httpRequestKey(request: HttpKeyRequest, query: HttpQueryKeyPolicy = true): string | undefined {
  const method = typeof request.method === 'string' ? request.method.toUpperCase() : '';
  if (method !== 'GET' && method !== 'HEAD') return undefined;
  if (typeof request.url !== 'string') return undefined;
  const target = normaliseHttpTarget(request.url, query);
  const origin = httpOrigin(request.scheme, request.host);
  if (target === undefined || origin === undefined) return undefined;
  return `GET ${target} ${origin}`;
}

/**
 * The key of the response to `GET absoluteUrl` (and its HEAD) under `prefix`, as the adapters
 * store it by default: `httpCacheKey('GET', 'https://shop.example/products/1')` is
 * `http:GET /products/1 https://shop.example`. Throws `InvalidArgumentError` for a URL without
 * scheme and host.
 */
export function httpUrlKey(absoluteUrl: string, prefix: string): string {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/.exec(absoluteUrl);
  const key = match === null ? undefined : httpRequestKey({ method: 'GET', scheme: match[1], host: match[2], url: match[3] === '' ? '/' : match[3] });
  if (key === undefined) {
    throw new InvalidArgumentError(
      `httpCacheKey: the URL must be absolute, with an http or https scheme and a host, such as "https://shop.example/products/1", got ${JSON.stringify(absoluteUrl)}`,
    );
  }
  return prefix + key;
}

/**
 * The key of the response to `method url` under `prefix`, as the adapters store it by default:
 * `<prefix>GET <path>[?<query>] <scheme>://<host>`. `url` is absolute (scheme, host, path and
 * query: `httpCacheKey('GET', 'https://shop.example/products/1')` is
 * `http:GET /products/1 https://shop.example`); its path and query are normalised the way a
 * router matches them (see `httpRequestKey`). A HEAD maps to the key of its GET (only GET
 * responses are stored). Throws `InvalidArgumentError` for another method or a URL without an
 * http(s) scheme and a host.
 */
export function httpCacheKey(method: HttpCacheMethod, url: string, prefix: string = HTTP_DEFAULT_PREFIX): string {
  if (method !== 'GET' && method !== 'HEAD') throw new InvalidArgumentError(`httpCacheKey: only GET and HEAD responses have keys, got ${String(method)}`);
  return httpUrlKey(url, prefix);
}
