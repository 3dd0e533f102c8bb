import { InvalidArgumentError } from '../errors.js';
import { parseCacheControl } from './conditional.js';
import type { HttpHeaderValue, HttpRequestHeaders } from './entry.js';

/**
 * The credential policy of the HTTP caches. Every instance on a topic serves what any instance
 * stored, so the adapters stand where a CDN stands (RFC 9111, shared caches): a request carrying
 * credentials is personal, and is neither served from nor stored into the cache unless the
 * response is shared (`Cache-Control: public` or `s-maxage`) or keyed on those credentials by
 * its `Vary`. This module decides which requests may use the cache (`httpAdmission`) and which
 * responses to such requests may be stored (`httpCredentialRefusal`).
 */

/** Request headers that carry credentials by default: a request with one is personal, and is neither served from nor stored into the cache unless the route opts in. */
export const HTTP_CREDENTIAL_HEADERS: readonly string[] = Object.freeze([
  'authorization',
  'proxy-authorization',
  'cookie',
  'x-api-key',
  'x-auth-token',
  'x-access-token',
]);

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Directives of a response's `Cache-Control` that make it shared: it may be stored for, and served to, requests carrying credentials. */
const SHARED_DIRECTIVES = ['public', 's-maxage'] as const;

/** How an adapter treats credentials: its `credentialHeaders` and `ignoreCookies` options. */
export interface HttpCredentialPolicy {
  /** Request headers that carry credentials, lower-case. Default `HTTP_CREDENTIAL_HEADERS`. */
  readonly headers: readonly string[];
  /** Cookies that do not personalise responses (consent, analytics): a `Cookie` made only of these does not count as a credential. Default none. */
  readonly ignoredCookies: ReadonlySet<string>;
}

/** The default credential policy: `HTTP_CREDENTIAL_HEADERS`, no ignored cookie. */
export const HTTP_DEFAULT_CREDENTIAL_POLICY: HttpCredentialPolicy = Object.freeze({ headers: HTTP_CREDENTIAL_HEADERS, ignoredCookies: new Set<string>() });

/** What `httpAdmission` decided for a request. */
export interface HttpAdmission {
  /** True when the request must neither be served from nor stored into the cache (`Cache-Control: no-store`). */
  bypass: boolean;
  /**
   * The credential headers the request carries (lower-case, sorted). When not empty, only an
   * entry that is shared (`Cache-Control: public` or `s-maxage`) or keyed on every one of
   * these headers by its `Vary` is served, and only such a response is stored.
   */
  credentials: readonly string[];
}

function cookieNames(header: string | string[]): string[] {
  const text = Array.isArray(header) ? header.join(';') : header;
  const names: string[] = [];
  for (const part of text.split(';')) {
    const at = part.indexOf('=');
    const name = (at < 0 ? part : part.slice(0, at)).trim();
    if (name !== '') names.push(name);
  }
  return names;
}

/** The credential headers `requestHeaders` carries under `policy`, sorted. A `Cookie` whose cookies are all ignored does not count. */
export function httpRequestCredentials(requestHeaders: HttpRequestHeaders, policy: HttpCredentialPolicy = HTTP_DEFAULT_CREDENTIAL_POLICY): string[] {
  return carriedCredentials(requestHeaders, policy) ?? [];
}

/** `httpRequestCredentials`, or `undefined` for none (without allocating). */
function carriedCredentials(requestHeaders: HttpRequestHeaders, policy: HttpCredentialPolicy): string[] | undefined {
  let found: string[] | undefined;
  for (const name of policy.headers) {
    const value = requestHeaders[name];
    if (value === undefined || (typeof value === 'string' && value.trim() === '')) continue;
    if (name === 'cookie' && policy.ignoredCookies.size > 0 && cookieNames(value).every((cookie) => policy.ignoredCookies.has(cookie))) continue;
    (found ??= []).push(name);
  }
  return found?.sort();
}

/** The admission of a request without `Cache-Control` and without credentials, the most common one: shared, never changed. */
const ANONYMOUS: HttpAdmission = Object.freeze({ bypass: false, credentials: Object.freeze([]) as readonly string[] });

/** How a request may use the cache: bypass it (`Cache-Control: no-store`), or which credentials it carries. */
export function httpAdmission(requestHeaders: HttpRequestHeaders, policy: HttpCredentialPolicy = HTTP_DEFAULT_CREDENTIAL_POLICY): HttpAdmission {
  const cacheControl = requestHeaders['cache-control'];
  const credentials = carriedCredentials(requestHeaders, policy);
  if (cacheControl === undefined && credentials === undefined) return ANONYMOUS;
  return { bypass: cacheControl !== undefined && parseCacheControl(cacheControl).has('no-store'), credentials: credentials ?? [] };
}

/** Checks and normalises a credential policy given as options; throws `InvalidArgumentError` naming the option. */
export function httpCredentialPolicy(headers: unknown, ignoredCookies: unknown): HttpCredentialPolicy {
  let names = HTTP_CREDENTIAL_HEADERS;
  if (headers !== undefined) {
    if (!Array.isArray(headers) || headers.some((h) => typeof h !== 'string' || !TOKEN.test(h))) {
      throw new InvalidArgumentError(`option "credentialHeaders" must be an array of request header names, got ${JSON.stringify(headers)}`);
    }
    names = [...new Set((headers as string[]).map((h) => h.toLowerCase()))];
  }
  let cookies = new Set<string>();
  if (ignoredCookies !== undefined) {
    if (!Array.isArray(ignoredCookies) || ignoredCookies.some((c) => typeof c !== 'string' || c.trim() === '' || /[;=,\s]/.test(c))) {
      throw new InvalidArgumentError(
        `option "ignoreCookies" must be an array of cookie names (no ';', '=', ',' or spaces), got ${JSON.stringify(ignoredCookies)}`,
      );
    }
    cookies = new Set(ignoredCookies as string[]);
  }
  return { headers: names, ignoredCookies: cookies };
}

/** True when a response's `Cache-Control` says it is the same for everyone (`public` or `s-maxage`). */
export function isSharedResponse(cacheControl: HttpHeaderValue | undefined): boolean {
  const directives = parseCacheControl(cacheControl);
  return SHARED_DIRECTIVES.some((directive) => directives.has(directive));
}

/**
 * Why a response to a request carrying `credentials` must not be stored, or `undefined` if it
 * may be: it may when it is shared (`Cache-Control: public` or `s-maxage`), or when its `Vary`
 * names every credential header the request carries (each user then has an entry of their own).
 */
export function httpCredentialRefusal(credentials: readonly string[], cacheControl: HttpHeaderValue | undefined, vary: readonly string[]): string | undefined {
  if (credentials.length === 0 || isSharedResponse(cacheControl)) return undefined;
  const missing = credentials.filter((name) => !vary.includes(name));
  if (missing.length === 0) return undefined;
  return `the request carries credentials (${missing.join(', ')}) and the response is neither Cache-Control: public nor varies on them`;
}
