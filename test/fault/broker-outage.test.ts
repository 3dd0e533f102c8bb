import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNearCache, NearCacheError, ReplicationTimeoutError, silentLogger, type CacheState, type NearCache } from '@nearcache/core';
import { startCluster, type LocalCluster } from '../../scripts/kafka/local-kafka.mjs';
import { faultTestKafka, KafkaTestClient, NO_CLEANING } from '../helpers/kafka.js';
import { diff, foldTopic, snapshot } from '../helpers/oracle.js';
import { startTraffic } from '../helpers/traffic.js';
import { sleep, waitFor } from '../helpers/wait.js';

// Guarantee: with the broker stopped for 20 s under continuous writes from three instances,
// no instance fails or needs a restart; writes apply locally and queue; durable writes succeed
// after recovery or reject in time with a typed error; the queues drain and all converge.
const OUTAGE_MS = 20_000;
const FLUSH_TIMEOUT = 5000;
let cluster: LocalCluster;
let client: KafkaTestClient;
const caches: Array<NearCache<unknown>> = [];

beforeAll(async () => {
  cluster = await startCluster({ nodes: 1, name: 'fault-outage', basePort: 0, log: () => undefined, stopOnExit: true });
  client = new KafkaTestClient(cluster.brokers);
});

afterAll(async () => {
  await Promise.all(caches.map((c) => c.close()));
  await client?.close().catch(() => undefined);
  await cluster?.stop();
});

describe('broker stopped for 20 s under writes', () => {
  it('no instance fails; writes queue and drain; durable writes resolve or reject typed in time; all converge to the oracle', async () => {
    // The outage is under test, not the log cleaner: the cleaner racing own writes is covered by contract section 12.
    const topic = await client.createTopic({ partitions: 2, config: NO_CLEANING });
    const states: CacheState[][] = [];
    const errors: NearCacheError[][] = [];
    for (let i = 0; i < 3; i++) {
      const cache = createNearCache<unknown>({
        topic,
        kafka: faultTestKafka(cluster.brokers),
        logger: silentLogger,
        flushTimeout: FLUSH_TIMEOUT,
        lagPollInterval: 500,
        stallTimeout: 5000,
      });
      const seen: CacheState[] = [];
      const errs: NearCacheError[] = [];
      cache.on('state', (state) => seen.push(state));
      cache.on('error', (error) => errs.push(error));
      states.push(seen);
      errors.push(errs);
      caches.push(cache);
    }
    await Promise.all(caches.map((c) => c.ready()));
    const traffic = startTraffic(caches);
    await waitFor(() => traffic.durable.filter((d) => d.outcome === 'ok').length >= 6, { timeout: 30_000, message: 'durable writes before the outage' });

    await cluster.stopNode(0);
    const downAt = Date.now();
    const writesAtDown = [...traffic.writes];
    // The outage itself: the broker stays down for 20 s while the instances keep writing.
    await sleep(OUTAGE_MS);
    // Durable writes issued while the broker was down rejected with a typed error (their deadline passed).
    const duringOutage = traffic.durable.filter((d) => d.at >= downAt && d.at < Date.now() - FLUSH_TIMEOUT - 1000);
    expect(duringOutage.length).toBeGreaterThan(10);
    for (const d of duringOutage) {
      expect(d.outcome, `durable write of instance ${d.instance} at +${d.at - downAt} ms`).toBeInstanceOf(ReplicationTimeoutError);
    }
    // Writes went on locally, and every instance is still running (degraded, not closed).
    traffic.writes.forEach((n, i) => expect(n).toBeGreaterThan(writesAtDown[i]! + 100));
    for (const cache of caches) expect(cache.state).toBe('degraded');
    expect(caches.every((c) => c.stats().queue.depth > 0)).toBe(true);

    await cluster.startNode(0);
    const upAt = Date.now();
    await waitFor(() => traffic.durable.some((d) => d.at > upAt && d.outcome === 'ok'), {
      timeout: 60_000,
      message: 'a durable write to succeed after recovery',
    });
    traffic.stop();
    // Every durable write ended: acknowledged, or rejected with the typed timeout error.
    await waitFor(() => traffic.durable.every((d) => d.outcome !== 'pending'), { timeout: FLUSH_TIMEOUT + 5000, message: 'every durable write to settle' });
    for (const d of traffic.durable) {
      if (d.outcome !== 'ok') expect(d.outcome).toBeInstanceOf(ReplicationTimeoutError);
    }
    expect(traffic.failures).toEqual([]);

    // Queues drain; every instance is live again without a restart.
    await Promise.all(caches.map((c) => c.flush({ timeout: 60_000 })));
    await waitFor(() => caches.every((c) => c.state === 'live' && c.stats().queue.depth === 0), {
      timeout: 60_000,
      message: 'instances live with empty queues',
    });
    for (const list of states) expect(list).not.toContain('closed');
    // What the instances reported meanwhile was all retriable: nothing was given up on.
    for (const list of errors) {
      expect(list.length).toBeGreaterThan(0);
      expect(list.filter((e) => !e.retriable).map((e) => `${e.code}: ${e.message}`)).toEqual([]);
    }

    const oracle = foldTopic(await client.readAll(topic));
    expect(oracle.size).toBeGreaterThan(40);
    for (const [i, cache] of caches.entries()) {
      await waitFor(() => diff(snapshot(cache), oracle).length === 0, {
        timeout: 60_000,
        message: () => {
          const { state, queue, partitions, records } = cache.stats();
          return `instance ${i} converged: ${diff(snapshot(cache), oracle).slice(0, 5).join('; ')} (${JSON.stringify({ state, queue, partitions, applied: records.applied, replayed: records.replayed })})`;
        },
      });
    }
  });
});
