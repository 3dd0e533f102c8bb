import kafkajs from 'kafkajs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createNearCache, silentLogger, type NearCache, type NearCacheOptions } from '@nearcache/core';
import { KafkaTestClient, uniqueTopic } from '../helpers/kafka.js';

const { ConfigResourceTypes } = kafkajs;

describe('the Kafka adapter and its topic', () => {
  const client = new KafkaTestClient();
  const caches: NearCache[] = [];
  const open = (topic: string, kafka: Partial<NonNullable<NearCacheOptions['kafka']>> = {}): NearCache => {
    const cache = createNearCache({ topic, kafka: { brokers: client.brokers, logLevel: 'nothing', ...kafka }, logger: silentLogger });
    caches.push(cache);
    return cache;
  };

  afterEach(async () => {
    await Promise.all(caches.splice(0).map((cache) => cache.close()));
  });
  afterAll(() => client.close());

  async function topicConfig(topic: string, name: string): Promise<string | undefined> {
    const admin = await client.admin();
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: [name] }],
    });
    return described.resources[0]?.configEntries.find((entry) => entry.configName === name)?.configValue;
  }

  it('creates a missing topic, compacted, with the configured partitions and configs', async () => {
    const topic = uniqueTopic('nc-created');
    const cache = open(topic, { partitions: 3, topicConfig: { 'min.cleanable.dirty.ratio': '0.2' } });
    await cache.ready();
    const admin = await client.admin();
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(metadata.topics[0]!.partitions).toHaveLength(3);
    expect(await topicConfig(topic, 'cleanup.policy')).toBe('compact');
    expect(await topicConfig(topic, 'min.cleanable.dirty.ratio')).toBe('0.2');
    expect(cache.stats().partitions).toHaveLength(3);
    await admin.deleteTopics({ topics: [topic] });
  });

  it('refuses a topic that is not compacted, with a typed error, and stops', async () => {
    const topic = await client.createTopic({ config: { 'cleanup.policy': 'delete' } });
    const cache = open(topic);
    const errors: unknown[] = [];
    cache.on('error', (error) => errors.push(error));
    const stateAtRejection = await cache.ready().then(
      () => 'ready resolved',
      (error: { code?: string }) => `${error.code} in state ${cache.state}`,
    );
    expect(stateAtRejection).toBe('NC_TOPIC_NOT_COMPACTED in state closed');
    await expect(cache.set('k', 1)).rejects.toMatchObject({ code: 'NC_CLOSED' });
    expect(errors).toEqual([expect.objectContaining({ code: 'NC_TOPIC_NOT_COMPACTED' })]);
  });

  it('accepts a topic that is not compacted when told to', async () => {
    const topic = await client.createTopic({ config: { 'cleanup.policy': 'delete' } });
    const cache = open(topic, { allowNonCompactedTopic: true });
    await cache.ready();
    await cache.set('k', 1, { durable: true });
    expect(cache.get('k')).toBe(1);
  });

  it('does not create the topic when createTopic is false', async () => {
    const topic = uniqueTopic('nc-absent');
    const cache = open(topic, { createTopic: false });
    await expect(cache.ready()).rejects.toMatchObject({ code: 'NC_LOG_UNAVAILABLE' });
    const admin = await client.admin();
    expect(await admin.listTopics()).not.toContain(topic);
  });

  it('writes the record format: key, tombstone, headers', async () => {
    const topic = await client.createTopic();
    const cache = open(topic);
    await cache.ready();
    await cache.set('greeting', { hello: 'world' }, { ttl: 60_000 });
    await cache.flush();
    await cache.delete('greeting', { durable: true });
    const [set, tombstone] = await client.readAll(topic);
    // Version 3: a set's value is its metadata line ("<version> <op> <expiry> <write id> <codec> <origin>"),
    // a newline and the codec's bytes, with no header; a tombstone carries the line in nc-r.
    expect(Buffer.from(set!.key!).toString()).toBe('greeting');
    expect(Object.keys(set!.headers)).toEqual([]);
    const text = Buffer.from(set!.value!).toString();
    const newline = text.indexOf('\n');
    expect(JSON.parse(text.slice(newline + 1))).toEqual({ hello: 'world' });
    const [version, op, exp, wid, codec, origin, ...rest] = text.slice(0, newline).split(' ');
    expect([version, op, codec, origin, rest.length]).toEqual(['3', 's', 'structured', cache.origin, 0]);
    expect(Number(exp)).toBeGreaterThan(Date.now());
    expect(cache.origin.startsWith(`${cache.instanceId}.`)).toBe(true);
    expect(Buffer.from(tombstone!.key!).toString()).toBe('greeting');
    expect(tombstone!.value).toBeNull();
    expect(Object.keys(tombstone!.headers)).toEqual(['nc-r']);
    const [deleteVersion, deleteOp, deleteExp, deleteWid, deleteCodec, deleteOrigin] = Buffer.from(tombstone!.headers['nc-r'] as Buffer)
      .toString()
      .split(' ');
    expect([deleteVersion, deleteOp, deleteExp, deleteCodec, deleteOrigin]).toEqual(['3', 'd', '0', 'structured', cache.origin]);
    expect(Number(deleteWid)).toBeGreaterThan(Number(wid));
  });
});
