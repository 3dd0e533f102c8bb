import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type LocalCluster } from '../../scripts/kafka/local-kafka.mjs';
import { KafkaTestClient, NO_CLEANING } from '../helpers/kafka.js';
import { runFixture, type FixtureProcess } from '../helpers/process.js';
import { sleep } from '../helpers/wait.js';

// Guarantee (clean close): after a broker restart under writes, with consumers restarted by the
// stall watchdog while others still stop, close() stops every client ever started: the process
// exits on its own.
let cluster: LocalCluster;
let client: KafkaTestClient;
const children: FixtureProcess[] = [];

beforeAll(async () => {
  cluster = await startCluster({ nodes: 1, name: 'fault-restart-close', basePort: 0, log: () => undefined, stopOnExit: true });
  client = new KafkaTestClient(cluster.brokers);
});

afterAll(async () => {
  await Promise.all(children.map((c) => c.kill()));
  await client?.close().catch(() => undefined);
  await cluster?.stop();
});

describe('close() after a broker restart and watchdog restarts', () => {
  it('the process exits on its own', async () => {
    const topic = await client.createTopic({ partitions: 2, config: NO_CLEANING });
    const child = runFixture('restart-close-child.mjs', { KAFKA_BROKERS: cluster.brokers.join(','), NC_TOPIC: topic });
    children.push(child);
    await child.next((m) => m.event === 'ready');
    await cluster.stopNode(0);
    await child.next((m) => m.event === 'state' && m.state === 'degraded', 30_000);
    // Away for 8 s, under writes.
    await sleep(8000);
    await cluster.startNode(0);
    // The watchdog restarts the reader's consumer (again every second), then both caches close.
    await child.next((m) => m.event === 'stalled', 60_000);
    const closed = await child.next((m) => m.event === 'closed', 60_000);
    expect(closed.states).toEqual(['closed', 'closed']);
    // Nothing left running: the process ends by itself, well within a few close deadlines.
    const exit = await Promise.race([child.exited, new Promise<'alive'>((resolve) => setTimeout(() => resolve('alive'), 20_000))]);
    expect(exit, `still alive 20 s after close(); last messages ${JSON.stringify(child.messages.slice(-3))}`).toEqual({ code: 0, signal: null });
  });
});
