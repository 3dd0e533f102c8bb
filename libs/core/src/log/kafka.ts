import net, { type Socket } from 'node:net';
import tls, { type ConnectionOptions } from 'node:tls';
import kafkajs from 'kafkajs';
import type { Admin, Consumer, EachBatchPayload, ISocketFactory, Kafka, KafkaConfig, LogEntry, Producer, SASLOptions } from 'kafkajs';
import { InvalidOptionError, LogUnavailableError, NearCacheError, TopicNotCompactedError, WriteRejectedError } from '../errors.js';
import type { Logger } from '../logger.js';
import { HEADERS, type LogRecord, type OutgoingRecord } from '../record.js';
import { backoff, withDeadline } from '../retry.js';
import { bool, fail, integer, noUnknownKeys, oneOf, plainObject, string } from '../validate.js';
import type { ConsumeHandlers, LogBatch, LogContext, PartitionOffsets, ReplicationLog, ReplicationLogFactory } from './port.js';

const { Kafka: KafkaClient, logLevel: LogLevel, Partitioners, ConfigResourceTypes } = kafkajs;

export type KafkaLogLevel = 'nothing' | 'error' | 'warn' | 'info' | 'debug';

/** How a cache connects to Kafka. Every option is checked up front; see docs/configuration.md. */
export interface KafkaLogOptions {
  /** Bootstrap brokers, as an array or a comma-separated string ("host:port"). Required unless `client` is given. */
  brokers?: string[] | string;
  /** An existing kafkajs client whose settings (brokers, TLS, SASL) this cache uses; it still opens its own admin, producer and consumer connections. Instead of `brokers`, `clientId`, `ssl`, `sasl`, `connectionTimeout` and `logLevel`. */
  client?: Kafka;
  /** kafkajs client id. Default "nearcache". */
  clientId?: string;
  /** TLS: `true` or Node TLS options. Passed to kafkajs. Default: none. */
  ssl?: boolean | ConnectionOptions;
  /** SASL (plain, scram-sha-256, scram-sha-512, aws, oauthbearer). Passed to kafkajs. Default: none. */
  sasl?: SASLOptions;
  /** Time to open a connection to a broker, in ms. Default 3000. */
  connectionTimeout?: number;
  /** Deadline of each request to Kafka that the cache waits for, in ms. Default 10000. */
  requestTimeout?: number;
  /** Partitions of the topic when the cache creates it. Default 1. */
  partitions?: number;
  /** Replication factor of the topic when the cache creates it; -1 for the broker's default. Default -1. */
  replicationFactor?: number;
  /** More topic configs when the cache creates it, such as `{ 'min.insync.replicas': '2' }`. `cleanup.policy` defaults to `compact`; a given policy must include `compact`. */
  topicConfig?: Record<string, string>;
  /** Create the topic if it does not exist. Default true. */
  createTopic?: boolean;
  /** Accept a topic whose cleanup.policy does not include compact. Default false: such a topic loses keys to retention. */
  allowNonCompactedTopic?: boolean;
  /** Prefix of this instance's consumer group id (the rest is the instance id); grant a PREFIXED group ACL on it. Default "nearcache.". */
  groupIdPrefix?: string;
  /** Consumer session timeout, in ms. Default 30000. */
  sessionTimeout?: number;
  /** Consumer heartbeat interval, in ms. Default 3000. */
  heartbeatInterval?: number;
  /** Longest a fetch waits for new records, in ms; also bounds how long close() waits for the consumer. Default 500. */
  maxWaitTimeInMs?: number;
  /** kafkajs's own log level; its lines go through the cache's logger at the level their meaning deserves (docs/operations.md, Logs). Default "error". */
  logLevel?: KafkaLogLevel;
}

const KAFKA_OPTION_NAMES = [
  'brokers', 'client', 'clientId', 'ssl', 'sasl', 'connectionTimeout', 'requestTimeout', 'partitions', 'replicationFactor',
  'topicConfig', 'createTopic', 'allowNonCompactedTopic', 'groupIdPrefix', 'sessionTimeout', 'heartbeatInterval',
  'maxWaitTimeInMs', 'logLevel',
] as const;

interface ResolvedKafkaOptions {
  brokers: string[] | undefined;
  client: Kafka | undefined;
  clientId: string;
  ssl: boolean | ConnectionOptions | undefined;
  sasl: SASLOptions | undefined;
  connectionTimeout: number;
  requestTimeout: number;
  partitions: number;
  replicationFactor: number;
  topicConfig: Record<string, string>;
  createTopic: boolean;
  allowNonCompactedTopic: boolean;
  groupIdPrefix: string;
  sessionTimeout: number;
  heartbeatInterval: number;
  maxWaitTimeInMs: number;
  logLevel: KafkaLogLevel;
}

const BROKER = /^[^\s:,]+:\d{1,5}$/;
/** Settings of the kafkajs client itself: they come from `kafka.client` when it is given. */
const CLIENT_SETTINGS = ['clientId', 'ssl', 'sasl', 'connectionTimeout', 'logLevel'] as const;

function resolveKafkaOptions(input: KafkaLogOptions): ResolvedKafkaOptions {
  const options = plainObject('kafka', input) as unknown as KafkaLogOptions;
  noUnknownKeys('kafka.', options, KAFKA_OPTION_NAMES);
  let brokers: string[] | undefined;
  if (options.client === undefined) {
    const list = typeof options.brokers === 'string' ? options.brokers.split(',').map((b) => b.trim()).filter(Boolean) : options.brokers;
    if (!Array.isArray(list) || list.length === 0 || !list.every((b) => typeof b === 'string' && BROKER.test(b))) {
      fail('kafka.brokers', 'a non-empty list of "host:port" (an array, or a comma-separated string), unless kafka.client is given', options.brokers);
    }
    brokers = list;
  } else if (options.brokers !== undefined) {
    throw new InvalidOptionError('give either option "kafka.brokers" or option "kafka.client", not both');
  } else if (CLIENT_SETTINGS.some((name) => options[name] !== undefined)) {
    const given = CLIENT_SETTINGS.filter((name) => options[name] !== undefined).map((name) => `"kafka.${name}"`);
    throw new InvalidOptionError(`${given.join(', ')} would be ignored with option "kafka.client": set them on the kafkajs client instead`);
  } else if (typeof options.client !== 'object' || options.client === null || typeof (options.client as Kafka).producer !== 'function') {
    fail('kafka.client', 'a kafkajs Kafka instance', options.client);
  }
  if (options.ssl !== undefined && typeof options.ssl !== 'boolean' && (typeof options.ssl !== 'object' || options.ssl === null)) {
    fail('kafka.ssl', 'true, false or Node TLS connection options', options.ssl);
  }
  if (options.sasl !== undefined) {
    const sasl = plainObject('kafka.sasl', options.sasl);
    const mechanisms = ['plain', 'scram-sha-256', 'scram-sha-512', 'aws', 'oauthbearer'] as const;
    if (sasl.mechanism === undefined) fail('kafka.sasl.mechanism', `one of ${mechanisms.map((m) => `"${m}"`).join(', ')}`, undefined);
    oneOf('kafka.sasl.mechanism', sasl.mechanism, 'plain', mechanisms);
  }
  const topicConfig = options.topicConfig === undefined ? {} : plainObject('kafka.topicConfig', options.topicConfig);
  for (const [name, value] of Object.entries(topicConfig)) {
    if (typeof value !== 'string') fail(`kafka.topicConfig["${name}"]`, 'a string', value);
    if (name === 'cleanup.policy' && !value.split(',').map((p) => p.trim()).includes('compact')) {
      fail('kafka.topicConfig["cleanup.policy"]', 'a policy including "compact"', value);
    }
  }
  const sessionTimeout = integer('kafka.sessionTimeout', options.sessionTimeout, 30_000, 1000);
  const heartbeatInterval = integer('kafka.heartbeatInterval', options.heartbeatInterval, 3_000, 100);
  if (heartbeatInterval >= sessionTimeout) fail('kafka.heartbeatInterval', `less than kafka.sessionTimeout (${sessionTimeout})`, heartbeatInterval);
  const replicationFactor = integer('kafka.replicationFactor', options.replicationFactor, -1, -1, 32767);
  if (replicationFactor === 0) fail('kafka.replicationFactor', '-1 (broker default) or an integer >= 1', 0);
  return {
    brokers,
    client: options.client,
    clientId: string('kafka.clientId', options.clientId, 'nearcache'),
    ssl: options.ssl,
    sasl: options.sasl,
    connectionTimeout: integer('kafka.connectionTimeout', options.connectionTimeout, 3_000, 1),
    requestTimeout: integer('kafka.requestTimeout', options.requestTimeout, 10_000, 1),
    partitions: integer('kafka.partitions', options.partitions, 1, 1, 100_000),
    replicationFactor,
    topicConfig: topicConfig as Record<string, string>,
    createTopic: bool('kafka.createTopic', options.createTopic, true),
    allowNonCompactedTopic: bool('kafka.allowNonCompactedTopic', options.allowNonCompactedTopic, false),
    groupIdPrefix: string('kafka.groupIdPrefix', options.groupIdPrefix, 'nearcache.', /^[a-zA-Z0-9._-]{1,200}$/, '1 to 200 of a-z A-Z 0-9 . _ -'),
    sessionTimeout,
    heartbeatInterval,
    maxWaitTimeInMs: integer('kafka.maxWaitTimeInMs', options.maxWaitTimeInMs, 500, 1, 60_000),
    logLevel: oneOf('kafka.logLevel', options.logLevel, 'error', ['nothing', 'error', 'warn', 'info', 'debug'] as const),
  };
}

/** Returns a log factory for `createNearCache({ log })` that replicates through Kafka. Checks `options` at once. */
export function kafkaLog(options: KafkaLogOptions): ReplicationLogFactory {
  const resolved = resolveKafkaOptions(options);
  return (context) => new KafkaLog(resolved, context);
}

/** The broker asked is not (or no longer) the partition's leader. */
const LEADER_MOVED = new Set(['NOT_LEADER_FOR_PARTITION', 'LEADER_NOT_AVAILABLE']);
const PERMANENT_ERRORS = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD', 'TOPIC_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED']);
const FATAL_ERROR_NAMES = new Set(['KafkaJSSASLAuthenticationError']);
const FATAL_ERROR_TYPES = new Set(['SASL_AUTHENTICATION_FAILED', 'TOPIC_AUTHORIZATION_FAILED', 'GROUP_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED', 'ILLEGAL_SASL_STATE', 'UNSUPPORTED_SASL_MECHANISM']);

/** Error types found along an error's cause chain (kafkajs wraps the broker's error in retry errors). */
function errorTypes(error: unknown): { types: Set<string>; names: Set<string> } {
  const types = new Set<string>();
  const names = new Set<string>();
  let current: unknown = error;
  for (let depth = 0; current && depth < 8; depth++) {
    const e = current as { type?: unknown; name?: unknown; cause?: unknown; originalError?: unknown };
    if (typeof e.type === 'string') types.add(e.type);
    if (typeof e.name === 'string') names.add(e.name);
    current = e.cause ?? e.originalError;
  }
  return { types, names };
}

function isFatal(error: unknown): boolean {
  const { types, names } = errorTypes(error);
  return [...types].some((t) => FATAL_ERROR_TYPES.has(t)) || [...names].some((n) => FATAL_ERROR_NAMES.has(n));
}

/**
 * "cannot reach Kafka at host:port: ECONNREFUSED" when a failed connection is along the error's
 * cause chain, followed by the bootstrap brokers (`brokers`) when they are known.
 */
function unreachable(error: unknown, brokers: string[] | undefined): string | undefined {
  let current: unknown = error;
  for (let depth = 0; current && depth < 8; depth++) {
    const e = current as { name?: unknown; broker?: unknown; code?: unknown; message?: unknown; cause?: unknown; originalError?: unknown };
    if (e.name === 'KafkaJSConnectionError' && typeof e.broker === 'string') {
      const why = typeof e.code === 'string' ? e.code : /timeout/i.test(String(e.message)) ? 'no connection within kafka.connectionTimeout' : String(e.message);
      const list = brokers?.join(', ');
      // A broker the cluster advertised (its metadata) rather than one of the bootstrap brokers.
      const tried = !list ? '' : brokers!.includes(e.broker) ? ` (brokers tried: ${list})` : ` (a broker the cluster advertised; bootstrap brokers: ${list})`;
      return `cannot reach Kafka at ${e.broker}: ${why}${tried}`;
    }
    current = e.cause ?? e.originalError;
  }
  return undefined;
}

/** A typed error for a failed call to Kafka; `brokers`, when known, are named when a broker could not be reached. */
function toLogError(what: string, error: unknown, brokers?: string[]): NearCacheError {
  if (error instanceof NearCacheError) return error;
  const detail = unreachable(error, brokers) ?? (error as Error)?.message ?? String(error);
  return new LogUnavailableError(`${what}: ${detail}`, { cause: error, retriable: !isFatal(error) });
}

const KAFKA_LEVELS: Record<KafkaLogLevel, number> = {
  nothing: LogLevel.NOTHING,
  error: LogLevel.ERROR,
  warn: LogLevel.WARN,
  info: LogLevel.INFO,
  debug: LogLevel.DEBUG,
};

/**
 * kafkajs lines about what kafkajs retries or the cache handles itself: a broker away, a leader
 * moving, a group rebalancing, a consumer crashing and restarting, a topic another instance has
 * just created. The cache reports what persists, once and with its cause; these are detail.
 */
const ROUTINE_KAFKA_LINE =
  /connection error|connection timeout|closed connection|failed to connect|not the leader|no leader|leadership election|coordinator is (loading|not available)|not coordinator|rebalanc|not aware of this member|already exists|topic creation errors|restarting the consumer|crash: |failed to send messages|timed out|request timeout|not available/i;

/**
 * kafkajs's lines, through the cache's logger at the level their meaning deserves: routine ones
 * (see above) at debug; other errors at warn (the cache reports the failure they cause at error);
 * kafkajs warnings at info; the rest at debug.
 */
function logCreator(logger: Logger) {
  return () =>
    ({ namespace, level, log }: LogEntry): void => {
      const { message, timestamp: _timestamp, logger: _logger, ...extra } = log as { message: string; timestamp?: unknown; logger?: unknown; error?: unknown };
      const text = `kafkajs ${namespace}: ${message}`;
      if (level <= LogLevel.WARN && ROUTINE_KAFKA_LINE.test(`${message} ${typeof extra.error === 'string' ? extra.error : ''}`)) logger.debug(text, extra);
      else if (level <= LogLevel.ERROR) logger.warn(text, extra);
      else if (level === LogLevel.WARN) logger.info(text, extra);
      else logger.debug(text, extra);
    };
}

/**
 * Every socket the adapter's own kafkajs client opens. kafkajs can leave a connection behind (a
 * consumer stopped while it joins its group rejoins later); close() ends whatever is still open
 * once its deadline passed, and no socket opens after it.
 */
class Sockets {
  readonly #open = new Set<Socket>();
  #closed = false;

  readonly factory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
    if (this.#closed) throw new Error('the cache is closed');
    const socket = ssl
      ? tls.connect(Object.assign({ host, port }, net.isIP(host) ? {} : { servername: host }, ssl), onConnect)
      : net.connect({ host, port }, onConnect);
    socket.setKeepAlive(true, 60_000);
    this.#open.add(socket);
    socket.once('close', () => this.#open.delete(socket));
    return socket;
  };

  /** Refuses new connections and ends those left; returns how many were still open (not being closed already). */
  close(): number {
    this.#closed = true;
    let open = 0;
    for (const socket of this.#open) {
      if (!socket.writableEnded) open++;
      socket.destroy(new Error('closed by close()'));
    }
    this.#open.clear();
    return open;
  }
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
  #restartTimer: NodeJS.Timeout | undefined;
  #restartAttempt = 0;
  #handlers: ConsumeHandlers | undefined;
  #partitions = 0;
  #closed = false;
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
      retry: { initialRetryTime: 100, maxRetryTime: 2000, retries: 3 },
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
      this.#admin = this.#kafka.admin({ retry: { retries: 2 } });
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
        retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 2 },
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
    if (!policy.split(',').map((p) => p.trim()).includes('compact')) {
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
    try {
      offsets = await this.#deadline('reading topic offsets', admin.fetchTopicOffsets(topic));
    } catch (error) {
      if (![...errorTypes(error).types].some((t) => LEADER_MOVED.has(t))) throw error;
      // kafkajs asks the leader it knew (a topic just created, a leader just moved) and does not
      // refresh its metadata on this error: refresh, then ask once more.
      await this.#deadline('reading topic metadata', admin.fetchTopicMetadata({ topics: [topic] }));
      offsets = await this.#deadline('reading topic offsets', admin.fetchTopicOffsets(topic));
    }
    return offsets
      .map((o) => ({ partition: o.partition, low: Number(o.low), high: Number(o.high) }))
      .sort((a, b) => a.partition - b.partition);
  }

  async consume(handlers: ConsumeHandlers): Promise<void> {
    this.#handlers = handlers;
    await this.#startConsumer();
  }

  async restartConsumer(): Promise<void> {
    const old = this.#consumer;
    this.#consumer = undefined;
    clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    // A stop that does not settle in time goes on in the background; the consumer stays tracked until it did.
    if (old) await this.#deadline('stopping the consumer', this.#stop(old)).catch(() => undefined);
    if (!this.#closed) await this.#startConsumer();
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
    if (this.#closed || this.#restartTimer) return;
    const delay = backoff(this.#restartAttempt++, { initial: 200, max: 2000 });
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#closed || this.#consumer) return;
      this.#startConsumer().catch((error: unknown) => {
        if (this.#closed) return;
        const reported = this.#error('restarting the Kafka consumer', error);
        this.#handlers!.onError(reported);
        // A refusal (authorization) is not retried here; the stall watchdog may try again later.
        if (reported.retriable) this.#scheduleRestart();
      });
    }, delay);
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
        initialRetryTime: 200,
        maxRetryTime: 1000,
        retries: 10,
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
      this.#restartAttempt = 0;
      for (let partition = 0; partition < this.#partitions; partition++) {
        consumer.seek({ topic, partition, offset: String(handlers.startOffset(partition)) });
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
    await withDeadline(this.#lastSend, limit, () => new LogUnavailableError(`an earlier send to Kafka is still unsettled after ${limit} ms`, { retriable: true }));
    const send = producer.send({
      topic: this.#context.topic,
      acks: -1,
      timeout: this.#options.requestTimeout,
      messages: records.map((record) => ({
        partition: record.partition,
        key: record.key,
        value: record.value === null || Buffer.isBuffer(record.value) ? record.value : Buffer.from(record.value.buffer, record.value.byteOffset, record.value.byteLength),
        headers: record.headers,
      })),
    });
    this.#lastSend = send.catch(() => undefined);
    try {
      const acknowledged = await withDeadline(send, limit, () => new LogUnavailableError(`Kafka did not acknowledge ${records.length} records within ${limit} ms`, { retriable: true }));
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
    clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    const consumer = this.#consumer;
    this.#consumer = undefined;
    if (consumer) this.#retired.add(consumer);
    const budget = Math.max(500, (this.#context.closeTimeout ?? 5000) - 250);
    const stops = [...this.#clients].map((client) => (this.#retired.has(client as Consumer) ? this.#stop(client as Consumer) : client.disconnect()));
    const results = await withDeadline(Promise.allSettled(stops), budget, () => new Error('deadline')).catch(() => undefined);
    const left = this.#sockets?.close() ?? 0;
    if (!results || left > 0) {
      this.#context.logger.warn(`closing: Kafka clients not stopped within ${budget} ms; ${left} connection(s) ended`);
    }
    const failed = results?.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw this.#error('closing the Kafka connections', failed.reason);
  }
}

/** The headers the cache reads as text (see record.ts); any other header is passed on untouched. */
const TEXT_HEADERS = new Set<string>(Object.values(HEADERS));

/**
 * The cache's own header values as strings, converted once here for every record read. The
 * version 2 header (`nc-r`, about 60 bytes) is decoded as UTF-8 like any text; the one- to
 * few-character values of version 1 headers are short ASCII, for which a plain loop is several
 * times cheaper than Buffer#toString. Non-ASCII version 1 values and every other header stay the
 * Buffers kafkajs delivered.
 */
function headerStrings(headers: IHeadersLike): LogRecord['headers'] {
  // In place: kafkajs made this object for this message alone and does not read it again.
  for (const name in headers) {
    const value = headers[name];
    if (!Buffer.isBuffer(value) || !TEXT_HEADERS.has(name)) continue;
    headers[name] = name === HEADERS.record ? value.toString('utf8') : shortAscii(value);
  }
  return headers;
}

type IHeadersLike = Record<string, Buffer | string | Array<Buffer | string> | undefined>;

function shortAscii(buffer: Buffer): string | Buffer {
  const length = buffer.length;
  if (length > 32) return buffer;
  let text = '';
  for (let i = 0; i < length; i++) {
    const code = buffer[i]!;
    if (code >= 0x80) return buffer;
    text += String.fromCharCode(code);
  }
  return text;
}
