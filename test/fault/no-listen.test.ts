import { afterAll, describe, expect, it } from 'vitest';
import { KafkaTestClient, testBrokers } from '../helpers/kafka.js';
import { runFixture, tcpSockets, type FixtureProcess } from '../helpers/process.js';

// Guarantee: a running instance opens no listening socket; it only connects out to Kafka.
const client = new KafkaTestClient();
const children: FixtureProcess[] = [];

afterAll(async () => {
  await Promise.all(children.map((c) => c.kill()));
  await client.close();
});

async function liveInstance(topic: string, env: Record<string, string> = {}): Promise<FixtureProcess> {
  const child = runFixture('fault-instance.mjs', { KAFKA_BROKERS: testBrokers().join(','), NC_TOPIC: topic, NC_MODE: 'idle', ...env });
  children.push(child);
  await child.next((m) => m.event === 'ready');
  return child;
}

describe('no listening socket', () => {
  it('a live cache process holds connections to Kafka and no socket in LISTEN state', async () => {
    const topic = await client.createTopic();
    const child = await liveInstance(topic);
    const sockets = tcpSockets(child.child.pid!);
    // Connected out to the broker(s)...
    expect(sockets.some((s) => s.state === '01')).toBe(true);
    // ...and listening nowhere.
    expect(sockets.filter((s) => s.state === '0A')).toEqual([]);
  });

  it('the check finds a listening socket when there is one (control)', async () => {
    const topic = await client.createTopic();
    const child = await liveInstance(topic, { NC_LISTEN: '1' });
    expect(tcpSockets(child.child.pid!).filter((s) => s.state === '0A')).toHaveLength(1);
  });
});
