// The Kafka adapter (kafkajs), one job per file: options.ts checks the options, errors.ts maps
// kafkajs errors to the cache's, logger.ts routes kafkajs's lines, sockets.ts tracks connections,
// retry.ts holds the restart schedule, headers.ts reads record headers, batch.ts turns fetched
// batches into records, consumer-lane.ts is the consumer that caches share, adapter.ts is the log.
export { KafkaLog, kafkaLog } from './adapter.js';
export type { KafkaLogLevel, KafkaLogOptions } from './options.js';
