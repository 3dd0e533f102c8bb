import type { Clock } from '../clock.js';
import { CacheClosedError, CatchUpTimeoutError, InvalidArgumentError, InvalidSessionTokenError, type NearCacheError } from '../errors.js';
import type { PartitionOffsets } from '../log/port.js';
import { formatSessionToken, parseSessionToken, topicHash, type SessionPosition } from './session-token.js';
import type { ReadOptions } from './types.js';

/** The largest `maxStaleness` and `catchUpTo` timeout, in ms (setTimeout's limit). */
const MAX_MS = 2_147_483_647;

/** What the session part asks of the cache around it. */
export interface SessionHost {
  readonly topic: string;
  readonly clock: Clock;
  /** Partitions of the topic (0 until the log is open). */
  partitions(): number;
  /** The read position (next offset to read) of each partition. */
  positions(): readonly number[];
  /** Where the reading stands, for messages ("; partitions at 0: 12/14"). */
  describeLag(): string;
  /** Ms since this instance was confirmed fresh (Infinity before); `refresh` asks the log for its ends sooner. */
  staleness(now: number): number;
  refresh(now: number): void;
  /** Per partition, the next offset after this instance's acknowledged records, and whether the log left some offsets untold. */
  acked(): readonly number[];
  offsetsUnknown(): boolean;
  /** The log's current end offsets. */
  logOffsets(): Promise<PartitionOffsets[]>;
}

interface Waiter {
  readonly token: SessionPosition;
  resolve(): void;
  reject(error: NearCacheError): void;
  timer: NodeJS.Timeout;
}

/**
 * Reads across instances: session tokens (what this instance wrote, what it applied, whether it
 * reached a token, waiting until it does) and the read options `after` and `maxStaleness`. Costs
 * nothing unless used: reads without options never reach it; without waiters, a batch applied
 * costs one length check.
 */
export class Sessions {
  readonly #host: SessionHost;
  readonly #topic: string;
  #waiters: Waiter[] = [];
  /** The last token read by `reached`, parsed: reads that carry the same token parse it once. */
  #lastToken: string | undefined;
  #lastParsed: SessionPosition | undefined;

  constructor(host: SessionHost) {
    this.#host = host;
    this.#topic = topicHash(host.topic);
  }

  /** The token of every write this instance made whose record the log acknowledged (the caller flushed first). */
  async writeToken(): Promise<string> {
    const host = this.#host;
    if (!host.offsetsUnknown()) return formatSessionToken(this.#topic, host.acked());
    // The log did not tell where it put some records: its ends now are past them.
    const offsets = await host.logOffsets();
    const ends: number[] = [];
    for (const { partition, high } of offsets) ends[partition] = high;
    for (let p = 0; p < ends.length; p++) ends[p] ??= 0;
    return formatSessionToken(this.#topic, ends);
  }

  /** The token of every record this instance applied (its read positions). */
  readToken(): string {
    return formatSessionToken(this.#topic, this.#host.positions());
  }

  /**
   * Whether this instance applied every record `token` covers. Throws `InvalidSessionTokenError`
   * for a token that is not one, of another topic, or naming a partition the topic does not have.
   */
  reached(token: string): boolean {
    let parsed = this.#lastParsed;
    if (token !== this.#lastToken || parsed === undefined) {
      parsed = this.#read(token);
      this.#lastToken = token;
      this.#lastParsed = parsed;
    }
    return this.#reached(parsed);
  }

  /** Resolves once this instance reached `token`; rejects with `CatchUpTimeoutError` after `timeout` ms. */
  wait(token: string, timeout: number, closed: boolean): Promise<void> {
    let parsed: SessionPosition;
    try {
      if (!Number.isInteger(timeout) || timeout < 1 || timeout > MAX_MS) {
        throw new InvalidArgumentError(`catchUpTo timeout must be an integer from 1 to ${MAX_MS} (ms), got ${String(timeout)}`);
      }
      parsed = this.#read(token);
      if (this.#reached(parsed)) return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
    if (closed) return Promise.reject(new CacheClosedError('the cache is closed: it reads no more records'));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        token: parsed,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters = this.#waiters.filter((other) => other !== waiter);
          reject(
            new CatchUpTimeoutError(
              `this instance did not reach session token "${token}" within ${timeout} ms${this.#host.describeLag()}; it keeps reading, a later call can succeed`,
              { retriable: true },
            ),
          );
        }, timeout),
      };
      this.#waiters.push(waiter);
    });
  }

  /** The read positions moved: settles the waiters they reached. */
  passed(): void {
    if (this.#waiters.length === 0) return;
    const waiting: Waiter[] = [];
    for (const waiter of this.#waiters) {
      let reached: boolean;
      try {
        reached = this.#reached(waiter.token);
      } catch (error) {
        clearTimeout(waiter.timer);
        waiter.reject(error as NearCacheError);
        continue;
      }
      if (!reached) {
        waiting.push(waiter);
        continue;
      }
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
    this.#waiters = waiting;
  }

  /** The cache closed: waiters reject with `CacheClosedError`. */
  closed(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new CacheClosedError('the cache was closed before it reached the session token'));
    }
  }

  /**
   * Whether a read with these options may answer from the local entries: `after` reached, and
   * staleness within `maxStaleness`. When the confirmation is older than half the bound, asks the
   * log for its ends, so that the next reads find it fresh. Throws a typed error on bad options.
   */
  admits(options: ReadOptions): boolean {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError(`read options must be an object such as { maxStaleness: 1000 } or { after: token }, got ${String(options)}`);
    }
    const { after, maxStaleness } = options;
    if (maxStaleness !== undefined && (typeof maxStaleness !== 'number' || !(maxStaleness >= 0) || maxStaleness > MAX_MS)) {
      throw new InvalidArgumentError(`maxStaleness must be a number of ms from 0 to ${MAX_MS}, got ${String(maxStaleness)}`);
    }
    if (after !== undefined && after !== '' && !this.reached(after)) return false;
    if (maxStaleness === undefined) return true;
    const host = this.#host;
    const now = host.clock.now();
    const staleness = host.staleness(now);
    if (staleness > maxStaleness / 2) host.refresh(now);
    return staleness <= maxStaleness;
  }

  #read(token: unknown): SessionPosition {
    const parsed = parseSessionToken(token);
    if (parsed.topic !== this.#topic)
      throw new InvalidSessionTokenError(`session token "${String(token)}" belongs to another topic than "${this.#host.topic}"`);
    return parsed;
  }

  #reached(token: SessionPosition): boolean {
    const partitions = this.#host.partitions();
    const positions = this.#host.positions();
    const pairs = token.positions;
    for (let i = 0; i < pairs.length; i++) {
      const { partition, position } = pairs[i]!;
      if (partitions === 0) return false;
      if (partition >= partitions) {
        throw new InvalidSessionTokenError(`the session token names partition ${partition}, but topic "${this.#host.topic}" has ${partitions} partitions`);
      }
      if (positions[partition]! < position) return false;
    }
    return true;
  }
}
