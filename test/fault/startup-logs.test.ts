import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { BootstrapTimeoutError, createNearCache, type Logger, type NearCache } from '@nearcache/core';
import { KafkaTestClient, testBrokers, uniqueTopic } from '../helpers/kafka.js';
import { waitFor } from '../helpers/wait.js';

// Guarantee: a start-up says its cause. With Kafka unreachable, retries back off and the same
// failure is summarised, not repeated; ready() rejects naming the cause and the brokers tried.
// A healthy start, also two instances creating the same new topic at once, logs nothing at
// warn or error level.
const client = new KafkaTestClient();
const caches: NearCache[] = [];
/** Topics the caches created (the test client deletes its own). */
const raceTopics: string[] = [];

afterAll(async () => {
  await Promise.all(caches.map((c) => c.close()));
  if (raceTopics.length > 0) await (await client.admin()).deleteTopics({ topics: raceTopics }).catch(() => undefined);
  await client.close();
});

interface Line {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
}

function recording(lines: Line[]): Logger {
  const at = (level: Line['level']) => (message: string) => void lines.push({ level, message });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A port nothing listens on: connections to it are refused. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const loud = (lines: Line[]) => lines.filter((l) => l.level === 'warn' || l.level === 'error').map((l) => `${l.level} ${l.message}`);

describe('start-up logs', () => {
  it('unreachable broker: a line per backoff step at most; ready() names the cause and the brokers tried', async () => {
    const [a, b] = [await closedPort(), await closedPort()];
    const lines: Line[] = [];
    // kafkajs's own lines included (its default level is error), to see where they go.
    const cache = createNearCache({
      topic: uniqueTopic(),
      kafka: { brokers: [`127.0.0.1:${a}`, `127.0.0.1:${b}`], connectionTimeout: 500 },
      logger: recording(lines),
    });
    caches.push(cache);
    const error = await cache.ready({ timeout: 8000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BootstrapTimeoutError);
    const message = (error as Error).message;
    expect(message).toMatch(new RegExp(`cannot reach Kafka at 127\\.0\\.0\\.1:(${a}|${b}): ECONNREFUSED`));
    expect(message).toContain(`brokers tried: 127.0.0.1:${a}, 127.0.0.1:${b}`);
    expect((error as Error).cause).toBeDefined();
    // 8 s of retries backing off from 200 ms: about six attempts; the same failure is summarised.
    const logged = loud(lines);
    expect(logged.length, logged.join('\n')).toBeGreaterThanOrEqual(1);
    expect(logged.length, logged.join('\n')).toBeLessThanOrEqual(6);
    expect(logged[0]).toMatch(/^error connecting to Kafka: cannot reach Kafka at/);
    // kafkajs's connection errors are detail, kept at debug.
    expect(lines.some((l) => l.level === 'debug' && /kafkajs .*ECONNREFUSED/.test(l.message))).toBe(true);
  });

  it('two instances creating the same new topic at once: both ready, no warn or error line', async () => {
    for (let round = 0; round < 3; round++) {
      const topic = uniqueTopic('nc-race');
      raceTopics.push(topic);
      const lines: Line[] = [];
      const pair = [0, 1].map(() => createNearCache({ topic, kafka: { brokers: testBrokers(), partitions: 3 }, logger: recording(lines) }));
      caches.push(...pair);
      await Promise.all(pair.map((c) => c.ready({ timeout: 30_000 })));
      await pair[0]!.set('k', round, { durable: true });
      await waitFor(() => pair[1]!.get('k') === round, { timeout: 10_000, message: 'the write replicated' });
      await Promise.all(pair.map((c) => c.close()));
      expect(loud(lines), `round ${round}`).toEqual([]);
    }
  });

  it('a healthy start of two instances on an existing topic logs no warn or error line', async () => {
    const topic = await client.createTopic({ partitions: 2 });
    const lines: Line[] = [];
    const pair = [0, 1].map(() => createNearCache({ topic, kafka: { brokers: testBrokers(), logLevel: 'info' }, logger: recording(lines) }));
    caches.push(...pair);
    await Promise.all(pair.map((c) => c.ready({ timeout: 30_000 })));
    await pair[1]!.set('k', 'v', { durable: true });
    await waitFor(() => pair[0]!.get('k') === 'v', { timeout: 10_000, message: 'the write replicated' });
    await Promise.all(pair.map((c) => c.close()));
    expect(loud(lines)).toEqual([]);
    // kafkajs's own lines went through the logger (logLevel "info").
    expect(lines.some((l) => l.message.startsWith('kafkajs '))).toBe(true);
  });
});
