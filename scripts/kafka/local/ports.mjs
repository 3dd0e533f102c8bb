// The ports of a cluster: default layout, free ports, and checks that a port is free.
import net from 'node:net';
import { freePort, sleep } from '../../lib/shared.mjs';

/** Default first client port of a single-node cluster. */
export const DEFAULT_BASE_PORT = 19092;
/** Default first client port of a multi-node cluster. */
export const DEFAULT_MULTI_NODE_BASE_PORT = 19192;
/** Controller ports are `basePort + CONTROLLER_PORT_OFFSET + index`. */
export const CONTROLLER_PORT_OFFSET = 50;

/**
 * Fails if a TCP port on 127.0.0.1 is already taken.
 * @param {number} port
 * @returns {Promise<void>}
 */
export function assertPortFree(port) {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (/** @type {NodeJS.ErrnoException} */ err) =>
      reject(err.code === 'EADDRINUSE' ? new Error(`port 127.0.0.1:${port} is already in use (another cluster? try: node scripts/kafka/cli.mjs status)`) : err),
    );
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve()));
  });
}

/**
 * Waits (briefly) for a port that a just-stopped node held to become free.
 * @param {number} port
 * @param {number} [timeoutMs]
 * @returns {Promise<void>}
 */
export async function waitForPortFree(port, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await assertPortFree(port);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
}

/**
 * Picks client and controller ports for every node.
 * @param {number} nodes
 * @param {number | undefined} basePort  0 = any free ports
 * @returns {Promise<{ port: number, controllerPort: number }[]>}
 */
export async function choosePorts(nodes, basePort) {
  const ports = [];
  for (let i = 0; i < nodes; i++) {
    if (basePort === 0) {
      ports.push({ port: await freePort(), controllerPort: await freePort() });
    } else {
      const base = basePort ?? (nodes === 1 ? DEFAULT_BASE_PORT : DEFAULT_MULTI_NODE_BASE_PORT);
      ports.push({ port: base + i, controllerPort: base + CONTROLLER_PORT_OFFSET + i });
    }
  }
  for (const { port, controllerPort } of ports) {
    await assertPortFree(port);
    await assertPortFree(controllerPort);
  }
  return ports;
}
