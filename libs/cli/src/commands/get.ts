import { partitionFor } from '@nearcache/core';
import type { ParsedCommandLine } from '../args.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { TopicFold } from '../fold.js';
import { Progress, showKey, showValue, toJsonValue, when, writeJson, type Io } from '../output.js';
import type { TopicReader } from '../reader.js';
import { checkRecord, decodeValue, keyText, type Problem, type Reading } from '../records.js';

/** A record of the key that a reader skips (its value stays as it was). */
interface Skipped extends Problem {
  partition: number;
  offset: number;
}

/**
 * `get KEY`: reads the key's partition up to its end, folds the key's records as a fresh
 * reader applies them (skipping what a reader skips, an undecodable set included) and prints
 * the value, decoded with the codec its record names. Exit 1 when there is no live value.
 */
export async function get(line: ParsedCommandLine, io: Io, reader: TopicReader, reading: Reading): Promise<ExitCode> {
  const topic = reader.topic;
  const key = line.positionals[0]!;
  const ranges = await reader.ranges();
  const partition = partitionFor(key, ranges.length);
  const range = ranges.find((r) => r.partition === partition)!;
  const fold = new TopicFold(true, (k) => k === key);
  const decoded = new Map<number, { value: unknown; codec: string }>();
  const skipped: Skipped[] = [];
  let last: { offset: number; what: string } | undefined;
  const progress = new Progress(io, line.values['no-progress'] !== true, `get ${key}`, range.latest - range.earliest);
  try {
    await reader.read(
      [range],
      (records) => {
        for (const record of records) {
          const checked = checkRecord(topic, record, reading);
          if (checked.problem) {
            if (keyText(record) === key) skipped.push({ partition, offset: record.offset, ...checked.problem });
            continue;
          }
          const parsed = checked.parsed;
          if ((parsed.op === 'set' || parsed.op === 'delete') && parsed.key === key) {
            if (parsed.op === 'set') {
              const result = decodeValue(record, parsed.value, reading);
              if ('problem' in result) {
                skipped.push({ partition, offset: record.offset, ...result.problem });
                continue;
              }
              decoded.set(record.offset, result);
            }
            const applied = fold.apply(record, parsed);
            const now = fold.entries.get(key);
            // Only the decoded value of the key's current set is kept.
            for (const offset of decoded.keys()) if (offset !== now?.offset) decoded.delete(offset);
            if (applied) last = { offset: record.offset, what: parsed.op === 'set' ? 'set' : 'deleted' };
          } else if (parsed.op === 'clear' || parsed.op === 'tag') {
            const held = fold.entries.has(key);
            fold.apply(record, parsed);
            if (held && !fold.entries.has(key))
              last = {
                offset: record.offset,
                what: parsed.op === 'clear' ? `cleared (prefix ${showKey(parsed.prefix)})` : `invalidated (tag ${showKey(parsed.tag)})`,
              };
          }
        }
      },
      (n) => progress.update(n),
    );
  } finally {
    progress.stop();
  }
  const entry = fold.entries.get(key);
  const now = Date.now();
  if (entry === undefined || !TopicFold.live(entry, now)) {
    const reason =
      entry !== undefined
        ? `expired at ${when(entry.expiresAt)} (offset ${entry.offset})`
        : last === undefined
          ? `no record of the key in partition ${partition}`
          : `${last.what} at offset ${last.offset}`;
    if (line.values.json) writeJson(io, { topic, key, partition, found: false, reason, skipped });
    else io.stderr.write(`${showKey(key)}: not found: ${reason}${skippedText(skipped)}\n`);
    return EXIT.failed;
  }
  const { value, codec } = decoded.get(entry.offset)!;
  const meta = {
    partition,
    offset: entry.offset,
    timestamp: entry.timestamp,
    origin: entry.origin,
    writeId: entry.writeId,
    codec,
    expiresAt: entry.expiresAt,
    graceEnd: entry.graceEnd,
    tags: entry.tags ?? [],
  };
  if (line.values.json) {
    writeJson(io, { topic, key, found: true, ...meta, value: toJsonValue(value), skipped });
    return EXIT.ok;
  }
  io.stdout.write(
    [
      `key       ${showKey(key)} (partition ${partition}, offset ${entry.offset})`,
      `written   ${when(entry.timestamp)} by ${entry.origin} (write ${entry.writeId}), codec ${codec}`,
      `expires   ${entry.expiresAt === 0 ? 'never' : when(entry.expiresAt)}${entry.graceEnd > 0 ? `, grace until ${when(entry.graceEnd)}` : ''}`,
      ...(entry.tags === undefined ? [] : [`tags      ${entry.tags.join(', ')}`]),
      `value     ${showValue(value, false)}`,
    ].join('\n') + '\n',
  );
  if (skipped.length > 0) io.stderr.write(`${skippedText(skipped).trimStart()}\n`);
  return EXIT.ok;
}

function skippedText(skipped: Skipped[]): string {
  if (skipped.length === 0) return '';
  return `\n  skipped ${skipped.length} record(s) of the key: ${skipped.map((s) => `offset ${s.offset} ${s.reason} (${s.detail})`).join('; ')}`;
}
