// The facade: one short method per public operation, each handing over to a part. It runs past
// 400 lines because the public API, documented here, is that large.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Clock } from '../clock.js';
import { CacheClosedError, InvalidArgumentError, LogUnavailableError, NearCacheError } from '../errors.js';
import type { ReplicationLog, ReplicationLogFactory } from '../log/port.js';
import type { Logger } from '../logger.js';
import type { ResolvedOptions } from '../options.js';
import { partitionFor } from '../partitioner.js';
import type { LogRecord, RejectReason } from '../record.js';
import { withDeadline } from '../retry.js';
import { RecordApplier } from './apply.js';
import { LoadFences } from './fences.js';
import { checkFleetWait, FleetFlight, type FleetTurn } from './fleet-flight.js';
import type { CacheLease } from './lease.js';
import { asNearCacheError, checkKey, checkLoadOptions, checkTags, checkTtl } from './input.js';
import { Lifecycle } from './lifecycle.js';
import { LocalStore } from './local-store.js';
import { LocalWrites } from './local-writes.js';
import { LogFollower } from './log-follower.js';
import { NearCacheNamespace } from './namespace.js';
import { Publisher } from './outgoing.js';
import { Reporter } from './reporter.js';
import { Sessions } from './sessions.js';
import { guard, SingleFlight } from './single-flight.js';
import { CacheCounters } from './stats.js';
import type {
  CacheState,
  CacheStats,
  LeaseOptions,
  NearCacheEvents,
  ReadOptions,
  RecordPosition,
  SetOptions,
  StaleServed,
  WrapOptions,
  WriteOptions,
} from './types.js';
import { WriteShield } from './write-shield.js';
import { snapshotReadOf, snapshotsOf, type Snapshots } from '../snapshot/wiring.js';
import { tagsKey, traceWrap, traceWrite, wrapChannel, writeChannel, type TraceSource } from '../telemetry/channels.js';

/** The shortest deadline for stopping a start still running and for closing the log, in ms, whatever `closeTimeout` says. */
const MIN_CLOSE_DEADLINE = 1000;

/**
 * The replicated cache: the public API over its parts (see docs/architecture.md). The local
 * store holds the entries; writes go through the write shield to the publisher; the log
 * follower feeds the record applier; the reporter tells what happens. Create it with `createNearCache`.
 */
export class NearCache<V = unknown> extends EventEmitter {
  readonly #options: ResolvedOptions<V>;
  readonly #clock: Clock;
  readonly #store: LocalStore<V>;
  readonly #log: ReplicationLog;
  readonly #shield: WriteShield;
  readonly #fences: LoadFences;
  readonly #follower: LogFollower;
  readonly #publisher: Publisher;
  readonly #applier: RecordApplier<V>;
  readonly #reporter: Reporter;
  readonly #counters = new CacheCounters();
  readonly #id: string;
  /** Carried by this instance's records: its id plus a nonce of this start, so a restart with the same id is another writer. */
  readonly #origin: string;
  readonly #writes: LocalWrites<V>;
  readonly #loads: SingleFlight<V>;
  readonly #fleet: FleetFlight<V>;
  readonly #sessions: Sessions;
  /** Local snapshots (option `snapshot`), or undefined. */
  readonly #snapshots: Snapshots<V> | undefined;
  /** What the tracing channels tell of this cache (docs/operations.md). */
  readonly #trace: TraceSource;

  readonly #lifecycle: Lifecycle;
  #closing = false;
  #closePromise: Promise<void> | undefined;
  readonly #started: Promise<void>;

  /** @internal Use `createNearCache`: it checks the options and builds the log. */
  constructor(options: ResolvedOptions<V>, log: ReplicationLogFactory) {
    super();
    this.#options = options;
    this.#clock = options.clock;
    this.#id = options.instanceId;
    this.#origin = `${options.instanceId}.${randomBytes(4).toString('hex')}`;
    this.#trace = { cache: this, topic: options.topic };
    this.#reporter = new Reporter(this, options.logger, options.topic, options.clock);
    const lifecycle = (this.#lifecycle = new Lifecycle(this, (error) => this.#report(error)));
    // First what a start waits for, so that it goes on while the LRU is built (its arrays for
    // `max` entries): the snapshot file's read, and the log (a Kafka log starts loading its client).
    const snapshotRead = snapshotReadOf(options);
    this.#log = log({
      topic: options.topic,
      instanceId: this.#origin,
      maxKeyBytes: options.maxKeyBytes,
      maxValueBytes: options.maxValueBytes,
      logger: options.logger,
      closeTimeout: Math.max(options.closeTimeout, MIN_CLOSE_DEADLINE),
    });
    this.#store = new LocalStore<V>({
      max: options.max,
      maxBytes: options.maxBytes,
      maxTtl: options.maxTtl,
      maxKeyBytes: options.maxKeyBytes,
      codec: options.codec,
      clock: options.clock,
      undecodable: (from, detail) => this.#reject(from, 'decode-failed', detail),
    });
    const logPartitioner = this.#log.partitionFor?.bind(this.#log) ?? partitionFor;
    const partitions = () => this.#follower.partitions;
    const partitionOf = (key: string) => logPartitioner(key, this.#follower.partitions);
    this.#shield = new WriteShield(partitions);
    const fenceHost = { pending: (key: string) => this.#shield.isPending(key), partitionOf, partitions, unapplied: (p: number) => this.#follower.unapplied(p) };
    this.#fences = new LoadFences({ ...fenceHost, correct: (key, state, from) => this.#writes.correct(key, state, from) });
    this.#follower = new LogFollower(
      this.#log,
      {
        closed: () => lifecycle.state === 'closed',
        bootstrapped: () => lifecycle.bootstrapped,
        started: () => {
          lifecycle.setState('bootstrapping');
          this.#publisher.queue.start();
        },
        resume: options.snapshot && ((partitions, offsets) => this.#snapshots!.resume(partitions, offsets)),
        caughtUp: () => {
          lifecycle.caughtUp();
          this.#snapshots?.live();
        },
        apply: options.snapshot
          ? (record: LogRecord) => {
              this.#snapshots!.saw(record.timestamp);
              this.#applier.apply(record);
            }
          : (record: LogRecord) => this.#applier.apply(record),
        passed: (partition, position) => {
          this.#shield.passed(partition, position);
          this.#sessions.passed();
        },
        degrade: (reason, error) => lifecycle.degrade(reason, error),
        recover: (reason) => lifecycle.recover(reason),
        consumerDegraded: () => lifecycle.consumerDegraded,
        report: (error, repeat) => this.#report(error, repeat),
        fail: (error) => {
          // Closing starts first, and the state is `closed` before ready() rejects: whoever
          // sees the rejection sees a closed cache (its clients are still being stopped).
          void this.close();
          lifecycle.failed(error);
        },
      },
      { stallTimeout: options.stallTimeout, lagPollInterval: options.lagPollInterval, logger: options.logger, clock: options.clock },
    );
    const loads = () => this.#loads;
    this.#fleet = new FleetFlight<V>({
      get loads() {
        return loads();
      },
      clock: options.clock,
      origin: this.#origin,
      fleetWait: options.fleetWait,
      eligible: (key) => !this.#closing && lifecycle.state === 'live' && options.mode === 'replicate' && (options.filter === undefined || options.filter(key)),
      claim: (key, deadline, release) => this.#writes.claim(key, deadline, release),
      peek: (key) => this.#store.peek(key),
      partitionOf,
      partitions,
    });
    this.#applier = new RecordApplier<V>({
      ...options,
      origin: this.#origin,
      trace: this.#trace,
      store: this.#store,
      shield: this.#shield,
      fences: this.#fences,
      rounds: this.#fleet,
      reporter: this.#reporter,
      partitions,
      partitionOf,
      bootstrapped: () => lifecycle.bootstrapped,
      reject: (record, reason, detail) => this.#reject(record, reason, detail),
    });
    this.#publisher = new Publisher({
      ...options,
      log: this.#log,
      shield: this.#shield,
      origin: this.#origin,
      codecName: options.codec.name,
      partitions,
      partitionOf,
      dropped: (write, error) =>
        this.#report(new NearCacheError(`the log refused the ${write.op} of "${write.key}"; it is applied on this instance only`, { cause: error })),
      released: (write) => this.#fences.released(write.key, write.writeId),
      failing: (error) => lifecycle.degrade('producer', error),
      recovered: () => lifecycle.recover('producer'),
    });
    this.#writes = new LocalWrites<V>({
      options,
      store: this.#store,
      shield: this.#shield,
      fences: this.#fences,
      publisher: this.#publisher,
      applier: this.#applier,
      counters: this.#counters,
      reporter: this.#reporter,
      assertWritable: () => this.#assertWritable(),
    });
    this.#loads = new SingleFlight<V>(this.#writes, this.#fences, {
      open: () => !this.#closing && lifecycle.state !== 'closed',
      refused: (key, error) => this.#reporter.refusedLoad(key, asNearCacheError(error), (e) => this.#report(e)),
      staleServed: (served) => this.#staleServed(served),
      refreshing: () => this.#counters.refreshes++,
      clock: options.clock,
      trace: this.#trace,
    });
    const follower = this.#follower;
    this.#sessions = new Sessions({
      topic: options.topic,
      clock: options.clock,
      partitions,
      positions: () => follower.positions,
      describeLag: () => follower.describeLag(),
      staleness: (now) => follower.staleness(now),
      refresh: (now) => follower.refresh(now),
      acked: () => this.#publisher.acked,
      offsetsUnknown: () => this.#publisher.offsetsUnknown,
      logOffsets: () => this.#log.offsets(),
    });
    this.#snapshots = snapshotsOf(
      options,
      {
        emitter: this,
        origin: this.#origin,
        store: this.#store,
        fences: this.#fences,
        log: this.#log,
        closed: () => lifecycle.state === 'closed',
        bootstrapped: () => lifecycle.bootstrapped,
        idle: () => this.#shield.idle,
        partitions,
        unapplied: (p) => follower.unapplied(p),
        staleness: (now) => follower.staleness(now),
      },
      snapshotRead,
    );
    this.#started = this.#follower.start();
  }

  /** This instance's id (the `instanceId` option, or a random UUID). */
  get instanceId(): string {
    return this.#id;
  }

  /** The origin written in this instance's records and its consumer group suffix: the instance id and a nonce of this start. */
  get origin(): string {
    return this.#origin;
  }

  get state(): CacheState {
    return this.#lifecycle.state;
  }

  /** The topic this cache replicates through. */
  get topic(): string {
    return this.#options.topic;
  }

  /** The logger this cache writes to (the `logger` option), for adapters that log beside it. */
  get logger(): Logger {
    return this.#options.logger;
  }

  /** Size limits of keys and encoded values, for adapters that check input up front. */
  get limits(): { maxKeyBytes: number; maxValueBytes: number } {
    return { maxKeyBytes: this.#options.maxKeyBytes, maxValueBytes: this.#options.maxValueBytes };
  }

  /**
   * Whether this instance holds every live key of the records it applied: it caught up once,
   * stores remote values (`mode: 'replicate'`, no key `filter`) and never evicted an entry
   * (`max`, `maxBytes`). The HTTP invalidation helpers then delete the keys they find instead
   * of writing prefix clears, which every later start-up would apply.
   */
  get holdsEveryKey(): boolean {
    return this.#lifecycle.bootstrapped && this.#store.evictions === 0 && this.#options.mode === 'replicate' && this.#options.filter === undefined;
  }

  /** Whether this cache signs its records and rejects unsigned ones (the `signing` option). */
  get signed(): boolean {
    return this.#options.signer !== undefined;
  }

  // ---------------------------------------------------------------------------------------
  // Reads: synchronous, local, no allocation on a hit.

  /**
   * The value of `key`, or `undefined`. Never leaves the process. The returned object is the
   * cached one, shared by every caller: treat it as read-only. With `options.after` (a session
   * token) or `options.maxStaleness`, answers `undefined` (a miss) unless this instance shows it
   * is that fresh (docs/consistency.md).
   */
  get(key: string, options?: ReadOptions): V | undefined {
    // The read with options lives in a method of its own: this one stays as small as it was.
    return options === undefined ? this.#store.get(key) : this.#getFresh(key, options);
  }

  #getFresh(key: string, options: ReadOptions): V | undefined {
    if (this.#sessions.admits(options)) return this.#store.get(key);
    this.#store.missed(key);
    return undefined;
  }

  /** Whether `key` has a live entry here. Does not count as a hit or a miss, and does not make the entry recently used. */
  has(key: string): boolean {
    checkKey(key, this.#options.maxKeyBytes);
    return this.#store.has(key);
  }

  /** Keys of the live entries here, most recently used first. */
  *keys(): IterableIterator<string> {
    yield* this.#store.keys();
  }

  /** Live entries here, most recently used first. Reading them does not change their order. */
  *entries(): IterableIterator<[string, V]> {
    yield* this.#store.entries(this.#lifecycle.bootstrapped);
  }

  /** Number of entries held here (expired ones may count until they are read). */
  get size(): number {
    return this.#store.size;
  }

  // ---------------------------------------------------------------------------------------
  // Writes: applied here at once, then replicated.

  /**
   * Stores `value` here at once and queues it for the log. Resolves at once (or, with
   * `durable`, when the log acknowledged it). A bad key, value or option rejects with a typed
   * error and changes nothing.
   */
  set(key: string, value: V, options?: SetOptions): Promise<void> {
    if (writeChannel.hasSubscribers) return traceWrite(this.#trace, 'set', key, options?.durable, () => this.#set(key, value, options));
    return this.#set(key, value, options);
  }

  #set(key: string, value: V, options: SetOptions | undefined): Promise<void> {
    try {
      const written = this.#writes.set(key, value, options);
      this.#writes.held = undefined as V;
      return written;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Removes `key` here at once and writes a tombstone, so every instance drops it. */
  delete(key: string, options?: WriteOptions): Promise<void> {
    if (writeChannel.hasSubscribers) return traceWrite(this.#trace, 'delete', key, options?.durable, () => this.#delete(key, options));
    return this.#delete(key, options);
  }

  #delete(key: string, options: WriteOptions | undefined): Promise<void> {
    try {
      return this.#writes.delete(key, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Removes every entry, here at once and on every instance. */
  clear(options?: WriteOptions): Promise<void> {
    return this.clearPrefix('', options);
  }

  /** Removes every entry whose key starts with `prefix`, here at once and on every instance. */
  clearPrefix(prefix: string, options?: WriteOptions): Promise<void> {
    if (writeChannel.hasSubscribers) return traceWrite(this.#trace, 'clear', prefix, options?.durable, () => this.#clearPrefix(prefix, options));
    return this.#clearPrefix(prefix, options);
  }

  #clearPrefix(prefix: string, options: WriteOptions | undefined): Promise<void> {
    try {
      return this.#writes.clearPrefix(prefix, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Removes every entry carrying one of `tags` (see the `tags` option of `set` and `wrap`), here at
   * once and on every instance, also from what an instance starting later reads from the log. A
   * set carrying a tag after this call is kept (docs/consistency.md, section 17).
   */
  invalidateTags(tags: readonly string[], options?: WriteOptions): Promise<void> {
    if (writeChannel.hasSubscribers)
      return traceWrite(this.#trace, 'invalidate-tags', tagsKey(tags), options?.durable, () => this.#invalidateTags(tags, options));
    return this.#invalidateTags(tags, options);
  }

  #invalidateTags(tags: readonly string[], options: WriteOptions | undefined): Promise<void> {
    try {
      return this.#writes.invalidateTags(tags, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Get-or-load: the cached value of `key`, or the result of `loader`, which is then cached.
   * Concurrent calls for one key share one `loader` call. A loader error is passed on and never
   * cached; an `undefined` result is returned and not cached. If the result cannot be cached
   * (the codec refuses it, it is too large), it is still returned and the problem is reported
   * on the `error` event, or, when nothing listens, logged as a warning once per key. Under a codec that is not exact (such as `jsonCodec()`), the result
   * returned is the decoded copy this and every other instance holds, not the loader's object.
   *
   * `grace`, `softTimeout`, `hardTimeout` and `refreshAhead` keep an expired value as a fallback
   * for a failing or slow loader, bound the wait, and refresh a hit before it expires
   * (docs/consistency.md, sections 14 to 16). `fleetWait` (or the cache's option) makes instances
   * missing the key together load it once for the fleet (section 18).
   */
  wrap<T extends V>(key: string, loader: () => T | Promise<T>, options?: WrapOptions): Promise<T> {
    if (wrapChannel.hasSubscribers) return traceWrap(this.#trace, key, () => this.#wrap(key, loader, options));
    return this.#wrap(key, loader, options);
  }

  #wrap<T extends V>(key: string, loader: () => T | Promise<T>, options: WrapOptions | undefined): Promise<T> {
    let hit: V | undefined;
    let guarded = false;
    try {
      checkKey(key, this.#options.maxKeyBytes);
      if (typeof loader !== 'function') throw new InvalidArgumentError('wrap() needs a loader function');
      if (options !== undefined) {
        if (options.ttl !== undefined) checkTtl(options.ttl);
        if (options.tags !== undefined) checkTags(options.tags, this.#options.maxKeyBytes);
        if (options.fleetWait !== undefined) checkFleetWait(options.fleetWait);
        guarded = checkLoadOptions(options);
      }
      // A hit that is not fresh enough (`after`, `maxStaleness`) is a miss: the loader runs.
      hit = options?.after === undefined && options?.maxStaleness === undefined ? this.get(key) : this.get(key, options);
    } catch (error) {
      return Promise.reject(error);
    }
    if (guarded) return this.#wrapGuarded(key, loader, hit, options!);
    if (hit !== undefined) return Promise.resolve(hit as T);
    return this.#fleet.load(key, loader, options);
  }

  /** `wrap` with grace, loader timeouts or early refresh: kept apart, so that a plain `wrap` does no more than before. */
  #wrapGuarded<T extends V>(key: string, loader: () => T | Promise<T>, hit: V | undefined, options: WrapOptions): Promise<T> {
    if (hit !== undefined) {
      const part = options.refreshAhead;
      const ttl = options.ttl ?? this.#options.ttl;
      // Past `part` of its ttl (what is left is at most the rest): one background load refreshes it.
      if (part !== undefined && ttl > 0 && this.#store.freshFor(key) <= ttl * (1 - part)) this.#loads.refresh(key, loader, options);
      return Promise.resolve(hit as T);
    }
    // Only calls that keep values in grace fall back on them.
    const stale = options.grace === undefined || options.grace === 0 ? undefined : this.#store.stale(key);
    return this.#fleet.guarded(key, loader, options, stale);
  }

  /**
   * Begins a fenced load of `key` for code that runs its own loads (what `wrap` does inside): take
   * the lease before loading, then `fill` it with the result, or `release` it. The value is cached
   * only if no write of the key came after the lease was taken (docs/consistency.md, section 11).
   * The load is traced on `nearcache:load` from the lease to its end, unless `trace` is false (a
   * second lease of one load, such as the HTTP caches take for a response's variant).
   */
  lease(key: string, options?: LeaseOptions): CacheLease<V> {
    checkKey(key, this.#options.maxKeyBytes);
    const trace = options?.trace;
    if (trace !== undefined && typeof trace !== 'boolean') throw new InvalidArgumentError(`lease() option trace must be a boolean, got ${typeof trace}`);
    return this.#loads.lease(key, trace !== false);
  }

  /**
   * For code that runs its own loads (with a lease, as the Nest `@Cached` decorator does): what
   * `wrap` does around its loader with `grace`, `softTimeout` and `hardTimeout` (docs/consistency.md,
   * sections 14 and 15). Resolves with `load`'s value if it comes in time, else with the key's
   * value in grace (reported as `wrap` reports it), else rejects with `load`'s error or
   * `LoaderTimeoutError`. Bad options reject with `InvalidArgumentError`.
   */
  guardLoad<T extends V>(key: string, load: Promise<T>, options: Pick<WrapOptions, 'grace' | 'softTimeout' | 'hardTimeout'>): Promise<T> {
    let stale;
    try {
      checkKey(key, this.#options.maxKeyBytes);
      checkLoadOptions(options);
      stale = options.grace === undefined || options.grace === 0 ? undefined : this.#store.stale(key);
    } catch (error) {
      return Promise.reject(error);
    }
    return guard(key, load, options, stale, { clock: this.#clock, staleServed: (served) => this.#staleServed(served) });
  }

  /**
   * Fleet-wide single flight for code that runs its own loads (as `wrap` does with `fleetWait`;
   * docs/consistency.md, section 18). Returns undefined when `fleetWait` (default: the cache's
   * option) is 0 or the fleet cannot be asked: load as usual. Else resolves with the key's value
   * loaded by another instance, or with `value` undefined once this caller is to load; call the
   * turn's `done()` when that load ended (after `fill` or `release` of its lease). Bad options
   * throw `InvalidArgumentError`.
   */
  fleetTurn(key: string, options?: { fleetWait?: number }): Promise<FleetTurn<V>> | undefined {
    checkKey(key, this.#options.maxKeyBytes);
    if (options?.fleetWait !== undefined) checkFleetWait(options.fleetWait);
    return this.#fleet.turn(key, options?.fleetWait);
  }

  /** How long the entry of `key` stays fresh here, in ms: Infinity without expiry, 0 without a live entry (for `refreshAhead` in adapters). */
  remainingTtl(key: string): number {
    checkKey(key, this.#options.maxKeyBytes);
    return this.#store.freshFor(key);
  }

  /** A view of this cache whose keys are all prefixed with `prefix`. */
  namespace(prefix: string): NearCacheNamespace<V> {
    if (typeof prefix !== 'string' || prefix.length === 0) throw new InvalidArgumentError('a namespace prefix must be a non-empty string');
    return new NearCacheNamespace(this, prefix);
  }

  /** Resolves when every write made so far is acknowledged by the log; rejects with `ReplicationTimeoutError` after `flushTimeout`. */
  flush(options: { timeout?: number } = {}): Promise<void> {
    const timeout = options.timeout ?? this.#options.flushTimeout;
    if (!Number.isInteger(timeout) || timeout < 1)
      return Promise.reject(new InvalidArgumentError(`flush timeout must be an integer >= 1 (ms), got ${String(timeout)}`));
    if (this.#lifecycle.state === 'closed')
      return Promise.reject(new CacheClosedError('the cache is closed; writes not replicated before close() were dropped'));
    return this.#publisher.queue.flush(timeout);
  }

  // ---------------------------------------------------------------------------------------
  // Sessions across instances and staleness (docs/consistency.md).

  /**
   * A session token covering every write made on this instance so far: resolves once the log
   * acknowledged them (as `flush()`, and with its errors). Another instance given the token
   * (`catchUpTo`, or the read option `after`) reads these writes or later ones.
   */
  async sessionToken(options: { timeout?: number } = {}): Promise<string> {
    await this.flush(options);
    return this.#sessions.writeToken();
  }

  /** A session token covering every record this instance applied: reads elsewhere with it as `after` do not go back in time. */
  readToken(): string {
    return this.#sessions.readToken();
  }

  /** Whether this instance applied every record `token` covers. Throws `InvalidSessionTokenError` for a bad token. */
  isCaughtUpTo(token: string): boolean {
    return this.#sessions.reached(token);
  }

  /**
   * Resolves once this instance applied every record `token` covers. Rejects with
   * `CatchUpTimeoutError` (retriable) after `timeout` (default `flushTimeout`), with
   * `InvalidSessionTokenError` for a bad token, with `CacheClosedError` once closed.
   */
  catchUpTo(token: string, options: { timeout?: number } = {}): Promise<void> {
    return this.#sessions.wait(token, options.timeout ?? this.#options.flushTimeout, this.#closing || this.#lifecycle.state === 'closed');
  }

  /**
   * Ms since this instance was last confirmed to have applied every record the log held then:
   * what `maxStaleness` is compared with. Infinity until the first confirmation.
   */
  staleness(): number {
    return this.#follower.staleness(this.#clock.now());
  }

  // ---------------------------------------------------------------------------------------
  // Lifecycle.

  /**
   * Resolves once this instance applied every record up to the end offsets captured at start.
   * Rejects with `BootstrapTimeoutError` after `timeout` (default `bootstrapTimeout`); the cache
   * keeps trying, and a later `ready()` can still resolve. Rejects with the start error if the
   * start failed for good (a topic that is not compacted, for example).
   */
  ready(options: { timeout?: number } = {}): Promise<void> {
    return this.#lifecycle.ready(options.timeout ?? this.#options.bootstrapTimeout, this.topic, () => this.#follower.describeLag());
  }

  /**
   * Flushes queued writes (waiting at most `closeTimeout`), stops the consumer and disconnects.
   * Leaves no timer or socket behind. Reads still answer from local entries afterwards; writes
   * reject with `CacheClosedError`.
   */
  close(): Promise<void> {
    this.#closePromise ??= this.#close();
    return this.#closePromise;
  }

  /** Counters and replication positions. */
  stats(): CacheStats {
    const store = this.#store;
    const counters = this.#counters;
    const queue = this.#publisher.queue;
    return {
      state: this.#lifecycle.state,
      instanceId: this.#id,
      topic: this.#options.topic,
      log: this.#log.kind,
      mode: this.#options.mode,
      entries: store.size,
      bytes: store.bytes,
      hits: store.hits,
      misses: store.misses,
      evictions: store.evictions,
      sets: counters.sets,
      deletes: counters.deletes,
      clears: counters.clears,
      staleServed: counters.staleServed,
      refreshes: counters.refreshes,
      queue: { depth: queue.depth, inFlight: queue.inFlight },
      records: counters.records(this.#follower.applied, this.#follower.replayed),
      partitions: this.#follower.partitionStats(this.#clock.now()),
      startError: this.#lifecycle.startError,
      ...(this.#snapshots && { snapshot: this.#snapshots.stats }),
    };
  }

  // ---------------------------------------------------------------------------------------
  // State and reporting.

  #reject(record: RecordPosition, reason: RejectReason, detail: string): void {
    const info = { partition: record.partition, offset: record.offset, reason, detail };
    this.#counters.rejected(info);
    this.#reporter.rejected(info);
  }

  #staleServed(served: StaleServed): void {
    this.#counters.staleServed++;
    this.#reporter.stale(served);
  }

  #report(error: NearCacheError, repeat = false): void {
    this.#lifecycle.reported(error);
    this.#reporter.error(error, repeat);
  }

  async #close(): Promise<void> {
    this.#closing = true;
    this.#fleet.closed();
    this.#follower.stop();
    const deadline = Math.max(this.#options.closeTimeout, MIN_CLOSE_DEADLINE);
    // A start still connecting is abandoned after closeTimeout; the log's close() below ends it.
    await withDeadline(this.#started, deadline, () => new LogUnavailableError('start still running')).catch(() => undefined);
    const left = await this.#publisher.queue.close(this.#lifecycle.fatal ? 0 : this.#options.closeTimeout);
    if (left > 0) this.#options.logger.warn(`closed with ${left} writes not replicated to topic "${this.topic}"`);
    // With writes left unreplicated the entries are not what the log says: no snapshot, no wait.
    await this.#snapshots?.close(left > 0 ? 0 : this.#options.closeTimeout);
    try {
      await withDeadline(this.#log.close(), deadline, () => new LogUnavailableError('closing the log timed out'));
    } catch (error) {
      this.#report(asNearCacheError(error));
    }
    this.#lifecycle.closed();
    this.#sessions.closed();
  }

  #assertWritable(): void {
    if (this.#closing || this.#lifecycle.state === 'closed') {
      throw new CacheClosedError(this.#lifecycle.fatal ? `the cache stopped: ${this.#lifecycle.fatal.message}` : 'the cache is closed', {
        cause: this.#lifecycle.fatal,
      });
    }
  }
}

// The typed events merge into the class: its type parameter must be declared here too.
// eslint-disable-next-line @typescript-eslint/no-unused-vars
export interface NearCache<V = unknown> {
  on<E extends keyof NearCacheEvents>(event: E, listener: (...args: NearCacheEvents[E]) => void): this;
  once<E extends keyof NearCacheEvents>(event: E, listener: (...args: NearCacheEvents[E]) => void): this;
  off<E extends keyof NearCacheEvents>(event: E, listener: (...args: NearCacheEvents[E]) => void): this;
  emit<E extends keyof NearCacheEvents>(event: E, ...args: NearCacheEvents[E]): boolean;
}
