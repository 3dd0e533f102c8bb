// The demo's HTTP client: requests to the instances, their internal endpoints, health.
import { performance } from 'node:perf_hooks';
import { waitFor } from '../lib/shared.mjs';
import { DemoFailure, demoFailure } from './output.mjs';

const HEALTH_DEADLINE_MS = 90_000;

/**
 * @typedef {import('./types.mjs').Instance} Instance
 * @typedef {import('./types.mjs').Answer} Answer
 */

/**
 * One request; the body parsed as JSON where it is JSON, with timings and where it was served from.
 * @param {Instance} instance
 * @param {string} method
 * @param {string} urlPath
 * @param {unknown} [body]
 * @returns {Promise<Answer>}
 */
export async function call(instance, method, urlPath, body) {
  const started = performance.now();
  const response = await fetch(`${instance.url}${urlPath}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  const ms = performance.now() - started;
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const timing = /app;dur=([0-9.]+)/.exec(response.headers.get('server-timing') ?? '');
  return {
    status: response.status,
    servedFrom: response.headers.get('x-served-from'),
    body: json ?? text,
    ms,
    serverMs: timing ? Number(timing[1]) : undefined,
  };
}

/**
 * The body of an internal endpoint of the instance.
 * @param {Instance} instance
 * @param {string} what
 * @returns {Promise<any>}
 */
async function internal(instance, what) {
  const response = await call(instance, 'GET', `/internal/${what}`);
  if (response.status !== 200) throw new DemoFailure(`${instance.name}: GET /internal/${what} answered ${response.status}: ${JSON.stringify(response.body)}`);
  return response.body;
}

/** The instance's counters: cache stats, data-source reads, served requests. */
export const stats = (/** @type {Instance} */ instance) => internal(instance, 'stats');

/** What the instance holds for `key`, and its last change. */
export const entry = (/** @type {Instance} */ instance, /** @type {string} */ key) => internal(instance, `entry?key=${encodeURIComponent(key)}`);

/**
 * Data-source reads per instance name.
 * @param {Instance[]} instances
 * @returns {Promise<Record<string, number>>}
 */
export async function readsOf(instances) {
  const all = await Promise.all(instances.map((i) => stats(i)));
  return Object.fromEntries(instances.map((instance, index) => [instance.name, all[index].dataSource.reads]));
}

/**
 * Resolves with the ms from `started` until the instance's /health answers 200.
 * @param {Instance} instance
 * @param {number} started  a performance.now() time
 * @returns {Promise<number>}
 */
export async function waitHealthy(instance, started) {
  let last = 'no answer yet';
  await waitFor(
    async () => {
      if (!instance.alive()) throw new DemoFailure(`instance ${instance.name} ${instance.exitReason()} before it was healthy (${last})`);
      try {
        const response = await call(instance, 'GET', '/health');
        if (response.status === 200) return true;
        const cache = response.body?.details?.nearcache ?? response.body?.info?.nearcache;
        last = `/health answers ${response.status}${cache?.state ? `, cache ${cache.state}` : ''}`;
      } catch (caught) {
        const error = /** @type {Error & { cause?: { code?: string } }} */ (caught);
        const code = error.cause?.code ?? error.message;
        last = code === 'ECONNREFUSED' ? 'not listening yet (an instance listens once its cache caught up with the topic)' : `/health: ${code}`;
      }
      instance.lastHealth = last;
      return false;
    },
    { timeout: HEALTH_DEADLINE_MS, interval: 20, message: () => `${instance.name} to be healthy at ${instance.url}/health (${last})`, error: demoFailure },
  );
  return performance.now() - started;
}
