import type { ReadOptions } from '../cache/types.js';
import { mergeSessionTokens } from '../cache/session-token.js';
import { InvalidArgumentError } from '../errors.js';
import { fail, integer } from '../validate.js';
import type { HttpRequestHeaders } from './entry.js';

/**
 * Session tokens and bounded staleness over HTTP (docs/consistency.md, sections 12 and 13): the
 * part every adapter shares. After a mutating request that wrote to the cache, the response
 * carries a session token in a header; a later request carrying it waits (bounded) until this
 * instance reached it before it reads the cache, and goes to the handler, bypassing the cache,
 * when the wait runs out. A request header is untrusted: a token that is malformed, too long,
 * of another topic or naming a partition the topic lacks is ignored as if absent (counted,
 * logged at debug level). Adapters only read and set headers through their framework.
 */

/** The session header's name when the option `sessionHeader` is `true`. */
export const HTTP_SESSION_HEADER = 'NearCache-Session';
/** The default `sessionWait`, in ms. */
export const HTTP_DEFAULT_SESSION_WAIT = 1000;
/** The methods whose responses carry a session token when the request wrote to the cache. */
export const HTTP_MUTATING_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The largest `sessionWait` (ms). */
const MAX_SESSION_WAIT = 60_000;
/** The largest `maxStaleness` (ms): setTimeout's limit, as core's read option. */
const MAX_STALENESS = 2_147_483_647;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The adapters' options on sessions and staleness, as given (checked by `httpSessionSettings`). */
export interface HttpSessionOptions {
  /**
   * The header carrying session tokens: `true` for `NearCache-Session`, a header name, or `false`
   * (default) for none: responses carry no token and requests' tokens are not read.
   */
  sessionHeader?: boolean | string;
  /** How long a request carrying a token waits for this instance to reach it, and a mutating response for the log to acknowledge its writes, in ms. Default `1000`. */
  sessionWait?: number;
  /** Staleness accepted of a hit, in ms (core's read option `maxStaleness`); default: none (any hit is served). */
  maxStaleness?: number;
}

/** The checked settings. */
export interface HttpSessionSettings {
  /** The header's name as sent, or `undefined` when session tokens are off. */
  readonly header: string | undefined;
  readonly wait: number;
  readonly maxStaleness: number | undefined;
}

/** Checks the options and fills in the defaults; throws `InvalidOptionError` naming the option, what it got and what is allowed. */
export function httpSessionSettings(options: { sessionHeader?: unknown; sessionWait?: unknown; maxStaleness?: unknown }): HttpSessionSettings {
  const given = options.sessionHeader ?? false;
  if (typeof given !== 'boolean' && (typeof given !== 'string' || !HEADER_NAME.test(given) || given.length > 256)) {
    fail('sessionHeader', `true (for "${HTTP_SESSION_HEADER}"), false, or a header name`, given);
  }
  const header = given === true ? HTTP_SESSION_HEADER : given === false ? undefined : given;
  const wait = integer('sessionWait', options.sessionWait, HTTP_DEFAULT_SESSION_WAIT, 1, MAX_SESSION_WAIT);
  const maxStaleness = options.maxStaleness === undefined ? undefined : integer('maxStaleness', options.maxStaleness, 0, 0, MAX_STALENESS);
  return { header, wait, maxStaleness };
}

/** What the session part needs of a cache (a `NearCache`). */
export interface HttpSessionCache {
  isCaughtUpTo(token: string): boolean;
  catchUpTo(token: string, options: { timeout?: number }): Promise<void>;
  sessionToken(options: { timeout?: number }): Promise<string>;
  stats(): { readonly sets: number; readonly deletes: number; readonly clears: number };
}

/** Where the session part reports (at debug level only: a client's header is no reason to warn). */
export interface HttpSessionLog {
  debug(message: string, context?: Record<string, unknown>): void;
}

/** What a request's session header decided: go on with the cache (`true`), or wait for the answer (`false`: go to the handler, bypassing the cache). */
export type HttpSessionGate = true | Promise<boolean>;

/** Counters of one adapter's session work, for tests and diagnostics. */
export interface HttpSessionCounts {
  /** Tokens ignored: malformed, too long, of another topic, or naming a partition the topic lacks. */
  ignored: number;
  /** Requests that waited for this instance to reach their token. */
  waited: number;
  /** Requests whose wait ran out (or the cache closed): answered by the handler, bypassing the cache. */
  timedOut: number;
  /** Mutating responses that carried a new token. */
  sent: number;
  /** Mutating responses whose writes the log did not acknowledge within `sessionWait`: sent with the request's token, or none. */
  unacknowledged: number;
}

const GO_ON: HttpSessionGate = true;

/**
 * The sessions of one adapter on one cache: reads a request's token (`token`), holds a read until
 * this instance reached it (`gate`), and gives a mutating response its token (`mark`, then
 * `responseToken`). Requests without the header cost one header lookup.
 */
export class HttpSessions {
  readonly settings: HttpSessionSettings;
  /** The read options of a lookup (`maxStaleness`), or `undefined` for a plain read. */
  readonly readOptions: ReadOptions | undefined;
  readonly counts: HttpSessionCounts = { ignored: 0, waited: 0, timedOut: 0, sent: 0, unacknowledged: 0 };
  /** The header's name in lower case, as request headers are read. */
  readonly #name: string | undefined;
  readonly #cache: HttpSessionCache;
  readonly #log: HttpSessionLog;
  /** The last token found valid (most requests of a session carry the same one). */
  #lastValid: string | undefined;

  /** Throws `InvalidArgumentError` when session tokens are on and `cache` lacks what they need (a wrapper that is not a `NearCache`). */
  constructor(cache: HttpSessionCache, settings: HttpSessionSettings, log: HttpSessionLog) {
    if (settings.header !== undefined) {
      const missing = (['isCaughtUpTo', 'catchUpTo', 'sessionToken', 'stats'] as const).filter((name) => typeof cache[name] !== 'function');
      if (missing.length > 0) {
        throw new InvalidArgumentError(`session tokens (option "sessionHeader") need a NearCache; the cache given has no ${missing.join(', ')}`);
      }
    }
    this.#cache = cache;
    this.settings = settings;
    this.#log = log;
    this.#name = settings.header?.toLowerCase();
    this.readOptions = settings.maxStaleness === undefined ? undefined : Object.freeze({ maxStaleness: settings.maxStaleness });
  }

  /**
   * The request's session token, or `undefined` when it carries none, or one this cache cannot
   * use (ignored as if absent: counted, logged at debug level). Never throws.
   */
  token(headers: HttpRequestHeaders): string | undefined {
    const name = this.#name;
    if (name === undefined) return undefined;
    const raw = headers[name];
    if (raw === undefined) return undefined;
    const token = Array.isArray(raw) ? raw[0] : raw;
    if (typeof token !== 'string' || token === '') return undefined;
    if (token === this.#lastValid) return token;
    try {
      // Parses the token and checks its topic and partitions.
      this.#cache.isCaughtUpTo(token);
      this.#lastValid = token;
      return token;
    } catch (error) {
      this.counts.ignored++;
      this.#log.debug(`session token ignored: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
  }

  /**
   * Whether a read carrying `token` (from `token()`) may use the cache: `true` at once when there
   * is none or this instance reached it; else a promise of `true` once it did, or of `false` when
   * `sessionWait` ran out or the cache closed (the request then goes to the handler, bypassing the
   * cache, rather than being answered stale). Never rejects.
   */
  gate(token: string | undefined): HttpSessionGate {
    if (token === undefined) return GO_ON;
    try {
      if (this.#cache.isCaughtUpTo(token)) return GO_ON;
    } catch {
      return GO_ON;
    }
    this.counts.waited++;
    const wait = this.settings.wait;
    return this.#cache.catchUpTo(token, { timeout: wait }).then(
      () => true,
      (error: unknown) => {
        this.counts.timedOut++;
        this.#log.debug(`the request goes to the handler, bypassing the cache: ${error instanceof Error ? error.message : String(error)}`);
        return false;
      },
    );
  }

  /** A mark of the cache's writes so far, taken before a mutating request's handler runs. */
  mark(): number {
    const stats = this.#cache.stats();
    return stats.sets + stats.deletes + stats.clears;
  }

  /** Whether the cache was written since `mark` (by this request, or another one meanwhile). */
  wroteSince(mark: number): boolean {
    return this.mark() !== mark;
  }

  /**
   * The token a mutating response carries: when the cache was written since `mark`, the token of
   * those writes once the log acknowledged them (at most `sessionWait`), merged with the
   * request's own token; else the request's token (or `undefined`). When the log does not
   * acknowledge in time, the request's token (counted, logged at debug level). Never rejects.
   */
  async responseToken(mark: number, incoming: string | undefined): Promise<string | undefined> {
    if (!this.wroteSince(mark)) return incoming;
    let own: string;
    try {
      own = await this.#cache.sessionToken({ timeout: this.settings.wait });
    } catch (error) {
      this.counts.unacknowledged++;
      this.#log.debug(
        `the response carries no new session token: the log did not acknowledge this instance's writes: ${error instanceof Error ? error.message : String(error)}`,
      );
      return incoming;
    }
    try {
      const token = mergeSessionTokens(incoming, own);
      this.counts.sent++;
      return token;
    } catch {
      this.counts.sent++;
      return own;
    }
  }
}
