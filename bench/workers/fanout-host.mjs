// One process of a fan-out fleet, driven over IPC by bench/scenarios/fanout.mjs: it holds several
// nearcache instances on one topic, each with its own Kafka clients (admin, producer, consumer),
// as several services of one host would. It notes when each write becomes visible on each
// instance, and measures what the process received from the broker (the bytes read on its Kafka
// sockets), the CPU time it used and its heap. One host can also be the fleet's writer.
import diagnostics from 'node:diagnostics_channel';
import net from 'node:net';
import kafkajs from 'kafkajs';
import { createNearCache, silentLogger } from '@nearcache/core';
import { BROKERS, makeValue, percentile, serveCommands, sleep, wallMs } from '../lib.mjs';

/**
 * Every TCP connection this process opens goes to the broker (the scenario talks over IPC); the
 * probes' connections are left out of the count.
 */
const sockets = new Set();
const probeSockets = new WeakSet();
diagnostics.subscribe('net.client.socket', ({ socket }) => sockets.add(socket));
const bytesRead = () => {
  let total = 0;
  for (const socket of sockets) if (!probeSockets.has(socket)) total += socket.bytesRead;
  return total;
};
const probeSocketFactory = ({ host, port, onConnect }) => {
  const socket = net.connect({ host, port }, onConnect);
  probeSockets.add(socket);
  return socket;
};

/** @type {Array<{ cache: import('@nearcache/core').NearCache, seen: Float64Array | undefined }>} */
let instances = [];
let memoryBefore = 0;
/** Arrivals are noted under `prefix` for writes 0..n-1 (value.id). */
let watch = { prefix: '', n: 0 };
/**
 * Raw kafkajs consumers beside the instances (the `raw` side of the lag comparison, and a second
 * one for its A/A): when each record of the watched prefix arrived, by offset.
 */
const probes = [];

/** Memory the instances take: the JS heap and the buffers outside it (lru-cache's index arrays, fetched bytes). */
const memory = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

/** A raw kafkajs consumer of `topic` noting when each record of the watched prefix arrives. */
async function openProbe(topic) {
  const kafka = new kafkajs.Kafka({
    clientId: 'bench-probe',
    brokers: BROKERS.split(','),
    logLevel: kafkajs.logLevel.NOTHING,
    socketFactory: probeSocketFactory,
  });
  const consumer = kafka.consumer({ groupId: `bench-probe-${process.pid}-${probes.length}-${Date.now()}`, maxWaitTimeInMs: 500 });
  const probe = { consumer, arrivals: new Map() };
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let joined;
  const join = new Promise((resolve) => (joined = resolve));
  consumer.on(consumer.events.GROUP_JOIN, () => joined());
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      const at = wallMs();
      for (const m of batch.messages) if (m.key?.toString().startsWith(watch.prefix)) probe.arrivals.set(Number(m.offset), at);
    },
  });
  await join;
  return probe;
}

/** p50 and p99 of arrival - sent, with how many never arrived. */
function lagOf(arrivals, sent) {
  const lags = [];
  let missing = 0;
  for (let i = 0; i < sent.length; i++) {
    const t = arrivals[i];
    if (t === undefined || Number.isNaN(t)) missing++;
    else lags.push(t - sent[i]);
  }
  lags.sort((a, b) => a - b);
  return { p50: percentile(lags, 50), p99: percentile(lags, 99), n: lags.length, missing };
}

function gc() {
  globalThis.gc?.();
  globalThis.gc?.();
}

const handlers = {
  /**
   * Opens `count` instances on `topic`: `mode` and a key filter keeping one key in `filterEvery`
   * (by the number after the prefix) are the per-instance controls measured.
   */
  async open({ topic, count, mode = 'replicate', filterEvery = 0, max = 100_000, writer = false, probe = false }) {
    gc();
    memoryBefore = memory();
    const filter = filterEvery > 0 ? (key) => Number(key.slice(key.lastIndexOf(':') + 1)) % filterEvery === 0 : undefined;
    instances = Array.from({ length: count }, () => {
      const cache = createNearCache({
        topic,
        kafka: { brokers: BROKERS, partitions: 1 },
        mode,
        filter,
        max,
        maxBytes: 0,
        logger: silentLogger,
        maxQueuedWrites: 100_000,
      });
      const instance = { cache, seen: undefined };
      if (!writer && mode === 'replicate')
        cache.on('change', (c) => {
          if (c.source !== 'remote' || c.op !== 'set' || instance.seen === undefined || !c.key.startsWith(watch.prefix)) return;
          const value = cache.get(c.key);
          if (value !== undefined && value.id < watch.n) instance.seen[value.id] = wallMs();
        });
      return instance;
    });
    await Promise.all(instances.map((i) => i.cache.ready({ timeout: 120_000 })));
    if (probe) for (let p = 0; p < 2; p++) probes.push(await openProbe(topic));
    return { count };
  },
  /** Starts noting arrivals of writes `prefix`... 0..n-1. */
  async watch({ prefix, n }) {
    watch = { prefix, n };
    for (const instance of instances) instance.seen = new Float64Array(n).fill(NaN);
    for (const probe of probes) probe.arrivals.clear();
    return null;
  },
  /** A mark for the measured phase: CPU, bytes read from the broker, records applied. */
  async mark() {
    const cpu = process.cpuUsage();
    const applied = instances.reduce((sum, i) => sum + i.cache.stats().records.applied, 0);
    return { cpuUs: cpu.user + cpu.system, bytes: bytesRead(), applied, at: wallMs() };
  },
  /**
   * Per instance: lag p50 and p99 (ms) of the watched writes, given when each was sent, and how
   * many never arrived; per probe the same (the i-th watched record in offset order is write i:
   * one writer, one partition, sends in order).
   */
  async lags({ sent }) {
    return {
      instances: instances.map(({ seen }) => lagOf(seen ?? [], sent)),
      probes: probes.map(({ arrivals }) => {
        const times = [...arrivals].sort((a, b) => a[0] - b[0]).map(([, t]) => t);
        return lagOf(times, sent);
      }),
    };
  },
  /**
   * Whether every instance holds what the oracle says (`expected`: [key, id] pairs, the whole
   * state), or, filtered or in invalidate mode, what it may hold; waits up to `timeoutMs`.
   */
  async converged({ expected, timeoutMs, filterEvery = 0, mode = 'replicate' }) {
    const want = new Map(expected);
    const deadline = wallMs() + timeoutMs;
    let problems = [];
    for (;;) {
      problems = [];
      instances.forEach(({ cache }, index) => {
        let held = 0;
        for (const [key, id] of want) {
          const keep = mode === 'replicate' && (filterEvery === 0 || Number(key.slice(key.lastIndexOf(':') + 1)) % filterEvery === 0);
          const value = cache.get(key);
          if (value !== undefined) held++;
          if (keep ? value?.id !== id : value !== undefined) problems.push(`instance ${index}: ${key} holds ${value?.id} (oracle ${keep ? id : 'not kept'})`);
        }
        if (cache.size !== held) problems.push(`instance ${index}: ${cache.size - held} entries the oracle does not have`);
      });
      if (problems.length === 0 || wallMs() > deadline) break;
      await sleep(100);
    }
    return { ok: problems.length === 0, problems: problems.slice(0, 5) };
  },
  /** Memory taken by the instances (after GC), per instance, in bytes. */
  async memory() {
    gc();
    return (memory() - memoryBefore) / Math.max(1, instances.length);
  },
  /**
   * Writes `n` values at `rate` per second from the first instance, over `keys` keys, in ticks of
   * `tickMs` (the writes of a tick together, as a service's writes of one event-loop turn); returns
   * when each was sent.
   */
  async write({ prefix, n, rate, keys, tickMs }) {
    const cache = instances[0].cache;
    const sent = new Array(n);
    const start = wallMs() + 5;
    for (let i = 0, tick = 0; i < n; tick++) {
      const wait = start + tick * tickMs - wallMs();
      if (wait > 0) await sleep(Math.ceil(wait));
      const due = Math.min(n, Math.round(((tick + 1) * tickMs * rate) / 1000));
      for (; i < due; i++) {
        sent[i] = wallMs();
        void cache.set(`${prefix}${i % keys}`, makeValue(i));
      }
    }
    await cache.flush({ timeout: 60_000 });
    return sent;
  },
  async close() {
    await Promise.allSettled([...instances.map((i) => i.cache.close()), ...probes.map((p) => p.consumer.disconnect())]);
    setImmediate(() => process.exit(0));
  },
};

serveCommands(handlers);
