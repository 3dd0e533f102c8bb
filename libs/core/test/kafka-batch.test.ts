import type { Batch, KafkaMessage } from 'kafkajs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { logRecords, whileBeating } from '../src/log/kafka/batch.js';

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

describe('whileBeating', () => {
  afterEach(() => void vi.useRealTimers());

  /** A heartbeat as kafkajs sends it: only once `interval` passed since the last answer, answered after `roundTrip`. */
  function gatedHeartbeat(interval: number, roundTrip: number): { heartbeat: () => Promise<void>; sent: number[] } {
    let last = Date.now();
    const sent: number[] = [];
    const heartbeat = async (): Promise<void> => {
      if (Date.now() < last + interval) return;
      await new Promise((resolve) => setTimeout(resolve, roundTrip));
      sent.push(Date.now());
      last = Date.now();
    };
    return { heartbeat, sent };
  }

  it('keeps heartbeats going about every interval while the batch is held, and none after', async () => {
    vi.useFakeTimers();
    const interval = 1000;
    const roundTrip = 30;
    const { heartbeat, sent } = gatedHeartbeat(interval, roundTrip);
    let take!: () => void;
    const held = whileBeating(new Promise<void>((resolve) => (take = resolve)), heartbeat, interval);
    const start = Date.now();
    await vi.advanceTimersByTimeAsync(10 * interval);
    take();
    await held;
    const times = [start, ...sent];
    const gaps = sent.map((t, i) => t - times[i]!);
    expect(sent.length).toBeGreaterThanOrEqual(8);
    // Asked once per interval, every other heartbeat would have come a round trip too soon: gaps of 2 intervals.
    expect(Math.max(...gaps)).toBeLessThanOrEqual(1.2 * interval + roundTrip);
    const count = sent.length;
    await vi.advanceTimersByTimeAsync(5 * interval);
    expect(sent.length, 'no heartbeat once the batch was taken').toBe(count);
  });

  it('passes on a failure to take the batch, and ignores failed heartbeats', async () => {
    vi.useFakeTimers();
    let calls = 0;
    const failing = async (): Promise<void> => {
      calls++;
      throw new Error('rebalancing');
    };
    let fail!: (error: Error) => void;
    const held = whileBeating(new Promise<void>((_, reject) => (fail = reject)), failing, 100);
    await vi.advanceTimersByTimeAsync(500);
    expect(calls).toBeGreaterThan(0);
    fail(new Error('apply failed'));
    await expect(held).rejects.toThrow('apply failed');
    const after = calls;
    await vi.advanceTimersByTimeAsync(500);
    expect(calls).toBe(after);
  });
});
