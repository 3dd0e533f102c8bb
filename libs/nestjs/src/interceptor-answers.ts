import type { Logger } from '@nestjs/common';
import type { DecodedHttpResponse, HttpFinishedResponse, HttpRequestHeaders, HttpResponseStore, HttpStoreLog } from '@nearcache/core';
import { httpConditionals, isNotModified } from '@nearcache/core';
import { prepareAnswer, type AnswerHeaders } from './http-body.js';

/**
 * The answers of `NearCacheInterceptor`, prepared for Nest's HTTP adapter (see `installAnswering`):
 * a hit from core's HTTP store, and a miss with the bytes just stored.
 */

/** A response the interceptor may store: its status, bytes, media type and a reader of its headers. */
export interface StoredResponse extends HttpFinishedResponse {
  readonly contentType: string | undefined;
}

/** A hit's small body comes as text too: on Express it goes out in one write with the headers. */
const HIT_TEXT = Object.freeze({ text: true });
const STALE_TEXT = Object.freeze({ text: true, stale: true });

/** Answers a hit (`stale`: a response in grace, `X-Cache: STALE`): the stored status, headers and bytes, or a 304, sent through the HTTP adapter. */
export function answerHit(
  responses: HttpResponseStore,
  hit: DecodedHttpResponse,
  request: { method?: unknown },
  response: unknown,
  requestHeaders: HttpRequestHeaders,
  statusHeader: string | undefined,
  stale = false,
): unknown {
  const method = typeof request.method === 'string' ? request.method : 'GET';
  const answer = responses.answer(hit, { method, headers: requestHeaders }, statusHeader, stale ? STALE_TEXT : HIT_TEXT);
  const headers: AnswerHeaders = answer.headers;
  return prepareAnswer(response as object, { status: answer.status, headers, body: answer.body, text: answer.text, dropContentType: answer.notModified });
}

/** Answers a miss with the bytes just stored, and the headers a hit on them carries (or a 304 when the request's conditionals match). */
export function answerMiss(
  response: unknown,
  requestHeaders: HttpRequestHeaders,
  answer: { status: number; body: Buffer; contentType: string | undefined; etag: string; lastModified: string | undefined },
): unknown {
  const headers: AnswerHeaders = [['etag', answer.etag]];
  if (isNotModified(httpConditionals(requestHeaders), answer.etag, answer.lastModified)) {
    return prepareAnswer(response as object, { status: 304, headers, body: undefined, dropContentType: true });
  }
  if (answer.status === 204) return prepareAnswer(response as object, { status: 204, headers, body: undefined, dropContentType: true });
  if (answer.contentType !== undefined) headers.push(['content-type', answer.contentType]);
  headers.push(['content-length', String(answer.body.length)]);
  return prepareAnswer(response as object, { status: answer.status, headers, body: answer.body, dropContentType: false });
}

/** Core's HTTP store reports through the interceptor's logger, each message with the key it is about. */
export function storeLog(logger: Pick<Logger, 'debug' | 'warn'>): HttpStoreLog {
  return {
    debug: (message, context) => logger.debug(withKey(message, context)),
    warn: (message, context) => logger.warn(withKey(message, context)),
  };
}

function withKey(message: string, context: Record<string, unknown> | undefined): string {
  const key = context?.key;
  return typeof key === 'string' ? `${message} (key "${key}")` : message;
}
