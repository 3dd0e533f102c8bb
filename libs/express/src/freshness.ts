import { STATUS_CODES } from 'node:http';
import type { Request, Response } from 'express';
import {
  httpGraceSettings,
  httpTagsOption,
  InvalidArgumentError,
  InvalidOptionError,
  type HttpGraceSettings,
  type HttpHitAnswer,
  type HttpTagsOption,
} from '@nearcache/core';

/**
 * The freshness options of `cacheResponses` (docs/consistency.md, sections 14 and 17): grace
 * (a stored response answering for a failing handler past its expiry, `X-Cache: STALE`) and tags
 * (for `invalidateTags`). The work is core's (`http/grace.ts`); here, the options and their checks.
 */

/** Grace and tags of `cacheResponses`. */
export interface CacheResponsesFreshnessOptions {
  /**
   * How long a stored response is kept past its expiry, in ms, to answer for a handler that fails:
   * a GET that misses runs its handler, and when the handler answers a 5xx (a thrown error
   * included, which Express answers with a 500), the response in grace is sent instead, with
   * `X-Cache: STALE` (core's `stale` event, `staleServed`); the failure is sent only when there is
   * none, and never stored. Needs a `ttl` (the option, or the cache's own). Integer, 0 to 100
   * years. Default `0` (none). A route-level `cacheResponses` may refine it.
   */
  grace?: number;
  /**
   * Tags of the stored responses, for `invalidateTags` (of core, or the `invalidateResponseTags`
   * middleware on mutating routes): an array of tags, or a function of the request returning them
   * (or `undefined` for none). A function whose result is not tags makes the response not
   * stored (warned). Tags follow `set`'s rules: at most 32 non-empty strings without a newline,
   * each at most the cache's `maxKeyBytes`. Default: none. A route-level `cacheResponses` may
   * refine it.
   */
  tags?: readonly string[] | ((req: Request) => readonly string[] | undefined);
}

/** The checked freshness options. */
export interface ResolvedFreshness {
  grace: HttpGraceSettings;
  tags: HttpTagsOption<Request> | undefined;
}

/** Checks `grace` and `tags` (when given); throws `InvalidOptionError` naming the option. */
export function checkFreshnessOptions(options: Record<string, unknown>, maxKeyBytes: number): Partial<ResolvedFreshness> {
  const out: Partial<ResolvedFreshness> = {};
  try {
    if (options.grace !== undefined) out.grace = httpGraceSettings({ grace: options.grace });
    if (options.tags !== undefined) out.tags = httpTagsOption<Request>('tags', options.tags, maxKeyBytes);
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw new InvalidOptionError(error.message, { cause: error });
    throw error;
  }
  return out;
}

/** Headers of a failed response that must not go out with the response in grace answering for it (its own say otherwise). */
const FAILURE_HEADERS = ['content-length', 'content-type', 'content-security-policy', 'transfer-encoding'];

/**
 * Sends `answer` (core's answer to a response in grace, `X-Cache: STALE`) instead of a failed
 * response: drops the failure's headers that describe its body (and those an entry stores), then
 * ends the response through `end` (the `res.end` the capture wrapped).
 */
export function sendStale(res: Response, answer: HttpHitAnswer, served: ReadonlySet<string>, end: (body?: Buffer | string) => void): void {
  for (const name of res.getHeaderNames()) if (served.has(name) || FAILURE_HEADERS.includes(name)) res.removeHeader(name);
  res.statusCode = answer.status;
  for (const [name, value] of answer.headers) res.setHeader(name, value);
  if (answer.notModified) {
    res.statusCode = 304;
    res.removeHeader('Content-Type');
    res.removeHeader('Content-Length');
  }
  // The failure's reason phrase (Express's error handler sets one) must not go out with the new status.
  res.statusMessage = STATUS_CODES[res.statusCode] ?? '';
  if (answer.body === undefined) end();
  else end(answer.body);
}
