import { randomBytes } from 'node:crypto';
import { serialize } from 'node:v8';
import { afterAll, describe, expect, it } from 'vitest';
import { createNearCache, silentLogger, type NearCache, type RejectedRecord, type RejectReason } from '@nearcache/core';
import { KafkaTestClient, NO_CLEANING } from '../helpers/kafka.js';
import { diff, snapshot } from '../helpers/oracle.js';
import { prng, recordMeta } from '../helpers/records.js';
import { waitFor } from '../helpers/wait.js';

// Guarantee: records on the topic that are not valid nearcache records (random bytes, crafted
// attacks) are skipped, counted and reported with their offset; every instance stays live and
// keeps the values of the valid records around them.
const client = new KafkaTestClient();
const caches: Array<NearCache<unknown>> = [];

afterAll(async () => {
  await Promise.all(caches.map((c) => c.close()));
  await client.close();
});

const MAX_KEY_BYTES = 64;
const MAX_VALUE_BYTES = 1024;
const TOTAL = 10_000;
// NO_CLEANING: poison under a valid key would otherwise replace the valid record on the topic
// (what fresh instances would read) while the test runs.

type Headers = Record<string, string | Buffer | Array<string | Buffer>>;
interface Raw {
  key: Buffer;
  value: Buffer | null;
  headers: Headers;
}

const h = (op: string, extra: Headers = {}): Headers => ({ 'nc-v': '1', 'nc-op': op, 'nc-origin': 'poison-test', 'nc-wid': '1', ...extra });

/** Crafted invalid records, each with the reason the cache must give. */
function crafted(random: () => number): Array<[Raw, RejectReason]> {
  const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)]!;
  const key = Buffer.from(`valid-${Math.floor(random() * 20)}`);
  // Values are decoded only when they would be stored (not for a key with a local write in
  // flight), so the undecodable ones target keys that only the start-up writes set.
  const target = Buffer.from(`target-${Math.floor(random() * 10)}`);
  const json = (v: unknown) => Buffer.from(JSON.stringify(v));
  const cases: Array<() => [Raw, RejectReason]> = [
    () => [{ key, value: json(1), headers: {} }, 'missing-header'],
    () => [{ key, value: json(1), headers: { 'nc-op': 's', 'nc-origin': 'x', 'nc-wid': '1' } }, 'missing-header'],
    () => [{ key, value: json(1), headers: h('s', { 'nc-v': pick(['2', '0', '', '1.0', ' 1', 'v1']) }) }, 'unknown-version'],
    () => [{ key, value: json(1), headers: h('s', { 'nc-v': ['1', '2'] }) }, 'unknown-version'],
    () => [{ key, value: json(1), headers: h(pick(['x', 'S', 'set', '', 'ss'])) }, 'unknown-operation'],
    () => [{ key, value: json(1), headers: { 'nc-r': pick(['', '4 s 0 1 structured o', '1 s 0 1 o', 'v2 s 0 1 o']) } }, 'unknown-version'],
    () => [
      {
        key,
        value: json(1),
        headers: { 'nc-r': pick(['2', '2 s', '2 s 0 1', '2 s 0 1 ', '2 s 0 x o', '2 s -1 1 o', '3 s 0 1 o', '3 s 0 1  o', '3 s 0 1 structured ']) },
      },
      'malformed',
    ],
    // A set written by another codec (version 3 names it): never decoded.
    () => [
      { key, value: Buffer.concat([Buffer.from(`3 s 0 1 ${pick(['json', 'msgpack', 'aes-256-gcm(json)'])} poison-test\n`), json(1)]), headers: {} },
      'codec-mismatch',
    ],
    () => [{ key, value: json(1), headers: { 'nc-r': `2 ${pick(['x', 'S', 'set'])} 0 1 o` } }, 'unknown-operation'],
    () => [{ key, value: json(1), headers: { 'nc-v': '1', 'nc-op': 's', 'nc-wid': '1' } }, 'missing-header'],
    () => [{ key, value: json(1), headers: h('s', { 'nc-wid': pick(['-1', '1e3', 'x', '01', '99999999999999999']) }) }, 'malformed'],
    () => [{ key, value: json(1), headers: h('s', { 'nc-exp': pick(['-5', 'soon', '1.5', 'NaN']) }) }, 'malformed'],
    () => [{ key, value: null, headers: h('s') }, 'malformed'],
    () => [{ key, value: json(1), headers: h('d') }, 'malformed'],
    () => [{ key: Buffer.from('\u0000nc:clear:x'), value: Buffer.from('y'), headers: h('c') }, 'malformed'],
    () => [{ key: Buffer.from('\u0000reserved'), value: json(1), headers: h('s') }, 'invalid-key'],
    () => [{ key: Buffer.from('\u0000reserved'), value: null, headers: h('d') }, 'invalid-key'],
    () => [{ key: Buffer.alloc(0), value: json(1), headers: h('s') }, 'invalid-key'],
    () => [{ key: Buffer.alloc(MAX_KEY_BYTES + 1 + Math.floor(random() * 100), 'k'), value: json(1), headers: h('s') }, 'key-too-large'],
    () => [{ key, value: Buffer.from(JSON.stringify('x'.repeat(MAX_VALUE_BYTES + Math.floor(random() * 500)))), headers: h('s') }, 'value-too-large'],
    () => [{ key: target, value: Buffer.from(pick(['{', '{"a":', 'undefined', "{'a':1}", '[1,2', '\u0000', 'NaN'])), headers: h('s') }, 'decode-failed'],
    // The default codec's binary form (Node's v8 serializer): a __proto__ key, a truncated payload.
    () => [
      {
        key: target,
        value: pick([serialize(JSON.parse('{"__proto__":{"polluted":true}}')), serialize({ at: new Date(0), list: [1, 2, 3] }).subarray(0, 12)]),
        headers: h('s'),
      },
      'decode-failed',
    ],
    () => [
      {
        key: target,
        value: Buffer.from(
          pick([
            '{"__proto__":{"polluted":true}}',
            '{"a":{"__proto__":{"polluted":true}}}',
            '{"constructor":{"prototype":{"polluted":true}}}',
            '{"\\u005f_proto__":{"polluted":true}}',
          ]),
        ),
        headers: h('s'),
      },
      'decode-failed',
    ],
    // Without a '}' the object never closes: random bytes such as "}" or " }" would make valid JSON.
    () => [
      {
        key: target,
        value: Buffer.concat([Buffer.from('{'), randomBytes(1 + Math.floor(random() * 64)).map((b) => (b === 0x7d ? 0x7e : b))]),
        headers: h('s'),
      },
      'decode-failed',
    ],
  ];
  return cases.map((make) => make());
}

/** A random record: random key, value and headers, made invalid by its version header. */
function randomRecord(random: () => number): [Raw, RejectReason] {
  const headers: Headers = {};
  for (let i = Math.floor(random() * 5); i > 0; i--) headers[`nc-${randomBytes(2).toString('hex')}`] = randomBytes(Math.floor(random() * 20));
  const version = random() < 0.5 ? undefined : randomBytes(1 + Math.floor(random() * 4));
  if (version) headers['nc-v'] = version[0] === 0x31 && version.length === 1 ? Buffer.from('9') : version;
  if (random() < 0.7) headers['nc-op'] = Buffer.from(['s', 'd', 'c'][Math.floor(random() * 3)]!);
  if (random() < 0.7) headers['nc-origin'] = randomBytes(8);
  if (random() < 0.7) headers['nc-wid'] = String(Math.floor(random() * 1000));
  const record: Raw = { key: randomBytes(1 + Math.floor(random() * 40)), value: random() < 0.2 ? null : randomBytes(Math.floor(random() * 200)), headers };
  // Without a version header, a value starting with a digit could hold a metadata line (version 2
  // puts a set's metadata at the start of its value): keep this one a record without metadata.
  if (!version && record.value !== null && record.value.length > 0 && record.value[0]! >= 0x30 && record.value[0]! <= 0x39) record.value[0] = 0x78;
  return [record, version ? 'unknown-version' : 'missing-header'];
}

describe('poison records', () => {
  it(`${TOTAL} random and crafted records: every instance stays live, counts and reports each one, and keeps correct values`, async () => {
    const topic = await client.createTopic({ partitions: 2, config: NO_CLEANING });
    const rejected = new Map<NearCache<unknown>, RejectedRecord[]>();
    for (let i = 0; i < 3; i++) {
      const cache = createNearCache<unknown>({
        topic,
        kafka: { brokers: client.brokers, logLevel: 'nothing', requestTimeout: 5000, sessionTimeout: 10_000, heartbeatInterval: 1000 },
        logger: silentLogger,
        maxKeyBytes: MAX_KEY_BYTES,
        maxValueBytes: MAX_VALUE_BYTES,
        lagPollInterval: 200,
      });
      const seen: RejectedRecord[] = [];
      cache.on('rejected', (r) => seen.push(r));
      rejected.set(cache, seen);
      caches.push(cache);
    }
    await Promise.all(caches.map((c) => c.ready()));
    const [writer] = caches;
    for (let i = 0; i < 20; i++) await writer!.set(`valid-${i}`, { i, round: 0 });
    for (let i = 0; i < 10; i++) await writer!.set(`target-${i}`, { target: i });
    await writer!.flush();

    // The poison, mixed with valid writes of other instances (written by the cache itself).
    const random = prng(20261125);
    const poison: Array<[Raw, RejectReason]> = [];
    while (poison.length < TOTAL) {
      if (random() < 0.5) poison.push(...crafted(random));
      else poison.push(randomRecord(random));
    }
    poison.length = TOTAL;
    const expectedByReason: Partial<Record<RejectReason, number>> = {};
    for (const [, reason] of poison) expectedByReason[reason] = (expectedByReason[reason] ?? 0) + 1;

    const producer = client.kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      for (let start = 0, round = 1; start < TOTAL; start += 500, round++) {
        const messages = poison.slice(start, start + 500).map(([r], i) => ({ partition: i % 2, key: r.key, value: r.value, headers: r.headers }));
        await producer.send({ topic, acks: -1, messages });
        // Valid writes between poison batches.
        await caches[round % 3]!.set(`valid-${round % 20}`, { i: round % 20, round });
      }
    } finally {
      await producer.disconnect();
    }
    await Promise.all(caches.map((c) => c.flush()));

    const records = await client.readAll(topic);
    // The expected state: the valid records only, in log order per partition.
    const expected = new Map<string, unknown>();
    for (const record of [...records].sort((a, b) => a.partition - b.partition || a.offset - b.offset)) {
      const meta = recordMeta(record);
      if (!caches.some((c) => c.origin === meta?.origin)) continue;
      expected.set(Buffer.from(record.key!).toString(), JSON.parse(Buffer.from(meta!.payload!).toString()));
    }
    expect(expected.size).toBe(30);

    for (const cache of caches) {
      await waitFor(() => rejected.get(cache)!.length >= TOTAL && diff(snapshot(cache), expected).length === 0, {
        timeout: 60_000,
        message: () =>
          `instance converged: ${rejected.get(cache)!.length} rejected ${JSON.stringify(cache.stats().records.rejectedByReason)} of ${JSON.stringify(expectedByReason)}; ${diff(snapshot(cache), expected).slice(0, 5).join('; ')}`,
      });
      expect(cache.state).toBe('live');
      const stats = cache.stats();
      expect(stats.records.rejected).toBe(TOTAL);
      expect(stats.records.rejectedByReason).toEqual(expectedByReason);
      expect(stats.records.lastRejected).toHaveLength(20);
      const events = rejected.get(cache)!;
      expect(events).toHaveLength(TOTAL);
      // Reported with their offsets: every poison record exactly once.
      expect(new Set(events.map((e) => `${e.partition}@${e.offset}`)).size).toBe(TOTAL);
      expect(diff(snapshot(cache), expected)).toEqual([]);
    }
    // No prototype pollution, and the instances still replicate.
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await caches[2]!.set('after', 'poison');
    await waitFor(() => caches.every((c) => c.get('after') === 'poison'), { timeout: 20_000 });
  });
});
