import kafkajs from 'kafkajs';
import type { Admin, Producer } from 'kafkajs';
import { LogUnavailableError, NearCacheError, TopicNotCompactedError, WriteRejectedError } from '../../errors.js';
import type { OutgoingRecord } from '../../record.js';
import { backoff, RETRY, withDeadline } from '../../retry.js';
import type { ConsumeHandlers, LogContext, PartitionOffsets, ReplicationLog, ReplicationLogFactory, SnapshotFacts } from '../port.js';
import { errorTypes, LEADER_MOVED, PERMANENT_ERRORS, toLogError } from './errors.js';
import { acquireConnection, type KafkaConnection } from './connection.js';
import type { ConsumerLane, LaneMember } from './consumer-lane.js';
import { kafkaSnapshotFacts } from './snapshot-facts.js';
import { resolveKafkaOptions, type KafkaLogOptions, type ResolvedKafkaOptions } from './options.js';
import { compactsKeys } from '../topic-config.js';

const { ConfigResourceTypes } = kafkajs;

/**
 * How much a fetch asks of each partition, at least (kafkajs's default): the records of one
 * fetch response are decoded into objects all at once, and a batch of 1 MiB is applied before the
 * next young-generation collection, so its objects die young; a bootstrap fetching 10 MiB at a
 * time kept them through collections and took about an eighth longer (docs/benchmarks.md). On a
 * worker thread, more would also break its buffer bound: a fetch response already asked for may
 * land on top of it.
 */
export const FETCH_BYTES = 1024 * 1024;

/** Returns a log factory for `createNearCache({ log })` that replicates through Kafka. Checks `options` at once. */
export function kafkaLog(options: KafkaLogOptions): ReplicationLogFactory {
  const resolved = resolveKafkaOptions(options);
  return (context) => new KafkaLog(resolved, context);
}

/**
 * The Kafka adapter (kafkajs), one per cache instance. Its admin, producer and consumer come from
 * the process's shared connection (connection.ts): caches with equal client settings share one
 * admin and one producer, and read their topics through one consumer (consumer-lane.ts). close()
 * gives its share back; the last cache's close stops the clients and ends their sockets.
 */
export class KafkaLog implements ReplicationLog {
  readonly kind = 'kafka';
  readonly #options: ResolvedKafkaOptions;
  readonly #context: LogContext;
  readonly #connection: KafkaConnection;
  readonly #lane: ConsumerLane;
  readonly #member: LaneMember;
  /** Set once open() connected it. */
  #admin: Admin | undefined;
  #producer: Producer | undefined;
  #partitions = 0;
  #closed = false;
  /** The last send, settled or not: a new send waits for it, so an abandoned send cannot land after a newer one. */
  #lastSend: Promise<unknown> = Promise.resolve();

  constructor(options: ResolvedKafkaOptions, context: LogContext) {
    this.#options = options;
    this.#context = context;
    this.#connection = acquireConnection(options, context);
    const { groupIdPrefix, sessionTimeout, heartbeatInterval, maxWaitTimeInMs, rackId } = options;
    this.#lane = this.#connection.lane({ groupIdPrefix, sessionTimeout, heartbeatInterval, maxWaitTimeInMs, rackId }, context);
    this.#member = this.#lane.reserve(context.topic, Math.max(FETCH_BYTES, context.maxValueBytes + context.maxKeyBytes + 64 * 1024));
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
    const admin = this.#connection.admin;
    await this.#deadline('connecting to Kafka', admin.connect());
    this.#admin = admin;
    // The producer connects while the topic is checked: a start waits for the slower of the two.
    const producing = this.#deadline('connecting the producer', this.#connection.producer.connect());
    producing.catch(() => undefined);
    let partitions: number;
    try {
      partitions = await this.#checkTopic(admin);
    } catch (error) {
      // Nothing of a failed open goes on after it: the producer's connection settles first.
      await producing.catch(() => undefined);
      throw error;
    }
    this.#partitions = partitions;
    this.#assertOpen();
    await producing;
    this.#producer = this.#connection.producer;
    return { partitions };
  }

  /** Checks the topic (created when missing and allowed, compacted) and returns its partition count. */
  async #checkTopic(admin: Admin): Promise<number> {
    const topic = this.#context.topic;
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
    return partitions;
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
    this.#assertOpen();
    this.#member.partitions = this.#partitions;
    this.#member.handlers = handlers;
    await this.#lane.join(this.#member);
  }

  async restartConsumer(): Promise<void> {
    if (!this.#closed) await this.#lane.restart();
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
   * Leaves the consumer lane and gives back this cache's share of the connection, within the
   * cache's close deadline. The last share stops every client (also consumers replaced by the
   * watchdog) and ends the connections still open: none opens afterwards, the process can exit.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const budget = Math.max(500, (this.#context.closeTimeout ?? 5000) - 250);
    const leave = this.#lane.leave(this.#member);
    this.#connection.stopping(leave);
    const late = new Error('deadline');
    const [left, released] = await Promise.all([
      withDeadline(leave, budget, () => late).then(
        () => undefined,
        (error: unknown) => error,
      ),
      this.#connection.release(this.#context.logger, budget),
    ]);
    if (!released.stopped || left === late) {
      this.#context.logger.warn(`closing: Kafka clients not stopped within ${budget} ms; ${released.left} connection(s) ended`);
    } else if (released.left > 0) {
      this.#context.logger.warn(`closing: ${released.left} Kafka connection(s) still open after the clients stopped; ended`);
    }
    const failure = released.failure ?? (left === late ? undefined : left);
    if (failure !== undefined) throw this.#error('closing the Kafka connections', failure);
  }
}
