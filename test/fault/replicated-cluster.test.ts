import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNearCache, ReplicationTimeoutError, silentLogger, type NearCache, type NearCacheError } from '@nearcache/core';
import { startCluster, type LocalCluster } from '../../scripts/kafka/local-kafka.mjs';
import { faultTestKafka, KafkaTestClient, NO_CLEANING } from '../helpers/kafka.js';
import { diff, foldTopic, snapshot } from '../helpers/oracle.js';
import { startProbes } from '../helpers/probes.js';
import { startTraffic } from '../helpers/traffic.js';
import { waitFor } from '../helpers/wait.js';

// Guarantee: on three brokers with RF=3 and min.insync.replicas=2, losing one broker is
// invisible to cache users; losing two makes durable writes reject in time with a typed error;
// once the brokers are back, everything converges.
// A durable write issued as a broker dies waits for the failover: the broker's session timeout
// (4 s on the test brokers, 9 s by default), a leader election and the client's retries. The
// deadline of durable writes must be longer than that for the failure to be invisible.
const FLUSH_TIMEOUT = 15_000;
let cluster: LocalCluster;
let client: KafkaTestClient;
const caches: Array<NearCache<unknown>> = [];

beforeAll(async () => {
  cluster = await startCluster({
    nodes: 3,
    name: 'fault-rf3',
    basePort: 0,
    log: () => undefined,
    stopOnExit: true,
    jvmArgs: ['-Xms128m', '-Xmx384m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Djava.awt.headless=true'],
  });
  client = new KafkaTestClient(cluster.brokers);
});

afterAll(async () => {
  await Promise.all(caches.map((c) => c.close()));
  await client?.close().catch(() => undefined);
  await cluster?.stop();
});

/** The broker coordinating consumer group `groupId`: the leader of its partition of __consumer_offsets (Java's String.hashCode). */
async function coordinatorOf(groupId: string): Promise<number> {
  const admin = await client.admin();
  const { topics } = await admin.fetchTopicMetadata({ topics: ['__consumer_offsets'] });
  const partitions = topics[0]!.partitions;
  let hash = 0;
  for (let i = 0; i < groupId.length; i++) hash = (Math.imul(hash, 31) + groupId.charCodeAt(i)) | 0;
  return partitions.find((p) => p.partitionId === (hash & 0x7fffffff) % partitions.length)!.leader;
}

/**
 * The group id an instance's consumer uses now: its group among those named after it, with a member.
 * A group whose coordinator just moved (a broker restarted) reports no stable state until it has
 * loaded and rebalanced, so this waits for one.
 */
async function groupOf(cache: NearCache<unknown>): Promise<string> {
  const admin = await client.admin();
  let seen = '';
  let live: string[] = [];
  await waitFor(
    async () => {
      try {
        const { groups } = await admin.listGroups();
        const mine = groups.map((g) => g.groupId).filter((id) => id.startsWith(`nearcache.${cache.origin}`));
        const described = await admin.describeGroups(mine);
        seen = described.groups.map((g) => `${g.groupId} ${g.state} (${g.members.length} members)`).join(', ');
        live = described.groups.filter((g) => g.state === 'Stable' && g.members.length > 0).map((g) => g.groupId);
      } catch (error) {
        // The coordinator of the group is moving: ask again.
        seen = `an error: ${(error as Error).message}`;
        live = [];
      }
      return live.length > 0;
    },
    { timeout: 30_000, interval: 200, message: () => `a live group of instance ${cache.origin}; seen: ${seen || 'none'}` },
  );
  expect(live, `the live group of instance ${cache.origin}: ${seen}`).toHaveLength(1);
  return live[0]!;
}

async function leaderOf(topic: string): Promise<number> {
  const admin = await client.admin();
  const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
  return topics[0]!.partitions[0]!.leader;
}

describe('three brokers, RF=3, min.insync.replicas=2', () => {
  it('one broker killed: invisible; two killed: durable writes reject in time; restored: all converge', async () => {
    // Broker failures are under test, not the log cleaner: the cleaner racing own writes is covered by contract section 12.
    const topic = await client.createTopic({ config: { ...NO_CLEANING, 'min.insync.replicas': '2' } });
    const admin = await client.admin();
    const [{ configEntries }] = (
      await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: topic, configNames: ['min.insync.replicas'] }] })
    ).resources;
    expect(configEntries[0]!.configValue).toBe('2');
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(topics[0]!.partitions[0]!.replicas).toHaveLength(3);

    const errors: NearCacheError[] = [];
    for (let i = 0; i < 3; i++) {
      const cache = createNearCache<unknown>({
        topic,
        kafka: faultTestKafka(cluster.brokers),
        logger: silentLogger,
        flushTimeout: FLUSH_TIMEOUT,
        lagPollInterval: 500,
        stallTimeout: 5000,
      });
      cache.on('error', (error) => errors.push(error));
      caches.push(cache);
    }
    await Promise.all(caches.map((c) => c.ready()));
    const traffic = startTraffic(caches, { durableEvery: 5 });
    await waitFor(() => traffic.durable.filter((d) => d.outcome === 'ok').length >= 6, { timeout: 30_000, message: 'durable writes before the failure' });

    // One broker down: the partition leader, the worst case.
    const leader = await leaderOf(topic);
    const victim = cluster.nodes.find((n) => n.id === leader)!.index;
    await cluster.killNode(victim);
    const killedAt = Date.now();
    // Durable writes issued after the failure are acknowledged: the log stays writable.
    await waitFor(() => traffic.durable.filter((d) => d.at > killedAt + 2000 && d.outcome === 'ok').length >= 15, {
      timeout: 60_000,
      message: 'durable writes acknowledged with one broker down',
    });
    const afterOne = traffic.durable.filter((d) => d.at > killedAt);
    await waitFor(() => afterOne.every((d) => d.outcome !== 'pending'), { timeout: FLUSH_TIMEOUT + 2000, message: 'durable writes settled' });
    expect(afterOne.filter((d) => d.outcome !== 'ok').map((d) => String(d.outcome))).toEqual([]);
    expect(traffic.failures).toEqual([]);
    await waitFor(async () => (await leaderOf(topic)) !== leader, { timeout: 30_000, message: 'a new leader' });
    for (const cache of caches) expect(cache.state).not.toBe('closed');
    // Replication goes on: a write on one instance reaches the others.
    await caches[0]!.set('probe-one-down', 1, { durable: true });
    await waitFor(() => caches.every((c) => c.get('probe-one-down') === 1), { timeout: 20_000, message: 'replication with one broker down' });

    // Two brokers down: fewer in-sync replicas than min.insync.replicas.
    const second = cluster.nodes.find((n) => n.index !== victim && n.pid !== null)!.index;
    await cluster.killNode(second);
    const twoDownAt = Date.now();
    await waitFor(() => traffic.durable.filter((d) => d.at > twoDownAt + 2000 && d.outcome !== 'pending').length >= 9, {
      timeout: FLUSH_TIMEOUT + 30_000,
      message: 'durable writes settled with two brokers down',
    });
    const afterTwo = traffic.durable.filter((d) => d.at > twoDownAt + 2000 && d.outcome !== 'pending');
    for (const d of afterTwo) expect(d.outcome).toBeInstanceOf(ReplicationTimeoutError);
    // Writes keep applying locally.
    await caches[1]!.set('local-while-down', 'yes');
    expect(caches[1]!.get('local-while-down')).toBe('yes');

    // Restore both.
    await Promise.all([cluster.startNode(victim), cluster.startNode(second)]);
    const upAt = Date.now();
    await waitFor(() => traffic.durable.some((d) => d.at > upAt && d.outcome === 'ok'), { timeout: 90_000, message: 'a durable write after the restore' });
    traffic.stop();
    await waitFor(() => traffic.durable.every((d) => d.outcome !== 'pending'), { timeout: FLUSH_TIMEOUT + 5000, message: 'every durable write to settle' });
    for (const d of traffic.durable) if (d.outcome !== 'ok') expect(d.outcome).toBeInstanceOf(ReplicationTimeoutError);
    expect(traffic.failures).toEqual([]);
    await Promise.all(caches.map((c) => c.flush({ timeout: 60_000 })));
    await waitFor(() => caches.every((c) => c.state === 'live' && c.stats().queue.depth === 0), {
      timeout: 60_000,
      message: 'instances live with empty queues',
    });
    expect(errors.filter((e) => !e.retriable).map((e) => `${e.code}: ${e.message}`)).toEqual([]);

    const oracle = foldTopic(await client.readAll(topic));
    expect(oracle.get('local-while-down')).toBe('yes');
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

  it("restart of the broker coordinating an instance's group: every instance applies new records within 5 s", async () => {
    // The cost of a rolling restart, one broker at a time: the worst broker to restart is the one
    // coordinating a consumer group. Default session timeout, so a wait for a session shows.
    const topic = await client.createTopic({ partitions: 3, config: { ...NO_CLEANING, 'min.insync.replicas': '2' } });
    const restartCaches: Array<NearCache<unknown>> = [];
    const stalls: string[] = [];
    for (let i = 0; i < 3; i++) {
      const cache = createNearCache<unknown>({
        topic,
        kafka: { ...faultTestKafka(cluster.brokers), sessionTimeout: 30_000, heartbeatInterval: 3000 },
        logger: silentLogger,
        lagPollInterval: 500,
        // Twice the bound: the watchdog cannot be what recovers, yet it would fire within a 30 s wait.
        stallTimeout: 10_000,
      });
      cache.on('error', (error) => error.code === 'NC_CONSUMER_STALLED' && stalls.push(error.message));
      caches.push(cache);
      restartCaches.push(cache);
    }
    await Promise.all(restartCaches.map((c) => c.ready()));
    const traffic = startTraffic(restartCaches, { durableEvery: 25 });
    const probes = startProbes(client, topic, restartCaches);
    await waitFor(() => probes.seenByAll() >= 3, { timeout: 30_000, message: 'probes applied by every instance before the restart' });

    const measure = async (from: number, what: string): Promise<number[]> => {
      const recovered = restartCaches.map(() => 0);
      await waitFor(
        () => {
          restartCaches.forEach((_, i) => {
            if (recovered[i] === 0 && probes.seenAfter(i, from)) recovered[i] = Date.now() - from;
          });
          return recovered.every((ms) => ms > 0);
        },
        { timeout: 90_000, interval: 50, message: () => `every instance to apply a probe written after ${what} (${JSON.stringify(recovered)})` },
      );
      return recovered;
    };
    const figures: string[] = [];
    const killed: number[] = [];
    const bounded: number[] = [];
    // A rolling restart stops the broker (its groups and partitions move to the others) and
    // starts it again; a crashed broker is killed (its groups and partitions move once the
    // controller fenced it: broker.session.timeout.ms, 4 s on the test brokers) and started again.
    for (const how of ['stopped', 'killed'] as const) {
      const coordinator = await coordinatorOf(await groupOf(restartCaches[0]!));
      const victim = cluster.nodes.find((n) => n.id === coordinator)!.index;
      if (how === 'stopped') await cluster.stopNode(victim);
      else await cluster.killNode(victim);
      const afterDown = await measure(Date.now(), `the coordinator ${how}`);
      await cluster.startNode(victim);
      const afterStart = await measure(Date.now(), `the coordinator (${how}) started again`);
      figures.push(`${how}: ${afterDown.join(', ')} ms after, ${afterStart.join(', ')} ms after the start`);
      // A kill costs the fencing (4 s here), a leader election and the clients' retries first: it
      // is bounded loosely, well below a consumer session (30 s), which a wait for it would cost.
      if (how === 'killed') killed.push(...afterDown);
      bounded.push(...(how === 'stopped' ? afterDown : []), ...afterStart);
      await waitFor(() => probes.seenByAll() >= 3, { timeout: 30_000, message: 'probes applied by every instance' });
    }
    traffic.stop();
    probes.stop();
    console.log(`coordinator restart (3 brokers), applied by each instance: ${figures.join('; ')}`);
    expect(stalls).toEqual([]);
    expect(Math.max(...bounded), figures.join('; ')).toBeLessThanOrEqual(5000);
    expect(Math.max(...killed), figures.join('; ')).toBeLessThanOrEqual(15_000);
    expect(traffic.failures).toEqual([]);
  });
});
