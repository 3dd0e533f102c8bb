import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { LogUnavailableError, type NearCacheError } from '../../errors.js';
import { RETRY } from '../../retry.js';
import type { ConsumeHandlers, LogBatch } from '../port.js';
import { logRecords, whileBeating } from './batch.js';
import { kafkaRetry, RestartSchedule } from './retry.js';

/** The consumer settings of a lane: caches share a lane only when these are equal. */
export interface LaneSettings {
  groupIdPrefix: string;
  sessionTimeout: number;
  heartbeatInterval: number;
  maxWaitTimeInMs: number;
  /** The rack of follower fetching (KIP-392), or none. */
  rackId: string | undefined;
}

/** How a lane reaches Kafka and reports: the connection's client, deadlines and error mapping. */
export interface LaneIo {
  kafka: Kafka;
  deadline<T>(what: string, promise: Promise<T>): Promise<T>;
  error(what: string, error: unknown): NearCacheError;
  /** How long a cache that starts consuming waits for the caches created with it (one consumer start for all), in ms. */
  gatherMs: number;
}

/** One cache reading its topic through a lane. */
export interface LaneMember {
  readonly topic: string;
  /** Fetch size this cache needs per partition (its largest record, with room). */
  readonly fetchBytes: number;
  partitions: number;
  /** Set by consume(): the member is then read by the next consumer the lane starts. */
  handlers: ConsumeHandlers | undefined;
}

/**
 * One kafkajs consumer shared by the caches of a process that read different topics with the same
 * consumer settings. It reads in a group of its own (prefix, the id of the cache that made the
 * lane, a generation) and commits nothing: on every (re)join it seeks each topic to where its
 * cache is (`startOffset`). kafkajs subscribes only before `run()`, so a cache that joins later
 * restarts the consumer, and every cache resumes at its own position: no replay, nothing skipped.
 * A cache that leaves has its topic paused; the last one stops the consumer.
 */
export class ConsumerLane {
  readonly settings: LaneSettings;
  readonly #io: LaneIo;
  readonly #groupBase: string;
  /** Every cache of the lane by topic, from its log's creation (reserved) to its close. */
  readonly #members = new Map<string, LaneMember>();
  #consumer: Consumer | undefined;
  /** Every consumer started and not known to have stopped. */
  readonly #clients = new Set<Consumer>();
  /** Consumers replaced or stopped: if one comes back to life (kafkajs finishes a join after a stop), it is stopped again. */
  readonly #retired = new WeakSet<Consumer>();
  /** Crashes kafkajs would restart on its own: the lane restarts them instead, in a group of its own. */
  readonly #restartable = new WeakSet<object>();
  readonly #restarts = new RestartSchedule();
  #incarnation = 0;
  #closed = false;
  /** The restart waiting for its turn, shared by everyone asking meanwhile. */
  #pending: Promise<void> | undefined;
  #queue: Promise<void> = Promise.resolve();
  /** Caches waiting for the others created with them, and the bound of their wait. */
  readonly #gatherers: (() => void)[] = [];
  #gatherTimer: NodeJS.Timeout | undefined;

  constructor(settings: LaneSettings, io: LaneIo, firstInstanceId: string) {
    this.settings = settings;
    this.#io = io;
    this.#groupBase = `${settings.groupIdPrefix}${firstInstanceId}`;
  }

  /** Whether the lane takes a cache reading `topic` (one position per partition: one cache per topic). */
  accepts(topic: string): boolean {
    return !this.#closed && !this.#members.has(topic);
  }

  /** Reserves the lane for a cache on `topic`: the first consumer start waits briefly for reserved caches. */
  reserve(topic: string, fetchBytes: number): LaneMember {
    const member: LaneMember = { topic, fetchBytes, partitions: 0, handlers: undefined };
    this.#members.set(topic, member);
    return member;
  }

  /** Starts reading `member` (its handlers set); resolves once a consumer reading it runs. */
  async join(member: LaneMember): Promise<void> {
    if (this.#members.get(member.topic) !== member) throw new LogUnavailableError('the Kafka log is closed', { retriable: false });
    // The last of the caches gathering ends the wait, and waits with them: one start for all.
    if (this.#waiting() || this.#gatherers.length > 0) await this.#gather();
    await this.restart();
  }

  /** Stops and starts the consumer again; every cache resumes at its `startOffset`. */
  restart(): Promise<void> {
    if (this.#pending) return this.#pending;
    const run = this.#queue.then(async () => {
      this.#pending = undefined;
      await this.#replace();
    });
    this.#pending = run;
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * `member` stops reading: its topic is paused on the running consumer (the others read on, no
   * restart). The last member stops the consumer; resolves once every consumer of the lane stopped.
   */
  async leave(member: LaneMember): Promise<void> {
    if (this.#members.get(member.topic) !== member) return;
    this.#members.delete(member.topic);
    member.handlers = undefined;
    if (!this.#waiting()) this.#endGather();
    if (this.#members.size > 0) {
      if (this.#consumer) this.#pauseTopic(this.#consumer, member.topic);
      else if (!this.#pending) this.#scheduleRestart();
      return;
    }
    this.#closed = true;
    this.#restarts.cancel();
    const consumer = this.#consumer;
    this.#consumer = undefined;
    if (consumer) this.#retired.add(consumer);
    const stops = [...this.#clients].map((client) => (this.#retired.has(client) ? this.#stop(client) : client.disconnect()));
    const failed = (await Promise.allSettled(stops)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw this.#io.error('closing the Kafka consumer', failed.reason);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Whether a reserved cache has not started consuming yet. */
  #waiting(): boolean {
    for (const member of this.#members.values()) if (!member.handlers) return true;
    return false;
  }

  /** Waits until every reserved cache started consuming, or left, at most `gatherMs`. */
  #gather(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#gatherers.push(resolve);
      if (!this.#gatherTimer) {
        this.#gatherTimer = setTimeout(() => this.#endGather(), this.#io.gatherMs);
        this.#gatherTimer.unref();
      }
      if (!this.#waiting()) this.#endGather();
    });
  }

  #endGather(): void {
    clearTimeout(this.#gatherTimer);
    this.#gatherTimer = undefined;
    for (const resolve of this.#gatherers.splice(0)) resolve();
  }

  async #replace(): Promise<void> {
    const old = this.#consumer;
    this.#consumer = undefined;
    this.#restarts.cancel();
    // A stop that does not settle in time goes on in the background; the consumer stays tracked until it did.
    if (old) await this.#io.deadline('stopping the consumer', this.#stop(old)).catch(() => undefined);
    if (this.#closed) return;
    try {
      await this.#start();
    } catch (error) {
      // Caches already reading lost their consumer with the restart: they get one back, unless
      // Kafka refused for good (authorization), which the callers report.
      if (!this.#closed && !this.#consumer && this.#io.error('starting the Kafka consumer', error).retriable) this.#scheduleRestart();
      throw error;
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new LogUnavailableError('the Kafka log is closed', { retriable: false });
  }

  /** Stops fetching `topic` on `consumer` (a cache left it); the consumer stays in its group. */
  #pauseTopic(consumer: Consumer, topic: string): void {
    try {
      consumer.pause([{ topic }]);
    } catch {
      // Not running yet: paused as it joins its group.
    }
  }

  /** Stops `consumer` for good: it is retired, and stopped again should it come back to life. */
  #stop(consumer: Consumer): Promise<void> {
    this.#retired.add(consumer);
    this.#clients.add(consumer);
    return consumer.disconnect().then(() => {
      this.#clients.delete(consumer);
    });
  }

  #report(error: NearCacheError): void {
    for (const member of this.#members.values()) member.handlers?.onError(error);
  }

  /**
   * After a crash kafkajs would restart the consumer in the same group: the group's coordinator
   * then waits out the session of the previous member (which could not leave while the broker
   * was away) before it lets the new one in, 30 s by default. A new consumer in a group of its
   * own joins at once; every cache resumes where it is (startOffset), as after any restart.
   */
  #scheduleRestart(): void {
    if (this.#closed) return;
    this.#restarts.next(() => {
      if (this.#closed || this.#consumer || this.#pending) return;
      this.restart().catch((error: unknown) => {
        if (this.#closed) return;
        const reported = this.#io.error('restarting the Kafka consumer', error);
        this.#report(reported);
        // A refusal (authorization) is not retried here; the stall watchdog may try again later.
        if (reported.retriable) this.#scheduleRestart();
      });
    });
  }

  async #start(): Promise<void> {
    // The caches this consumer reads: a cache joining later gets a consumer of its own start.
    const readers = new Map([...this.#members].filter(([, member]) => member.handlers !== undefined));
    if (readers.size === 0) return;
    const topics = [...readers.keys()];
    // Per partition: the largest any of its caches needs (see FETCH_BYTES in adapter.ts).
    const fetchBytes = Math.max(...[...readers.values()].map((member) => member.fetchBytes));
    // One group per lane, so it reads every partition; nothing is committed. Every new consumer
    // takes a group of its own (the prefix, the lane's first instance, a generation), so it never
    // waits for a predecessor to leave.
    const incarnation = this.#incarnation++;
    const consumer = this.#io.kafka.consumer({
      groupId: `${this.#groupBase}${incarnation === 0 ? '' : `.${incarnation}`}`,
      allowAutoTopicCreation: false,
      sessionTimeout: this.settings.sessionTimeout,
      heartbeatInterval: this.settings.heartbeatInterval,
      maxWaitTimeInMs: this.settings.maxWaitTimeInMs,
      // Follower fetching (KIP-392): the brokers pick a replica in this rack when they can.
      ...(this.settings.rackId === undefined ? {} : { rackId: this.settings.rackId }),
      maxBytesPerPartition: fetchBytes,
      maxBytes: Math.max(fetchBytes * 5, 10 * 1024 * 1024),
      retry: {
        ...kafkaRetry(RETRY.kafkaConsumer),
        // kafkajs would restart a crashed consumer in the same group; the lane starts a new one (#scheduleRestart).
        restartOnFailure: async (error: Error) => {
          this.#restartable.add(error);
          return false;
        },
      },
    });
    this.#consumer = consumer;
    this.#clients.add(consumer);
    const current = () => this.#consumer === consumer && !this.#closed;
    /** The cache a batch of `topic` goes to: one this consumer was started for, still in the lane. */
    const reader = (topic: string): ConsumeHandlers | undefined => {
      const member = readers.get(topic);
      return member && current() && this.#members.get(topic) === member ? member.handlers : undefined;
    };
    // On every (re)join, resume where each cache is: kafkajs would otherwise restart from the beginning.
    consumer.on(consumer.events.GROUP_JOIN, () => {
      if (!current()) {
        // A consumer stopped while it was joining: kafkajs starts fetching once the join ends.
        // Stopped again on the next turn, once kafkajs marked it running (a stop before is a no-op).
        setImmediate(() => void this.#stop(consumer).catch(() => undefined));
        return;
      }
      this.#restarts.joined();
      for (const [topic, member] of readers) {
        const handlers = reader(topic);
        if (!handlers) {
          this.#pauseTopic(consumer, topic);
          continue;
        }
        for (let partition = 0; partition < member.partitions; partition++) {
          consumer.seek({ topic, partition, offset: String(handlers.startOffset(partition)) });
        }
      }
    });
    consumer.on(consumer.events.FETCH_START, () => {
      if (!current() && this.#retired.has(consumer)) void this.#stop(consumer).catch(() => undefined);
    });
    consumer.on(consumer.events.CRASH, (event) => {
      const { error } = event.payload;
      // kafkajs disconnected it before telling; it does not restart it (restartOnFailure).
      this.#clients.delete(consumer);
      if (!current()) return;
      if (this.#restartable.has(error)) {
        this.#consumer = undefined;
        this.#retired.add(consumer);
        this.#report(this.#io.error('the Kafka consumer crashed and restarts', error));
        this.#scheduleRestart();
        return;
      }
      const reported = this.#io.error('the Kafka consumer crashed and stopped', error);
      this.#report(reported.retriable ? new LogUnavailableError(reported.message, { cause: error, retriable: false }) : reported);
    });
    // Batches holding only control records or filtered records never reach eachBatch; their end still moves the position.
    consumer.on(consumer.events.END_BATCH_PROCESS, (event) => {
      const { batchSize, topic, partition, lastOffset, highWatermark } = event.payload;
      const handlers = batchSize === 0 ? reader(topic) : undefined;
      if (!handlers) return;
      void handlers.onBatch({ partition, records: [], nextOffset: Number(lastOffset) + 1, highWatermark: Number(highWatermark) });
    });
    try {
      await this.#io.deadline('connecting the consumer', consumer.connect());
      this.#assertCurrent(consumer);
      await this.#io.deadline('subscribing', consumer.subscribe({ topics, fromBeginning: true }));
      this.#assertCurrent(consumer);
    } catch (error) {
      if (this.#consumer === consumer) this.#consumer = undefined;
      await this.#stop(consumer).catch(() => undefined);
      throw error;
    }
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      // Batches of one partition come one at a time; each cache gets a turn beside the others.
      partitionsConsumedConcurrently: readers.size,
      eachBatch: async ({ batch, heartbeat }: EachBatchPayload) => {
        const handlers = reader(batch.topic);
        if (!handlers) return;
        const logBatch: LogBatch = {
          partition: batch.partition,
          records: logRecords(batch),
          nextOffset: Number(batch.lastOffset()) + 1,
          highWatermark: Number(batch.highWatermark),
        };
        // The next fetch waits for the cache to take this batch; the consumer stays in its group meanwhile.
        await whileBeating(handlers.onBatch(logBatch), heartbeat, this.settings.heartbeatInterval);
      },
    });
  }

  /** Throws if `consumer` was replaced or the lane closed while it was starting. */
  #assertCurrent(consumer: Consumer): void {
    this.#assertOpen();
    if (this.#consumer !== consumer) throw new LogUnavailableError('the consumer was replaced while it started', { retriable: true });
  }
}
