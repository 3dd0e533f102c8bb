import { describe, expect, it } from 'vitest';
import { clearRecordKey, HEADERS, tagRecordKey, parseRecord, RECORD_FORMAT_VERSION, RecordRejection, type LogRecord, type RejectReason } from '../src/index.js';
import { clearRecord, deleteRecord, setRecord } from '../src/record.js';

const limits = { maxKeyBytes: 16, maxValueBytes: 32 };

type Headers = Record<string, string | Uint8Array | Array<string | Uint8Array> | undefined>;

function record(key: string | Uint8Array | null, value: string | Uint8Array | null, headers: Headers | undefined): LogRecord {
  const bytes = (v: string | Uint8Array | null): Uint8Array | null => (v === null ? null : typeof v === 'string' ? Buffer.from(v, 'utf8') : v);
  return { partition: 0, offset: 7, key: bytes(key), value: bytes(value), headers: headers as LogRecord['headers'], timestamp: Date.now() };
}

const set = (extra: Headers = {}): Headers => ({ 'nc-v': '1', 'nc-op': 's', 'nc-origin': 'writer-1', 'nc-wid': '12', 'nc-exp': '0', ...extra });
const del = (extra: Headers = {}): Headers => ({ 'nc-v': '1', 'nc-op': 'd', 'nc-origin': 'writer-1', 'nc-wid': '13', ...extra });
const clr = (extra: Headers = {}): Headers => ({ 'nc-v': '1', 'nc-op': 'c', 'nc-origin': 'writer-1', 'nc-wid': '14', ...extra });

function without(headers: Headers, name: string): Headers {
  const copy = { ...headers };
  delete copy[name];
  return copy;
}

describe('record format constants', () => {
  it('uses the documented header names and version', () => {
    expect(HEADERS).toEqual({
      record: 'nc-r',
      version: 'nc-v',
      op: 'nc-op',
      expiresAt: 'nc-exp',
      origin: 'nc-origin',
      writeId: 'nc-wid',
      fence: 'nc-fence',
      grace: 'nc-grace',
      tags: 'nc-tags',
    });
    expect(RECORD_FORMAT_VERSION).toBe(3);
    expect(clearRecordKey('ns:')).toBe('\u0000nc:clear:ns:');
    expect(tagRecordKey('user:1')).toBe('\u0000nc:tag:user:1');
  });
});

describe('parseRecord rejects', () => {
  const cases: Array<{ name: string; record: LogRecord; reason: RejectReason }> = [
    { name: 'no headers at all', record: record('k', '1', {}), reason: 'missing-header' },
    { name: 'headers undefined', record: record('k', '1', undefined), reason: 'missing-header' },
    { name: 'no version header', record: record('k', '1', without(set(), 'nc-v')), reason: 'missing-header' },
    { name: 'no op header', record: record('k', '1', without(set(), 'nc-op')), reason: 'missing-header' },
    { name: 'no origin header', record: record('k', '1', without(set(), 'nc-origin')), reason: 'missing-header' },
    { name: 'no write id header', record: record('k', '1', without(set(), 'nc-wid')), reason: 'missing-header' },
    { name: 'an undefined header value', record: record('k', '1', set({ 'nc-op': undefined })), reason: 'missing-header' },
    { name: 'version 2 spelt in the version 1 headers', record: record('k', '1', set({ 'nc-v': '2' })), reason: 'unknown-version' },
    { name: 'version 0', record: record('k', '1', set({ 'nc-v': '0' })), reason: 'unknown-version' },
    { name: 'version "1.0"', record: record('k', '1', set({ 'nc-v': '1.0' })), reason: 'unknown-version' },
    { name: 'an empty version', record: record('k', '1', set({ 'nc-v': '' })), reason: 'unknown-version' },
    { name: 'a binary version', record: record('k', '1', set({ 'nc-v': new Uint8Array([1]) })), reason: 'unknown-version' },
    { name: 'op "x"', record: record('k', '1', set({ 'nc-op': 'x' })), reason: 'unknown-operation' },
    { name: 'op "set" (spelt out)', record: record('k', '1', set({ 'nc-op': 'set' })), reason: 'unknown-operation' },
    { name: 'op "S" (wrong case)', record: record('k', '1', set({ 'nc-op': 'S' })), reason: 'unknown-operation' },
    { name: 'an empty op', record: record('k', '1', set({ 'nc-op': '' })), reason: 'unknown-operation' },
    { name: 'a non-numeric write id', record: record('k', '1', set({ 'nc-wid': 'abc' })), reason: 'malformed' },
    { name: 'a negative write id', record: record('k', '1', set({ 'nc-wid': '-1' })), reason: 'malformed' },
    { name: 'a fractional write id', record: record('k', '1', set({ 'nc-wid': '1.5' })), reason: 'malformed' },
    { name: 'a write id with a leading zero', record: record('k', '1', set({ 'nc-wid': '01' })), reason: 'malformed' },
    { name: 'a write id in exponent notation', record: record('k', '1', set({ 'nc-wid': '1e3' })), reason: 'malformed' },
    { name: 'a hexadecimal write id', record: record('k', '1', set({ 'nc-wid': '0x10' })), reason: 'malformed' },
    { name: 'an empty write id', record: record('k', '1', set({ 'nc-wid': '' })), reason: 'malformed' },
    { name: 'a write id with spaces', record: record('k', '1', set({ 'nc-wid': ' 12' })), reason: 'malformed' },
    { name: 'a 17-digit write id (beyond 2^53)', record: record('k', '1', set({ 'nc-wid': '12345678901234567' })), reason: 'malformed' },
    { name: 'a non-numeric expiry', record: record('k', '1', set({ 'nc-exp': 'tomorrow' })), reason: 'malformed' },
    { name: 'a negative expiry', record: record('k', '1', set({ 'nc-exp': '-5' })), reason: 'malformed' },
    { name: 'a fractional expiry', record: record('k', '1', set({ 'nc-exp': '1700000000000.5' })), reason: 'malformed' },
    { name: 'an ISO date expiry', record: record('k', '1', set({ 'nc-exp': '2030-01-01T00:00:00Z' })), reason: 'malformed' },
    { name: 'an empty expiry', record: record('k', '1', set({ 'nc-exp': '' })), reason: 'malformed' },
    { name: 'a null key (set)', record: record(null, '1', set()), reason: 'invalid-key' },
    { name: 'a null key (delete)', record: record(null, null, del()), reason: 'invalid-key' },
    { name: 'an empty key', record: record('', '1', set()), reason: 'invalid-key' },
    { name: 'a set with a null value', record: record('k', null, set()), reason: 'malformed' },
    { name: 'a set with an empty tag', record: record('k', '1', set({ 'nc-tags': 'a\n\nb' })), reason: 'malformed' },
    { name: 'a set with an empty tags header', record: record('k', '1', set({ 'nc-tags': '' })), reason: 'malformed' },
    { name: 'a set with 33 tags', record: record('k', '1', set({ 'nc-tags': Array.from({ length: 33 }, (_, i) => `t${i}`).join('\n') })), reason: 'malformed' },
    { name: 'a tag invalidation with a null value', record: record('\u0000nc:tag:a', null, set({ 'nc-op': 't' })), reason: 'malformed' },
    { name: 'a tag invalidation whose key does not match its tag', record: record('\u0000nc:tag:a', 'b', set({ 'nc-op': 't' })), reason: 'malformed' },
    { name: 'a tag invalidation of the empty tag', record: record('\u0000nc:tag:', '', set({ 'nc-op': 't' })), reason: 'malformed' },
    { name: 'a delete with a value', record: record('k', '1', del()), reason: 'malformed' },
    { name: 'a delete with an empty value', record: record('k', '', del()), reason: 'malformed' },
    { name: 'a set with a key over maxKeyBytes', record: record('k'.repeat(17), '1', set()), reason: 'key-too-large' },
    { name: 'a set with a multi-byte key over maxKeyBytes', record: record('é'.repeat(9), '1', set()), reason: 'key-too-large' },
    { name: 'a delete with a key over maxKeyBytes', record: record('k'.repeat(17), null, del()), reason: 'key-too-large' },
    { name: 'a set with a value over maxValueBytes', record: record('k', 'v'.repeat(33), set()), reason: 'value-too-large' },
    { name: 'a set with a multi-byte value over maxValueBytes', record: record('k', 'é'.repeat(17), set()), reason: 'value-too-large' },
    { name: 'a set of a reserved key', record: record('\u0000k', '1', set()), reason: 'invalid-key' },
    { name: 'a set of a clear-record key', record: record(clearRecordKey('a'), '1', set()), reason: 'invalid-key' },
    { name: 'a delete of a reserved key', record: record('\u0000k', null, del()), reason: 'invalid-key' },
    { name: 'a clear whose key does not match its prefix', record: record(clearRecordKey('users:'), 'orders:', clr()), reason: 'malformed' },
    { name: 'a clear with an ordinary key', record: record('users:', 'users:', clr()), reason: 'malformed' },
    { name: 'a clear with a null value', record: record(clearRecordKey('users:'), null, clr()), reason: 'malformed' },
    { name: 'a clear of everything with a non-empty value', record: record(clearRecordKey(''), 'x', clr()), reason: 'malformed' },
  ];

  it.each(cases)('$name -> $reason', ({ record: r, reason }) => {
    const result = parseRecord(r, limits);
    expect(result).toBeInstanceOf(RecordRejection);
    const rejection = result as RecordRejection;
    expect(rejection.reason).toBe(reason);
    expect(typeof rejection.detail).toBe('string');
    expect(rejection.detail.length).toBeGreaterThan(0);
  });

  it('does not echo long hostile header values in full', () => {
    const result = parseRecord(record('k', '1', set({ 'nc-v': 'v'.repeat(10_000) })), limits) as RecordRejection;
    expect(result.reason).toBe('unknown-version');
    expect(result.detail.length).toBeLessThan(200);
  });
});

describe('version 2: a metadata line, in the value of a set or in the nc-r header', () => {
  const v2 = (text: string | Uint8Array, extra: Headers = {}): Headers => ({ 'nc-r': text, ...extra });
  const line = (meta: string, payload: string | null): string => `${meta}\n${payload ?? ''}`;

  it('checks maxValueBytes against the value after the metadata line', () => {
    expect(parseRecord(record('k', line('2 s 0 1 o', 'v'.repeat(32)), {}), limits)).toMatchObject({ op: 'set' });
    expect((parseRecord(record('k', line('2 s 0 1 o', 'v'.repeat(33)), {}), limits) as RecordRejection).reason).toBe('value-too-large');
  });

  it('a metadata line is only looked for when there is no nc-r header: with one, the whole value is the payload', () => {
    expect(parseRecord(record('k', line('2 s 0 1 o', '1'), v2('2 s 0 3 w')), limits)).toMatchObject({
      writeId: 3,
      origin: 'w',
      value: Buffer.from('2 s 0 1 o\n1'),
    });
  });

  const lines: Array<{ name: string; value: string | null; reason: RejectReason }> = [
    { name: 'a value without a metadata line', value: '{"a":1}', reason: 'missing-header' },
    { name: 'a value starting with a digit but no line', value: '12345', reason: 'missing-header' },
    { name: 'a line without a space', value: line('2', '1'), reason: 'missing-header' },
    { name: 'a newline beyond 256 bytes', value: line(`2 s 0 1 ${'o'.repeat(300)}`, '1'), reason: 'missing-header' },
    { name: 'four fields', value: line('2 s 0 1', '1'), reason: 'malformed' },
    { name: 'version 4', value: line('4 s 0 1 c o', '1'), reason: 'unknown-version' },
    { name: 'an unknown op', value: line('2 x 0 1 o', '1'), reason: 'unknown-operation' },
    { name: 'a non-decimal expiry', value: line('2 s soon 1 o', '1'), reason: 'malformed' },
    { name: 'a delete with a metadata line (not a tombstone)', value: line('2 d 0 1 o', ''), reason: 'malformed' },
    { name: 'a tombstone without an nc-r header', value: null, reason: 'missing-header' },
  ];
  it.each(lines)('rejects $name -> $reason', ({ value, reason }) => {
    const result = parseRecord(record('k', value, {}), limits);
    expect(result).toBeInstanceOf(RecordRejection);
    expect((result as RecordRejection).reason).toBe(reason);
  });

  it('accepts a clear whose metadata line is in its value, followed by its prefix', () => {
    expect(parseRecord(record(clearRecordKey('p:'), line('2 c 0 4 o', 'p:'), {}), limits)).toEqual({ op: 'clear', prefix: 'p:', origin: 'o', writeId: 4 });
  });

  it('as bytes, as Kafka clients deliver it; the header wins over version 1 headers on the same record', () => {
    expect(parseRecord(record('k', '1', v2(Buffer.from('2 s 0 3 w'))), limits)).toMatchObject({ op: 'set', writeId: 3, origin: 'w' });
    expect(parseRecord(record('k', '1', v2('2 s 0 3 w', set())), limits)).toMatchObject({ writeId: 3, origin: 'w' });
  });

  it('takes everything after the fourth space as the origin', () => {
    expect(parseRecord(record('k', '1', v2('2 s 0 3 a foreign writer')), limits)).toMatchObject({ origin: 'a foreign writer' });
  });

  const cases: Array<{ name: string; text: string; value?: string | null; reason: RejectReason }> = [
    { name: 'an empty header', text: '', reason: 'unknown-version' },
    { name: 'version 4', text: '4 s 0 1 c o', reason: 'unknown-version' },
    { name: 'version 1 in the header', text: '1 s 0 1 o', reason: 'unknown-version' },
    { name: 'only a version', text: '2', reason: 'malformed' },
    { name: 'four fields', text: '2 s 0 1', reason: 'malformed' },
    { name: 'an empty origin', text: '2 s 0 1 ', reason: 'malformed' },
    { name: 'an empty field (two spaces)', text: '2 s  1 o', reason: 'malformed' },
    { name: 'op "x"', text: '2 x 0 1 o', reason: 'unknown-operation' },
    { name: 'a non-decimal expiry', text: '2 s soon 1 o', reason: 'malformed' },
    { name: 'a write id with a leading zero', text: '2 s 0 01 o', reason: 'malformed' },
    { name: 'a 17-digit write id', text: '2 s 0 12345678901234567 o', reason: 'malformed' },
    { name: 'a delete with a value', text: '2 d 0 1 o', value: '1', reason: 'malformed' },
    { name: 'a set with a null value', text: '2 s 0 1 o', value: null, reason: 'malformed' },
  ];
  it.each(cases)('rejects $name -> $reason', ({ text, value, reason }) => {
    const result = parseRecord(record('k', value === undefined ? '1' : value, v2(text)), limits);
    expect(result).toBeInstanceOf(RecordRejection);
    expect((result as RecordRejection).reason).toBe(reason);
  });

  it('does not echo a long hostile header in full', () => {
    const result = parseRecord(record('k', '1', v2('9'.repeat(10_000) + ' s 0 1 o')), limits) as RecordRejection;
    expect(result.reason).toBe('unknown-version');
    expect(result.detail.length).toBeLessThan(200);
  });
});

describe('parseRecord accepts (version 1 headers, still read)', () => {
  it('a set, with its key, value bytes, expiry, origin and write id', () => {
    const r = record('user:1', '{"a":1}', set({ 'nc-exp': '1893456000000', 'nc-wid': '9007199254740991' }));
    expect(parseRecord(r, limits)).toEqual({
      op: 'set',
      key: 'user:1',
      value: Buffer.from('{"a":1}'),
      expiresAt: 1_893_456_000_000,
      origin: 'writer-1',
      writeId: 9_007_199_254_740_991,
      fence: -1,
      graceEnd: 0,
    });
  });

  it('a set without an expiry header (no expiry)', () => {
    const parsed = parseRecord(record('k', '1', without(set(), 'nc-exp')), limits);
    expect(parsed).toMatchObject({ op: 'set', key: 'k', expiresAt: 0 });
  });

  it('a set with a key and value exactly at the limits', () => {
    const key = 'é'.repeat(8);
    const value = 'v'.repeat(32);
    expect(parseRecord(record(key, value, set()), limits)).toMatchObject({ op: 'set', key });
  });

  it('a set of an empty value (a codec may encode to no bytes)', () => {
    expect(parseRecord(record('k', '', set()), limits)).toMatchObject({ op: 'set', key: 'k', value: Buffer.alloc(0) });
  });

  it('headers delivered as bytes, as Kafka clients deliver them', () => {
    const headers: Headers = {};
    for (const [name, value] of Object.entries(set())) headers[name] = Buffer.from(value as string);
    expect(parseRecord(record('k', '1', headers), limits)).toMatchObject({ op: 'set', key: 'k', origin: 'writer-1', writeId: 12 });
  });

  it('a repeated header: the last value counts', () => {
    const parsed = parseRecord(record('k', '1', set({ 'nc-v': ['2', '1'], 'nc-wid': [Buffer.from('1'), Buffer.from('5')] })), limits);
    expect(parsed).toMatchObject({ op: 'set', writeId: 5 });
  });

  it('write id 0', () => {
    expect(parseRecord(record('k', '1', set({ 'nc-wid': '0' })), limits)).toMatchObject({ writeId: 0 });
  });

  it('a delete (tombstone)', () => {
    expect(parseRecord(record('user:1', null, del()), limits)).toEqual({ op: 'delete', key: 'user:1', origin: 'writer-1', writeId: 13, fence: -1 });
  });

  it.each([
    { name: 'everything', prefix: '' },
    { name: 'a namespace', prefix: 'users:' },
    { name: 'a unicode prefix', prefix: 'ключ:' },
    // The clear key carries a 10-byte marker: a prefix close to maxKeyBytes is still a valid clear.
    { name: 'a prefix as long as maxKeyBytes', prefix: 'p'.repeat(16) },
  ])('a clear of $name', ({ prefix }) => {
    expect(parseRecord(record(clearRecordKey(prefix), prefix, clr()), limits)).toEqual({ op: 'clear', prefix, origin: 'writer-1', writeId: 14 });
  });

  it('ignores unknown extra headers', () => {
    expect(parseRecord(record('k', '1', set({ 'x-trace': 'abc' })), limits)).toMatchObject({ op: 'set', key: 'k' });
  });
});

describe('version 3: the metadata line names the codec', () => {
  const asRead = (r: { key: string; value: Uint8Array | null; headers: Headers }) => record(r.key, r.value, r.headers);
  const line = (meta: string, payload: string): string => `${meta}\n${payload}`;
  const reading = (codec: string) => ({ ...limits, codec: { name: codec } });

  it("writers put a set's metadata line (with the codec) before its value, and a delete's or clear's in the nc-r header", () => {
    expect(setRecord(1, 'user:1', Buffer.from('{}'), 1_893_456_000_000, 'svc-a.0a1b2c3d', 17, 'structured')).toEqual({
      partition: 1,
      key: 'user:1',
      value: Buffer.from('3 s 1893456000000 17 structured svc-a.0a1b2c3d\n{}'),
      headers: {},
    });
    expect(deleteRecord(0, 'user:1', 'svc-a.0a1b2c3d', 18, 'json')).toEqual({
      partition: 0,
      key: 'user:1',
      value: null,
      headers: { 'nc-r': '3 d 0 18 json svc-a.0a1b2c3d' },
    });
    expect(clearRecord(2, 'users:', 'svc-a.0a1b2c3d', 19, 'aes-256-gcm(json)')).toEqual({
      partition: 2,
      key: clearRecordKey('users:'),
      value: Buffer.from('users:'),
      headers: { 'nc-r': '3 c 0 19 aes-256-gcm(json) svc-a.0a1b2c3d' },
    });
  });

  it('reads back what the writers produce, for a reader of the same codec', () => {
    const same = reading('structured');
    expect(parseRecord(asRead(setRecord(0, 'k', Buffer.from('{"a":1}'), 5, 'o.1', 7, 'structured')), same)).toEqual({
      op: 'set',
      key: 'k',
      value: Buffer.from('{"a":1}'),
      expiresAt: 5,
      origin: 'o.1',
      writeId: 7,
      fence: -1,
      graceEnd: 0,
    });
    expect(parseRecord(asRead(setRecord(0, 'k', Buffer.alloc(0), 0, 'o.1', 8, 'structured')), same)).toMatchObject({ op: 'set', value: Buffer.alloc(0) });
    expect(parseRecord(asRead(deleteRecord(0, 'k', 'o.1', 8, 'structured')), same)).toEqual({ op: 'delete', key: 'k', origin: 'o.1', writeId: 8, fence: -1 });
    expect(parseRecord(asRead(clearRecord(0, 'p:', 'o.1', 9, 'structured')), same)).toEqual({ op: 'clear', prefix: 'p:', origin: 'o.1', writeId: 9 });
  });

  it('fenced sets and deletes carry their fence in the nc-fence header, and read it back', () => {
    const set = setRecord(0, 'k', Buffer.from('1'), 0, 'o.1', 7, 'structured', 42);
    expect(set.headers).toEqual({ 'nc-fence': '42' });
    expect(parseRecord(asRead(set), reading('structured'))).toMatchObject({ op: 'set', key: 'k', fence: 42 });
    const del = deleteRecord(0, 'k', 'o.1', 8, 'structured', 0);
    expect(del.headers).toEqual({ 'nc-r': '3 d 0 8 structured o.1', 'nc-fence': '0' });
    expect(parseRecord(asRead(del), reading('structured'))).toMatchObject({ op: 'delete', key: 'k', fence: 0 });
    expect(setRecord(0, 'k', Buffer.from('1'), 0, 'o.1', 7, 'structured').headers).toEqual({});
  });

  it('a set with a grace period carries its end in the nc-grace header, and reads it back', () => {
    const set = setRecord(0, 'k', Buffer.from('1'), 1000, 'o.1', 7, 'structured', 42, 6000);
    expect(set.headers).toEqual({ 'nc-fence': '42', 'nc-grace': '6000' });
    expect(parseRecord(asRead(set), reading('structured'))).toMatchObject({ op: 'set', expiresAt: 1000, fence: 42, graceEnd: 6000 });
    expect(setRecord(0, 'k', Buffer.from('1'), 1000, 'o.1', 7, 'structured', -1, 6000).headers).toEqual({ 'nc-grace': '6000' });
    for (const grace of ['-1', 'x', '01', '']) {
      const result = parseRecord(asRead({ ...set, headers: { 'nc-grace': grace } }), reading('structured'));
      expect((result as RecordRejection).reason).toBe('malformed');
    }
  });

  it('rejects a fence that is not a decimal offset (malformed)', () => {
    for (const fence of ['-1', 'x', '01', '']) {
      const result = parseRecord(
        asRead({ ...setRecord(0, 'k', Buffer.from('1'), 0, 'o.1', 7, 'structured'), headers: { 'nc-fence': fence } }),
        reading('structured'),
      );
      expect((result as RecordRejection).reason).toBe('malformed');
    }
  });

  it('rejects a set written by another codec (codec-mismatch), naming both codecs', () => {
    const result = parseRecord(asRead(setRecord(0, 'k', Buffer.from('{"a":1}'), 0, 'o.1', 7, 'json')), reading('structured'));
    expect(result).toBeInstanceOf(RecordRejection);
    expect((result as RecordRejection).reason).toBe('codec-mismatch');
    expect((result as RecordRejection).detail).toContain('"json"');
    expect((result as RecordRejection).detail).toContain('"structured"');
    // In the nc-r header too.
    expect((parseRecord(record('k', '1', { 'nc-r': '3 s 0 1 msgpack o' }), reading('structured')) as RecordRejection).reason).toBe('codec-mismatch');
  });

  it('a delete or clear of another codec still applies: it carries no value to decode', () => {
    expect(parseRecord(asRead(deleteRecord(0, 'k', 'o.1', 8, 'json')), reading('structured'))).toMatchObject({ op: 'delete', key: 'k' });
    expect(parseRecord(asRead(clearRecord(0, 'p:', 'o.1', 9, 'json')), reading('structured'))).toMatchObject({ op: 'clear', prefix: 'p:' });
  });

  it("versions 1 and 2 name no codec: their sets are read with the reader's codec", () => {
    expect(parseRecord(record('k', line('2 s 0 1 o', '1'), {}), reading('structured'))).toMatchObject({ op: 'set', value: Buffer.from('1') });
    expect(parseRecord(record('k', '1', set()), reading('json'))).toMatchObject({ op: 'set', value: Buffer.from('1') });
  });

  it('takes everything after the fifth space as the origin', () => {
    expect(parseRecord(record('k', '1', { 'nc-r': '3 s 0 3 json a foreign writer' }), reading('json'))).toMatchObject({ origin: 'a foreign writer' });
  });

  const cases: Array<{ name: string; text: string; reason: RejectReason }> = [
    { name: 'five fields (no codec)', text: '3 s 0 1 o', reason: 'malformed' },
    { name: 'an empty codec (two spaces)', text: '3 s 0 1  o', reason: 'malformed' },
    { name: 'an empty origin', text: '3 s 0 1 json ', reason: 'malformed' },
    { name: 'only a version', text: '3', reason: 'malformed' },
    { name: 'a non-decimal write id', text: '3 s 0 x json o', reason: 'malformed' },
    { name: 'op "x"', text: '3 x 0 1 json o', reason: 'unknown-operation' },
  ];
  it.each(cases)('rejects $name -> $reason', ({ text, reason }) => {
    const inHeader = parseRecord(record('k', '1', { 'nc-r': text }), reading('json'));
    expect((inHeader as RecordRejection).reason).toBe(reason);
  });

  it('does not echo a long hostile codec name in full', () => {
    const result = parseRecord(record('k', '1', { 'nc-r': `3 s 0 1 ${'c'.repeat(10_000)} o` }), reading('json')) as RecordRejection;
    expect(result.reason).toBe('codec-mismatch');
    expect(result.detail.length).toBeLessThan(200);
  });
});

describe('a metadata line at the start of a value reads as the same line in the nc-r header', () => {
  // Sets read their line in place, without making a string of it; anything but the common form
  // goes the string path, which also reads the header. Both must agree on every line: the same
  // set, or the same rejection in the same words.
  const lines = [
    '3 s 0 1 structured writer-1',
    '3 s 1893456000000 9007199254740 structured writer-1',
    '3 s 0 1 json writer-1',
    '3 s 0 1 structured w',
    '3 s 0 1 structured writer with spaces',
    '3 s 0 1  writer-1',
    '3 s 0 1 structured ',
    '3 s 0 1 structured',
    '3 s 01 1 structured writer-1',
    '3 s 0 01 structured writer-1',
    '3 s 1234567890123456 1 structured writer-1',
    '3 s 0 1234567890123456 structured writer-1',
    '3 s 12345678901234567 1 structured writer-1',
    '3 s -1 1 structured writer-1',
    '3 s 1e3 1 structured writer-1',
    '3 x 0 1 structured writer-1',
    '3 set 0 1 structured writer-1',
    '3 d 0 1 structured writer-1',
    '3 c 0 1 structured writer-1',
    '3 s  0 1 structured writer-1',
    '2 s 0 1 writer-1',
    '2 s 5 7 writer with spaces',
    '2 s 0 1',
    '2 s 0 1 ',
    '4 s 0 1 structured writer-1',
    '33 s 0 1 structured writer-1',
  ];
  const codecs = [{ name: 'structured' }, { name: 'json' }, undefined];
  for (const line of lines) {
    for (const codec of codecs) {
      it(`${JSON.stringify(line)}, reader codec ${codec?.name ?? 'unchecked'}`, () => {
        const readerLimits = { maxKeyBytes: 16, maxValueBytes: 32, codec };
        const inValue = parseRecord(record('k', `${line}\n{"a":1}`, {}), readerLimits);
        const inHeader = parseRecord(record('k', '{"a":1}', { 'nc-r': line }), readerLimits);
        expect(inValue).toEqual(inHeader);
      });
    }
  }

  it('keeps one origin string across a run of records of one writer', () => {
    const a = parseRecord(record('k', '3 s 0 1 structured writer-77\n1', {}), limits);
    const b = parseRecord(record('j', '3 s 0 2 structured writer-77\n2', {}), limits);
    const c = parseRecord(record('j', '3 s 0 3 structured writer-78\n3', {}), limits);
    expect(a).toMatchObject({ origin: 'writer-77', writeId: 1 });
    expect(b).toMatchObject({ origin: 'writer-77', writeId: 2 });
    expect(c).toMatchObject({ origin: 'writer-78', writeId: 3 });
  });
});
