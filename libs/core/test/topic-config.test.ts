import { describe, expect, it } from 'vitest';
import { checkTopicConfig, compactsKeys, recordCodecName, type LogRecord } from '../src/index.js';
import { clearRecord, deleteRecord, setRecord } from '../src/record.js';

const recommended = {
  'cleanup.policy': 'compact',
  'delete.retention.ms': '86400000',
  'segment.ms': '3600000',
  'min.cleanable.dirty.ratio': '0.2',
  'min.compaction.lag.ms': '0',
  'min.insync.replicas': '2',
  'max.message.bytes': '1048588',
};

describe('topic settings checks', () => {
  it('find nothing wrong with the settings docs/operations.md recommends', () => {
    expect(checkTopicConfig(recommended, 3)).toEqual([]);
  });

  it('report a topic that is not compacted as an error, and compact,delete as a warning', () => {
    expect(compactsKeys('delete')).toBe(false);
    expect(compactsKeys(' compact , delete')).toBe(true);
    expect(checkTopicConfig({ ...recommended, 'cleanup.policy': 'delete' }, 3)[0]).toMatchObject({
      level: 'error',
      setting: 'cleanup.policy',
      value: 'delete',
    });
    expect(checkTopicConfig({ ...recommended, 'cleanup.policy': 'compact,delete' }, 3)).toEqual([
      expect.objectContaining({ level: 'warning', setting: 'cleanup.policy' }),
    ]);
    expect(checkTopicConfig({}, 3)[0]).toMatchObject({ level: 'error', setting: 'cleanup.policy', value: undefined });
  });

  it('warn about short tombstone retention, test-speed cleaning and a small max.message.bytes; note a lone replica', () => {
    const findings = checkTopicConfig(
      { ...recommended, 'delete.retention.ms': '100', 'segment.ms': '100', 'min.cleanable.dirty.ratio': '0.01', 'max.message.bytes': '100000' },
      1,
    );
    expect(findings.map((f) => [f.level, f.setting])).toEqual([
      ['warning', 'delete.retention.ms'],
      ['warning', 'segment.ms'],
      ['warning', 'min.cleanable.dirty.ratio'],
      ['warning', 'max.message.bytes'],
      ['note', 'replication.factor'],
    ]);
    expect(findings.at(-1)!.value).toBe('1');
  });
});

describe('recordCodecName', () => {
  const asLog = (r: { key: string; value: Uint8Array | null; headers: Record<string, string> }): LogRecord => ({
    partition: 0,
    offset: 0,
    key: Buffer.from(r.key),
    value: r.value,
    headers: r.headers,
    timestamp: 0,
  });

  it('reads the codec a version 3 set, delete or clear names', () => {
    expect(recordCodecName(asLog(setRecord(0, 'k', Buffer.from('1'), 0, 'origin', 1, 'json')))).toBe('json');
    expect(recordCodecName(asLog(deleteRecord(0, 'k', 'origin', 2, 'aes-256-gcm(structured)')))).toBe('aes-256-gcm(structured)');
    expect(recordCodecName(asLog(clearRecord(0, 'p:', 'origin', 3, 'buffer')))).toBe('buffer');
  });

  it('is undefined for version 2 and 1 records and for records without metadata', () => {
    expect(recordCodecName(asLog({ key: 'k', value: Buffer.from('2 s 0 1 origin\n"v"'), headers: {} }))).toBeUndefined();
    expect(
      recordCodecName(asLog({ key: 'k', value: Buffer.from('"v"'), headers: { 'nc-v': '1', 'nc-op': 's', 'nc-origin': 'o', 'nc-wid': '1' } })),
    ).toBeUndefined();
    expect(recordCodecName(asLog({ key: 'k', value: Buffer.from('foreign bytes'), headers: {} }))).toBeUndefined();
    expect(recordCodecName(asLog({ key: 'k', value: null, headers: {} }))).toBeUndefined();
  });
});
