import { describe, expect, it } from 'vitest';
import { silentLogger, type Logger } from '../src/index.js';
import { acquireConnection, type KafkaConnection } from '../src/log/kafka/connection.js';
import { resolveKafkaOptions, type KafkaLogOptions } from '../src/log/kafka/options.js';
import type { LogContext } from '../src/log/port.js';

// Which caches of a process share their Kafka connection. No broker is needed: nothing here
// connects (kafkajs opens sockets on connect() only).

let caches = 0;
function context(topic = 'cache-topic'): LogContext {
  return { topic, instanceId: `instance-${++caches}`, maxValueBytes: 1024, maxKeyBytes: 256, logger: { ...silentLogger } };
}

/** Takes a share for each of `settings` (fresh objects each) and gives them all back at the end. */
async function shares(settings: Array<() => KafkaLogOptions>): Promise<KafkaConnection[]> {
  const taken = settings.map((make) => {
    const ctx = context();
    return { ctx, connection: acquireConnection(resolveKafkaOptions(make()), ctx) };
  });
  for (const { ctx, connection } of taken) await connection.release(ctx.logger as Logger, 1000);
  return taken.map((t) => t.connection);
}

describe('shared Kafka connections', () => {
  it('caches given equal settings, as separate objects, share one connection', async () => {
    const [a, b] = await shares([
      () => ({ brokers: ['a:1', 'b:2'], clientId: 'svc', ssl: { ca: Buffer.from('ca') } }),
      () => ({ brokers: 'a:1,b:2', clientId: 'svc', ssl: { ca: Buffer.from('ca') } }),
    ]);
    expect(a).toBe(b);
  });

  it('a different broker list, client id, certificate or timeout gives a connection of its own', async () => {
    const base = { brokers: ['a:1'], clientId: 'svc' };
    const connections = await shares([
      () => base,
      () => ({ ...base, brokers: ['b:1'] }),
      () => ({ ...base, clientId: 'other' }),
      () => ({ ...base, ssl: { ca: Buffer.from('another ca') } }),
      () => ({ ...base, requestTimeout: 5000 }),
    ]);
    expect(new Set(connections).size).toBe(5);
  });

  it('functions (an OAuth token provider) compare by identity', async () => {
    const provider = async () => ({ value: 'token' });
    const sasl = (fn: typeof provider) => ({ brokers: ['a:1'], sasl: { mechanism: 'oauthbearer' as const, oauthBearerProvider: fn } });
    const [a, b, c] = await shares([() => sasl(provider), () => sasl(provider), () => sasl(async () => ({ value: 'token' }))]);
    expect(a).toBe(b);
    expect(c).not.toBe(a);
  });

  it('shareConnection: false gives every cache its own connection', async () => {
    const [a, b] = await shares([() => ({ brokers: ['a:1'], shareConnection: false }), () => ({ brokers: ['a:1'], shareConnection: false })]);
    expect(a).not.toBe(b);
  });

  it('the last share given back closes the connection: the next cache opens a new one', async () => {
    const options = resolveKafkaOptions({ brokers: ['a:1'], clientId: 'reopen' });
    const first = context();
    const second = context();
    const connection = acquireConnection(options, first);
    expect(acquireConnection(options, second)).toBe(connection);
    expect(connection.shares).toBe(2);
    await connection.release(first.logger, 1000);
    expect(connection.shares).toBe(1);
    const third = context();
    expect(acquireConnection(options, third)).toBe(connection);
    await connection.release(second.logger, 1000);
    await connection.release(third.logger, 1000);
    expect(connection.shares).toBe(0);
    const fourth = context();
    const reopened = acquireConnection(options, fourth);
    expect(reopened).not.toBe(connection);
    await reopened.release(fourth.logger, 1000);
  });

  it('caches on one topic get consumers of their own; on other topics, one consumer', async () => {
    const options = resolveKafkaOptions({ brokers: ['a:1'], clientId: 'lanes' });
    const settings = { groupIdPrefix: 'nearcache.', sessionTimeout: 30_000, heartbeatInterval: 3000, maxWaitTimeInMs: 500, rackId: undefined };
    const contexts = [context('t1'), context('t2'), context('t1')];
    const connection = acquireConnection(options, contexts[0]!);
    const lanes = contexts.map((ctx) => {
      const lane = connection.lane(settings, ctx);
      lane.reserve(ctx.topic, 1024);
      return lane;
    });
    expect(lanes[1]).toBe(lanes[0]);
    expect(lanes[2]).not.toBe(lanes[0]);
    // Other consumer settings: another consumer.
    expect(connection.lane({ ...settings, sessionTimeout: 10_000 }, context('t3'))).not.toBe(lanes[0]);
    // Another rack (follower fetching): another consumer, which fetches from that rack's replicas.
    expect(connection.lane({ ...settings, rackId: 'zone-b' }, context('t4'))).not.toBe(lanes[0]);
    await connection.release(contexts[0]!.logger, 1000);
  });
});
