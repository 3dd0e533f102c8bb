// Helpers shared by the scenarios: timing, percentiles, key distributions, a loopback log,
// and the result file each scenario process writes for bench/run.mjs.
import fs from 'node:fs';
import { mulberry32 } from '../scripts/lib/shared.mjs';

export const QUICK = process.env.BENCH_QUICK === '1';
export const BROKERS = process.env.KAFKA_BROKERS ?? '';
export const now = () => process.hrtime.bigint();
/** Wall-clock time in ms with sub-ms precision, comparable across processes of one machine. */
export const wallMs = () => performance.timeOrigin + performance.now();

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

export function summarize(samples) {
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (const s of sorted) sum += s;
  return { n: sorted.length, mean: sum / sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] };
}

export { median, sleep } from '../scripts/lib/shared.mjs';

/** A deterministic PRNG, so every implementation reads the same key sequence. */
export const rng = (seed = 42) => mulberry32(seed);

/** `count` key indexes in [0, n): uniform, or Zipf (s = 1) over a random permutation of the keys. */
export function keySequence(n, count, dist, seed = 7) {
  const random = rng(seed);
  const out = new Uint32Array(count);
  if (dist === 'uniform') {
    for (let i = 0; i < count; i++) out[i] = Math.floor(random() * n);
    return out;
  }
  const cdf = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) cdf[i] = total += 1 / (i + 1);
  const perm = new Uint32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  for (let i = 0; i < count; i++) {
    const u = random() * total;
    let lo = 0,
      hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    out[i] = perm[lo];
  }
  return out;
}

/** A value of about 200 bytes of JSON, different per index. */
export function makeValue(i) {
  return {
    id: i,
    name: `user-${i}`,
    email: `user${i}@example.com`,
    active: i % 2 === 0,
    score: (i * 7919) % 10007,
    tags: ['alpha', 'beta', 'gamma'],
    created: 1764000000000 + i,
    note: 'x'.repeat(40),
  };
}

export const key = (i) => `key:${i}`;

/**
 * A replication log that keeps nothing: every appended record comes straight back to the
 * consumer, as from a broker, so the cache runs its whole write and apply path without Kafka
 * and without a log growing in memory. For the local scenarios (get, set, memory).
 */
export function loopbackLog() {
  return () => {
    let handlers;
    let offset = 0;
    return {
      kind: 'loopback',
      async open() {
        return { partitions: 1 };
      },
      async offsets() {
        return [{ partition: 0, low: offset, high: offset }];
      },
      async consume(h) {
        handlers = h;
      },
      async restartConsumer() {},
      async append(records) {
        const batch = records.map((r) => ({
          partition: 0,
          offset: offset++,
          key: Buffer.from(r.key),
          value: r.value,
          headers: r.headers,
          timestamp: Date.now(),
        }));
        if (handlers) await handlers.onBatch({ partition: 0, records: batch, nextOffset: offset, highWatermark: offset });
      },
      async close() {},
    };
  };
}

export const tick = () => new Promise((resolve) => setImmediate(resolve));

export function gc() {
  if (globalThis.gc) {
    globalThis.gc();
    globalThis.gc();
  }
}

/** Writes the scenario's result for the runner (BENCH_OUT) and also prints it when run alone. */
export function report(result) {
  const out = process.env.BENCH_OUT;
  if (out) fs.writeFileSync(out, JSON.stringify(result, null, 2));
  else console.log(JSON.stringify(result, null, 2));
}

export const log = (message) => process.stderr.write(`  ${message}\n`);
export const uniqueTopic = (name) => `bench.${name}.${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 8)}`;

/**
 * Starts bench/workers/peer.mjs and returns `call(cmd, args)` plus `stop()`. `onEvent` receives
 * what the peer sends on its own (`{ event, ... }`), outside the replies to calls.
 */
export async function startPeer(name, { onEvent } = {}) {
  const { fork } = await import('node:child_process');
  const child = fork(new URL('./workers/peer.mjs', import.meta.url), [name], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let next = 0;
  const waiting = new Map();
  child.on('message', (message) => {
    if (message.event !== undefined) return onEvent?.(message);
    const { id, result, error } = message;
    const w = waiting.get(id);
    waiting.delete(id);
    if (error) w?.reject(new Error(`${name}: ${error}`));
    else w?.resolve(result);
  });
  child.on('exit', (code) => {
    for (const w of waiting.values()) w.reject(new Error(`${name} exited with ${code}`));
    waiting.clear();
  });
  return {
    call(cmd, args) {
      return new Promise((resolve, reject) => {
        const id = next++;
        waiting.set(id, { resolve, reject });
        child.send({ id, cmd, args });
      });
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await this.call('close').catch(() => undefined);
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Creates a compacted topic for the raw kafkajs side of a comparison (the cache creates its own). */
export async function createRawTopic(topic, partitions = 1) {
  const kafkajs = (await import('kafkajs')).default;
  const kafka = new kafkajs.Kafka({ clientId: 'bench-admin', brokers: BROKERS.split(','), logLevel: kafkajs.logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic, numPartitions: partitions, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
  });
  await admin.disconnect();
}
