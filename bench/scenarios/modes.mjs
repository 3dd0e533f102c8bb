// Replication modes: the same measurements with the Kafka client inline (on the cache's thread)
// and on a worker thread (replication: 'worker'), in interleaved rounds:
// - lag: a set on process W until visible on reader processes R-inline and R-worker, which read
//   the same writes at the same time (p50 per round, median over rounds);
// - mixed: get p99 on this process while process W writes to the topic (as scenario `mixed`,
//   without local writes);
// - main-thread CPU per applied record: this process's main-thread busy time
//   (performance.eventLoopUtilization) while it only applies a stream of remote writes;
// - bootstrap: ready() of a fresh instance on a topic of BOOT records.
import { performance } from 'node:perf_hooks';
import { createNearCache, silentLogger } from '@nearcache/core';
import { QUICK, key, log, median, report, startPeer, summarize, tick, uniqueTopic, wallMs, sleep } from '../lib.mjs';

const MODES = ['inline', 'worker'];
const ROUNDS = QUICK ? 2 : 4;
const LAG_N = QUICK ? 1000 : 3000;
const RATE = 1000;
const APPLY_N = QUICK ? 20_000 : 50_000;
const PHASE_MS = QUICK ? 2000 : 5000;
const BOOT = QUICK ? 50_000 : 200_000;
const topic = uniqueTopic('modes');
const bootTopic = uniqueTopic('modes-boot');

const writer = await startPeer('modes-writer');
const readers = Object.fromEntries(await Promise.all(MODES.map(async (mode) => [mode, await startPeer(`modes-reader-${mode}`)])));
const results = Object.fromEntries(MODES.map((mode) => [mode, { lagP50: [], readP99: [], cpuPerRecordUs: [], bootstrapMs: [] }]));
let sink = 0;

/** A cache of this process in `mode` on `on`, ready. */
async function open(mode, on) {
  const cache = createNearCache({
    topic: on,
    kafka: { brokers: process.env.KAFKA_BROKERS },
    replication: mode,
    max: 1_000_000,
    maxBytes: 0,
    logger: silentLogger,
  });
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

try {
  await writer.call('openOurs', { topic });
  await Promise.all(MODES.map((mode) => readers[mode].call('openOurs', { topic, watch: true, replication: mode })));
  // The bootstrap topic, filled once by the writer's cache.
  const bootWriter = createNearCache({ topic: bootTopic, kafka: { brokers: process.env.KAFKA_BROKERS }, logger: silentLogger, maxQueuedWrites: 200_000 });
  await bootWriter.ready({ timeout: 60_000 });
  for (let i = 0; i < BOOT; i++) {
    void bootWriter.set(key(i), { id: i, name: `item ${i}`, tags: ['a', 'b'] });
    if (i % 1000 === 999) await tick();
  }
  await bootWriter.flush({ timeout: 120_000 });
  await bootWriter.close();

  for (let r = 0; r < ROUNDS; r++) {
    // Lag: both readers see the same writes.
    const prefix = `lag${r}:`;
    const sent = await writer.call('writePaced', { impl: 'ours', topic, prefix, n: LAG_N, rate: RATE });
    await sleep(500);
    for (const mode of MODES) {
      const seen = await readers[mode].call('arrivals', { prefix, n: LAG_N });
      const lags = seen.flatMap((t, i) => (t === null ? [] : [t - sent[i]]));
      results[mode].lagP50.push(summarize(lags).p50);
    }
    for (const mode of r % 2 === 0 ? MODES : [...MODES].reverse()) {
      const cache = await open(mode, topic);
      // Main-thread CPU per applied record: this thread does nothing but apply.
      const before = cache.stats().records.applied;
      const elu0 = performance.eventLoopUtilization();
      const applyPrefix = `apply${r}${mode}:`;
      const burst = writer.call('writeBurst', { impl: 'ours', topic, prefix: applyPrefix, n: APPLY_N });
      await burst;
      await waitApplied(cache, before + APPLY_N);
      const elu = performance.eventLoopUtilization(elu0);
      results[mode].cpuPerRecordUs.push((elu.active * 1000) / APPLY_N);
      // Read p99 while the writer streams writes to the topic.
      const samples = [];
      const remote = writer.call('writePaced', { impl: 'ours', topic, prefix: `mixed${r}${mode}:`, n: Math.floor((2000 * PHASE_MS) / 1000), rate: 2000 });
      const end = wallMs() + PHASE_MS;
      const keys = Array.from({ length: APPLY_N }, (_, i) => `${applyPrefix}${i}`);
      let cursor = 0;
      while (wallMs() < end) {
        for (let j = 0; j < 100; j++) {
          const k = keys[cursor++ % APPLY_N];
          const t0 = performance.now();
          const v = cache.get(k);
          samples.push((performance.now() - t0) * 1e6);
          if (v !== undefined) sink++;
        }
        await tick();
      }
      await remote;
      results[mode].readP99.push(summarize(samples).p99);
      await cache.close();
      // Bootstrap of a fresh instance.
      const t0 = wallMs();
      const boot = await open(mode, bootTopic);
      results[mode].bootstrapMs.push(wallMs() - t0);
      await boot.close();
      const last = (list) => list[list.length - 1].toFixed(2);
      const m = results[mode];
      log(
        `modes round ${r} ${mode}: lag p50 ${last(m.lagP50)} ms, read p99 ${last(m.readP99)} ns, main-thread ${last(m.cpuPerRecordUs)} µs/record, bootstrap ${last(m.bootstrapMs)} ms`,
      );
    }
  }
  const summary = Object.fromEntries(
    MODES.map((mode) => {
      const m = results[mode];
      return [
        mode,
        {
          lagP50ms: median(m.lagP50),
          readP99ns: median(m.readP99),
          mainThreadUsPerRecord: median(m.cpuPerRecordUs),
          bootstrapMs: median(m.bootstrapMs),
          rounds: m,
        },
      ];
    }),
  );
  const { inline, worker } = summary;
  const ratio = worker.mainThreadUsPerRecord / inline.mainThreadUsPerRecord;
  report({
    scenario: 'modes',
    title: 'replication inline vs on a worker thread',
    method: `${ROUNDS} interleaved rounds; lag: ${LAG_N} writes at ${RATE}/s from process W, seen by one reader process per mode at once, p50 per round; main-thread CPU: event loop utilisation of this process while it applies ${APPLY_N} remote records and does nothing else; read p99: gets of the ${APPLY_N} keys just applied, in batches of 100 with a setImmediate between batches while W writes 2000/s for ${PHASE_MS} ms; bootstrap: ready() on a topic of ${BOOT} records; medians over rounds`,
    ratio,
    ratioLabel: 'main-thread CPU per applied record, worker / inline',
    measured: `main thread ${worker.mainThreadUsPerRecord.toFixed(2)} vs ${inline.mainThreadUsPerRecord.toFixed(2)} µs/record (${ratio.toFixed(2)}x); lag p50 ${worker.lagP50ms.toFixed(2)} vs ${inline.lagP50ms.toFixed(2)} ms; read p99 ${worker.readP99ns.toFixed(0)} vs ${inline.readP99ns.toFixed(0)} ns; bootstrap ${worker.bootstrapMs.toFixed(0)} vs ${inline.bootstrapMs.toFixed(0)} ms`,
    target: 'worker < inline main-thread CPU per record',
    pass: ratio < 1,
    inline,
    worker,
    sink,
  });
} finally {
  await Promise.allSettled([writer.stop(), ...Object.values(readers).map((r) => r.stop())]);
}
