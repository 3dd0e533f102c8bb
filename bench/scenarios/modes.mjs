// Replication modes: the same measurements with the Kafka client inline (on the cache's thread)
// and on a worker thread (replication: 'worker'), in interleaved rounds, each figure against its
// target with a noise band from an A/A comparison (a second inline side, "inline again", measured
// exactly as the others in the same rounds):
// - mixed: get p99 on this process while it writes every 10th operation and process W' writes
//   2,000 records/s to its topic, over the p99 of the same reads with no writes anywhere (as
//   scenario `mixed`), in worker mode; target <= 2x. A/A: a second read-only phase. Reference
//   (as in scenario `mixed`, not the target): on the worker side, the same two phases reading a
//   raw lru-cache that holds the same values while the load runs unchanged (its writes go to
//   the cache), what the load does to any in-process read;
// - lag: p50 of a set on process W until visible on one reader process per side, all reading
//   the same writes at the same time, after an unmeasured warm-up; target: worker at most
//   0.3 ms above inline;
// - bootstrap: ready() of a fresh process (createNearCache to ready, the Kafka client's loading
//   and, in worker mode, the thread's start included) on a topic of BOOT records; target: worker
//   not slower than inline;
// - main-thread CPU per applied record: this process's main-thread busy time
//   (performance.eventLoopUtilization) while it only applies a stream of remote writes; target:
//   worker below inline.
// The scenario is not pinned to a CPU (bench/run.mjs): both modes get every CPU of the run.
// Topics: the lag readers and their writer use one topic; the CPU and mixed phases another, with
// process W' as its only other instance (as scenario `mixed` has one), so that the lag readers
// do not apply the mixed phase's writes meanwhile.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { LRUCache } from 'lru-cache';
import { createNearCache, silentLogger } from '@nearcache/core';
import {
  BROKERS,
  QUICK,
  bandText,
  check,
  key,
  keySequence,
  log,
  makeValue,
  median,
  noise,
  report,
  roundOrder,
  roundRatios,
  sleep,
  startPeer,
  summarize,
  tick,
  timedReads,
  uniqueTopic,
  verdictFields,
  wallMs,
} from '../lib.mjs';

if (process.argv[2] === 'boot') {
  // Child: a fresh process, createNearCache until ready() in the mode asked.
  const [mode, topic, count] = [process.argv[3], process.argv[4], Number(process.argv[5])];
  const started = wallMs();
  const cache = createNearCache({ topic, kafka: { brokers: BROKERS }, replication: mode, max: count + 1000, maxBytes: 0, logger: silentLogger });
  await cache.ready({ timeout: 120_000 });
  const ms = wallMs() - started;
  const entries = cache.size;
  await cache.close();
  process.stdout.write(JSON.stringify({ ms, entries }));
  process.exit(0);
}

/** The compared sides: 'inline again' is inline measured a second time, the A/A comparison. */
const SIDES = ['inline', 'worker', 'inline again'];
const modeOf = (side) => (side === 'worker' ? 'worker' : 'inline');
const ROUNDS = QUICK ? 2 : 4;
const LAG_N = QUICK ? 1000 : 2000;
const RATE = 1000;
const APPLY_N = QUICK ? 10_000 : 20_000;
const PHASE_MS = QUICK ? 2000 : 3000;
const REMOTE_RATE = 2000;
const BATCH = 100;
const BOOT = QUICK ? 50_000 : 1_000_000;
const topic = uniqueTopic('modes');
const loadTopic = uniqueTopic('modes-load');
const bootTopic = uniqueTopic('modes-boot');
const seq = keySequence(APPLY_N, 1 << 20, 'zipf');

const writer = await startPeer('modes-writer');
const loadWriter = await startPeer('modes-load-writer');
const readers = Object.fromEntries(await Promise.all(SIDES.map(async (side) => [side, await startPeer(`modes-reader-${side.replace(' ', '-')}`)])));
const results = Object.fromEntries(
  SIDES.map((side) => [
    side,
    { lagP50: [], readOnlyP99: [], readOnlyAgainP99: [], loadP99: [], rawReadOnlyP99: [], rawLoadP99: [], cpuPerRecordUs: [], bootstrapMs: [] },
  ]),
);
let sink = 0;
let cursor = 0;

/** A cache of this process in `mode` on `on`, ready. */
async function open(mode, on) {
  const cache = createNearCache({ topic: on, kafka: { brokers: BROKERS }, replication: mode, max: 1_000_000, maxBytes: 0, logger: silentLogger });
  await cache.ready({ timeout: 120_000 });
  return cache;
}

async function waitApplied(cache, target, timeoutMs = 120_000) {
  const deadline = wallMs() + timeoutMs;
  while (cache.stats().records.applied < target) {
    if (wallMs() > deadline) throw new Error(`applied ${cache.stats().records.applied}/${target}`);
    await sleep(5);
  }
}

/** W' writes APPLY_N records under `prefix` to the load topic; once `cache` applied them: their keys, and this thread's busy time meanwhile (ms). */
async function applyBurst(cache, prefix) {
  const before = cache.stats().records.applied;
  const elu0 = performance.eventLoopUtilization();
  await loadWriter.call('writeBurst', { impl: 'ours', topic: loadTopic, prefix, n: APPLY_N });
  await waitApplied(cache, before + APPLY_N);
  const busyMs = performance.eventLoopUtilization(elu0).active;
  return { keys: Array.from({ length: APPLY_N }, (_, i) => `${prefix}${i}`), busyMs };
}

/**
 * Reads of `reader` (the cache, or the raw lru-cache of the reference) and, with `load`, every
 * 10th operation a set on the cache while W' writes REMOTE_RATE/s, for `ms`: the get p99 in ns.
 */
async function phase(cache, keys, load, tag, reader = cache, ms = PHASE_MS) {
  const remote = load
    ? loadWriter.call('writePaced', {
        impl: 'ours',
        topic: loadTopic,
        prefix: `mixed${tag}:`,
        n: Math.floor((REMOTE_RATE * ms) / 1000),
        rate: REMOTE_RATE,
      })
    : undefined;
  const write = (k, j) => void cache.set(k, makeValue(j));
  const run = await timedReads({ reader, keys, seq, at: cursor, ms, batch: BATCH, write: load ? write : undefined });
  cursor = run.cursor;
  sink += run.hits;
  if (remote) await remote;
  await cache.flush({ timeout: 30_000 });
  return summarize(run.samples).p99;
}

/** ready() of a fresh process in `mode` on the bootstrap topic, in ms. */
function boot(mode) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'boot', mode, bootTopic, String(BOOT)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: process.env,
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`bootstrap child (${mode}) exited with ${code}`));
      const result = JSON.parse(out);
      if (result.entries !== BOOT) return reject(new Error(`bootstrap child (${mode}) holds ${result.entries} of ${BOOT} entries`));
      resolve(result.ms);
    });
  });
}

try {
  await writer.call('openOurs', { topic });
  await loadWriter.call('openOurs', { topic: loadTopic });
  await Promise.all(SIDES.map((side) => readers[side].call('openOurs', { topic, watch: true, replication: modeOf(side) })));
  // The bootstrap topic, filled once.
  const bootWriter = createNearCache({ topic: bootTopic, kafka: { brokers: BROKERS }, logger: silentLogger, maxQueuedWrites: 200_000 });
  await bootWriter.ready({ timeout: 60_000 });
  for (let i = 0; i < BOOT; i++) {
    void bootWriter.set(key(i), { id: i, name: `item ${i}`, tags: ['a', 'b'] });
    if (i % 1000 === 999) await tick();
    // Within the queue's bound.
    if (i % 100_000 === 99_999) await bootWriter.flush({ timeout: 120_000 });
  }
  await bootWriter.flush({ timeout: 120_000 });
  await bootWriter.close();

  // Warm-up, not measured: the readers (and the writer) run the paths of the lag rounds hot, as
  // scenario `lag` warms up before its rounds; a burst, then one paced round.
  await writer.call('writeBurst', { impl: 'ours', topic, prefix: 'warm:', n: APPLY_N });
  await writer.call('writePaced', { impl: 'ours', topic, prefix: 'warm-paced:', n: LAG_N, rate: RATE });
  await sleep(500);
  for (const side of SIDES) {
    await readers[side].call('arrivals', { prefix: 'warm:', n: APPLY_N });
    await readers[side].call('arrivals', { prefix: 'warm-paced:', n: LAG_N });
  }
  // And this process, in both modes: the paths of the CPU and mixed phases (applying a burst,
  // reading, setting) run hot before round 0, whose first side would otherwise pay for it.
  for (const mode of ['inline', 'worker']) {
    const cache = await open(mode, loadTopic);
    const { keys } = await applyBurst(cache, `warm-${mode}:`);
    for (const load of [false, true]) await phase(cache, keys, load, `warm-${mode}`, cache, 1000);
    await cache.close();
  }

  for (let r = 0; r < ROUNDS; r++) {
    // Lag: every reader sees the same writes at the same time.
    const prefix = `lag${r}:`;
    const sent = await writer.call('writePaced', { impl: 'ours', topic, prefix, n: LAG_N, rate: RATE });
    await sleep(500);
    for (const side of SIDES) {
      const seen = await readers[side].call('arrivals', { prefix, n: LAG_N });
      const lags = seen.flatMap((t, i) => (t === null ? [] : [t - sent[i]]));
      results[side].lagP50.push(summarize(lags).p50);
    }
    for (const side of roundOrder(r, SIDES)) {
      const m = results[side];
      const cache = await open(modeOf(side), loadTopic);
      // Main-thread CPU per applied record: this thread does nothing but apply.
      const { keys, busyMs } = await applyBurst(cache, `apply${r}${side}:`);
      m.cpuPerRecordUs.push((busyMs * 1000) / APPLY_N);
      // Reads: read-only, under load, read-only again (the A/A of the load ratio).
      const order = r % 2 === 0 ? ['ro', 'load', 'ro2'] : ['ro2', 'load', 'ro'];
      for (const p of order) {
        const p99 = await phase(cache, keys, p === 'load', `${r}${side}`);
        (p === 'load' ? m.loadP99 : p === 'ro' ? m.readOnlyP99 : m.readOnlyAgainP99).push(p99);
      }
      if (side === 'worker') {
        // Reference: a raw lru-cache holding the values the cache holds (the same objects), read
        // with no writes anywhere, then under the same load as above (its sets go to the cache).
        const raw = new LRUCache({ max: 1_000_000 });
        for (const k of keys) raw.set(k, cache.get(k));
        for (const p of r % 2 === 0 ? ['ro', 'load'] : ['load', 'ro']) {
          const p99 = await phase(cache, keys, p === 'load', `${r}${side}raw`, raw);
          (p === 'load' ? m.rawLoadP99 : m.rawReadOnlyP99).push(p99);
        }
      }
      await cache.close();
      m.bootstrapMs.push(await boot(modeOf(side)));
      const last = (list) => list[list.length - 1].toFixed(2);
      log(
        `modes round ${r} ${side}: lag p50 ${last(m.lagP50)} ms, read p99 ${last(m.readOnlyP99)} / ${last(m.loadP99)} ns under load (${(m.loadP99.at(-1) / m.readOnlyP99.at(-1)).toFixed(2)}x), main-thread ${last(m.cpuPerRecordUs)} µs/record, bootstrap ${last(m.bootstrapMs)} ms${side === 'worker' ? `; lru-cache reference ${last(m.rawReadOnlyP99)} / ${last(m.rawLoadP99)} ns (${(m.rawLoadP99.at(-1) / m.rawReadOnlyP99.at(-1)).toFixed(2)}x)` : ''}`,
      );
    }
  }

  const summary = Object.fromEntries(
    SIDES.map((side) => {
      const m = results[side];
      return [
        side,
        {
          lagP50ms: median(m.lagP50),
          readOnlyP99ns: median(m.readOnlyP99),
          loadP99ns: median(m.loadP99),
          mixedRatio: median(m.loadP99) / median(m.readOnlyP99),
          rawLru:
            m.rawLoadP99.length === 0
              ? undefined
              : {
                  readOnlyP99ns: median(m.rawReadOnlyP99),
                  loadP99ns: median(m.rawLoadP99),
                  ratio: median(m.rawLoadP99) / median(m.rawReadOnlyP99),
                  note: 'a raw lru-cache holding the same values, read under the same load (its writes go to the cache): not the target, a reference for what the load does to any in-process read',
                },
          mainThreadUsPerRecord: median(m.cpuPerRecordUs),
          bootstrapMs: median(m.bootstrapMs),
          rounds: m,
        },
      ];
    }),
  );
  const { inline, worker } = summary;
  const again = summary['inline again'];
  const w = results.worker,
    i1 = results.inline,
    i2 = results['inline again'];

  const mixedCheck = check(
    'mixed',
    worker.mixedRatio,
    '<=',
    2,
    noise({ aa: median(w.readOnlyAgainP99) / worker.readOnlyP99ns, rounds: roundRatios(w.readOnlyAgainP99, w.readOnlyP99) }),
  );
  const lagDelta = worker.lagP50ms - inline.lagP50ms;
  const lagCheck = check(
    'lag',
    lagDelta,
    '<=',
    0.3,
    noise({ aa: again.lagP50ms - inline.lagP50ms, rounds: i2.lagP50.map((x, k) => x - i1.lagP50[k]), kind: 'delta', unit: 'ms' }),
  );
  const bootRatio = worker.bootstrapMs / inline.bootstrapMs;
  const bootCheck = check(
    'bootstrap',
    bootRatio,
    '<=',
    1,
    noise({ aa: again.bootstrapMs / inline.bootstrapMs, rounds: roundRatios(i2.bootstrapMs, i1.bootstrapMs) }),
  );
  const cpuRatio = worker.mainThreadUsPerRecord / inline.mainThreadUsPerRecord;
  const cpuCheck = check(
    'main thread',
    cpuRatio,
    '<=',
    1,
    noise({ aa: again.mainThreadUsPerRecord / inline.mainThreadUsPerRecord, rounds: roundRatios(i2.cpuPerRecordUs, i1.cpuPerRecordUs) }),
  );
  const line = (name, title, c, measured, target) => ({
    scenario: `modes ${name}`,
    title,
    measured,
    target,
    band: bandText([c]),
    verdict: c.verdict,
    pass: c.verdict === 'PASS',
  });
  const lines = [
    line(
      'mixed',
      'worker mode: read p99 under replication load vs read-only',
      mixedCheck,
      `${worker.mixedRatio.toFixed(2)}x (${worker.loadP99ns.toFixed(0)} vs ${worker.readOnlyP99ns.toFixed(0)} ns; inline ${inline.mixedRatio.toFixed(2)}x; lru-cache under the same load ${worker.rawLru.ratio.toFixed(2)}x)`,
      '<= 2 in worker mode',
    ),
    line(
      'lag',
      'replication lag p50, worker minus inline',
      lagCheck,
      `${lagDelta >= 0 ? '+' : ''}${lagDelta.toFixed(2)} ms (${worker.lagP50ms.toFixed(2)} vs ${inline.lagP50ms.toFixed(2)} ms)`,
      '<= +0.3 ms',
    ),
    line(
      'bootstrap',
      `ready() of a fresh process on ${BOOT} records, worker / inline`,
      bootCheck,
      `${bootRatio.toFixed(2)}x (${worker.bootstrapMs.toFixed(0)} vs ${inline.bootstrapMs.toFixed(0)} ms)`,
      '<= 1 (not slower)',
    ),
    line(
      'cpu',
      'main-thread CPU per applied record, worker / inline',
      cpuCheck,
      `${cpuRatio.toFixed(2)}x (${worker.mainThreadUsPerRecord.toFixed(2)} vs ${inline.mainThreadUsPerRecord.toFixed(2)} µs/record)`,
      '<= 1 (worker below inline)',
    ),
  ];
  report({
    scenario: 'modes',
    title: 'replication inline vs on a worker thread',
    method: `${ROUNDS} interleaved rounds of three sides: inline, worker, and inline again (the A/A comparison behind every noise band); processes not pinned to a CPU, both modes alike; mixed: get p99 of ${APPLY_N} keys (Zipf), batches of ${BATCH} with a setImmediate between them, under load (every 10th operation a local set, process W' writing ${REMOTE_RATE}/s, on a topic whose only other instance is W') over read-only, ${PHASE_MS} ms phases, A/A a second read-only phase, reference (worker side) the same two phases reading a raw lru-cache holding the same values, the load unchanged; lag: ${LAG_N} writes at ${RATE}/s from W, seen by one reader process per side at once, p50 per round, after an unmeasured warm-up (a burst of ${APPLY_N} writes, then one paced round); bootstrap: createNearCache until ready() in a fresh process on a topic of ${BOOT} records; main-thread CPU: event loop utilisation of this process while it applies ${APPLY_N} remote records and does nothing else; before round 0, unmeasured, this process applies a burst of ${APPLY_N} and reads and sets for 1 s in each mode; medians over rounds`,
    ratio: worker.mixedRatio,
    ratioLabel: 'worker mode: p99 under load / read-only p99',
    measured: lines.map((l) => `${l.scenario.slice(6)} ${l.measured}`).join('; '),
    target: lines.map((l) => `${l.scenario.slice(6)} ${l.target}`).join('; '),
    ...verdictFields([mixedCheck, lagCheck, bootCheck, cpuCheck]),
    lines,
    inline,
    worker,
    inlineAgain: again,
    sink,
  });
} finally {
  await Promise.allSettled([writer.stop(), loadWriter.stop(), ...Object.values(readers).map((r) => r.stop())]);
}
