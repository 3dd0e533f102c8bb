import type { LogRecord } from '@nearcache/core';
import type { ParsedCommandLine } from '../args.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { showKey, showValue, toJsonValue, when, type Io } from '../output.js';
import type { TopicReader } from '../reader.js';
import { checkRecord, decodeValue, keyText, type Reading } from '../records.js';

/** One record as `tail` shows it (and, with --json, prints it: one object a line). */
export interface TailLine {
  partition: number;
  offset: number;
  timestamp: number;
  op: 'set' | 'delete' | 'clear' | 'tag' | 'bad';
  key: string | null;
  value?: unknown;
  codec?: string;
  expiresAt?: number;
  tags?: readonly string[];
  prefix?: string;
  tag?: string;
  origin?: string;
  writeId?: number;
  fence?: number;
  problem?: { reason: string; detail: string };
}

/** The record as a line, or undefined when `prefix` filters it out. */
export function describeRecord(topic: string, record: LogRecord, reading: Reading, prefix: string | undefined): TailLine | undefined {
  const base = { partition: record.partition, offset: record.offset, timestamp: record.timestamp, key: keyText(record) };
  const checked = checkRecord(topic, record, reading);
  if (checked.problem) {
    if (prefix !== undefined && !(base.key ?? '').startsWith(prefix)) return undefined;
    return { ...base, op: 'bad', problem: checked.problem };
  }
  const p = checked.parsed;
  const meta = { origin: p.origin, writeId: p.writeId };
  switch (p.op) {
    case 'clear':
      // A clear reaches the keys under the prefix when one prefix starts the other.
      if (prefix !== undefined && !prefix.startsWith(p.prefix) && !p.prefix.startsWith(prefix)) return undefined;
      return { ...base, op: 'clear', prefix: p.prefix, ...meta };
    case 'tag':
      if (prefix !== undefined) return undefined;
      return { ...base, op: 'tag', tag: p.tag, ...meta };
    case 'delete':
      if (prefix !== undefined && !p.key.startsWith(prefix)) return undefined;
      return { ...base, op: 'delete', ...meta, ...(p.fence >= 0 ? { fence: p.fence } : {}) };
    case 'set': {
      if (prefix !== undefined && !p.key.startsWith(prefix)) return undefined;
      const decoded = decodeValue(record, p.value, reading);
      if ('problem' in decoded) return { ...base, op: 'bad', codec: decoded.codec, problem: decoded.problem };
      return {
        ...base,
        op: 'set',
        value: decoded.value,
        codec: decoded.codec,
        expiresAt: p.expiresAt,
        ...(p.tags === undefined ? {} : { tags: p.tags }),
        ...meta,
        ...(p.fence >= 0 ? { fence: p.fence } : {}),
      };
    }
  }
}

function render(l: TailLine): string {
  const at = `${when(l.timestamp)} p${l.partition}@${l.offset}`;
  switch (l.op) {
    case 'set': {
      const extra = [
        l.expiresAt ? `expires ${when(l.expiresAt)}` : '',
        l.tags ? `tags ${l.tags.join(',')}` : '',
        l.fence !== undefined ? `fence ${l.fence}` : '',
      ]
        .filter(Boolean)
        .join(' ');
      return `${at} set    ${showKey(l.key)} = ${showValue(l.value, true)}${extra ? `  (${extra})` : ''}`;
    }
    case 'delete':
      return `${at} delete ${showKey(l.key)}`;
    case 'clear':
      return `${at} clear  prefix ${showKey(l.prefix!)}`;
    case 'tag':
      return `${at} tag    ${showKey(l.tag!)} invalidated`;
    case 'bad':
      return `${at} BAD    ${showKey(l.key)}: ${l.problem!.reason}: ${l.problem!.detail}`;
  }
}

/** `tail`: prints records as they arrive until the signal aborts (SIGINT, SIGTERM); exit 0 then. */
export async function tail(line: ParsedCommandLine, io: Io, reader: TopicReader, reading: Reading): Promise<ExitCode> {
  const topic = reader.topic;
  const prefix = line.values.prefix;
  const ranges = await reader.ranges();
  const fromBeginning = line.values['from-beginning'] === true;
  const from = new Map(ranges.map((r) => [r.partition, fromBeginning ? r.earliest : r.latest]));
  const signal = io.signal ?? new AbortController().signal;
  let shown = 0;
  await reader.follow(
    from,
    (records) => {
      for (const record of records) {
        const l = describeRecord(topic, record, reading, prefix);
        if (l === undefined) continue;
        shown++;
        io.stdout.write(line.values.json ? `${JSON.stringify({ ...l, ...(l.op === 'set' ? { value: toJsonValue(l.value) } : {}) })}\n` : `${render(l)}\n`);
      }
    },
    signal,
    () =>
      io.stderr.write(
        `following topic "${topic}" from ${fromBeginning ? 'the beginning' : 'its end'}${prefix === undefined ? '' : `, keys starting with ${showKey(prefix)}`} (Ctrl-C to stop)\n`,
      ),
  );
  io.stderr.write(`stopped after ${shown} record(s)\n`);
  return EXIT.ok;
}
