import type { ConnectionOptions } from 'node:tls';
import type { Kafka, SASLOptions } from 'kafkajs';
import { InvalidOptionError } from '../../errors.js';
import { compactsKeys } from '../topic-config.js';
import { bool, fail, integer, noUnknownKeys, oneOf, plainObject, string } from '../../validate.js';

export type KafkaLogLevel = 'nothing' | 'error' | 'warn' | 'info' | 'debug';

/** How a cache connects to Kafka. Every option is checked up front; see docs/configuration.md. */
export interface KafkaLogOptions {
  /** Bootstrap brokers, as an array or a comma-separated string ("host:port"). Required unless `client` is given. */
  brokers?: string[] | string;
  /** An existing kafkajs client whose settings (brokers, TLS, SASL) this cache uses; caches given the same client share its admin, producer and consumer (see `shareConnection`). Instead of `brokers`, `clientId`, `ssl`, `sasl`, `connectionTimeout` and `logLevel`. */
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
  /**
   * The rack (availability zone) this instance runs in, as the brokers' `broker.rack` names them:
   * on a cluster with a rack-aware replica selector, the consumer fetches from a replica in the
   * same rack instead of the partition leader (follower fetching, KIP-392). Default: none (leaders).
   */
  rackId?: string;
  /** kafkajs's own log level; its lines go through the cache's logger at the level their meaning deserves (docs/operations.md, Logs). Default "error". */
  logLevel?: KafkaLogLevel;
  /**
   * Share the process's Kafka connections with the other caches of equal client settings (or the
   * same `client`): one admin, one producer, and one consumer reading their topics (docs/architecture.md,
   * Shared Kafka connections). `false` gives this cache an admin, a producer and a consumer of its own. Default true.
   */
  shareConnection?: boolean;
}

const KAFKA_OPTION_NAMES = [
  'brokers',
  'client',
  'clientId',
  'ssl',
  'sasl',
  'connectionTimeout',
  'requestTimeout',
  'partitions',
  'replicationFactor',
  'topicConfig',
  'createTopic',
  'allowNonCompactedTopic',
  'groupIdPrefix',
  'sessionTimeout',
  'heartbeatInterval',
  'maxWaitTimeInMs',
  'rackId',
  'logLevel',
  'shareConnection',
] as const;

/** The options with their defaults, checked. */
export interface ResolvedKafkaOptions {
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
  rackId: string | undefined;
  logLevel: KafkaLogLevel;
  shareConnection: boolean;
}

const BROKER = /^[^\s:,]+:\d{1,5}$/;
/** Settings of the kafkajs client itself: they come from `kafka.client` when it is given. */
const CLIENT_SETTINGS = ['clientId', 'ssl', 'sasl', 'connectionTimeout', 'logLevel'] as const;

/** Checks `kafka` options up front and fills in their defaults; throws InvalidOptionError naming what is wrong and what is allowed. */
export function resolveKafkaOptions(input: KafkaLogOptions): ResolvedKafkaOptions {
  const options = plainObject('kafka', input) as unknown as KafkaLogOptions;
  noUnknownKeys('kafka.', options, KAFKA_OPTION_NAMES);
  let brokers: string[] | undefined;
  if (options.client === undefined) {
    const list =
      typeof options.brokers === 'string'
        ? options.brokers
            .split(',')
            .map((b) => b.trim())
            .filter(Boolean)
        : options.brokers;
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
    if (name === 'cleanup.policy' && !compactsKeys(value)) {
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
    rackId:
      options.rackId === undefined ? undefined : string('kafka.rackId', options.rackId, undefined, /^\S{1,255}$/, '1 to 255 characters without whitespace'),
    logLevel: oneOf('kafka.logLevel', options.logLevel, 'error', ['nothing', 'error', 'warn', 'info', 'debug'] as const),
    shareConnection: bool('kafka.shareConnection', options.shareConnection, true),
  };
}
