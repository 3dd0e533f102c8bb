// Past 400 lines: one class holds the lifecycle of the admin, producer and consumer it starts
// (restarts, retired consumers, paused fetching), which share its state and its close().
import kafkajs from 'kafkajs';
import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaConfig, Producer, SASLOptions } from 'kafkajs';
import { LogUnavailableError, NearCacheError, TopicNotCompactedError, WriteRejectedError } from '../../errors.js';
import type { LogRecord, OutgoingRecord } from '../../record.js';
import { backoff, RETRY, withDeadline } from '../../retry.js';
import type { ConsumeHandlers, LogBatch, LogContext, PartitionOffsets, ReplicationLog, ReplicationLogFactory, SnapshotFacts } from '../port.js';
import { errorTypes, LEADER_MOVED, PERMANENT_ERRORS, toLogError } from './errors.js';
import { headerStrings } from './headers.js';
import { KAFKA_LEVELS, logCreator } from './logger.js';
import { kafkaSnapshotFacts } from './snapshot-facts.js';
import { resolveKafkaOptions, type KafkaLogOptions, type ResolvedKafkaOptions } from './options.js';
import { kafkaRetry, RestartSchedule } from './retry.js';
import { Sockets } from './sockets.js';
import { compactsKeys } from '../topic-config.js';

const { Kafka: KafkaClient, Partitioners, ConfigResourceTypes } = kafkajs;

/** Returns a log factory for `createNearCache({ log })` that replicates through Kafka. Checks `options` at once. */
export function kafkaLog(options: KafkaLogOptions): ReplicationLogFactory {
  const resolved = resolveKafkaOptions(options);
  return (context) => new KafkaLog(resolved, context);
}

/**
 * The Kafka adapter (kafkajs): one admin, one producer and one consumer (its own group) per cache
 * instance. Every client it starts stays tracked until it stopped, and close() stops them all.
 */
export class KafkaLog implements ReplicationLog {
  readonly kind = 'kafka';
  readonly #options: ResolvedKafkaOptions;
  readonly #context: LogContext;
  readonly #kafka: Kafka;
  /** The sockets of the kafkajs client built here; undefined with a client given in `kafka.client`. */
  readonly #sockets: Sockets | undefined;
  #admin: Admin | undefined;
  #producer: Producer | undefined;
  #consumer: Consumer | undefined;
  /** Every client started and not known to have stopped: close() stops each. */
  readonly #clients = new Set<Admin | Producer | Consumer>();
  /** Consumers replaced or stopped: if one comes back to life (kafkajs finishes a join after a stop), it is stopped again. */
  readonly #retired = new WeakSet<Consumer>();
  /** Crashes kafkajs would restart on its own: this log restarts them instead, in a group of their own. */
  readonly #restartable = new WeakSet<object>();
  readonly #restarts = new RestartSchedule();
  #handlers: ConsumeHandlers | undefined;
  #partitions = 0;
  #closed = false;
  /** Fetching paused by pauseFetching(): a consumer started later is paused as it joins. */
  #paused = false;
  #incarnation = 0;
  /** The last send, settled or not: a new send waits for it, so an abandoned send cannot land after a newer one. */
  #lastSend: Promise<unknown> = Promise.resolve();

  constructor(options: ResolvedKafkaOptions, context: LogContext) {
    this.#options = options;
    this.#context = context;
    const config: KafkaConfig = {
      clientId: options.clientId,
      brokers: options.brokers ?? [],
      connectionTimeout: options.connectionTimeout,
      requestTimeout: options.requestTimeout,
      logLevel: KAFKA_LEVELS[options.logLevel],
      logCreator: logCreator(context.logger),
      retry: kafkaRetry(RETRY.kafkaClient),
    };
    if (options.ssl !== undefined) config.ssl = options.ssl;
    // A copy: kafkajs keeps an authenticator bound to the password on the object it is given.
    if (options.sasl !== undefined) config.sasl = { ...options.sasl } as SASLOptions;
    if (options.client) {
      this.#kafka = options.client;
    } else {
      this.#sockets = new Sockets();
      config.socketFactory = this.#sockets.factory;
      this.#kafka = new KafkaClient(config);
    }
  }

  #deadline<T>(what: string, promise: Promise<T>, ms = this.#options.requestTimeout): Promise<T> {
    return withDeadline(promise, ms, () => new LogUnavailableError(`${what} did not answer within ${ms} ms`, { retriable: true })).catch((error: unknown) => {
      throw this.#error(what, error);
    });
  }

  #error(what: string, error: unknown): NearCacheError {
    return toLogError(what, error, this.#options.brokers);
  }

  #assertOpen(): void {
    if (this.#closed) throw new LogUnavailableError('the Kafka log is closed', { retriable: false });
  }

  async open(): Promise<{ partitions: number }> {
    this.#assertOpen();
    const topic = this.#context.topic;
    if (!this.#admin) {
      this.#admin = this.#kafka.admin({ retry: kafkaRetry(RETRY.kafkaAdmin) });
      this.#clients.add(this.#admin);
    }
    const admin = this.#admin;
    await this.#deadline('connecting to Kafka', admin.connect());
    // listTopics does not auto-create topics, unlike a metadata request for one topic.
    const topics = await this.#deadline('listing topics', admin.listTopics());
    if (!topics.includes(topic)) {
      if (!this.#options.createTopic) {
        throw new LogUnavailableError(`topic "${topic}" does not exist and kafka.createTopic is false`, { retriable: false });
      }
      const configEntries = Object.entries({ ...this.#options.topicConfig, 'cleanup.policy': this.#options.topicConfig['cleanup.policy'] ?? 'compact' }).map(
        ([name, value]) => ({ name, value }),
      );
      try {
        await this.#deadline(
          `creating topic "${topic}"`,
          admin.createTopics({
            waitForLeaders: true,
            timeout: this.#options.requestTimeout,
            topics: [{ topic, numPartitions: this.#options.partitions, replicationFactor: this.#options.replicationFactor, configEntries }],
          }),
          this.#options.requestTimeout * 2,
        );
      } catch (error) {
        if (!errorTypes(error).types.has('TOPIC_ALREADY_EXISTS')) throw error;
      }
    }
    await this.#checkCompacted(admin);
    const metadata = await this.#deadline('reading topic metadata', admin.fetchTopicMetadata({ topics: [topic] }));
    const partitions = metadata.topics[0]?.partitions.length ?? 0;
    if (partitions < 1) throw new LogUnavailableError(`topic "${topic}" has no partitions yet`, { retriable: true });
    this.#partitions = partitions;
    this.#assertOpen();
    if (!this.#producer) {
      this.#producer = this.#kafka.producer({
        allowAutoTopicCreation: false,
        idempotent: false,
        // One request in flight: a retried request cannot overtake the next one.
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
        retry: kafkaRetry(RETRY.kafkaProducer),
      });
      this.#clients.add(this.#producer);
    }
    await this.#deadline('connecting the producer', this.#producer.connect());
    return { partitions };
  }

  async #checkCompacted(admin: Admin): Promise<void> {
    const topic = this.#context.topic;
    const described = await this.#deadline(
      `reading the config of topic "${topic}"`,
      admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['cleanup.policy'] }] }),
    );
    const policy = described.resources[0]?.configEntries.find((entry) => entry.configName === 'cleanup.policy')?.configValue ?? '';
    if (!compactsKeys(policy)) {
      if (this.#options.allowNonCompactedTopic) {
        this.#context.logger.warn(`topic "${topic}" has cleanup.policy=${policy}: keys older than its retention will be lost on bootstrap`);
        return;
      }
      throw new TopicNotCompactedError(
        `topic "${topic}" has cleanup.policy=${policy || '(unknown)'}; nearcache needs "compact" (or set kafka.allowNonCompactedTopic)`,
      );
    }
  }

  async offsets(): Promise<PartitionOffsets[]> {
    const admin = this.#admin;
    this.#assertOpen();
    if (!admin) throw new LogUnavailableError('the Kafka log is not open', { retriable: true });
    const topic = this.#context.topic;
    let offsets;
    for (let attempt = 0; ; attempt++) {
      try {
        offsets = await this.#deadline('reading topic offsets', admin.fetchTopicOffsets(topic));
        break;
      } catch (error) {
        if (attempt >= RETRY.leaderMoved.retries || ![...errorTypes(error).types].some((t) => LEADER_MOVED.has(t))) throw error;
        // kafkajs asks the leader it knew (a topic just created, a leader just moved) and does not
        // refresh its metadata on this error: refresh, then ask again (a new topic's leaders may
        // still be being elected).
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, backoff(attempt - 1, RETRY.leaderMoved)));
        this.#assertOpen();
        await this.#deadline('reading topic metadata', admin.fetchTopicMetadata({ topics: [topic] }));
      }
    }
    return offsets.map((o) => ({ partition: o.partition, low: Number(o.low), high: Number(o.high) })).sort((a, b) => a.partition - b.partition);
  }

  async snapshotFacts(since: number): Promise<SnapshotFacts> {
    this.#assertOpen();
    if (!this.#admin) throw new LogUnavailableError('the Kafka log is not open', { retriable: true });
    return kafkaSnapshotFacts(this.#admin, this.#context.topic, since, (what, promise) => this.#deadline(what, promise));
  }

  async consume(handlers: ConsumeHandlers): Promise<void> {
    this.#handlers = handlers;
    await this.#startConsumer();
  }

  async restartConsumer(): Promise<void> {
    const old = this.#consumer;
    this.#consumer = undefined;
    this.#restarts.cancel();
    // A stop that does not settle in time goes on in the background; the consumer stays tracked until it did.
    if (old) await this.#deadline('stopping the consumer', this.#stop(old)).catch(() => undefined);
    if (!this.#closed) await this.#startConsumer();
  }

  /**
   * Stops fetching records, or starts again. The consumer stays in its group meanwhile (kafkajs
   * goes on sending heartbeats), so a pause costs no rejoin and no replay.
   */
  pauseFetching(paused: boolean): void {
    this.#paused = paused;
    if (this.#consumer) this.#pause(this.#consumer);
  }

  #pause(consumer: Consumer): void {
    const topics = [{ topic: this.#context.topic }];
    try {
      if (this.#paused) consumer.pause(topics);
      else consumer.resume(topics);
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

  /**
   * After a crash kafkajs would restart the consumer in the same group: the group's coordinator
   * then waits out the session of the previous member (which could not leave while the broker
   * was away) before it lets the new one in, 30 s by default. A new consumer in a group of its
   * own joins at once; it resumes where the cache is (startOffset), as after any restart.
   */
  #scheduleRestart(): void {
    if (this.#closed) return;
    this.#restarts.next(() => {
      if (this.#closed || this.#consumer) return;
      this.#startConsumer().catch((error: unknown) => {
        if (this.#closed) return;
        const reported = this.#error('restarting the Kafka consumer', error);
        this.#handlers!.onError(reported);
        // A refusal (authorization) is not retried here; the stall watchdog may try again later.
        if (reported.retriable) this.#scheduleRestart();
      });
    });
  }

  async #startConsumer(): Promise<void> {
    this.#assertOpen();
    const handlers = this.#handlers!;
    const topic = this.#context.topic;
    const fetchBytes = Math.max(1024 * 1024, this.#context.maxValueBytes + this.#context.maxKeyBytes + 64 * 1024);
    // One group per instance, so every instance reads every partition; nothing is committed. Every
    // new consumer takes a group of its own (the prefix, the instance, a generation), so it never
    // waits for a predecessor to leave.
    const incarnation = this.#incarnation++;
    const consumer = this.#kafka.consumer({
      groupId: `${this.#options.groupIdPrefix}${this.#context.instanceId}${incarnation === 0 ? '' : `.${incarnation}`}`,
      allowAutoTopicCreation: false,
      sessionTimeout: this.#options.sessionTimeout,
      heartbeatInterval: this.#options.heartbeatInterval,
      maxWaitTimeInMs: this.#options.maxWaitTimeInMs,
      maxBytesPerPartition: fetchBytes,
      maxBytes: Math.max(fetchBytes * 4, 10 * 1024 * 1024),
      retry: {
        ...kafkaRetry(RETRY.kafkaConsumer),
        // kafkajs would restart a crashed consumer in the same group; this log starts a new one (#scheduleRestart).
        restartOnFailure: async (error: Error) => {
          this.#restartable.add(error);
          return false;
        },
      },
    });
    this.#consumer = consumer;
    this.#clients.add(consumer);
    const current = () => this.#consumer === consumer && !this.#closed;
    // On every (re)join, resume where the cache is: kafkajs would otherwise restart from the beginning.
    consumer.on(consumer.events.GROUP_JOIN, () => {
      if (!current()) {
        // A consumer stopped while it was joining: kafkajs starts fetching once the join ends.
        // Stopped again on the next turn, once kafkajs marked it running (a stop before is a no-op).
        setImmediate(() => void this.#stop(consumer).catch(() => undefined));
        return;
      }
      this.#restarts.joined();
      for (let partition = 0; partition < this.#partitions; partition++) {
        consumer.seek({ topic, partition, offset: String(handlers.startOffset(partition)) });
      }
      if (this.#paused) this.#pause(consumer);
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
        handlers.onError(this.#error('the Kafka consumer crashed and restarts', error));
        this.#scheduleRestart();
        return;
      }
      const reported = this.#error('the Kafka consumer crashed and stopped', error);
      handlers.onError(reported.retriable ? new LogUnavailableError(reported.message, { cause: error, retriable: false }) : reported);
    });
    // Batches holding only control records or filtered records never reach eachBatch; their end still moves the position.
    consumer.on(consumer.events.END_BATCH_PROCESS, (event) => {
      const { batchSize, partition, lastOffset, highWatermark } = event.payload;
      if (batchSize !== 0 || !current()) return;
      void handlers.onBatch({ partition, records: [], nextOffset: Number(lastOffset) + 1, highWatermark: Number(highWatermark) });
    });
    try {
      await this.#deadline('connecting the consumer', consumer.connect());
      this.#assertCurrent(consumer);
      await this.#deadline('subscribing', consumer.subscribe({ topics: [topic], fromBeginning: true }));
      this.#assertCurrent(consumer);
    } catch (error) {
      if (this.#consumer === consumer) this.#consumer = undefined;
      await this.#stop(consumer).catch(() => undefined);
      throw error;
    }
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      partitionsConsumedConcurrently: 1,
      eachBatch: async ({ batch }: EachBatchPayload) => {
        if (!current()) return;
        const records: LogRecord[] = batch.messages.map((message) => ({
          partition: batch.partition,
          offset: Number(message.offset),
          key: message.key,
          value: message.value,
          headers: message.headers ? headerStrings(message.headers) : {},
          timestamp: Number(message.timestamp),
        }));
        const logBatch: LogBatch = {
          partition: batch.partition,
          records,
          nextOffset: Number(batch.lastOffset()) + 1,
          highWatermark: Number(batch.highWatermark),
        };
        await handlers.onBatch(logBatch);
      },
    });
  }

  /** Throws if `consumer` was replaced or the log closed while it was starting. */
  #assertCurrent(consumer: Consumer): void {
    this.#assertOpen();
    if (this.#consumer !== consumer) throw new LogUnavailableError('the consumer was replaced while it started', { retriable: true });
  }

  async append(records: OutgoingRecord[]): Promise<number[]> {
    const producer = this.#producer;
    if (!producer || this.#closed) throw new LogUnavailableError('the Kafka log is not open', { retriable: !this.#closed });
    const limit = this.#options.requestTimeout + 1000;
    // A send given up on below may still be retrying inside kafkajs: wait until it settled.
    await withDeadline(
      this.#lastSend,
      limit,
      () => new LogUnavailableError(`an earlier send to Kafka is still unsettled after ${limit} ms`, { retriable: true }),
    );
    const send = producer.send({
      topic: this.#context.topic,
      acks: -1,
      timeout: this.#options.requestTimeout,
      messages: records.map((record) => ({
        partition: record.partition,
        key: record.key,
        value:
          record.value === null || Buffer.isBuffer(record.value)
            ? record.value
            : Buffer.from(record.value.buffer, record.value.byteOffset, record.value.byteLength),
        headers: record.headers,
      })),
    });
    this.#lastSend = send.catch(() => undefined);
    try {
      const acknowledged = await withDeadline(
        send,
        limit,
        () => new LogUnavailableError(`Kafka did not acknowledge ${records.length} records within ${limit} ms`, { retriable: true }),
      );
      // A partition's records are appended in order from its base offset.
      const next = new Map<number, number>();
      for (const meta of acknowledged) if (meta.baseOffset !== undefined) next.set(meta.partition, Number(meta.baseOffset));
      return records.map((record) => {
        const offset = next.get(record.partition);
        if (offset === undefined) return Number.NaN;
        next.set(record.partition, offset + 1);
        return offset;
      });
    } catch (error) {
      if (error instanceof NearCacheError) throw error;
      const { types } = errorTypes(error);
      if ([...types].some((t) => PERMANENT_ERRORS.has(t))) {
        throw new WriteRejectedError(`Kafka refused the records: ${(error as Error).message}`, { cause: error, retriable: false });
      }
      throw this.#error('sending to Kafka', error);
    }
  }

  /**
   * Stops every client this log started, whatever its state (connecting, joining, retrying,
   * replaced by the watchdog), within the cache's close deadline. Connections still open then are
   * ended, and none opens afterwards: the process can exit.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#restarts.cancel();
    const consumer = this.#consumer;
    this.#consumer = undefined;
    if (consumer) this.#retired.add(consumer);
    const budget = Math.max(500, (this.#context.closeTimeout ?? 5000) - 250);
    const stops = [...this.#clients].map((client) => (this.#retired.has(client as Consumer) ? this.#stop(client as Consumer) : client.disconnect()));
    const results = await withDeadline(Promise.allSettled(stops), budget, () => new Error('deadline')).catch(() => undefined);
    const left = this.#sockets?.close() ?? 0;
    if (!results) this.#context.logger.warn(`closing: Kafka clients not stopped within ${budget} ms; ${left} connection(s) ended`);
    else if (left > 0) this.#context.logger.warn(`closing: ${left} Kafka connection(s) still open after the clients stopped; ended`);
    const failed = results?.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw this.#error('closing the Kafka connections', failed.reason);
  }
}
