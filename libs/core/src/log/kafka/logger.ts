import kafkajs from 'kafkajs';
import type { LogEntry } from 'kafkajs';
import type { Logger } from '../../logger.js';
import type { KafkaLogLevel } from './options.js';
import { CLOSED_BY_CLOSE } from './sockets.js';

const { logLevel: LogLevel } = kafkajs;

/** kafkajs's level for each `kafka.logLevel`. */
export const KAFKA_LEVELS: Record<KafkaLogLevel, number> = {
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
 * kafkajs warnings at info; the rest at debug. Left out: kafkajs telling that a connection was
 * ended by the cache's own close() (`Connection error: closed by close()`), which is no event
 * at all (loggers such as Nest's default one show debug lines).
 */
export function logCreator(logger: Logger) {
  return () =>
    ({ namespace, level, log }: LogEntry): void => {
      const { message, timestamp: _timestamp, logger: _logger, ...extra } = log as { message: string; timestamp?: unknown; logger?: unknown; error?: unknown };
      const detail = `${message} ${typeof extra.error === 'string' ? extra.error : ''}`;
      if (detail.includes(CLOSED_BY_CLOSE)) return;
      const text = `kafkajs ${namespace}: ${message}`;
      if (level <= LogLevel.WARN && ROUTINE_KAFKA_LINE.test(detail)) logger.debug(text, extra);
      else if (level <= LogLevel.ERROR) logger.warn(text, extra);
      else if (level === LogLevel.WARN) logger.info(text, extra);
      else logger.debug(text, extra);
    };
}
