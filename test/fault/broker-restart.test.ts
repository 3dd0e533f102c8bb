import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createNearCache, type Logger, type NearCache, type ReplicationMode } from '@nearcache/core';
import { startCluster, type LocalCluster } from '../../scripts/kafka/local-kafka.mjs';
import { faultTestKafka, KafkaTestClient, NO_CLEANING } from '../helpers/kafka.js';
import { startProbes } from '../helpers/probes.js';
import { startTraffic } from '../helpers/traffic.js';
import { sleep, waitFor } from '../helpers/wait.js';

// Guarantee: a broker restart (what a rolling restart or an upgrade does to every instance)
// costs seconds, not a consumer session: once the broker answers again, every instance applies
// new records within 5 s, without the stall watchdog.
const RECOVERY_BOUND_MS = 5000;
let cluster: LocalCluster;
let client: KafkaTestClient;
const caches: Array<NearCache<unknown>> = [];

beforeAll(async () => {
  cluster = await startCluster({ nodes: 1, name: 'fault-restart', basePort: 0, log: () => undefined, stopOnExit: true });
  client = new KafkaTestClient(cluster.brokers);
});

afterEach(async () => {
  await Promise.all(caches.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await client?.close().catch(() => undefined);
  await cluster?.stop();
});

/** A logger keeping every line with its time, shown when a wait fails. */
function recordingLogger(lines: string[], name: string): Logger {
  const at = (level: string) => (message: string, context?: Record<string, unknown>) => {
    lines.push(`${new Date().toISOString().slice(11, 23)} ${name} ${level} ${message}${context ? ` ${JSON.stringify(context).slice(0, 300)}` : ''}`);
  };
  return { debug: () => undefined, info: at('info'), warn: at('warn'), error: at('error') };
}

// Inline and with the Kafka client on a worker thread (replication: 'worker').
describe.each<ReplicationMode>(['inline', 'worker'])('broker restarted under writes (replication: %s)', (replication) => {
  it('every instance applies new records within 5 s of the broker answering again', async () => {
    const topic = await client.createTopic({ partitions: 2, config: NO_CLEANING });
    const lines: string[] = [];
    const stalls: string[] = [];
    for (let i = 0; i < 3; i++) {
      const cache = createNearCache<unknown>({
        topic,
        // Kafka's default session timeout: the restart must not cost a session.
        kafka: { ...faultTestKafka(cluster.brokers), sessionTimeout: 30_000, heartbeatInterval: 3000, logLevel: 'info' },
        replication,
        logger: recordingLogger(lines, `i${i}`),
        lagPollInterval: 500,
        // The watchdog is the last resort: twice the bound, so it cannot be what recovers, yet it would fire within a 30 s wait.
        stallTimeout: 10_000,
      });
      cache.on('error', (error) => {
        lines.push(`${new Date().toISOString().slice(11, 23)} i${i} event ${error.code} ${error.message}`);
        if (error.code === 'NC_CONSUMER_STALLED') stalls.push(error.message);
      });
      caches.push(cache);
    }
    await Promise.all(caches.map((c) => c.ready()));
    const traffic = startTraffic(caches, { durableEvery: 25 });
    const probes = startProbes(client, topic, caches);
    await waitFor(() => probes.seenByAll() >= 3, { timeout: 30_000, message: 'probes applied by every instance before the restart' });

    await cluster.stopNode(0);
    // Down long enough for every consumer to notice (fetches and heartbeats fail).
    await waitFor(() => caches.every((c) => c.state === 'degraded'), { timeout: 30_000, message: 'every instance degraded' });
    await sleep(3000);
    await cluster.startNode(0);
    const upAt = Date.now();
    lines.push(`${new Date().toISOString().slice(11, 23)} broker answering again`);

    // Recovery: every instance holds a probe written after the broker answered again.
    const recovered = caches.map(() => 0);
    await waitFor(
      () => {
        caches.forEach((_, i) => {
          if (recovered[i] === 0 && probes.seenAfter(i, upAt)) recovered[i] = Date.now() - upAt;
        });
        return recovered.every((ms) => ms > 0);
      },
      {
        timeout: 90_000,
        interval: 50,
        message: () => `every instance to apply a probe written after the restart (recovered ${JSON.stringify(recovered)})\n${lines.join('\n')}`,
      },
    );
    traffic.stop();
    probes.stop();
    const firstAck = probes.firstAckAfter(upAt);
    console.log(`broker restart: first probe acknowledged ${firstAck} ms after the broker answered; applied by each instance after ${recovered.join(', ')} ms`);
    expect(stalls, 'the stall watchdog did not have to fire').toEqual([]);
    expect(Math.max(...recovered), `recovery per instance ${recovered.join(', ')} ms\n${lines.join('\n')}`).toBeLessThanOrEqual(RECOVERY_BOUND_MS);
    expect(traffic.failures).toEqual([]);
  });
});

describe('broker restarted under writes, caches sharing their connections', () => {
  it('two processes of two caches each, one consumer per process: every cache applies new records within 5 s', async () => {
    const topics = [await client.createTopic({ partitions: 2, config: NO_CLEANING }), await client.createTopic({ partitions: 2, config: NO_CLEANING })];
    const lines: string[] = [];
    const stalls: string[] = [];
    // Two processes (their clientIds differ); in each, the caches of the two topics share one admin, producer and consumer.
    const byTopic = topics.map(() => [] as Array<NearCache<unknown>>);
    for (const proc of ['a', 'b']) {
      for (const [t, topic] of topics.entries()) {
        const name = `${proc}${t}`;
        const cache = createNearCache<unknown>({
          topic,
          kafka: { ...faultTestKafka(cluster.brokers), clientId: `process-${proc}`, sessionTimeout: 30_000, heartbeatInterval: 3000, logLevel: 'info' },
          logger: recordingLogger(lines, name),
          lagPollInterval: 500,
          stallTimeout: 10_000,
        });
        cache.on('error', (error) => {
          lines.push(`${new Date().toISOString().slice(11, 23)} ${name} event ${error.code} ${error.message}`);
          if (error.code === 'NC_CONSUMER_STALLED') stalls.push(error.message);
        });
        caches.push(cache);
        byTopic[t]!.push(cache);
      }
    }
    await Promise.all(caches.map((c) => c.ready()));
    const traffic = startTraffic(caches, { durableEvery: 25 });
    const probes = topics.map((topic, t) => startProbes(client, topic, byTopic[t]!));
    await waitFor(() => probes.every((p) => p.seenByAll() >= 3), { timeout: 30_000, message: 'probes applied by every cache before the restart' });

    await cluster.stopNode(0);
    await waitFor(() => caches.every((c) => c.state === 'degraded'), { timeout: 30_000, message: 'every cache degraded' });
    await sleep(3000);
    await cluster.startNode(0);
    const upAt = Date.now();
    lines.push(`${new Date().toISOString().slice(11, 23)} broker answering again`);

    const recovered = byTopic.map((group) => group.map(() => 0));
    await waitFor(
      () => {
        byTopic.forEach((group, t) =>
          group.forEach((_, i) => {
            if (recovered[t]![i] === 0 && probes[t]!.seenAfter(i, upAt)) recovered[t]![i] = Date.now() - upAt;
          }),
        );
        return recovered.flat().every((ms) => ms > 0);
      },
      {
        timeout: 90_000,
        interval: 50,
        message: () => `every cache to apply a probe written after the restart (${JSON.stringify(recovered)})\n${lines.join('\n')}`,
      },
    );
    traffic.stop();
    probes.forEach((p) => p.stop());
    console.log(`broker restart, shared connections: applied by each cache after ${recovered.flat().join(', ')} ms`);
    expect(stalls, 'the stall watchdog did not have to fire').toEqual([]);
    expect(Math.max(...recovered.flat()), `recovery per cache ${recovered.flat().join(', ')} ms\n${lines.join('\n')}`).toBeLessThanOrEqual(RECOVERY_BOUND_MS);
    expect(traffic.failures).toEqual([]);
  });
});
