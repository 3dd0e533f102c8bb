import { afterAll, describe, expect, it } from 'vitest';
import { createNearCache, silentLogger, type NearCache } from '@nearcache/core';
import { KafkaTestClient, NO_CLEANING, testBrokers } from '../helpers/kafka.js';
import { diff, foldTopic, snapshot } from '../helpers/oracle.js';
import { recordMeta } from '../helpers/records.js';
import { runFixture, type FixtureProcess } from '../helpers/process.js';
import { waitFor } from '../helpers/wait.js';

// Guarantee: an instance SIGKILLed mid-traffic and started again rebuilds its cache from the
// topic: after ready() it holds exactly what a fresh reader folding the topic holds.
const client = new KafkaTestClient();
const children: FixtureProcess[] = [];
const caches: NearCache[] = [];

afterAll(async () => {
  await Promise.all(children.map((c) => c.kill()));
  await Promise.all(caches.map((c) => c.close()));
  await client.close();
});

const kafka = () => ({ brokers: testBrokers(), logLevel: 'nothing' as const, requestTimeout: 5000, sessionTimeout: 10_000, heartbeatInterval: 1000 });

describe('instance killed mid-traffic', () => {
  it('SIGKILLed while writing, restarted: equals the oracle after ready()', async () => {
    // NO_CLEANING keeps the peer's check about the crash, not the log cleaner (the cleaner racing own writes is covered by contract section 12).
    const topic = await client.createTopic({ partitions: 3, config: NO_CLEANING });
    const env = { KAFKA_BROKERS: testBrokers().join(','), NC_TOPIC: topic, NC_KEYS: '80' };

    // An in-process instance writes the same keys meanwhile, so the killed one races other writers.
    const peer = createNearCache<{ n: number; by: string }>({ topic, kafka: kafka(), logger: silentLogger, lagPollInterval: 200 });
    caches.push(peer);
    await peer.ready();

    const writer = runFixture('fault-instance.mjs', { ...env, NC_MODE: 'write' });
    children.push(writer);
    await writer.next((m) => m.event === 'ready');
    let peerWrites = 0;
    const peerLoop = setInterval(() => {
      for (let i = 0; i < 5; i++) void peer.set(`k${(peerWrites++ * 7) % 80}`, { n: peerWrites, by: 'peer' });
    }, 5);
    // Mid-traffic: after several acknowledged flushes, with more writes queued and in flight.
    await writer.next((m) => m.event === 'flushed' && (m.n as number) >= 1000, 60_000);
    await writer.kill('SIGKILL');
    expect(await writer.exited).toEqual({ code: null, signal: 'SIGKILL' });
    clearInterval(peerLoop);
    await peer.flush();

    const records = await client.readAll(topic);
    const oracle = foldTopic(records);
    expect(oracle.size).toBeGreaterThan(0);
    // Records of the killed instance are in the log.
    const origins = new Set(records.map((r) => recordMeta(r)?.origin));
    expect(origins.size).toBe(2);

    // Restarted: a new process, same topic.
    const restarted = runFixture('fault-instance.mjs', { ...env, NC_MODE: 'snapshot' });
    children.push(restarted);
    const { entries } = (await restarted.next((m) => m.event === 'snapshot')) as { entries: Record<string, unknown> };
    expect(diff(new Map(Object.entries(entries)), oracle)).toEqual([]);
    expect((await restarted.exited).code).toBe(0);

    // The surviving peer converges to the same state.
    await waitFor(() => diff(snapshot(peer), oracle).length === 0, {
      timeout: 30_000,
      message: () => `peer converged: ${diff(snapshot(peer), oracle).slice(0, 5).join('; ')}`,
    });
  });
});
