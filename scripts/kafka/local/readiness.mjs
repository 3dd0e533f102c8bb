// When a cluster is ready: nodes answering Metadata with every broker registered, coordinators up.
import { sleep } from '../../lib/shared.mjs';
import { findCoordinator, initProducerId, probeBroker } from './protocol.mjs';

/** @typedef {import('./config.mjs').NodeInfo} NodeInfo */

/** Interval between readiness probes. */
const PROBE_INTERVAL_MS = 250;

/** Kafka error codes the readiness checks retry on. */
const RETRIABLE_COORDINATOR_ERRORS = new Set([
  14, // COORDINATOR_LOAD_IN_PROGRESS
  15, // COORDINATOR_NOT_AVAILABLE
  16, // NOT_COORDINATOR
]);

/**
 * Repeats a coordinator request until it succeeds, retrying on the
 * "not available / loading" error codes.
 * @param {string} what
 * @param {() => Promise<{ errorCode: number }>} request
 * @param {number} deadline
 */
async function retryUntilAvailable(what, request, deadline) {
  let lastError;
  for (;;) {
    try {
      const { errorCode } = await request();
      if (errorCode === 0) return;
      if (!RETRIABLE_COORDINATOR_ERRORS.has(errorCode)) throw new Error(`${what}: error code ${errorCode}`);
      lastError = `error code ${errorCode}`;
    } catch (err) {
      const { message } = /** @type {Error} */ (err);
      if (message.startsWith(what)) throw err;
      lastError = message;
    }
    if (Date.now() > deadline) throw new Error(`${what} not available in time (${lastError})`);
    await sleep(PROBE_INTERVAL_MS);
  }
}

/**
 * Creates the group and transaction coordinator topics and fetches the first
 * producer-id block, so the first consumer group or idempotent producer of a
 * test does not race their lazy initialisation.
 * @param {NodeInfo[]} nodes
 * @param {number} deadline
 */
export async function warmUpCoordinators(nodes, deadline) {
  const key = 'local-kafka-warm-up';
  const { port } = nodes[0];
  await retryUntilAvailable('group coordinator', () => findCoordinator(port, key, 0), deadline);
  await retryUntilAvailable('transaction coordinator', () => findCoordinator(port, key, 1), deadline);
  // Every broker allocates its own producer-id block.
  await Promise.all(nodes.map((n) => retryUntilAvailable('producer id allocation', () => initProducerId(n.port), deadline)));
}

/**
 * Waits until a node answers Metadata requests and lists itself plus
 * `expectBrokers` registered (unfenced) brokers.
 * @param {NodeInfo} node
 * @param {{ deadline: number, expectBrokers: number, exited: () => boolean }} opts
 * @returns {Promise<void>}
 */
export async function waitForNode(node, { deadline, expectBrokers, exited }) {
  let lastError = 'no answer yet';
  while (Date.now() < deadline) {
    if (exited()) throw new Error(`node ${node.index} (pid ${node.pid}) exited during startup`);
    try {
      const { brokers } = await probeBroker(node.port, Math.max(500, Math.min(3000, deadline - Date.now())));
      if (brokers.includes(node.id) && brokers.length >= expectBrokers) return;
      lastError = `metadata lists brokers [${brokers.join(',')}], waiting for ${expectBrokers} incl. ${node.id}`;
    } catch (err) {
      lastError = /** @type {Error} */ (err).message;
    }
    await sleep(PROBE_INTERVAL_MS);
  }
  throw new Error(`node ${node.index} on 127.0.0.1:${node.port} not ready in time (${lastError})`);
}
