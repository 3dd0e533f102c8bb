import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { InvalidOptionError, resolveKafkaOptions, withDeadline, type KafkaLogOptions, type ResolvedKafkaOptions } from '@nearcache/core';
import kafkajs from 'kafkajs';
import type { Kafka, SASLOptions } from 'kafkajs';
import type { ParsedCommandLine } from './args.js';
import { integerValue } from './args.js';
import { CliError, EXIT, UsageError } from './exit-codes.js';

const { Kafka: KafkaClient, logLevel } = kafkajs;

/** How the tool reaches the cluster: the core's checked Kafka options, the topic and the deadline. */
export interface Connection {
  topic: string;
  kafka: ResolvedKafkaOptions;
  /** Deadline of the whole read, in ms. */
  timeout: number;
}

export type Env = Readonly<Record<string, string | undefined>>;

const truthy = (text: string | undefined): boolean => text !== undefined && ['1', 'true', 'yes', 'on'].includes(text.trim().toLowerCase());

function readPem(what: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read the ${what} file ${JSON.stringify(file)}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/**
 * The connection from flags and environment variables (flags win), checked by the core's own
 * Kafka option checks: a wrong value is a usage error with the core's message.
 */
export function connectionFrom(line: ParsedCommandLine, env: Env): Connection {
  const v = line.values;
  const topic = v.topic ?? env.NEARCACHE_TOPIC;
  if (topic === undefined || topic.trim() === '') throw new UsageError('--topic is required (or set NEARCACHE_TOPIC)');
  const brokers = v.brokers ?? env.NEARCACHE_BROKERS ?? env.KAFKA_BROKERS;
  if (brokers === undefined) throw new UsageError('--brokers is required (host:port,...; or set NEARCACHE_BROKERS)');
  const ca = v['tls-ca'] ?? env.NEARCACHE_TLS_CA;
  const cert = v['tls-cert'] ?? env.NEARCACHE_TLS_CERT;
  const key = v['tls-key'] ?? env.NEARCACHE_TLS_KEY;
  if ((cert === undefined) !== (key === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  let ssl: boolean | ConnectionOptions | undefined;
  if (ca !== undefined || cert !== undefined) {
    ssl = {
      ...(ca === undefined ? {} : { ca: readPem('CA', ca) }),
      ...(cert === undefined ? {} : { cert: readPem('certificate', cert), key: readPem('key', key!) }),
    };
  } else if (v.tls === true || truthy(env.NEARCACHE_TLS)) {
    ssl = true;
  }
  const mechanism = v['sasl-mechanism'] ?? env.NEARCACHE_SASL_MECHANISM;
  let sasl: SASLOptions | undefined;
  if (mechanism !== undefined) {
    if (!['plain', 'scram-sha-256', 'scram-sha-512'].includes(mechanism)) {
      throw new UsageError(`--sasl-mechanism must be plain, scram-sha-256 or scram-sha-512 (got ${JSON.stringify(mechanism)})`);
    }
    const username = v['sasl-username'] ?? env.NEARCACHE_SASL_USERNAME;
    const password = v['sasl-password'] ?? env.NEARCACHE_SASL_PASSWORD;
    if (username === undefined || password === undefined)
      throw new UsageError(`SASL ${mechanism} needs --sasl-username and a password (NEARCACHE_SASL_PASSWORD)`);
    sasl = { mechanism, username, password } as SASLOptions;
  } else if (v['sasl-username'] !== undefined || v['sasl-password'] !== undefined) {
    throw new UsageError('--sasl-username and --sasl-password need --sasl-mechanism');
  }
  const timeout = integerValue('timeout', v.timeout, 60_000, 1, 3_600_000);
  const options: KafkaLogOptions = {
    brokers,
    clientId: v['client-id'] ?? env.NEARCACHE_CLIENT_ID,
    ssl,
    sasl,
    groupIdPrefix: v['group-id-prefix'],
    requestTimeout: Math.min(10_000, timeout),
    logLevel: 'nothing',
  };
  try {
    return { topic, kafka: resolveKafkaOptions(options), timeout };
  } catch (error) {
    if (error instanceof InvalidOptionError) throw new UsageError(error.message.replace(/"kafka\.(\w+)"/g, (_, name: string) => `"${name}"`));
    throw error;
  }
}

/** A kafkajs client for the connection: few retries, so an unreachable cluster is reported soon. */
export function kafkaClient(connection: Connection): Kafka {
  const k = connection.kafka;
  return new KafkaClient({
    brokers: k.brokers!,
    clientId: k.clientId,
    ...(k.ssl === undefined ? {} : { ssl: k.ssl }),
    ...(k.sasl === undefined ? {} : { sasl: k.sasl }),
    connectionTimeout: k.connectionTimeout,
    requestTimeout: k.requestTimeout,
    logLevel: logLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 },
  });
}

/** kafkajs errors that mean the cluster was not reached, or refused us (authentication, authorization). */
const UNREACHABLE =
  /Connection|BrokerNotFound|NumberOfRetriesExceeded|RequestTimeout|SASL|Authentication|AUTHORIZATION_FAILED|Not authorized|Timeout|ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|certificate|SSL|TLS/i;

/** The exit code and message of an error thrown while talking to Kafka. */
export function classify(error: unknown, connection: Connection | undefined): CliError {
  if (error instanceof CliError) return error;
  const e = error as { name?: string; message?: string; type?: string; cause?: unknown };
  const text = `${e?.name ?? ''} ${e?.type ?? ''} ${e?.message ?? String(error)}`;
  if (UNREACHABLE.test(text)) {
    const where = connection?.kafka.brokers?.join(',') ?? 'the cluster';
    return new CliError(EXIT.unreachable, `cannot reach Kafka at ${where}: ${e?.message ?? String(error)}`, { cause: error });
  }
  return new CliError(EXIT.internal, `${e?.name ?? 'Error'}: ${e?.message ?? String(error)}`, { cause: error });
}

/** Rejects with a "cannot reach" error when `work` is not done within `ms`. */
export function withTimeout<T>(what: string, ms: number, work: Promise<T>): Promise<T> {
  return withDeadline(work, ms, () => new CliError(EXIT.unreachable, `${what} did not finish within ${ms} ms (--timeout)`));
}
