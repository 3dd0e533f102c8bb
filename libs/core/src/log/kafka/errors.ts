// kafkajs's errors in the cache's terms: typed errors that say whether a retry can help and
// which broker could not be reached.
import { LogUnavailableError, NearCacheError } from '../../errors.js';

/** The broker asked is not (or no longer) the partition's leader. */
export const LEADER_MOVED = new Set(['NOT_LEADER_FOR_PARTITION', 'LEADER_NOT_AVAILABLE']);
/** A send the broker refused for good: retrying it cannot help. */
export const PERMANENT_ERRORS = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'TOPIC_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
]);
/** Failures a retry cannot heal (authentication, authorization): reported as not retriable. */
const FATAL_ERROR_NAMES = new Set(['KafkaJSSASLAuthenticationError']);
const FATAL_ERROR_TYPES = new Set([
  'SASL_AUTHENTICATION_FAILED',
  'TOPIC_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'ILLEGAL_SASL_STATE',
  'UNSUPPORTED_SASL_MECHANISM',
]);

/** Error types found along an error's cause chain (kafkajs wraps the broker's error in retry errors). */
export function errorTypes(error: unknown): { types: Set<string>; names: Set<string> } {
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
export function toLogError(what: string, error: unknown, brokers?: string[]): NearCacheError {
  if (error instanceof NearCacheError) return error;
  const detail = unreachable(error, brokers) ?? (error as Error)?.message ?? String(error);
  return new LogUnavailableError(`${what}: ${detail}`, { cause: error, retriable: !isFatal(error) });
}
