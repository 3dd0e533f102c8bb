import type { Clock } from '../clock.js';
import { InvalidArgumentError } from '../errors.js';
import type { ResolvedOptions } from '../options.js';
import { claimRecordKey, clearRecordKey, tagRecordKey } from '../record.js';
import type { RecordApplier } from './apply.js';
import type { Fence, KeyState, LoadFences } from './fences.js';
import { checkGrace, checkKey, checkTag, checkTags, checkTtl, decodeOwnValue, encodeValue } from './input.js';
import type { LocalStore } from './local-store.js';
import type { Publisher } from './outgoing.js';
import type { Reporter } from './reporter.js';
import type { CacheCounters } from './stats.js';
import type { FillOptions, SetOptions, WriteOptions } from './types.js';
import type { WriteShield } from './write-shield.js';

const RESOLVED = Promise.resolve();

export interface LocalWritesParts<V> {
  options: ResolvedOptions<V>;
  store: LocalStore<V>;
  shield: WriteShield;
  fences: LoadFences;
  publisher: Publisher;
  applier: RecordApplier<V>;
  counters: CacheCounters;
  reporter: Reporter;
  /** Throws `CacheClosedError` once the cache is closing. */
  assertWritable(): void;
}

/**
 * Sets, deletes and clears made on this instance: checked (a bad key, value or option throws a
 * typed error and changes nothing), applied to the local store at once, shielded until their
 * record comes back, and queued for the log. Each method throws; the facade turns throws into
 * rejections.
 */
export class LocalWrites<V> {
  readonly #p: LocalWritesParts<V>;
  readonly #options: ResolvedOptions<V>;
  readonly #clock: Clock;
  /** Whether the codec gives back exactly what it encodes: the writer then keeps the value it was given, else the decoded copy. */
  readonly #keepGiven: boolean;
  #writeSeq = 0;
  /**
   * The value the last `set` stored: `value` itself under an exact codec, else the codec's
   * decoded copy (what every other instance reads). Read and reset by the caller.
   */
  held: V = undefined as V;

  constructor(parts: LocalWritesParts<V>) {
    this.#p = parts;
    this.#options = parts.options;
    this.#clock = parts.options.clock;
    this.#keepGiven = parts.options.codec.exact === true;
  }

  set(key: string, value: V, options: SetOptions | undefined): Promise<void> {
    const p = this.#p;
    p.assertWritable();
    checkKey(key, this.#options.maxKeyBytes);
    const ttl = options?.ttl === undefined ? this.#options.ttl : checkTtl(options.ttl);
    const tags = options?.tags === undefined ? undefined : checkTags(options.tags, this.#options.maxKeyBytes);
    const bytes = encodeValue(this.#options.codec, this.#options.maxValueBytes, key, value);
    const held = this.#keepGiven ? value : decodeOwnValue(this.#options.codec, key, bytes);
    const queue = p.publisher.queue;
    queue.admit(key);
    const writeId = ++this.#writeSeq;
    const expiresAt = ttl > 0 ? this.#clock.now() + ttl : 0;
    p.shield.wroteKey(key, writeId);
    p.fences.wrote(key);
    p.store.store(key, held as {}, expiresAt, bytes.length + key.length, 0, tags);
    const write = queue.enqueue({ queueKey: key, writeId, waiters: undefined, op: 'set', key, value: bytes, expiresAt, tags });
    p.counters.sets++;
    p.reporter.change('set', key, 'local');
    const written = options?.durable ? queue.acknowledged(write, this.#options.flushTimeout) : RESOLVED;
    this.held = held;
    return written;
  }

  delete(key: string, options: WriteOptions | undefined): Promise<void> {
    const p = this.#p;
    p.assertWritable();
    checkKey(key, this.#options.maxKeyBytes);
    const queue = p.publisher.queue;
    queue.admit(key);
    const writeId = ++this.#writeSeq;
    p.shield.wroteKey(key, writeId);
    p.fences.wrote(key);
    p.store.delete(key);
    const write = queue.enqueue({ queueKey: key, writeId, waiters: undefined, op: 'delete', key, value: null, expiresAt: 0 });
    p.counters.deletes++;
    p.reporter.change('delete', key, 'local');
    return options?.durable ? queue.acknowledged(write, this.#options.flushTimeout) : RESOLVED;
  }

  clearPrefix(prefix: string, options: WriteOptions | undefined): Promise<void> {
    const p = this.#p;
    p.assertWritable();
    if (typeof prefix !== 'string') throw new InvalidArgumentError(`a clear prefix must be a string, got ${typeof prefix}`);
    if (Buffer.byteLength(prefix) > this.#options.maxKeyBytes) {
      throw new InvalidArgumentError(`a clear prefix may have at most maxKeyBytes (${this.#options.maxKeyBytes}) bytes`);
    }
    const queueKey = clearRecordKey(prefix);
    const queue = p.publisher.queue;
    queue.admit(queueKey);
    const writeId = ++this.#writeSeq;
    p.shield.wroteClear(prefix, writeId);
    p.fences.wroteClear(prefix);
    p.applier.wipe(prefix, undefined, undefined);
    const write = queue.enqueue({ queueKey, writeId, waiters: undefined, op: 'clear', key: prefix, value: null, expiresAt: 0 });
    p.counters.clears++;
    p.reporter.change('clear', prefix, 'local');
    return options?.durable ? queue.acknowledged(write, this.#options.flushTimeout) : RESOLVED;
  }

  /**
   * Removes every entry carrying one of `tags`, here at once, and writes one tag invalidation per
   * tag (to every partition), which every instance applies to the tagged entries written before it.
   */
  invalidateTags(tags: readonly string[], options: WriteOptions | undefined): Promise<void> {
    const p = this.#p;
    p.assertWritable();
    if (!Array.isArray(tags)) throw new InvalidArgumentError(`invalidateTags() takes an array of tags, got ${tags === null ? 'null' : typeof tags}`);
    const distinct = [...new Set(tags.map((tag) => checkTag(tag, this.#options.maxKeyBytes)))];
    const queue = p.publisher.queue;
    const written: Promise<void>[] = [];
    for (const tag of distinct) {
      const queueKey = tagRecordKey(tag);
      queue.admit(queueKey);
      const writeId = ++this.#writeSeq;
      p.shield.wroteTag(tag, writeId);
      p.fences.wroteTag(tag);
      p.applier.wipeTag(tag, undefined, undefined);
      const write = queue.enqueue({ queueKey, writeId, waiters: undefined, op: 'tag', key: tag, value: null, expiresAt: 0 });
      p.counters.clears++;
      if (options?.durable) written.push(queue.acknowledged(write, this.#options.flushTimeout));
    }
    return written.length === 0 ? RESOLVED : Promise.all(written).then(() => undefined);
  }

  /**
   * Stores the value a load of `key` returned, as `set` does, and queues it as a fenced record
   * (see fences.ts). Not shielded: a record of the key read before it comes back wins (it makes
   * the fenced record stale). The caller checked that the fence has no conflict.
   */
  fill(key: string, value: V, options: FillOptions | undefined, fence: Fence): Promise<void> {
    const p = this.#p;
    p.assertWritable();
    const ttl = options?.ttl === undefined ? this.#options.ttl : checkTtl(options.ttl);
    const grace = options?.grace === undefined ? 0 : checkGrace(options.grace);
    const tags = options?.tags === undefined ? undefined : checkTags(options.tags, this.#options.maxKeyBytes);
    const bytes = encodeValue(this.#options.codec, this.#options.maxValueBytes, key, value);
    const held = this.#keepGiven ? value : decodeOwnValue(this.#options.codec, key, bytes);
    const queue = p.publisher.queue;
    queue.admit(key);
    const writeId = ++this.#writeSeq;
    const expiresAt = ttl > 0 ? this.#clock.now() + ttl : 0;
    // A grace period needs an expiry to follow.
    const graceEnd = expiresAt > 0 && grace > 0 ? expiresAt + grace : 0;
    fence.writeId = writeId;
    fence.state = undefined;
    fence.tags = tags;
    p.store.store(key, held as {}, expiresAt, bytes.length + key.length, graceEnd, tags);
    const write = queue.enqueue({
      queueKey: key,
      writeId,
      waiters: undefined,
      op: 'set',
      key,
      value: bytes,
      expiresAt,
      fence: fence.from,
      ...(graceEnd > 0 ? { graceEnd } : {}),
      tags,
    });
    p.counters.sets++;
    p.reporter.change('set', key, 'local');
    const written = options?.durable ? queue.acknowledged(write, this.#options.flushTimeout) : RESOLVED;
    this.held = held;
    return written;
  }

  /**
   * Queues a claim of a fleet-wide load of `key` lapsing at `deadline`, or (`release`) the end of
   * this instance's load (docs/consistency.md, section 18). Nothing changes here. Returns its
   * write id; throws when the cache is closing or the queue is full.
   */
  claim(key: string, deadline: number, release: boolean): number {
    const p = this.#p;
    p.assertWritable();
    const queueKey = claimRecordKey(key);
    p.publisher.queue.admit(queueKey);
    const writeId = ++this.#writeSeq;
    p.publisher.queue.enqueue({ queueKey, writeId, waiters: undefined, op: 'claim', key, value: null, expiresAt: deadline, release });
    return writeId;
  }

  /**
   * Queues the correction of a stale fenced record of `key`: `state` (the key's state in the log
   * after it) as a fenced record with fence `from`. The local store already holds that state.
   * Returns the correction's fence, or undefined when it cannot be queued (closing, queue full).
   */
  correct(key: string, state: KeyState, from: number): Fence | undefined {
    const p = this.#p;
    try {
      p.assertWritable();
      p.publisher.queue.admit(key);
    } catch {
      return undefined;
    }
    const writeId = ++this.#writeSeq;
    const live = state !== null && (state.expiresAt === 0 || Math.max(state.expiresAt, state.graceEnd) > this.#clock.now());
    p.publisher.queue.enqueue({
      queueKey: key,
      writeId,
      waiters: undefined,
      op: live ? 'set' : 'delete',
      key,
      value: live ? state.bytes : null,
      expiresAt: live ? state.expiresAt : 0,
      fence: from,
      ...(live && state.graceEnd > 0 ? { graceEnd: state.graceEnd } : {}),
      ...(live && state.tags !== undefined ? { tags: state.tags } : {}),
    });
    return { key, from, writeId, conflict: false, state: undefined, tags: live ? state.tags : undefined };
  }
}
