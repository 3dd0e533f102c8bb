import { checkTopicConfig, TOPIC_CONFIG_NAMES, type RejectReason, type TopicConfigFinding } from '@nearcache/core';
import kafkajs from 'kafkajs';
import type { ParsedCommandLine } from '../args.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { TopicFold } from '../fold.js';
import { bytes, Progress, table, writeJson, type Io } from '../output.js';
import type { TopicReader } from '../reader.js';
import { checkRecord, type Reading } from '../records.js';

const { ConfigResourceTypes } = kafkajs;

/** What `inspect --json` prints. */
export interface InspectReport {
  topic: string;
  replicationFactor: number | undefined;
  partitions: Array<{ partition: number; earliest: number; latest: number; read: number }>;
  config: Record<string, string | undefined>;
  findings: TopicConfigFinding[];
  records: {
    total: number;
    bytes: { total: number; keys: number; values: number; headers: number };
    sets: number;
    tombstones: number;
    clears: number;
    tagInvalidations: number;
    rejected: number;
    rejectedByReason: Partial<Record<RejectReason, number>>;
  };
  keys: { live: number; expired: number; distinct: number };
}

function headerBytes(headers: Record<string, unknown>): number {
  let n = 0;
  for (const [name, value] of Object.entries(headers)) {
    for (const one of Array.isArray(value) ? value : [value]) {
      n += Buffer.byteLength(name) + (one === undefined || one === null ? 0 : typeof one === 'string' ? Buffer.byteLength(one) : (one as Uint8Array).length);
    }
  }
  return n;
}

export async function inspect(line: ParsedCommandLine, io: Io, reader: TopicReader, reading: Reading): Promise<ExitCode> {
  const topic = reader.topic;
  const ranges = await reader.ranges();
  const admin = await reader.admin();
  const described = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }] });
  const entries = described.resources[0]?.configEntries ?? [];
  const all = Object.fromEntries(entries.map((e) => [e.configName, e.configValue]));
  const config = Object.fromEntries(TOPIC_CONFIG_NAMES.map((name) => [name, all[name] ?? undefined]));
  const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
  const replicationFactor = metadata.topics[0]?.partitions[0]?.replicas.length;
  const findings = checkTopicConfig(all, replicationFactor);

  const counts: InspectReport['records'] = {
    total: 0,
    bytes: { total: 0, keys: 0, values: 0, headers: 0 },
    sets: 0,
    tombstones: 0,
    clears: 0,
    tagInvalidations: 0,
    rejected: 0,
    rejectedByReason: {},
  };
  const read = new Map(ranges.map((r) => [r.partition, 0]));
  const fold = new TopicFold(false);
  const distinct = new Set<string>();
  const progress = Progress.forRanges(io, line, 'inspect', ranges);
  try {
    await reader.read(
      ranges,
      (records) => {
        for (const record of records) {
          read.set(record.partition, read.get(record.partition)! + 1);
          counts.total++;
          const k = record.key?.length ?? 0;
          const v = record.value?.length ?? 0;
          const h = headerBytes(record.headers);
          counts.bytes.keys += k;
          counts.bytes.values += v;
          counts.bytes.headers += h;
          counts.bytes.total += k + v + h;
          if (record.value === null) counts.tombstones++;
          const checked = checkRecord(topic, record, reading);
          if (checked.problem) {
            counts.rejected++;
            counts.rejectedByReason[checked.problem.reason] = (counts.rejectedByReason[checked.problem.reason] ?? 0) + 1;
            continue;
          }
          const parsed = checked.parsed;
          if (parsed.op === 'set') counts.sets++;
          else if (parsed.op === 'clear') counts.clears++;
          else if (parsed.op === 'tag') counts.tagInvalidations++;
          if (parsed.op === 'set' || parsed.op === 'delete') distinct.add(parsed.key);
          fold.apply(record, parsed);
        }
      },
      (n) => progress.update(n),
    );
  } finally {
    progress.stop();
  }
  const now = Date.now();
  let live = 0;
  for (const entry of fold.entries.values()) if (TopicFold.live(entry, now)) live++;
  const report: InspectReport = {
    topic,
    replicationFactor,
    partitions: ranges.map((r) => ({ ...r, read: read.get(r.partition)! })),
    config,
    findings,
    records: counts,
    keys: { live, expired: fold.entries.size - live, distinct: distinct.size },
  };
  if (line.values.json) writeJson(io, report);
  else io.stdout.write(render(report));
  return findings.some((f) => f.level === 'error') ? EXIT.failed : EXIT.ok;
}

function render(r: InspectReport): string {
  const c = r.records;
  const rejected = Object.entries(c.rejectedByReason)
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
  const lines = [
    `topic ${r.topic}: ${r.partitions.length} partition(s), replication factor ${r.replicationFactor ?? '?'}`,
    table([['partition', 'earliest', 'latest', 'records read'], ...r.partitions.map((p) => [p.partition, p.earliest, p.latest, p.read])]),
    'settings',
    table(Object.entries(r.config).map(([name, value]) => [name, value ?? '(not reported)'])),
    r.findings.length === 0
      ? 'settings check: as docs/operations.md recommends'
      : `settings check:\n${r.findings.map((f) => `  ${f.level.padEnd(7)} ${f.setting}${f.value === undefined ? '' : `=${f.value}`}: ${f.message}`).join('\n')}`,
    `records ${c.total} (${bytes(c.bytes.total)}: keys ${bytes(c.bytes.keys)}, values ${bytes(c.bytes.values)}, headers ${bytes(c.bytes.headers)})`,
    `  sets ${c.sets}, tombstones ${c.tombstones}, clears ${c.clears}, tag invalidations ${c.tagInvalidations}, rejected ${c.rejected}${rejected ? ` (${rejected})` : ''}`,
    `keys ${r.keys.live} live, ${r.keys.expired} expired, ${r.keys.distinct} distinct in the records read`,
  ];
  return `${lines.join('\n')}\n`;
}
