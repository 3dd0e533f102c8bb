import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InProcessBroker, inProcessLog, type ReplicationLogFactory } from '@nearcache/core';
import {
  MemoryProductStore,
  pageKey,
  productKey,
  startExpressInstance,
  startNestInstance,
  type InstanceOptions,
  type ProductStore,
  type RunningInstance,
} from '../../apps/example/src/index.js';
import { KafkaTestClient } from '../helpers/kafka.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The example apps (apps/example) as `npm run demo` runs them: two Nest instances (A, B) and
 * an Express instance (C) on one topic, over one product store, driven over HTTP. Where a page
 * came from is read from the apps' `X-Served-From` header and their data-source call counters.
 */
interface Setup {
  name: string;
  /** Where the instances of one test replicate. */
  log(): Promise<Pick<InstanceOptions, 'topic' | 'log' | 'brokers'>>;
  close(): Promise<void>;
}

const inProcess = (): Setup => ({
  name: 'the in-process log',
  log: async () => ({ topic: 'catalog', log: inProcessLog(new InProcessBroker()) as ReplicationLogFactory }),
  close: async () => undefined,
});

const kafka = (): Setup => {
  let client: KafkaTestClient | undefined;
  return {
    name: 'Kafka',
    log: async () => {
      client ??= new KafkaTestClient();
      return { topic: await client.createTopic({ partitions: 3 }), brokers: client.brokers };
    },
    close: async () => client?.close(),
  };
};

const setups = [inProcess(), ...(process.env.KAFKA_BROKERS ? [kafka()] : [])];

interface Answer {
  status: number;
  servedFrom: string | null;
  body: { id?: string; price?: number; [field: string]: unknown };
}

async function call(instance: RunningInstance, method: 'GET' | 'PUT', path: string, body?: unknown): Promise<Answer> {
  const response = await fetch(`${instance.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, servedFrom: response.headers.get('x-served-from'), body: (await response.json()) as Answer['body'] };
}

const holds = (instance: RunningInstance, ...keys: string[]) => keys.every((key) => instance.cache.has(key));
const holdsNone = (instance: RunningInstance, ...keys: string[]) => keys.every((key) => !instance.cache.has(key));

describe.each(setups)('the example apps on $name', (setup) => {
  let where: Pick<InstanceOptions, 'topic' | 'log' | 'brokers'>;
  let store: ProductStore;
  let A: RunningInstance;
  let B: RunningInstance;
  let C: RunningInstance;
  const options = (name: string): InstanceOptions => ({ name, port: 0, ...where, store, dataDelayMs: 5, quiet: true });

  beforeEach(async () => {
    where = await setup.log();
    store = new MemoryProductStore();
    [A, B, C] = await Promise.all([startNestInstance(options('A')), startNestInstance(options('B')), startExpressInstance(options('C'))]);
  });

  afterEach(async () => {
    await Promise.all([A, B, C].filter(Boolean).map((instance) => instance.close()));
  });

  afterAll(() => setup.close());

  it('a product loaded on A is a hit on B and C; an update on C invalidates it everywhere', async () => {
    const first = await call(A, 'GET', '/products/3');
    expect(first.status).toBe(200);
    expect(first.servedFrom).toBe('data-source');
    expect(A.catalog.reads).toBe(1);

    await waitFor(() => holds(B, pageKey('3')) && holds(C, pageKey('3'), productKey('3')), { timeout: 30_000, message: 'the page and the product on B and C' });
    expect(await call(B, 'GET', '/products/3')).toEqual({ status: 200, servedFrom: 'response-cache', body: first.body }); // the page A computed
    expect(await call(C, 'GET', '/products/3')).toEqual({ status: 200, servedFrom: 'response-cache', body: first.body }); // the same page, from Express
    expect(await call(C, 'GET', '/products/3?ref=test')).toEqual({ status: 200, servedFrom: 'value-cache', body: first.body }); // another page, the product A loaded
    expect(B.catalog.reads).toBe(0);
    expect(C.catalog.reads).toBe(0);

    const update = await call(C, 'PUT', '/products/3', { price: 1 });
    expect(update.status).toBe(200);
    expect(update.body.price).toBe(1);
    expect(holdsNone(C, productKey('3'), pageKey('3'))).toBe(true);
    await waitFor(() => [A, B].every((instance) => holdsNone(instance, productKey('3'), pageKey('3'))), {
      timeout: 30_000,
      message: 'the invalidation on A and B',
    });

    const reload = await call(A, 'GET', '/products/3');
    expect(reload).toMatchObject({ status: 200, servedFrom: 'data-source', body: { id: '3', price: 1 } });
    expect(A.catalog.reads).toBe(2);
    await waitFor(() => holds(B, pageKey('3')) && holds(C, pageKey('3')), { timeout: 30_000, message: 'the reloaded page on B and C' });
    expect(await call(B, 'GET', '/products/3')).toMatchObject({ servedFrom: 'response-cache', body: { price: 1 } });
    expect(await call(C, 'GET', '/products/3')).toMatchObject({ servedFrom: 'response-cache', body: { price: 1 } });
    expect(B.catalog.reads + C.catalog.reads).toBe(0);
  });

  it('a page the Express app computed is a hit on the Nest apps; an update on a Nest app (@CacheEvict) invalidates it everywhere', async () => {
    expect(await call(C, 'GET', '/products/4')).toMatchObject({ status: 200, servedFrom: 'data-source' });
    await waitFor(() => holds(A, pageKey('4'), productKey('4')) && holds(B, pageKey('4'), productKey('4')), {
      timeout: 30_000,
      message: 'the page and the product on A and B',
    });
    expect(await call(A, 'GET', '/products/4')).toMatchObject({ status: 200, servedFrom: 'response-cache', body: { id: '4' } });
    expect(await call(B, 'GET', '/products/4?ref=test')).toMatchObject({ status: 200, servedFrom: 'value-cache', body: { id: '4' } }); // @Cached
    expect(A.catalog.reads + B.catalog.reads).toBe(0);

    const update = await call(A, 'PUT', '/products/4', { price: 2 });
    expect(update).toMatchObject({ status: 200, body: { id: '4', price: 2 } });
    await waitFor(() => [A, B, C].every((instance) => holdsNone(instance, productKey('4'), pageKey('4'))), {
      timeout: 30_000,
      message: 'the product and its page gone everywhere',
    });
    expect(await call(C, 'GET', '/products/4')).toMatchObject({ status: 200, servedFrom: 'data-source', body: { price: 2 } });
  });

  it('a restarted instance is warm: its first request is a hit, without a data-source call', async () => {
    await call(A, 'GET', '/products/5');
    await waitFor(() => holds(B, productKey('5'), pageKey('5')), { timeout: 30_000, message: "A's product and page on B" });
    await B.close();

    B = await startNestInstance(options('B'));
    expect(holds(B, productKey('5'), pageKey('5'))).toBe(true); // listening means ready: caught up with the topic
    expect(await call(B, 'GET', '/products/5')).toMatchObject({ status: 200, servedFrom: 'response-cache', body: { id: '5' } });
    expect(B.catalog.reads).toBe(0);
  });

  it('answers health and errors as an HTTP service should', async () => {
    for (const instance of [A, C]) {
      const health = await fetch(`${instance.url}/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: 'ok', info: { nearcache: { status: 'up', state: 'live' } } });
    }
    for (const instance of [A, C]) {
      expect((await call(instance, 'GET', '/products/999999')).status).toBe(404);
      expect((await call(instance, 'PUT', '/products/1', { price: -1 })).status).toBe(400);
      expect((await call(instance, 'PUT', '/products/1', { colour: 'red' })).status).toBe(400);
    }
    expect(holdsNone(A, productKey('999999'))).toBe(true); // errors are not cached
  });

  it('serves its cache metrics in the Prometheus format on /metrics: hits, loads, state, and the lag of each partition', async () => {
    expect(await call(C, 'GET', '/products/6')).toMatchObject({ status: 200, servedFrom: 'data-source' }); // a wrap that loads, on Express
    await waitFor(() => holds(A, pageKey('6')), { timeout: 30_000, message: "C's page on A" });
    expect(await call(A, 'GET', '/products/6')).toMatchObject({ status: 200, servedFrom: 'response-cache' });

    /** The samples of `metric` on `instance`, as [labels, value]. */
    const samples = async (instance: RunningInstance, metric: string): Promise<Array<[string, number]>> => {
      const response = await fetch(`${instance.url}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      const text = await response.text();
      return [...text.matchAll(new RegExp(`^${metric}\\{([^}]*)\\} (\\S+)$`, 'gm'))].map((m) => [m[1]!, Number(m[2])]);
    };
    const [hits] = await samples(A, 'nearcache_cache_hits_total');
    expect(hits![0]).toContain('nearcache_cache_name="catalog"');
    expect(hits![0]).toContain(`messaging_destination_name="${where.topic}"`);
    expect(hits![1]).toBe(A.cache.stats().hits);
    expect(hits![1]).toBeGreaterThanOrEqual(1);
    // Two loads on C: the page (its handler, run under the response cache's lease) and the product (the wrap inside it).
    expect((await samples(C, 'nearcache_load_duration_count')).map(([, v]) => v)).toEqual([2]);
    expect((await samples(A, 'nearcache_state')).filter(([, v]) => v === 1).map(([labels]) => labels.match(/nearcache_state="(\w+)"/)![1])).toEqual(['live']);
    const lag = await samples(B, 'nearcache_replication_lag');
    const partitions = B.cache.stats().partitions.map((p) => String(p.partition));
    expect(partitions.length).toBe(setup.name === 'Kafka' ? 3 : 1);
    expect(lag.map(([labels]) => labels.match(/messaging_destination_partition_id="(\d+)"/)![1])).toEqual(partitions);
    expect(lag.every(([, v]) => v >= 0)).toBe(true);
  });
});
