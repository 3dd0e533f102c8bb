/**
 * What a cache needs from its topic's settings (docs/operations.md, Topic configuration), as
 * checks over the topic's effective config. The Kafka adapter refuses a topic that is not
 * compacted with `compactsKeys`; tools that inspect a topic report the full list.
 */

/** One finding about a topic setting: `error` makes the cache refuse the topic, `warning` loses data or time, `note` is advice. */
export interface TopicConfigFinding {
  level: 'error' | 'warning' | 'note';
  setting: string;
  /** The value found, or undefined when the setting was not reported. */
  value: string | undefined;
  message: string;
}

/** The topic settings the checks read (and that tools print). */
export const TOPIC_CONFIG_NAMES = [
  'cleanup.policy',
  'min.compaction.lag.ms',
  'max.compaction.lag.ms',
  'delete.retention.ms',
  'segment.ms',
  'segment.bytes',
  'min.cleanable.dirty.ratio',
  'min.insync.replicas',
  'max.message.bytes',
  'retention.ms',
] as const;

const DAY = 86_400_000;
const WEEK = 7 * DAY;
/** Largest producer batch by default (the `maxBatchBytes` option): `max.message.bytes` must hold it. */
const DEFAULT_MAX_BATCH_BYTES = 900 * 1024;

/** Whether a `cleanup.policy` value keeps the latest record of every key (it includes `compact`). */
export function compactsKeys(policy: string): boolean {
  return policy
    .split(',')
    .map((p) => p.trim())
    .includes('compact');
}

const number = (text: string | undefined): number | undefined =>
  text === undefined || text.trim() === '' || !Number.isFinite(Number(text)) ? undefined : Number(text);

/**
 * Checks a topic's effective settings (name to value, as the broker describes them) against
 * what a cache needs; `replicationFactor` is the topic's, when known. Returns the findings,
 * errors first; an empty list when the topic is set up as docs/operations.md recommends.
 */
export function checkTopicConfig(config: Readonly<Record<string, string | undefined>>, replicationFactor?: number): TopicConfigFinding[] {
  const findings: TopicConfigFinding[] = [];
  const add = (level: TopicConfigFinding['level'], setting: string, message: string, value = config[setting]): void => {
    findings.push({ level, setting, value, message });
  };
  const policy = config['cleanup.policy'];
  if (policy === undefined || !compactsKeys(policy)) {
    add(
      'error',
      'cleanup.policy',
      'not compacted: a cache refuses this topic (TopicNotCompactedError); keys older than its retention would be lost on bootstrap',
    );
  } else if (policy.split(',').some((p) => p.trim() === 'delete')) {
    add('warning', 'cleanup.policy', 'compact,delete: retention deletes keys and bootstrap loses them; use compact alone');
  }
  const deleteRetention = number(config['delete.retention.ms']);
  if (deleteRetention !== undefined && deleteRetention < DAY) {
    add(
      'warning',
      'delete.retention.ms',
      'below one day: a tombstone can be removed before a bootstrapping or disconnected instance reads it, and that instance keeps the deleted value',
    );
  }
  const segment = number(config['segment.ms']);
  if (segment !== undefined && segment < 60_000) {
    add('warning', 'segment.ms', 'below one minute: a test setting that makes the cleaner run constantly; use about one hour');
  } else if (segment !== undefined && segment >= WEEK) {
    add('note', 'segment.ms', 'the active segment is never compacted: with keys rewritten often, about one hour shortens bootstraps');
  }
  const ratio = number(config['min.cleanable.dirty.ratio']);
  if (ratio !== undefined && ratio < 0.05) {
    add('warning', 'min.cleanable.dirty.ratio', 'below 0.05: a test setting that costs much cleaner work; use 0.1 to 0.5');
  } else if (ratio !== undefined && ratio > 0.5) {
    add('note', 'min.cleanable.dirty.ratio', 'above 0.5: the log holds more than twice the live keys before the cleaner runs, and bootstraps read them all');
  }
  const lag = number(config['min.compaction.lag.ms']);
  if (lag !== undefined && segment !== undefined && lag > Math.max(segment, DAY)) {
    add('note', 'min.compaction.lag.ms', 'records stay uncompacted this long: bootstraps read every rewrite of a key within it');
  }
  const retention = number(config['retention.ms']);
  if (policy !== undefined && !compactsKeys(policy) && retention !== undefined && retention >= 0) {
    add('warning', 'retention.ms', 'records are deleted after this time whatever their key');
  }
  const maxMessage = number(config['max.message.bytes']);
  if (maxMessage !== undefined && maxMessage < DEFAULT_MAX_BATCH_BYTES) {
    add('warning', 'max.message.bytes', `below the default maxBatchBytes (${DEFAULT_MAX_BATCH_BYTES}): lower maxBatchBytes, or writes of large batches fail`);
  }
  const insync = number(config['min.insync.replicas']);
  if (replicationFactor !== undefined && replicationFactor < 3) {
    add('note', 'replication.factor', `${replicationFactor} replica(s): losing a broker can lose the topic; use 3`, String(replicationFactor));
  } else if (insync !== undefined && insync < 2) {
    add('note', 'min.insync.replicas', 'below 2: an acknowledged write can be lost with one broker');
  }
  const rank = { error: 0, warning: 1, note: 2 };
  return findings.sort((a, b) => rank[a.level] - rank[b.level]);
}
