import type { Request } from 'express';
import { firstHeaderValue, type HttpConditionals } from '@nearcache/core';

/** Helpers of the capture of a GET miss by `cacheResponses`: the request's conditionals, and the body's bytes. */

/**
 * Hides the request's conditional headers from the handler while it runs, so that it (and
 * Express's `res.send`, which answers 304 by itself) produces the full response to store;
 * the conditionals are then answered here.
 */
export function hideConditionals(req: Request): HttpConditionals | undefined {
  const ifNoneMatch = firstHeaderValue(req.headers['if-none-match']);
  const ifModifiedSince = firstHeaderValue(req.headers['if-modified-since']);
  if (ifNoneMatch === undefined && ifModifiedSince === undefined) return undefined;
  delete req.headers['if-none-match'];
  delete req.headers['if-modified-since'];
  return { ifNoneMatch, ifModifiedSince };
}

export function restoreConditionals(req: Request, hidden: HttpConditionals | undefined): void {
  if (hidden === undefined) return;
  if (hidden.ifNoneMatch !== undefined) req.headers['if-none-match'] = hidden.ifNoneMatch;
  if (hidden.ifModifiedSince !== undefined) req.headers['if-modified-since'] = hidden.ifModifiedSince;
}

export function toBuffer(chunk: unknown, encoding: unknown): Buffer {
  if (chunk === undefined || chunk === null) return Buffer.alloc(0);
  if (typeof chunk === 'string') return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError(`unexpected body chunk of type ${typeof chunk}`);
}
