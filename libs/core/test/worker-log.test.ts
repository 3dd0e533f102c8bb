import { describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import {
  createNearCache,
  InProcessBroker,
  inProcessLog,
  InvalidOptionError,
  kafkaWorkerLog,
  LogUnavailableError,
  TopicNotCompactedError,
  ValueTooLargeError,
  type LogBatch,
  type NearCacheOptions,
} from '../src/index.js';
import type { OutgoingRecord } from '../src/record.js';
import { decodeAppends, decodeBatch, encodeAppends, encodeBatch, errorData, fromErrorData } from '../src/log/worker/protocol.js';

const brokers = ['127.0.0.1:1'];

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('replication worker frames', () => {
  it('a batch read from the log crosses as one buffer and comes back the same', () => {
    const batch: LogBatch = {
      partition: 3,
      nextOffset: 2 ** 40 + 7,
      highWatermark: 2 ** 40 + 9,
      records: [
        {
          partition: 3,
          offset: 2 ** 40,
          key: Buffer.from('clé ☃'),
          value: Buffer.from([0, 1, 2, 255]),
          headers: { 'nc-r': '3 d 0 7 structured origin-1', raw: Buffer.from([9, 8]), list: ['a', Buffer.from('b')], none: undefined },
          timestamp: 1_700_000_000_123,
        },
        { partition: 3, offset: 2 ** 40 + 5, key: null, value: null, headers: {}, timestamp: 0 },
        { partition: 3, offset: 2 ** 40 + 6, key: Buffer.alloc(0), value: Buffer.alloc(0), headers: { 'nc-tags': '' }, timestamp: 1 },
      ],
    };
    const decoded = decodeBatch(encodeBatch(batch));
    expect(decoded.partition).toBe(3);
    expect(decoded.nextOffset).toBe(batch.nextOffset);
    expect(decoded.highWatermark).toBe(batch.highWatermark);
    expect(decoded.records).toHaveLength(3);
    decoded.records.forEach((record, i) => {
      const original = batch.records[i]!;
      expect(record.offset).toBe(original.offset);
      expect(record.timestamp).toBe(original.timestamp);
      expect(record.partition).toBe(3);
      expect(record.key === null ? null : Buffer.from(record.key)).toEqual(original.key === null ? null : Buffer.from(original.key));
      expect(record.value === null ? null : Buffer.from(record.value)).toEqual(original.value === null ? null : Buffer.from(original.value));
    });
    const headers = decoded.records[0]!.headers;
    expect(headers['nc-r']).toBe('3 d 0 7 structured origin-1');
    expect(Buffer.from(headers.raw as Uint8Array)).toEqual(Buffer.from([9, 8]));
    expect((headers.list as Array<string | Uint8Array>).map((h) => Buffer.from(h).toString())).toEqual(['a', 'b']);
    expect(headers.none).toBeUndefined();
    expect(decoded.records[2]!.headers).toEqual({ 'nc-tags': '' });
  });

  it('the appends of a tick cross as one buffer, each with its records in order', () => {
    const appends: OutgoingRecord[][] = [
      [
        { partition: 0, key: 'a', value: Buffer.from('1'), headers: {} },
        { partition: 1, key: 'ünïcode ☃', value: null, headers: { 'nc-r': '3 d 0 1 structured o', 'nc-sig': 'x' } },
      ],
      [],
      [{ partition: 2, key: 'c', value: new Uint8Array([1, 2, 3]), headers: { 'nc-tags': 't1\nt2' } }],
    ];
    const decoded = decodeAppends(
      encodeAppends(appends),
      appends.map((a) => a.length),
    );
    expect(decoded.map((records) => records.map((r) => ({ ...r, value: r.value === null ? null : [...r.value] })))).toEqual(
      appends.map((records) => records.map((r) => ({ ...r, value: r.value === null ? null : [...r.value] }))),
    );
  });

  it('records without headers share one frozen empty headers object', () => {
    const records = [0, 1, 2].map((offset) => ({ partition: 0, offset, key: Buffer.from(`k${offset}`), value: Buffer.from('v'), headers: {}, timestamp: 0 }));
    const decoded = decodeBatch(encodeBatch({ partition: 0, nextOffset: 3, highWatermark: 3, records })).records;
    expect(decoded.map((r) => r.headers)).toEqual([{}, {}, {}]);
    expect(decoded[0]!.headers).toBe(decoded[2]!.headers);
    expect(Object.isFrozen(decoded[0]!.headers)).toBe(true);
  });

  it('typed errors come back with their class, code, retriable flag, key and cause', () => {
    const kafkaCause = Object.assign(new Error('Not authorized to access topics'), {
      name: 'KafkaJSProtocolError',
      type: 'TOPIC_AUTHORIZATION_FAILED',
      retriable: false,
    });
    const error = new LogUnavailableError('reading topic offsets failed', { cause: kafkaCause, retriable: true });
    const copy = fromErrorData(structuredClone(errorData(error)));
    expect(copy).toBeInstanceOf(LogUnavailableError);
    expect(copy).toMatchObject({ code: 'NC_LOG_UNAVAILABLE', retriable: true, message: 'reading topic offsets failed' });
    const cause = copy.cause as Error & { type: string; retriable: boolean };
    expect(cause).toBeInstanceOf(Error);
    expect(cause).toMatchObject({
      name: 'KafkaJSProtocolError',
      type: 'TOPIC_AUTHORIZATION_FAILED',
      retriable: false,
      message: 'Not authorized to access topics',
    });

    const tooLarge = fromErrorData(structuredClone(errorData(new ValueTooLargeError('too large', { key: 'k1' }))));
    expect(tooLarge).toBeInstanceOf(ValueTooLargeError);
    expect((tooLarge as ValueTooLargeError).key).toBe('k1');
    expect(fromErrorData(errorData(new TopicNotCompactedError('not compacted')))).toBeInstanceOf(TopicNotCompactedError);
  });
});

describe('replication mode options', () => {
  const base = { topic: 'worker-options', kafka: { brokers } } satisfies NearCacheOptions;

  it.each([
    ['an unknown mode', { ...base, replication: 'thread' }, /option "replication".*"inline", "worker"/],
    ['worker mode with a log of its own', { topic: 't', log: inProcessLog(new InProcessBroker()), replication: 'worker' }, /needs option "kafka"/],
    ['worker settings without worker mode', { ...base, replicationWorker: { maxBufferedBytes: 1 << 20 } }, /"replication" is not "worker"/],
    ['a buffer bound below 64 KiB', { ...base, replication: 'worker', replicationWorker: { maxBufferedBytes: 1000 } }, /replicationWorker\.maxBufferedBytes/],
    [
      'a negative or fractional restart count',
      { ...base, replication: 'worker', replicationWorker: { maxRestarts: 1.5 } },
      /replicationWorker\.maxRestarts.*an integer >= 0/,
    ],
    ['an unknown worker setting', { ...base, replication: 'worker', replicationWorker: { threads: 2 } }, /replicationWorker\.threads/],
    [
      'a kafkajs client object',
      { topic: 't', kafka: { client: new kafkajs.Kafka({ brokers }) }, replication: 'worker' },
      /"kafka\.client" cannot be used with replication on a worker thread/,
    ],
    [
      'a SASL provider function',
      { ...base, kafka: { brokers, sasl: { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: 't' }) } }, replication: 'worker' },
      /"kafka\.sasl" holds something that cannot be copied to the replication worker/,
    ],
  ])('refuses %s up front with a typed error', (_name, options, message) => {
    const error = thrown(() => createNearCache(options as unknown as NearCacheOptions));
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toMatch(message);
  });

  it('kafkaWorkerLog checks its options when called, before any cache exists', () => {
    expect(thrown(() => kafkaWorkerLog({ brokers: [] }))).toBeInstanceOf(InvalidOptionError);
    expect(thrown(() => kafkaWorkerLog({ brokers }, { maxBufferedBytes: -1 }))).toBeInstanceOf(InvalidOptionError);
    expect(typeof kafkaWorkerLog({ brokers }, { maxBufferedBytes: 65_536 })).toBe('function');
  });
});
