import { createHash } from 'node:crypto';
import type { HttpHeaderValue, HttpRequestHeaders } from './entry.js';

/** Conditional request headers of a GET or HEAD. */
export interface HttpConditionals {
  ifNoneMatch: string | undefined;
  ifModifiedSince: string | undefined;
}

const ENTITY_TAG = /(?:W\/)?"[^"]*"/g;

/** The first value of a header, as a string. */
export function firstHeaderValue(value: HttpHeaderValue | undefined): string | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value[0] : String(value);
}

/** A strong entity tag for `body`: a quoted SHA-1 of it, base64url (`"<27 characters>"`). */
export function computeEtag(body: Uint8Array): string {
  return `"${createHash('sha1').update(body).digest('base64url')}"`;
}

function opaque(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

/**
 * RFC 9110 13.1.2: whether `If-None-Match` matches the current representation, whose tag is
 * `etag`. `*` matches any existing representation; a list matches if any member matches by
 * weak comparison (the `W/` prefix is ignored on both sides).
 */
export function ifNoneMatchMatches(header: string, etag: string | undefined): boolean {
  if (header.trim() === '*') return true;
  if (etag === undefined) return false;
  const current = opaque(etag.trim());
  for (const tag of header.match(ENTITY_TAG) ?? []) {
    if (opaque(tag) === current) return true;
  }
  return false;
}

/** The conditional headers of a request. */
export function httpConditionals(requestHeaders: HttpRequestHeaders): HttpConditionals {
  return { ifNoneMatch: firstHeaderValue(requestHeaders['if-none-match']), ifModifiedSince: firstHeaderValue(requestHeaders['if-modified-since']) };
}

/**
 * Whether the request's conditionals let a 304 answer a GET or HEAD whose response has the
 * validators `etag` and `lastModified`. `If-None-Match` takes precedence; `If-Modified-Since`
 * counts only without it (RFC 9110 13.2.2).
 */
export function isNotModified(conditionals: HttpConditionals, etag: string | undefined, lastModified: string | undefined): boolean {
  if (conditionals.ifNoneMatch !== undefined) return ifNoneMatchMatches(conditionals.ifNoneMatch, etag);
  if (conditionals.ifModifiedSince !== undefined && lastModified !== undefined) {
    const since = Date.parse(conditionals.ifModifiedSince);
    const modified = Date.parse(lastModified);
    return Number.isFinite(since) && Number.isFinite(modified) && modified <= since;
  }
  return false;
}

/** Directive names of a `Cache-Control` header, lower-case. */
export function parseCacheControl(header: HttpHeaderValue | undefined): Set<string> {
  const directives = new Set<string>();
  if (header === undefined) return directives;
  const text = Array.isArray(header) ? header.join(',') : String(header);
  for (const part of text.split(',')) {
    const name = part.split('=', 1)[0]!.trim().toLowerCase();
    if (name !== '') directives.add(name);
  }
  return directives;
}
