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

/**
 * A 5 KB row-like object: an order with 25 lines (or `lines`), each with two dates, as a database
 * row would come back. Its JSON takes about 4.3 KB with 25 lines, 5.1 KB with 30.
 */
export function makeRow(i, lines = 25) {
  return {
    id: i,
    customer: { id: 1000 + i, name: `Customer ${i}`, email: `customer${i}@example.com`, since: new Date(1700000000000 + i * 1000) },
    status: i % 3 === 0 ? 'open' : 'shipped',
    createdAt: new Date(1764000000000 + i),
    updatedAt: new Date(1764000500000 + i),
    lines: Array.from({ length: lines }, (_, j) => ({
      sku: `SKU-${i}-${j}`,
      label: `item label ${j}`,
      quantity: (i + j) % 7,
      price: 12.5 + j,
      createdAt: new Date(1764000000000 + j * 1000),
      updatedAt: new Date(1764000500000 + j),
      shipped: j % 2 === 0,
    })),
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

/**
 * The read loop of the `mixed` and `modes` scenarios for `ms` milliseconds: batches of `batch`
 * operations on `keys` in the order of `seq` (from `at`, a position kept by the caller), with an
 * event-loop turn between batches; with `write`, every 10th operation is `write(key, j)` instead
 * of a read. Each `reader.get` is timed alone with performance.now() (a double: no allocation
 * inside the timed get). Returns the samples (ns), the writes, the hits and where the next loop
 * starts in `seq` (its length a power of two).
 */
export async function timedReads({ reader, keys, seq, at, ms, batch, write }) {
  const samples = [];
  const mask = seq.length - 1;
  let cursor = at;
  let writes = 0;
  let hits = 0;
  const end = wallMs() + ms;
  while (wallMs() < end) {
    for (let j = 0; j < batch; j++) {
      const k = keys[seq[cursor++ & mask]];
      if (write !== undefined && j % 10 === 0) {
        write(k, j);
        writes++;
        continue;
      }
      const t0 = performance.now();
      const v = reader.get(k);
      samples.push((performance.now() - t0) * 1e6);
      if (v !== undefined) hits++;
    }
    // Give timers, the replicator and the consumer a turn, as a server between requests.
    await tick();
  }
  return { samples, writes, hits, cursor };
}

/** A bench worker process's command loop: `{ id, cmd, args }` from its parent runs `handlers[cmd]`; the answer goes back with `id`. Exits when the parent goes. */
export function serveCommands(handlers) {
  process.on('message', async ({ id, cmd, args }) => {
    try {
      const result = await handlers[cmd](args ?? {});
      process.send({ id, result });
    } catch (error) {
      process.send({ id, error: String(error?.stack ?? error) });
    }
  });
  process.on('disconnect', () => process.exit(0));
}

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

const PEER_CPUS = (process.env.BENCH_PEER_CPUS ?? '').split(',').filter(Boolean);
let peersStarted = 0;

/**
 * Starts bench/workers/peer.mjs (or another file of bench/workers, `worker`, run with Node flags
 * `nodeFlags`) and returns `call(cmd, args)` plus `stop()`. `onEvent` receives what the peer
 * sends on its own (`{ event, ... }`), outside the replies to calls.
 */
export async function startPeer(name, { onEvent, worker = 'peer.mjs', nodeFlags = [] } = {}) {
  const { fork } = await import('node:child_process');
  // Pinned as bench/run.mjs says (BENCH_PEER_CPUS): the peers of a scenario take its CPUs in turn.
  const cpu = PEER_CPUS.length > 0 ? PEER_CPUS[peersStarted++ % PEER_CPUS.length] : undefined;
  const pin = cpu === undefined ? { execArgv: nodeFlags } : { execPath: 'taskset', execArgv: ['-c', cpu, process.execPath, ...nodeFlags] };
  const child = fork(new URL(`./workers/${worker}`, import.meta.url), [name], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], ...pin });
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

// ---------------------------------------------------------------------------------------------
// Noise bands (bench/README.md, "Noise band"). Each scenario that compares nearcache with a raw
// dependency also measures the raw side against a second copy of itself (an A/A comparison), in
// the same interleaved rounds. On a quiet machine an A/A figure reads "no difference" (a ratio of
// 1, a difference of 0); how far it strays tells how far noise alone moves a figure in this run.

/** 2 x the standard error of a median of n samples, per standard deviation (1.2533 / sqrt(n) each). */
const MEDIAN_SE = Math.sqrt(Math.PI / 2);

/**
 * The noise of one figure, from its A/A comparison. `aa` is the A/A figure computed exactly as the
 * scenario's figure (same statistic over the same rounds, the raw copy in place of nearcache);
 * `rounds` are the A/A figures of the single rounds. `kind` 'ratio': figures are ratios and the
 * band is a factor (worked out on logarithms); 'delta': figures are differences in `unit`, and
 * the band is additive. The half-width is the larger of |A/A - no difference| and twice the
 * standard error of a median of the rounds, estimated from the spread of the A/A rounds.
 * @param {{ aa: number, rounds: number[], kind?: 'ratio' | 'delta', unit?: string }} a
 */
export function noise({ aa, rounds, kind = 'ratio', unit = '' }) {
  const dev = kind === 'ratio' ? Math.log : (/** @type {number} */ x) => x;
  const devs = rounds.map(dev);
  const n = devs.length;
  const mean = devs.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(devs.reduce((a, d) => a + (d - mean) ** 2, 0) / (n - 1)) : 0;
  const half = Math.max(Math.abs(dev(aa)), (2 * MEDIAN_SE * sd) / Math.sqrt(n));
  return {
    kind,
    unit,
    aa,
    rounds,
    half,
    /** @param {number} x @returns {[number, number]} */
    band: (x) => (kind === 'ratio' ? [x / Math.exp(half), x * Math.exp(half)] : [x - half, x + half]),
    text: kind === 'ratio' ? `±${((Math.exp(half) - 1) * 100).toFixed(0)}%` : `±${half.toFixed(2)}${unit ? ` ${unit}` : ''}`,
  };
}

/** Per-round A/A ratios `a[i] / b[i]`. */
export const roundRatios = (a, b) => a.map((x, i) => x / b[i]);

/**
 * One target check of a figure. With a noise band, a band wholly on the right side of `bound`
 * passes, one wholly on the wrong side misses, one that straddles `bound` is "within noise".
 * Without one (`noise` undefined: a figure without an A/A comparison), the figure alone decides.
 * @param {string} label
 * @param {number} value
 * @param {'<=' | '>='} op
 * @param {number} bound
 * @param {ReturnType<typeof noise>} [n]
 */
export function check(label, value, op, bound, n) {
  const [lo, hi] = n ? n.band(value) : [value, value];
  const good = op === '<=' ? hi <= bound : lo >= bound;
  const bad = op === '<=' ? lo > bound : hi < bound;
  return {
    label,
    value,
    op,
    bound,
    band: n ? [lo, hi] : undefined,
    noise: n ? { kind: n.kind, unit: n.unit, aa: n.aa, rounds: n.rounds, half: n.half, text: n.text } : undefined,
    verdict: good ? 'PASS' : bad ? 'MISS' : 'within noise',
  };
}

/** A check that is a yes/no fact (converged, exact, nothing lost): no noise band. */
export const fact = (label, ok) => ({ label, ok, verdict: ok ? 'PASS' : 'MISS' });

/** The scenario's result from its checks: MISS if one misses, else "within noise" if one is, else PASS. */
export function verdictOf(checks) {
  if (checks.some((c) => c.verdict === 'MISS')) return 'MISS';
  if (checks.some((c) => c.verdict === 'within noise')) return 'within noise';
  return 'PASS';
}

const short = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));

/** The noise bands of `checks` for the summary line: "<label> lo..hi (A/A aa)" per check that has one. */
export function bandText(checks) {
  const parts = checks
    .filter((c) => c.band)
    .map((c) => {
      const unit = c.noise.kind === 'delta' && c.noise.unit ? ` ${c.noise.unit}` : '';
      return `${c.label ? `${c.label} ` : ''}${short(c.band[0])}..${short(c.band[1])}${unit} (A/A ${short(c.noise.aa)})`;
    });
  return parts.length > 0 ? parts.join('; ') : 'no A/A';
}

/** Fields every scenario's result carries for the runner: checks, verdict, pass, band text. */
export function verdictFields(checks) {
  const verdict = verdictOf(checks);
  return { checks, verdict, pass: verdict === 'PASS', band: bandText(checks) };
}

/**
 * The order of the compared sides in round `r`: rotated every round and reversed every other
 * cycle, so no side always runs first, last, or right after the same other side.
 * @template T
 * @param {number} r
 * @param {T[]} sides
 * @returns {T[]}
 */
export function roundOrder(r, sides) {
  const k = sides.length;
  const rotated = sides.map((_, i) => sides[(i + r) % k]);
  return Math.floor(r / k) % 2 === 0 ? rotated : rotated.reverse();
}
