import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { silentLogger, type KafkaLogOptions, type NearCache } from '@nearcache/core';
import { getNearCacheToken, NearCacheModule } from '@nearcache/nestjs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { countingClient, createTopics, liveGroups } from '../helpers/connections.js';
import { KafkaTestClient, uniqueTopic } from '../helpers/kafka.js';
import { waitFor } from '../helpers/wait.js';

const NAMES = ['default', 'sessions', 'catalog'] as const;

// The named caches of one Nest application, each on its own topic, share one producer and one consumer.
describe('NearCacheModule: named caches share their Kafka connections', () => {
  const client = new KafkaTestClient();
  const apps: INestApplication[] = [];

  async function start(topics: string[], kafka: () => KafkaLogOptions): Promise<{ app: INestApplication; caches: NearCache[] }> {
    const moduleRef = await Test.createTestingModule({
      imports: NAMES.map((name, i) =>
        NearCacheModule.forRoot({ ...(name === 'default' ? {} : { name }), topic: topics[i]!, kafka: kafka(), logger: silentLogger }),
      ),
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    apps.push(app);
    await app.init();
    return { app, caches: NAMES.map((name) => app.get<NearCache>(getNearCacheToken(name))) };
  }

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });
  afterAll(() => client.close());

  it('three named caches given equal settings read their three topics through one consumer', async () => {
    const topics = await createTopics(client, 3, 1);
    const groupIdPrefix = `${uniqueTopic('nc-nest-shared')}.`;
    // A new settings object for each cache, as separate forRoot() calls give: equal values share.
    const { caches } = await start(topics, () => ({ brokers: client.brokers, logLevel: 'nothing', groupIdPrefix }));
    const admin = await client.admin();
    await waitFor(async () => (await liveGroups(admin, groupIdPrefix)).length === 1, { timeout: 20_000, message: 'one live consumer group' });
    expect(await liveGroups(admin, groupIdPrefix)).toEqual([{ groupId: expect.any(String), topics: [topics.slice().sort()] }]);

    // A second application (another process, connections of its own) sees each cache's writes, and the other way round.
    const other = await start(topics, () => ({ brokers: client.brokers, clientId: 'other-process', logLevel: 'nothing', groupIdPrefix }));
    for (const [i, cache] of caches.entries()) {
      await cache.set('k', `from-first-${i}`);
      expect(cache.get('k')).toBe(`from-first-${i}`);
    }
    await waitFor(() => other.caches.every((cache, i) => cache.get('k') === `from-first-${i}`), { timeout: 20_000, message: 'writes of the first app' });
    for (const [i, cache] of other.caches.entries()) await cache.set('j', i);
    await waitFor(() => caches.every((cache, i) => cache.get('j') === i), { timeout: 20_000, message: 'writes of the second app' });
  });

  it('three named caches given one kafkajs client open one admin, one producer and one consumer', async () => {
    const topics = await createTopics(client, 3, 1);
    const counting = countingClient(client.brokers);
    const { caches } = await start(topics, () => ({ client: counting.kafka }));
    expect(counting.made).toEqual({ admin: 1, producer: 1, consumer: 1 });
    for (const cache of caches) await cache.set('k', cache.stats().topic);
    await Promise.all(caches.map((cache) => cache.flush()));
    expect(counting.made.producer).toBe(1);
    // Closing the application releases the shares; the last one stops the consumer.
    await apps.pop()!.close();
    expect(counting.live()).toBe(0);
  });
});
