import type { RejectReason } from '@nearcache/core';
import type { ParsedCommandLine } from '../args.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { Progress, showKey, writeJson, type Io } from '../output.js';
import type { TopicReader } from '../reader.js';
import { checkRecord, decodeValue, keyText, type Problem, type Reading } from '../records.js';

/** A record a cache reader skips, with where it is. */
export interface BadRecord extends Problem {
  partition: number;
  offset: number;
  /** The key as text, or null when the record has none. */
  key: string | null;
}

/**
 * `verify`: checks every record up to the end of each partition as a cache reader does (the
 * signature first with signing keys, then the format, then the value decoded with the codec it
 * names) and lists the bad ones by partition and offset. Exit 1 when any is bad.
 */
export async function verify(line: ParsedCommandLine, io: Io, reader: TopicReader, reading: Reading): Promise<ExitCode> {
  const topic = reader.topic;
  const ranges = await reader.ranges();
  const bad: BadRecord[] = [];
  const byReason: Partial<Record<RejectReason, number>> = {};
  let checked = 0;
  const progress = Progress.forRanges(io, line, 'verify', ranges);
  try {
    await reader.read(
      ranges,
      (records) => {
        for (const record of records) {
          checked++;
          const result = checkRecord(topic, record, reading);
          let problem = result.problem;
          if (result.parsed?.op === 'set') {
            const value = decodeValue(record, result.parsed.value, reading);
            if ('problem' in value) problem = value.problem;
          }
          if (problem === undefined) continue;
          bad.push({ partition: record.partition, offset: record.offset, key: keyText(record), ...problem });
          byReason[problem.reason] = (byReason[problem.reason] ?? 0) + 1;
        }
      },
      (n) => progress.update(n),
    );
  } finally {
    progress.stop();
  }
  bad.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  const signed = reading.signer !== undefined;
  if (line.values.json) {
    writeJson(io, { topic, ok: bad.length === 0, checked, signaturesChecked: signed, badCount: bad.length, byReason, bad });
  } else {
    for (const b of bad) io.stdout.write(`partition ${b.partition} offset ${b.offset} key ${showKey(b.key)}: ${b.reason}: ${b.detail}\n`);
    const reasons = Object.entries(byReason)
      .map(([reason, n]) => `${reason} ${n}`)
      .join(', ');
    io.stdout.write(
      `${checked} record(s) checked on ${ranges.length} partition(s)${signed ? ', signatures included' : ''}: ${bad.length === 0 ? 'all good' : `${bad.length} bad (${reasons})`}\n`,
    );
  }
  return bad.length === 0 ? EXIT.ok : EXIT.failed;
}
