import net, { type Socket } from 'node:net';
import kafkajs from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { createNearCache, type Logger, type NearCache } from '../src/index.js';
import { logCreator } from '../src/log/kafka/logger.js';
import { CLOSED_BY_CLOSE, Sockets } from '../src/log/kafka/sockets.js';
import { freePort } from '../../../scripts/lib/shared.mjs';
import { nextEvent } from './helpers.js';

// close() of the Kafka adapter: what it ends, and what it (and kafkajs) says about it. No broker
// is needed: the port of the 'dead broker' has nothing listening.

/** A logger keeping every line, by level. */
function recordingLogger(): Logger & { lines: Array<{ level: string; message: string }> } {
  const lines: Array<{ level: string; message: string }> = [];
  const at = (level: string) => (message: string) => void lines.push({ level, message });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

function connect(sockets: Sockets, port: number): Socket {
  return sockets.factory({ host: '127.0.0.1', port, ssl: null as never, onConnect: () => undefined }) as Socket;
}

describe('Sockets.close', () => {
  it('does not count a refused connection whose close event is still to come', async () => {
    const sockets = new Sockets();
    const socket = connect(sockets, await freePort());
    // net destroys a refused socket, then emits 'error', then 'close' a turn later: in between,
    // it is still in the set.
    const left = await new Promise<number>((resolve) => socket.once('error', () => resolve(sockets.close())));
    expect(socket.destroyed).toBe(true);
    expect(left).toBe(0);
  });

  it('counts a connection left open, does not count one still connecting, and ends both', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const sockets = new Sockets();
      const connected = connect(sockets, port);
      connected.on('error', () => undefined);
      await new Promise((resolve) => connected.once('connect', resolve));
      const connecting = connect(sockets, port);
      connecting.on('error', () => undefined);
      expect(connecting.pending).toBe(true);
      expect(sockets.close()).toBe(1);
      expect(connected.destroyed && connecting.destroyed).toBe(true);
      expect(() => connect(sockets, port)).toThrow('the cache is closed');
    } finally {
      server.close();
    }
  });
});

describe('close() while the broker refuses connections', () => {
  let cache: NearCache | undefined;
  afterEach(async () => {
    await cache?.close();
    cache = undefined;
  });

  it('warns about nothing: the clients stopped, no connection was left open', async () => {
    const logger = recordingLogger();
    cache = createNearCache({ topic: 'close-dead-broker', kafka: { brokers: [`127.0.0.1:${await freePort()}`] }, logger, closeTimeout: 5000 });
    cache.ready({ timeout: 60_000 }).catch(() => undefined);
    // A start attempt failed: the cache is retrying (and kafkajs with it).
    await nextEvent(cache, 'error', 20_000);
    await cache.close();
    expect(logger.lines.filter((line) => line.level === 'warn' || line.level === 'error')).toEqual([]);
    expect(cache.state).toBe('closed');
  });
});

describe('kafkajs lines at close()', () => {
  const kafkaLine = (level: number, namespace: string, message: string, extra: Record<string, unknown> = {}) => ({
    namespace,
    level,
    label: 'ERROR',
    log: { timestamp: new Date().toISOString(), logger: 'kafkajs', message, ...extra },
  });

  it('leaves out a connection ended by close(), and keeps other connection errors (at debug)', () => {
    const logger = recordingLogger();
    const log = logCreator(logger)();
    log(
      kafkaLine(kafkajs.logLevel.ERROR, 'Connection', `Connection error: ${CLOSED_BY_CLOSE}`, { broker: '127.0.0.1:9092', clientId: 'c', stack: 'Error: x' }),
    );
    log(kafkaLine(kafkajs.logLevel.ERROR, 'Connection', 'Connection error: read ECONNRESET', { broker: '127.0.0.1:9092', clientId: 'c' }));
    log(kafkaLine(kafkajs.logLevel.ERROR, 'Producer', 'Failed to send messages', { error: `Connection error: ${CLOSED_BY_CLOSE}` }));
    expect(logger.lines).toEqual([{ level: 'debug', message: 'kafkajs Connection: Connection error: read ECONNRESET' }]);
  });
});
