import { InvalidSessionTokenError } from '../errors.js';
import { murmur2 } from '../partitioner.js';

/**
 * Session tokens: positions in the replication log, as a compact string that travels between
 * instances (and, through a client, between requests). A token says "every record below these
 * offsets": an instance whose read position reached each of them has applied every write the
 * token covers.
 *
 * Format, version 1: `v1.<topic>[.<partition>-<position>]...`, for example `v1.1kz3x0q.0-43.2-18`.
 * `<topic>` is the murmur2 hash of the topic name in base 36 (a token of another topic is
 * refused); each pair is a partition and the next offset after the records it covers, partitions
 * in ascending order, each once. Only `[0-9a-z.-]`: safe in an HTTP header, a URL or a cookie.
 */

/** The version this code writes. */
const VERSION = 'v1';
/** The longest token accepted, in characters (about 500 partitions). */
export const MAX_SESSION_TOKEN_LENGTH = 8192;
/** The largest partition number a token may name. */
const MAX_PARTITION = 99_999;

/** A session token, parsed. */
export interface SessionPosition {
  /** The format version (1). */
  readonly version: 1;
  /** The topic's hash, as written in the token. */
  readonly topic: string;
  /** Per partition, the next offset after the records the token covers, partitions ascending. */
  readonly positions: ReadonlyArray<{ readonly partition: number; readonly position: number }>;
}

/** The hash of `topic` written in its tokens. */
export function topicHash(topic: string): string {
  return (murmur2(Buffer.from(topic, 'utf8')) >>> 0).toString(36);
}

/** The token of `positions` (a position per partition; 0 for nothing, left out) on the topic of hash `topic`. */
export function formatSessionToken(topic: string, positions: ArrayLike<number>): string {
  let token = `${VERSION}.${topic}`;
  for (let p = 0; p < positions.length; p++) {
    const position = positions[p]!;
    if (position > 0) token += `.${p}-${position}`;
  }
  return token;
}

/**
 * Reads a session token; throws `InvalidSessionTokenError` saying what is wrong when it is not
 * one (not a string, too long, another version, malformed, partitions repeated or out of order).
 */
export function parseSessionToken(token: unknown): SessionPosition {
  if (typeof token !== 'string') throw new InvalidSessionTokenError(`a session token must be a string, got ${token === null ? 'null' : typeof token}`);
  if (token.length > MAX_SESSION_TOKEN_LENGTH) {
    throw new InvalidSessionTokenError(`a session token may have at most ${MAX_SESSION_TOKEN_LENGTH} characters, got ${token.length}`);
  }
  const parts = token.split('.');
  const version = parts[0]!;
  if (version !== VERSION) {
    throw new InvalidSessionTokenError(
      /^v\d+$/.test(version)
        ? `session token version ${version.slice(1)} is not supported (this version of nearcache reads version 1)`
        : `not a session token: it must start with "${VERSION}.", got "${shorten(token)}"`,
    );
  }
  const topic = parts[1];
  if (topic === undefined || !/^[0-9a-z]{1,7}$/.test(topic)) throw new InvalidSessionTokenError(`malformed session token "${shorten(token)}": no topic hash`);
  const positions: Array<{ partition: number; position: number }> = [];
  for (let i = 2; i < parts.length; i++) {
    const match = /^(0|[1-9]\d{0,4})-([1-9]\d{0,15})$/.exec(parts[i]!);
    const partition = match ? Number(match[1]) : NaN;
    const position = match ? Number(match[2]) : NaN;
    if (!match || partition > MAX_PARTITION || !Number.isSafeInteger(position)) {
      throw new InvalidSessionTokenError(`malformed session token "${shorten(token)}": "${shorten(parts[i]!)}" is not <partition>-<position>`);
    }
    const previous = positions[positions.length - 1];
    if (previous !== undefined && partition <= previous.partition) {
      throw new InvalidSessionTokenError(`malformed session token "${shorten(token)}": partitions must be in ascending order, each once`);
    }
    positions.push({ partition, position });
  }
  return { version: 1, topic, positions };
}

/**
 * One token covering everything the given tokens cover (the furthest position per partition):
 * what a session that wrote, or read, on several instances carries. `undefined` and `''` are
 * skipped; with nothing left, `undefined`. Tokens of different topics throw `InvalidSessionTokenError`.
 */
export function mergeSessionTokens(...tokens: Array<string | undefined>): string | undefined {
  let topic: string | undefined;
  const merged: number[] = [];
  for (const token of tokens) {
    if (token === undefined || token === '') continue;
    const parsed = parseSessionToken(token);
    if (topic !== undefined && parsed.topic !== topic) throw new InvalidSessionTokenError('cannot merge session tokens of different topics');
    topic = parsed.topic;
    for (const { partition, position } of parsed.positions) if (!(merged[partition]! >= position)) merged[partition] = position;
  }
  if (topic === undefined) return undefined;
  for (let p = 0; p < merged.length; p++) merged[p] ??= 0;
  return formatSessionToken(topic, merged);
}

function shorten(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}
