import kafkajs from 'kafkajs';
import type { Admin } from 'kafkajs';
import type { SnapshotFacts } from '../port.js';

const { ConfigResourceTypes } = kafkajs;
/** Kafka's default `delete.retention.ms` (one day), when the broker does not tell. */
const DEFAULT_DELETE_RETENTION = 86_400_000;

/**
 * What a start from a snapshot checks on Kafka: the topic's effective `delete.retention.ms`
 * (its own, or the broker's default), and per partition the first offset stamped at or after
 * `since` (ListOffsets by timestamp; the high watermark when no record is). `deadline` bounds
 * each request.
 */
export async function kafkaSnapshotFacts(
  admin: Admin,
  topic: string,
  since: number,
  deadline: <T>(what: string, promise: Promise<T>) => Promise<T>,
): Promise<SnapshotFacts> {
  const described = await deadline(
    `reading the config of topic "${topic}"`,
    admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['delete.retention.ms'] }] }),
  );
  const value = described.resources[0]?.configEntries.find((entry) => entry.configName === 'delete.retention.ms')?.configValue;
  const retention = Number(value);
  const offsets = await deadline(`reading the offsets of topic "${topic}" by timestamp`, admin.fetchTopicOffsetsByTimestamp(topic, since));
  const firstAtOrAfter: number[] = [];
  for (const { partition, offset } of offsets) firstAtOrAfter[partition] = Number(offset);
  return { deleteRetentionMs: value !== undefined && Number.isFinite(retention) ? retention : DEFAULT_DELETE_RETENTION, firstAtOrAfter };
}
