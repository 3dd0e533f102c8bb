// Small helpers shared by the scripts, the benchmarks and the tests. Node built-ins only.
import net from 'node:net';

/**
 * Asks the OS for a free TCP port on 127.0.0.1.
 * @returns {Promise<number>}
 */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const { port } = /** @type {net.AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
}

/**
 * A small seeded random generator (mulberry32): the same sequence for the same seed, so a
 * random run can be replayed.
 * @param {number} seed
 * @returns {() => number} numbers in [0, 1)
 */
export function mulberry32(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Resolves after `ms` milliseconds.
 * @param {number} ms
 * @returns {Promise<void>}
 */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * @typedef {object} WaitOptions
 * @property {number} [timeout]   give up after this many ms (default 10000)
 * @property {number} [interval]  check every this many ms (default 10)
 * @property {string | (() => string)} [message]  what is awaited, said when the wait times out
 *   (a function is called then, so it can describe the last state seen)
 * @property {(message: string) => Error} [error]  builds the error thrown on timeout from its
 *   message (default: a plain Error)
 */

/**
 * Resolves once `predicate()` holds (it may be async); rejects after `timeout` ms with
 * "timed out after <timeout> ms waiting for <message>". An error thrown by the predicate
 * rejects at once.
 * @param {() => boolean | Promise<boolean>} predicate
 * @param {WaitOptions} [options]
 * @returns {Promise<void>}
 */
export async function waitFor(predicate, options = {}) {
  const { timeout = 10_000, interval = 10 } = options;
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() >= deadline) {
      const message = typeof options.message === 'function' ? options.message() : options.message;
      const text = `timed out after ${timeout} ms waiting for ${message ?? 'a condition'}`;
      throw options.error ? options.error(text) : new Error(text);
    }
    await sleep(interval);
  }
}

/**
 * The median of `values` (the mean of the two middle values for an even count); NaN when empty.
 * @param {readonly number[]} values
 * @returns {number}
 */
export function median(values) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
