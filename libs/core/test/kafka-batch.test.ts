import type { Batch, KafkaMessage } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { logRecords } from '../src/log/kafka/batch.js';

// The records the Kafka log hands the cache from a fetched batch. No broker is needed: the batch
// has the shape kafkajs gives `eachBatch`.

function message(offset: number, key: string | null, value: string | null, headers: KafkaMessage['headers'] = {}): KafkaMessage {
  return {
    magicByte: 2,
    attributes: 0,
    timestamp: String(1_700_000_000_000 + offset),
    offset: String(offset),
    key: key === null ? null : Buffer.from(key),
    value: value === null ? null : Buffer.from(value),
    headers,
    size: 0,
  } as unknown as KafkaMessage;
}

function batchOf(partition: number, messages: KafkaMessage[]): Batch {
  return { topic: 't', partition, highWatermark: '100', messages } as unknown as Batch;
}

describe('logRecords', () => {
  it('gives each message as a record of its partition, offset, key, value, headers and time', () => {
    const messages = [message(41, 'a', '1'), message(42, 'b', null, { 'nc-r': Buffer.from('3 d 0 7 structured w.1'), other: Buffer.from([0xff]) })];
    const records = logRecords(batchOf(2, messages));
    expect(records).toHaveLength(2);
    expect(records[0]).toMatchObject({ partition: 2, offset: 41, timestamp: 1_700_000_000_041, headers: {} });
    expect(Buffer.from(records[0]!.key!).toString()).toBe('a');
    expect(Buffer.from(records[0]!.value!).toString()).toBe('1');
    expect(records[1]!.value).toBeNull();
    // The cache's own header as text; any other header as the bytes kafkajs gave.
    expect(records[1]!.headers['nc-r']).toBe('3 d 0 7 structured w.1');
    expect(records[1]!.headers.other).toEqual(Buffer.from([0xff]));
  });

  it("leaves kafkajs's messages without their key and value, so they cannot keep the fetch response alive", () => {
    const messages = [message(1, 'a', 'x'.repeat(100)), message(2, 'b', 'y')];
    const records = logRecords(batchOf(0, messages));
    for (const m of messages) {
      expect(m.key).toBeNull();
      expect(m.value).toBeNull();
    }
    // What kafkajs reads after the batch, the offsets, stays.
    expect(messages.map((m) => m.offset)).toEqual(['1', '2']);
    expect(records.map((r) => Buffer.from(r.value!).toString())).toEqual(['x'.repeat(100), 'y']);
  });
});
