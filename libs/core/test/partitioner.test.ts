import kafkajs from 'kafkajs';
import type { PartitionMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { murmur2, partitionFor } from '../src/index.js';
import { prng } from './helpers.js';

const { Partitioners } = kafkajs;

const ALPHABET = [
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_./ ',
  'é',
  'ß',
  'ñ',
  'ü',
  'Ω',
  'ж',
  '中',
  '文',
  '鍵',
  'ק',
  'ع',
  '😀',
  '🚀',
  '👍🏽',
  '\u2028',
  '\u00a0',
];

function randomKeys(count: number, seed: number): string[] {
  const random = prng(seed);
  const keys = new Set<string>();
  while (keys.size < count) {
    const length = 1 + Math.floor(random() * 40);
    let key = '';
    for (let i = 0; i < length; i++) key += ALPHABET[Math.floor(random() * ALPHABET.length)];
    keys.add(key);
  }
  return [...keys];
}

function metadata(n: number): PartitionMetadata[] {
  return Array.from({ length: n }, (_, partitionId) => ({ partitionErrorCode: 0, partitionId, leader: 0, replicas: [0], isr: [0] }));
}

// Fixed keys that exercise every tail length of murmur2 (0 to 3 trailing bytes) and multi-byte UTF-8.
const FIXED_KEYS = ['a', 'ab', 'abc', 'abcd', 'abcde', 'user:1', 'user:2', 'é', 'éé', '中', '😀', 'k'.repeat(1024), '0', ' '];

describe('partitionFor', () => {
  const keys = [...FIXED_KEYS, ...randomKeys(400, 20261125)];

  it.each([1, 2, 3, 7, 12])('matches kafkajs DefaultPartitioner for %i partitions', (n) => {
    const partitioner = Partitioners.DefaultPartitioner();
    const partitionMetadata = metadata(n);
    const mismatches: Array<{ key: string; ours: number; kafkajs: number }> = [];
    for (const key of keys) {
      const expected = partitioner({ topic: 'nc-partitioner', partitionMetadata, message: { key, value: null } });
      const ours = partitionFor(key, n);
      if (ours !== expected) mismatches.push({ key, ours, kafkajs: expected });
    }
    expect(mismatches).toEqual([]);
  });

  it.each([2, 3, 7, 12])('spreads keys over all %i partitions, each in range', (n) => {
    const seen = new Set<number>();
    for (const key of keys) {
      const p = partitionFor(key, n);
      expect(Number.isInteger(p)).toBe(true);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(n);
      seen.add(p);
    }
    expect(seen.size).toBe(n);
  });
});

describe('murmur2', () => {
  // Test vectors from Apache Kafka's UtilsTest.testMurmur2.
  it.each([
    { input: '21', expected: -973932308 },
    { input: 'foobar', expected: -790332482 },
    { input: 'a-little-bit-long-string', expected: -985981536 },
    { input: 'a-little-bit-longer-string', expected: -1486304829 },
    { input: 'lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', expected: -58897971 },
    { input: 'abc', expected: 479470107 },
  ])('murmur2($input) is $expected, as in Kafka', ({ input, expected }) => {
    expect(murmur2(Buffer.from(input, 'utf8'))).toBe(expected);
  });
});
