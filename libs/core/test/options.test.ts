import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createNearCache,
  InProcessBroker,
  inProcessLog,
  InvalidOptionError,
  isNearCacheError,
  jsonCodec,
  kafkaLog,
  NearCache,
  silentLogger,
  type KafkaLogOptions,
  type Logger,
  type NearCacheOptions,
} from '../src/index.js';
import { uniqueTopic } from './helpers.js';

const caches: Array<NearCache<any>> = [];
afterEach(async () => {
  await Promise.all(caches.splice(0).map((c) => c.close()));
});

/** Runs createNearCache and returns what it threw; closes the cache if it was (wrongly) created. */
async function thrownBy(options: unknown): Promise<unknown> {
  let cache: NearCache | undefined;
  try {
    cache = createNearCache(options as unknown as NearCacheOptions);
  } catch (error) {
    return error;
  }
  await cache.close();
  return undefined;
}

function expectInvalidOption(error: unknown, names: string[]): void {
  expect(error, 'createNearCache did not throw').toBeInstanceOf(InvalidOptionError);
  const e = error as InvalidOptionError;
  expect(e.code).toBe('NC_INVALID_OPTION');
  expect(isNearCacheError(e, 'NC_INVALID_OPTION')).toBe(true);
  expect(e.name).toBe('InvalidOptionError');
  for (const name of names) expect(e.message).toContain(`"${name}"`);
}

const DAY = 24 * 60 * 60 * 1000;

interface Case {
  name: string;
  /** Options merged over a valid `{ topic, log, logger }`; `undefined` removes an option. */
  options: Record<string, unknown>;
  /** Option names the message must quote. */
  names: string[];
}

const codecWithoutDecode = { name: 'x', encode: () => new Uint8Array() };
const codecWithoutName = { encode: () => new Uint8Array(), decode: () => 1 };
const loggerWithoutError = { debug() {}, info() {}, warn() {} };

const cacheCases: Case[] = [
  // unknown option names
  { name: 'unknown option', options: { foo: 1 }, names: ['foo'] },
  { name: 'misspelt option (maxsize)', options: { maxsize: 10 }, names: ['maxsize'] },
  { name: 'misspelt option (TTL)', options: { TTL: 10 }, names: ['TTL'] },
  // topic
  { name: 'topic missing', options: { topic: undefined }, names: ['topic'] },
  { name: 'topic empty', options: { topic: '' }, names: ['topic'] },
  { name: 'topic a number', options: { topic: 42 }, names: ['topic'] },
  { name: 'topic null', options: { topic: null }, names: ['topic'] },
  { name: 'topic with a space', options: { topic: 'my topic' }, names: ['topic'] },
  { name: 'topic with a slash', options: { topic: 'a/b' }, names: ['topic'] },
  { name: 'topic with a colon', options: { topic: 'a:b' }, names: ['topic'] },
  { name: 'topic with non-ASCII', options: { topic: 'café' }, names: ['topic'] },
  { name: 'topic of 250 characters', options: { topic: 'a'.repeat(250) }, names: ['topic'] },
  // kafka / log
  { name: 'neither kafka nor log', options: { log: undefined }, names: ['kafka', 'log'] },
  { name: 'both kafka and log', options: { kafka: { brokers: ['127.0.0.1:9092'] } }, names: ['kafka', 'log'] },
  { name: 'log a string', options: { log: 'in-process' }, names: ['log'] },
  { name: 'log an object', options: { log: {} }, names: ['log'] },
  { name: 'kafka a string', options: { log: undefined, kafka: '127.0.0.1:9092' }, names: ['kafka'] },
  { name: 'kafka an array', options: { log: undefined, kafka: ['127.0.0.1:9092'] }, names: ['kafka'] },
  { name: 'kafka null', options: { log: undefined, kafka: null }, names: ['kafka'] },
  // instanceId
  { name: 'instanceId empty', options: { instanceId: '' }, names: ['instanceId'] },
  { name: 'instanceId a number', options: { instanceId: 7 }, names: ['instanceId'] },
  { name: 'instanceId with a space', options: { instanceId: 'a b' }, names: ['instanceId'] },
  { name: 'instanceId with non-ASCII', options: { instanceId: 'né' }, names: ['instanceId'] },
  { name: 'instanceId of 129 characters', options: { instanceId: 'a'.repeat(129) }, names: ['instanceId'] },
  // max
  { name: 'max 0', options: { max: 0 }, names: ['max'] },
  { name: 'max negative', options: { max: -1 }, names: ['max'] },
  { name: 'max fractional', options: { max: 1.5 }, names: ['max'] },
  { name: 'max a string', options: { max: '10' }, names: ['max'] },
  { name: 'max NaN', options: { max: Number.NaN }, names: ['max'] },
  { name: 'max Infinity', options: { max: Number.POSITIVE_INFINITY }, names: ['max'] },
  { name: 'max null', options: { max: null }, names: ['max'] },
  { name: 'max above 100000000', options: { max: 100_000_001 }, names: ['max'] },
  // maxBytes
  { name: 'maxBytes negative', options: { maxBytes: -1 }, names: ['maxBytes'] },
  { name: 'maxBytes fractional', options: { maxBytes: 0.5 }, names: ['maxBytes'] },
  { name: 'maxBytes a string', options: { maxBytes: '1mb' }, names: ['maxBytes'] },
  // ttl, maxTtl
  { name: 'ttl negative', options: { ttl: -1 }, names: ['ttl'] },
  { name: 'ttl fractional', options: { ttl: 1.5 }, names: ['ttl'] },
  { name: 'ttl a string', options: { ttl: '1s' }, names: ['ttl'] },
  { name: 'ttl beyond 100 years', options: { ttl: 365 * DAY * 100 + 1 }, names: ['ttl'] },
  { name: 'maxTtl negative', options: { maxTtl: -5 }, names: ['maxTtl'] },
  { name: 'maxTtl a boolean', options: { maxTtl: true }, names: ['maxTtl'] },
  { name: 'maxTtl Infinity', options: { maxTtl: Number.POSITIVE_INFINITY }, names: ['maxTtl'] },
  // maxKeyBytes, maxValueBytes
  { name: 'maxKeyBytes 0', options: { maxKeyBytes: 0 }, names: ['maxKeyBytes'] },
  { name: 'maxKeyBytes above 65536', options: { maxKeyBytes: 65_537 }, names: ['maxKeyBytes'] },
  { name: 'maxKeyBytes a string', options: { maxKeyBytes: '1k' }, names: ['maxKeyBytes'] },
  { name: 'maxValueBytes 0', options: { maxValueBytes: 0 }, names: ['maxValueBytes'] },
  { name: 'maxValueBytes above 64 MiB', options: { maxValueBytes: 64 * 1024 * 1024 + 1 }, names: ['maxValueBytes'] },
  { name: 'maxValueBytes fractional', options: { maxValueBytes: 10.5 }, names: ['maxValueBytes'] },
  // codec
  { name: 'codec a string', options: { codec: 'json' }, names: ['codec'] },
  { name: 'codec an empty object', options: { codec: {} }, names: ['codec'] },
  { name: 'codec without decode', options: { codec: codecWithoutDecode }, names: ['codec'] },
  { name: 'codec without name', options: { codec: codecWithoutName }, names: ['codec'] },
  { name: 'codec a function', options: { codec: jsonCodec }, names: ['codec'] },
  { name: 'codec null', options: { codec: null }, names: ['codec'] },
  // timeouts
  { name: 'bootstrapTimeout 0', options: { bootstrapTimeout: 0 }, names: ['bootstrapTimeout'] },
  { name: 'bootstrapTimeout negative', options: { bootstrapTimeout: -100 }, names: ['bootstrapTimeout'] },
  { name: 'bootstrapTimeout above the setTimeout limit', options: { bootstrapTimeout: 2 ** 31 }, names: ['bootstrapTimeout'] },
  { name: 'bootstrapTimeout a string', options: { bootstrapTimeout: '60s' }, names: ['bootstrapTimeout'] },
  { name: 'flushTimeout 0', options: { flushTimeout: 0 }, names: ['flushTimeout'] },
  { name: 'flushTimeout fractional', options: { flushTimeout: 10.5 }, names: ['flushTimeout'] },
  { name: 'closeTimeout negative', options: { closeTimeout: -1 }, names: ['closeTimeout'] },
  { name: 'closeTimeout above the setTimeout limit', options: { closeTimeout: 2 ** 31 }, names: ['closeTimeout'] },
  { name: 'stallTimeout below 100', options: { stallTimeout: 99 }, names: ['stallTimeout'] },
  { name: 'stallTimeout a string', options: { stallTimeout: '30s' }, names: ['stallTimeout'] },
  { name: 'lagPollInterval below 10', options: { lagPollInterval: 9 }, names: ['lagPollInterval'] },
  { name: 'lagPollInterval 0', options: { lagPollInterval: 0 }, names: ['lagPollInterval'] },
  // filter
  { name: 'filter a string', options: { filter: 'users:' }, names: ['filter'] },
  { name: 'filter a RegExp', options: { filter: /users:/ }, names: ['filter'] },
  { name: 'filter null', options: { filter: null }, names: ['filter'] },
  // mode
  { name: 'mode unknown', options: { mode: 'readonly' }, names: ['mode'] },
  { name: 'mode wrong case', options: { mode: 'Replicate' }, names: ['mode'] },
  { name: 'mode a number', options: { mode: 1 }, names: ['mode'] },
  // queue and batch
  { name: 'maxQueuedWrites 0', options: { maxQueuedWrites: 0 }, names: ['maxQueuedWrites'] },
  { name: 'maxQueuedWrites fractional', options: { maxQueuedWrites: 2.5 }, names: ['maxQueuedWrites'] },
  { name: 'maxBatchRecords 0', options: { maxBatchRecords: 0 }, names: ['maxBatchRecords'] },
  { name: 'maxBatchRecords above 100000', options: { maxBatchRecords: 100_001 }, names: ['maxBatchRecords'] },
  { name: 'maxBatchBytes below 1024', options: { maxBatchBytes: 1023 }, names: ['maxBatchBytes'] },
  { name: 'maxBatchBytes fractional', options: { maxBatchBytes: 2048.5 }, names: ['maxBatchBytes'] },
  { name: 'maxBatchBytes a string', options: { maxBatchBytes: '900k' }, names: ['maxBatchBytes'] },
  // logger
  { name: 'logger a string', options: { logger: 'console' }, names: ['logger'] },
  { name: 'logger an empty object', options: { logger: {} }, names: ['logger'] },
  { name: 'logger without error()', options: { logger: loggerWithoutError }, names: ['logger'] },
  { name: 'logger null', options: { logger: null }, names: ['logger'] },
];

const kafkaCases: Array<{ name: string; kafka: unknown; names: string[] }> = [
  { name: 'unknown kafka option', kafka: { brokers: ['h:1'], foo: 1 }, names: ['kafka.foo'] },
  { name: 'misspelt kafka option (broker)', kafka: { broker: 'h:1' }, names: ['kafka.broker'] },
  { name: 'brokers missing', kafka: {}, names: ['kafka.brokers'] },
  { name: 'brokers an empty array', kafka: { brokers: [] }, names: ['kafka.brokers'] },
  { name: 'brokers an empty string', kafka: { brokers: '' }, names: ['kafka.brokers'] },
  { name: 'brokers only commas', kafka: { brokers: ' , ,' }, names: ['kafka.brokers'] },
  { name: 'broker without a port', kafka: { brokers: ['localhost'] }, names: ['kafka.brokers'] },
  { name: 'broker with a non-numeric port', kafka: { brokers: ['localhost:http'] }, names: ['kafka.brokers'] },
  { name: 'broker with a six-digit port', kafka: { brokers: ['localhost:123456'] }, names: ['kafka.brokers'] },
  { name: 'broker with a space', kafka: { brokers: ['local host:9092'] }, names: ['kafka.brokers'] },
  { name: 'broker a URL', kafka: { brokers: ['kafka://localhost:9092'] }, names: ['kafka.brokers'] },
  { name: 'brokers string with a bad entry', kafka: { brokers: 'a:1,b' }, names: ['kafka.brokers'] },
  { name: 'brokers with a number', kafka: { brokers: [9092] }, names: ['kafka.brokers'] },
  { name: 'brokers an object', kafka: { brokers: { host: 'a', port: 1 } }, names: ['kafka.brokers'] },
  { name: 'brokers and client', kafka: { brokers: ['a:1'], client: { producer() {} } }, names: ['kafka.brokers', 'kafka.client'] },
  { name: 'client an empty object', kafka: { client: {} }, names: ['kafka.client'] },
  { name: 'client a string', kafka: { client: 'kafka' }, names: ['kafka.client'] },
  { name: 'clientId empty', kafka: { brokers: ['a:1'], clientId: '' }, names: ['kafka.clientId'] },
  { name: 'clientId a number', kafka: { brokers: ['a:1'], clientId: 5 }, names: ['kafka.clientId'] },
  { name: 'ssl a string', kafka: { brokers: ['a:1'], ssl: 'yes' }, names: ['kafka.ssl'] },
  { name: 'ssl a number', kafka: { brokers: ['a:1'], ssl: 1 }, names: ['kafka.ssl'] },
  { name: 'ssl null', kafka: { brokers: ['a:1'], ssl: null }, names: ['kafka.ssl'] },
  { name: 'sasl a string', kafka: { brokers: ['a:1'], sasl: 'plain' }, names: ['kafka.sasl'] },
  { name: 'sasl without a mechanism', kafka: { brokers: ['a:1'], sasl: { username: 'u', password: 'p' } }, names: ['kafka.sasl.mechanism'] },
  { name: 'sasl with an unknown mechanism', kafka: { brokers: ['a:1'], sasl: { mechanism: 'md5' } }, names: ['kafka.sasl.mechanism'] },
  { name: 'connectionTimeout 0', kafka: { brokers: ['a:1'], connectionTimeout: 0 }, names: ['kafka.connectionTimeout'] },
  { name: 'connectionTimeout a string', kafka: { brokers: ['a:1'], connectionTimeout: '3s' }, names: ['kafka.connectionTimeout'] },
  { name: 'requestTimeout negative', kafka: { brokers: ['a:1'], requestTimeout: -1 }, names: ['kafka.requestTimeout'] },
  { name: 'partitions 0', kafka: { brokers: ['a:1'], partitions: 0 }, names: ['kafka.partitions'] },
  { name: 'partitions fractional', kafka: { brokers: ['a:1'], partitions: 1.5 }, names: ['kafka.partitions'] },
  { name: 'partitions above 100000', kafka: { brokers: ['a:1'], partitions: 100_001 }, names: ['kafka.partitions'] },
  { name: 'replicationFactor 0', kafka: { brokers: ['a:1'], replicationFactor: 0 }, names: ['kafka.replicationFactor'] },
  { name: 'replicationFactor -2', kafka: { brokers: ['a:1'], replicationFactor: -2 }, names: ['kafka.replicationFactor'] },
  { name: 'replicationFactor above 32767', kafka: { brokers: ['a:1'], replicationFactor: 32_768 }, names: ['kafka.replicationFactor'] },
  { name: 'topicConfig a string', kafka: { brokers: ['a:1'], topicConfig: 'compact' }, names: ['kafka.topicConfig'] },
  { name: 'topicConfig an array', kafka: { brokers: ['a:1'], topicConfig: [] }, names: ['kafka.topicConfig'] },
  {
    name: 'topicConfig with a number value',
    kafka: { brokers: ['a:1'], topicConfig: { 'min.insync.replicas': 2 } },
    names: ['kafka.topicConfig["min.insync.replicas"]'],
  },
  { name: 'cleanup.policy delete', kafka: { brokers: ['a:1'], topicConfig: { 'cleanup.policy': 'delete' } }, names: ['kafka.topicConfig["cleanup.policy"]'] },
  { name: 'cleanup.policy empty', kafka: { brokers: ['a:1'], topicConfig: { 'cleanup.policy': '' } }, names: ['kafka.topicConfig["cleanup.policy"]'] },
  {
    name: 'cleanup.policy compacted (not compact)',
    kafka: { brokers: ['a:1'], topicConfig: { 'cleanup.policy': 'compacted' } },
    names: ['kafka.topicConfig["cleanup.policy"]'],
  },
  { name: 'createTopic a string', kafka: { brokers: ['a:1'], createTopic: 'yes' }, names: ['kafka.createTopic'] },
  { name: 'allowNonCompactedTopic a number', kafka: { brokers: ['a:1'], allowNonCompactedTopic: 1 }, names: ['kafka.allowNonCompactedTopic'] },
  { name: 'shareConnection a string', kafka: { brokers: ['a:1'], shareConnection: 'no' }, names: ['kafka.shareConnection'] },
  { name: 'groupIdPrefix empty', kafka: { brokers: ['a:1'], groupIdPrefix: '' }, names: ['kafka.groupIdPrefix'] },
  { name: 'groupIdPrefix with a space', kafka: { brokers: ['a:1'], groupIdPrefix: 'my group' }, names: ['kafka.groupIdPrefix'] },
  { name: 'groupIdPrefix of 201 characters', kafka: { brokers: ['a:1'], groupIdPrefix: 'g'.repeat(201) }, names: ['kafka.groupIdPrefix'] },
  { name: 'sessionTimeout below 1000', kafka: { brokers: ['a:1'], sessionTimeout: 999 }, names: ['kafka.sessionTimeout'] },
  { name: 'heartbeatInterval below 100', kafka: { brokers: ['a:1'], heartbeatInterval: 99 }, names: ['kafka.heartbeatInterval'] },
  {
    name: 'heartbeatInterval equal to sessionTimeout',
    kafka: { brokers: ['a:1'], sessionTimeout: 5000, heartbeatInterval: 5000 },
    names: ['kafka.heartbeatInterval'],
  },
  {
    name: 'heartbeatInterval above sessionTimeout',
    kafka: { brokers: ['a:1'], sessionTimeout: 5000, heartbeatInterval: 6000 },
    names: ['kafka.heartbeatInterval'],
  },
  { name: 'default heartbeatInterval above a short sessionTimeout', kafka: { brokers: ['a:1'], sessionTimeout: 2000 }, names: ['kafka.heartbeatInterval'] },
  { name: 'maxWaitTimeInMs 0', kafka: { brokers: ['a:1'], maxWaitTimeInMs: 0 }, names: ['kafka.maxWaitTimeInMs'] },
  { name: 'maxWaitTimeInMs above 60000', kafka: { brokers: ['a:1'], maxWaitTimeInMs: 60_001 }, names: ['kafka.maxWaitTimeInMs'] },
  { name: 'rackId empty', kafka: { brokers: ['a:1'], rackId: '' }, names: ['kafka.rackId'] },
  { name: 'rackId with a space', kafka: { brokers: ['a:1'], rackId: 'zone a' }, names: ['kafka.rackId'] },
  { name: 'rackId a number', kafka: { brokers: ['a:1'], rackId: 1 }, names: ['kafka.rackId'] },
  { name: 'logLevel unknown', kafka: { brokers: ['a:1'], logLevel: 'verbose' }, names: ['kafka.logLevel'] },
  { name: 'logLevel a number', kafka: { brokers: ['a:1'], logLevel: 4 }, names: ['kafka.logLevel'] },
];

describe('createNearCache options', () => {
  const broker = new InProcessBroker();

  function valid(): Record<string, unknown> {
    return { topic: uniqueTopic('opts'), log: inProcessLog(broker), logger: silentLogger };
  }

  it.each(cacheCases)('rejects $name', async ({ options, names }) => {
    const factory = vi.fn(inProcessLog(broker));
    const merged: Record<string, unknown> = { ...valid(), log: factory, ...options };
    for (const [key, value] of Object.entries(options)) if (value === undefined) delete merged[key];
    const error = await thrownBy(merged);
    expectInvalidOption(error, names);
    // Checked up front: nothing was built or connected.
    expect(factory).not.toHaveBeenCalled();
    if (typeof merged.topic === 'string') expect(broker.hasTopic(merged.topic)).toBe(false);
  });

  it.each([
    { name: 'undefined', options: undefined },
    { name: 'null', options: null },
    { name: 'a string', options: 'topic' },
    { name: 'an array', options: [] },
  ])('rejects options that are $name', async ({ options }) => {
    expectInvalidOption(await thrownBy(options), ['options']);
  });

  it('names the allowed options when one is unknown', async () => {
    const error = await thrownBy({ ...valid(), maxsize: 1 });
    expectInvalidOption(error, ['maxsize']);
    expect((error as Error).message).toContain('maxBytes');
  });

  it('constructs with the defaults from just topic and log', async () => {
    const topic = uniqueTopic('defaults');
    const cache = createNearCache({ topic, log: inProcessLog(broker) });
    caches.push(cache);
    expect(cache).toBeInstanceOf(NearCache);
    expect(cache.topic).toBe(topic);
    expect(cache.instanceId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const stats = cache.stats();
    expect(stats.mode).toBe('replicate');
    expect(stats.log).toBe('in-process');
    await cache.ready({ timeout: 5000 });
    await cache.set('k', { a: 1 });
    expect(cache.get('k')).toEqual({ a: 1 });
  });

  it('gives every instance a distinct default instanceId', () => {
    const a = createNearCache({ ...valid() } as unknown as NearCacheOptions);
    const b = createNearCache({ ...valid() } as unknown as NearCacheOptions);
    caches.push(a, b);
    expect(a.instanceId).not.toBe(b.instanceId);
  });

  it.each<{ name: string; options: Record<string, unknown> }>([
    {
      name: 'boundary values',
      options: {
        max: 1,
        maxBytes: 0,
        ttl: 0,
        maxTtl: 0,
        maxKeyBytes: 1,
        maxValueBytes: 1,
        closeTimeout: 0,
        stallTimeout: 100,
        lagPollInterval: 10,
        maxQueuedWrites: 1,
        maxBatchRecords: 1,
        maxBatchBytes: 1024,
      },
    },
    // (max: 100_000_000 is accepted too, but lru-cache preallocates its arrays: constructing takes seconds and GBs.)
    { name: 'upper bounds', options: { maxKeyBytes: 65_536, maxValueBytes: 64 * 1024 * 1024, ttl: 365 * DAY * 100, bootstrapTimeout: 2_147_483_647 } },
    { name: 'a 249-character topic', options: { topic: 'a'.repeat(249) } },
    { name: 'topic with dots, dashes and underscores', options: { topic: `my.cache_topic-${Date.now()}` } },
    { name: 'mode invalidate and a filter', options: { mode: 'invalidate', filter: (k: string) => k.startsWith('a') } },
    { name: 'explicit instanceId and codec', options: { instanceId: 'svc-1@host', codec: jsonCodec() } },
    { name: 'explicitly undefined optional options', options: { max: undefined, ttl: undefined, filter: undefined, kafka: undefined } },
  ])('accepts $name', ({ options }) => {
    const cache = createNearCache({ ...valid(), ...options } as unknown as NearCacheOptions);
    caches.push(cache);
    expect(cache.state).toBe('starting');
  });

  it('warns (but accepts) when maxBytes is below maxKeyBytes + maxValueBytes', () => {
    const logger: Logger = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
    const cache = createNearCache({ ...valid(), logger, maxBytes: 100, maxKeyBytes: 64, maxValueBytes: 64 } as unknown as NearCacheOptions);
    caches.push(cache);
    expect(logger.warn).toHaveBeenCalledWith(expect.stringContaining('maxBytes'));
  });
});

describe('kafka options', () => {
  it.each(kafkaCases)('createNearCache rejects $name', async ({ kafka, names }) => {
    const error = await thrownBy({ topic: uniqueTopic('kopts'), kafka, logger: silentLogger });
    expectInvalidOption(error, names);
  });

  it.each(kafkaCases)('kafkaLog() rejects $name', ({ kafka, names }) => {
    let error: unknown;
    try {
      kafkaLog(kafka as KafkaLogOptions);
    } catch (e) {
      error = e;
    }
    expectInvalidOption(error, names);
  });

  // kafkaLog() only checks options and returns a factory: nothing connects here.
  it.each<{ name: string; kafka: KafkaLogOptions }>([
    { name: 'an array of brokers', kafka: { brokers: ['127.0.0.1:9092', 'kafka-2.internal:19092'] } },
    { name: 'a comma-separated string of brokers with spaces', kafka: { brokers: '127.0.0.1:9092, kafka-2:9093' } },
    { name: 'a broker with an IPv4 address and port 1', kafka: { brokers: ['10.0.0.1:1'] } },
    {
      name: 'every option at a valid value',
      kafka: {
        brokers: ['a:1'],
        clientId: 'svc',
        ssl: true,
        sasl: { mechanism: 'plain', username: 'u', password: 'p' },
        connectionTimeout: 1,
        requestTimeout: 1,
        partitions: 12,
        replicationFactor: 3,
        topicConfig: { 'min.insync.replicas': '2', 'cleanup.policy': 'compact,delete' },
        createTopic: false,
        allowNonCompactedTopic: true,
        groupIdPrefix: 'team.cache-',
        sessionTimeout: 10_000,
        heartbeatInterval: 1000,
        maxWaitTimeInMs: 60_000,
        rackId: 'eu-west-1a',
        logLevel: 'nothing',
        shareConnection: false,
      },
    },
    { name: 'replicationFactor -1 (broker default)', kafka: { brokers: ['a:1'], replicationFactor: -1 } },
    { name: 'ssl as TLS options', kafka: { brokers: ['a:1'], ssl: { rejectUnauthorized: false } } },
    // Kafka reads list configs with whitespace around the commas (ConfigDef LIST type).
    { name: 'cleanup.policy "delete, compact" (space after the comma)', kafka: { brokers: ['a:1'], topicConfig: { 'cleanup.policy': 'delete, compact' } } },
  ])('kafkaLog() accepts $name', ({ kafka }) => {
    expect(typeof kafkaLog(kafka)).toBe('function');
  });
});
