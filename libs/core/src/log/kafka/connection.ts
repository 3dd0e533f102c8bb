import kafkajs from 'kafkajs';
import type { Admin, Kafka, KafkaConfig, Producer, SASLOptions } from 'kafkajs';
import { LogUnavailableError, type NearCacheError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { RETRY, withDeadline } from '../../retry.js';
import type { LogContext } from '../port.js';
import { ConsumerLane, type LaneSettings } from './consumer-lane.js';
import { toLogError } from './errors.js';
import { KAFKA_LEVELS, logCreator } from './logger.js';
import type { ResolvedKafkaOptions } from './options.js';
import { kafkaRetry } from './retry.js';
import { Sockets } from './sockets.js';

const { Kafka: KafkaClient, Partitioners } = kafkajs;

/**
 * The Kafka connections of a process, shared by its caches: caches whose client settings are equal
 * (`brokers`, `clientId`, TLS, SASL, timeouts, `logLevel`; or the same `kafka.client`) share one
 * admin and one producer, and one consumer per set of consumer settings (a lane, up to one cache
 * per topic). Reference-counted: the last cache to close disconnects them and ends their sockets.
 * `kafka.shareConnection: false` gives a cache connections of its own.
 */
const connections = new Map<string, KafkaConnection>();

/** Takes a share of the connection for `options` (a new one when none is open); `release()` gives it back. */
export function acquireConnection(options: ResolvedKafkaOptions, context: LogContext): KafkaConnection {
  const key = options.shareConnection ? connectionKey(options) : undefined;
  let connection = key === undefined ? undefined : connections.get(key);
  if (!connection) {
    connection = new KafkaConnection(options, key);
    if (key !== undefined) connections.set(key, connection);
  }
  connection.acquired(context.logger);
  return connection;
}

/** The connection's clients, shared by the caches holding a share of it. */
export class KafkaConnection {
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly producer: Producer;
  readonly #key: string | undefined;
  readonly #options: ResolvedKafkaOptions;
  /** The sockets of the kafkajs client built here; undefined with a client given in `kafka.client`. */
  readonly #sockets: Sockets | undefined;
  /** The logger of every share, oldest first: kafkajs's own lines go to the oldest. */
  readonly #loggers: Logger[] = [];
  #lanes: ConsumerLane[] = [];
  /** Lanes whose last cache left, until their consumers stopped: the last release waits for them. */
  readonly #stopping = new Set<Promise<void>>();

  constructor(options: ResolvedKafkaOptions, key: string | undefined) {
    this.#options = options;
    this.#key = key;
    if (options.client) {
      this.kafka = options.client;
    } else {
      const loggers = this.#loggers;
      const config: KafkaConfig = {
        clientId: options.clientId,
        brokers: options.brokers ?? [],
        connectionTimeout: options.connectionTimeout,
        requestTimeout: options.requestTimeout,
        logLevel: KAFKA_LEVELS[options.logLevel],
        logCreator: logCreator({
          debug: (message, context) => loggers[0]?.debug(message, context),
          info: (message, context) => loggers[0]?.info(message, context),
          warn: (message, context) => loggers[0]?.warn(message, context),
          error: (message, context) => loggers[0]?.error(message, context),
        }),
        retry: kafkaRetry(RETRY.kafkaClient),
      };
      if (options.ssl !== undefined) config.ssl = options.ssl;
      // A copy: kafkajs keeps an authenticator bound to the password on the object it is given.
      if (options.sasl !== undefined) config.sasl = { ...options.sasl } as SASLOptions;
      this.#sockets = new Sockets();
      config.socketFactory = this.#sockets.factory;
      this.kafka = new KafkaClient(config);
    }
    this.admin = this.kafka.admin({ retry: kafkaRetry(RETRY.kafkaAdmin) });
    this.producer = this.kafka.producer({
      allowAutoTopicCreation: false,
      idempotent: false,
      // One request in flight: a retried request cannot overtake the next one.
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: kafkaRetry(RETRY.kafkaProducer),
    });
  }

  /** @internal */
  acquired(logger: Logger): void {
    this.#loggers.push(logger);
  }

  /** How many caches hold a share of this connection. */
  get shares(): number {
    return this.#loggers.length;
  }

  /** The consumer lane for a cache on `context.topic`: one with equal consumer settings not reading that topic yet, or a new one. */
  lane(settings: LaneSettings, context: LogContext): ConsumerLane {
    this.#lanes = this.#lanes.filter((lane) => !lane.closed);
    const same = (a: LaneSettings): boolean =>
      a.groupIdPrefix === settings.groupIdPrefix &&
      a.sessionTimeout === settings.sessionTimeout &&
      a.heartbeatInterval === settings.heartbeatInterval &&
      a.maxWaitTimeInMs === settings.maxWaitTimeInMs &&
      a.rackId === settings.rackId;
    let lane = this.#lanes.find((candidate) => same(candidate.settings) && candidate.accepts(context.topic));
    if (!lane) {
      lane = new ConsumerLane(
        settings,
        {
          kafka: this.kafka,
          deadline: (what, promise) => this.deadline(what, promise),
          error: (what, error) => this.error(what, error),
          // Caches created together open in about the same time; one that takes longer is not waited for.
          gatherMs: this.#options.requestTimeout,
        },
        context.instanceId,
      );
      this.#lanes.push(lane);
    }
    return lane;
  }

  /** Tracks a lane's stop (its last cache left) until it settled. */
  stopping(stop: Promise<void>): void {
    const tracked = stop.catch(() => undefined).finally(() => this.#stopping.delete(tracked));
    this.#stopping.add(tracked);
  }

  deadline<T>(what: string, promise: Promise<T>, ms = this.#options.requestTimeout): Promise<T> {
    return withDeadline(promise, ms, () => new LogUnavailableError(`${what} did not answer within ${ms} ms`, { retriable: true })).catch((error: unknown) => {
      throw this.error(what, error);
    });
  }

  error(what: string, error: unknown): NearCacheError {
    return toLogError(what, error, this.#options.brokers);
  }

  /**
   * Gives back the share taken for `logger`. The last share disconnects the admin and the
   * producer, waits for the lanes' consumers, then ends the sockets still open: the process can
   * exit. Resolves with the failure to report, if any, and how many connections were ended.
   */
  async release(logger: Logger, budget: number): Promise<{ stopped: boolean; left: number; failure?: unknown }> {
    const index = this.#loggers.indexOf(logger);
    if (index >= 0) this.#loggers.splice(index, 1);
    if (this.#loggers.length > 0) return { stopped: true, left: 0 };
    if (this.#key !== undefined && connections.get(this.#key) === this) connections.delete(this.#key);
    const stops = [this.admin.disconnect(), this.producer.disconnect(), ...this.#stopping];
    const results = await withDeadline(Promise.allSettled(stops), budget, () => new Error('deadline')).catch(() => undefined);
    const left = this.#sockets?.close() ?? 0;
    const failed = results?.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    return { stopped: results !== undefined, left, ...(failed ? { failure: failed.reason } : {}) };
  }
}

/**
 * A key equal for equal client settings: plain values by content (TLS certificates included),
 * anything else (a kafkajs client, an OAuth token provider, a TLS context) by identity.
 */
function connectionKey(options: ResolvedKafkaOptions): string {
  const { brokers, client, clientId, ssl, sasl, connectionTimeout, requestTimeout, logLevel } = options;
  return canonical(client ? { client, requestTimeout } : { brokers, clientId, ssl, sasl, connectionTimeout, requestTimeout, logLevel });
}

const identities = new WeakMap<object, number>();
let nextIdentity = 0;

function canonical(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return `bytes:${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')}`;
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  if (typeof value === 'object' || typeof value === 'function') {
    let id = identities.get(value as object);
    if (id === undefined) identities.set(value as object, (id = ++nextIdentity));
    return `ref:${id}`;
  }
  return `${typeof value}:${String(value)}`;
}
