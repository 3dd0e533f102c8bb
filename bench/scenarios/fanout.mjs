// 15. Fan-out: 10, 25 and 50 instances on one broker, spread over host processes (several
// instances each, every instance with its own Kafka clients), under a steady write rate from a
// writer process. Per instance: apply lag p50/p99 and CPU per applied record; for the broker: the
// bytes it sent per second (counted on the receiving side: every byte read on the Kafka sockets
// of the instances' processes). Lag is compared with raw kafkajs consumers beside the instances,
// in the same process. Every instance must converge to the oracle (a fresh reader folding the
// topic). Then the per-instance controls, side by side on one topic: replicate,
// `mode: 'invalidate'` and a key filter keeping one key in ten. The capacity model of
// docs/operations.md predicts egress, CPU and memory per instance; its predictions are checked
// against the measurements: egress and memory within 25%, CPU (a bound) not under by more.
import kafkajs from 'kafkajs';
import { foldTopic } from '@nearcache/core/conformance';
import { BROKERS, QUICK, check, fact, log, median, noise, report, sleep, startPeer, uniqueTopic, verdictFields } from '../lib.mjs';
import { calibrate, predict } from '../model.mjs';

const SIZES = QUICK ? [4, 10] : [10, 25, 50];
/** Instances per host process, the same at every size: the process count grows with the fleet. */
const PER_HOST = QUICK ? 2 : 5;
const RATE = 100;
/** The writer writes in ticks of this many ms (RATE * TICK_MS / 1000 writes each). */
const TICK_MS = 100;
const N = QUICK ? 1000 : 3000;
const KEYS = 1000;
const WARMUP = 500;
const VARIANT_INSTANCES = PER_HOST;
const FILTER_EVERY = 10;
const MAX = 100_000;
const IDLE_MS = 3000;
/** Memory per entry of these values (the `memory` scenario's figure, docs/benchmarks.md). */
const ENTRY_BYTES = 400;

/** Every record of `topic` now, read by a fresh kafkajs consumer up to the end offsets. */
async function readAll(topic) {
  const kafka = new kafkajs.Kafka({ clientId: 'bench-oracle', brokers: BROKERS.split(','), logLevel: kafkajs.logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const targets = new Map(ends.map((o) => [o.partition, { low: Number(o.low), high: Number(o.high) }]));
  const positions = new Map([...targets].map(([p, o]) => [p, o.low]));
  const done = () => [...targets].every(([p, o]) => o.high <= o.low || positions.get(p) >= o.high);
  const records = [];
  const consumer = kafka.consumer({ groupId: `bench-oracle-${process.pid}-${Date.now()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages)
        records.push({
          partition: batch.partition,
          offset: Number(m.offset),
          key: m.key,
          value: m.value,
          headers: m.headers ?? {},
          timestamp: Number(m.timestamp),
        });
      positions.set(batch.partition, Number(batch.lastOffset()) + 1);
    },
  });
  const deadline = Date.now() + 60_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`the oracle did not reach the end of ${topic}`);
    await sleep(50);
  }
  await consumer.disconnect();
  return records.filter((r) => r.offset < targets.get(r.partition).high);
}

/** The oracle's state as [key, id] pairs, and the mean size of a record as stored (key, value, headers). */
async function oracle(topic) {
  const records = await readAll(topic);
  const state = foldTopic(records);
  let bytes = 0;
  for (const r of records) {
    bytes += (r.key?.length ?? 0) + (r.value?.length ?? 0);
    for (const [k, v] of Object.entries(r.headers)) bytes += Buffer.byteLength(k) + (v?.length ?? 0);
  }
  return { expected: [...state].map(([k, v]) => [k, v.id]), recordBytes: bytes / records.length };
}

/** Starts host processes holding `counts[i]` instances each (with `options[i]`), ready. */
async function fleet(topic, counts, options = []) {
  const hosts = [];
  // One host at a time: fifty consumers joining their groups at once on two cores time out.
  for (let i = 0; i < counts.length; i++) {
    const host = await startPeer(`fanout-host-${i}`, { worker: 'fanout-host.mjs', nodeFlags: ['--expose-gc'] });
    hosts.push(host);
    await host.call('open', { topic, count: counts[i], max: MAX, ...(options[i] ?? {}) });
  }
  return hosts;
}

/** One measured round: `size` instances over host processes of PER_HOST instances; returns its figures. */
async function round(size, label) {
  const topic = uniqueTopic(`fanout-${size}`);
  const writer = await startPeer('fanout-writer', { worker: 'fanout-host.mjs', nodeFlags: ['--expose-gc'] });
  await writer.call('open', { topic, count: 1, writer: true });
  const counts = Array.from({ length: Math.ceil(size / PER_HOST) }, (_, i) => Math.min(PER_HOST, size - i * PER_HOST));
  // The raw side of the lag comparison: two kafkajs consumers (the second for the A/A) in every
  // other host (the first, the third...), each sharing its event loop with that host's instances.
  // CPU and memory are taken from the hosts without them.
  const probed = (i) => i % 2 === 0;
  const hosts = await fleet(
    topic,
    counts,
    counts.map((_, i) => ({ probe: probed(i) })),
  );
  const unprobed = hosts.map((_, i) => i + 1).filter((i) => !probed(i - 1));
  const measuredHosts = unprobed.length > 0 ? unprobed : [1];
  try {
    await writer.call('write', { prefix: 'w:', n: WARMUP, rate: RATE, keys: KEYS, tickMs: TICK_MS });
    await sleep(1000);
    // Idle CPU: the instances follow the topic with nothing written.
    const idle0 = await Promise.all(hosts.map((h) => h.call('mark')));
    await sleep(IDLE_MS);
    const idle1 = await Promise.all(hosts.map((h) => h.call('mark')));
    await Promise.all(hosts.map((h) => h.call('watch', { prefix: 'm:', n: N })));
    const before = await Promise.all([writer, ...hosts].map((h) => h.call('mark')));
    const sent = await writer.call('write', { prefix: 'm:', n: N, rate: RATE, keys: KEYS, tickMs: TICK_MS });
    // The phase ends once every instance holds what the oracle says (all it received is counted).
    const { expected, recordBytes } = await oracle(topic);
    const converged = await Promise.all(hosts.map((h) => h.call('converged', { expected, timeoutMs: 120_000 })));
    await sleep(500);
    const after = await Promise.all([writer, ...hosts].map((h) => h.call('mark')));
    const window = (after[0].at - before[0].at) / 1000;
    const seconds = (sent.at(-1) - sent[0] + TICK_MS) / 1000;
    const perHost = await Promise.all(hosts.map((h) => h.call('lags', { sent })));
    const lags = perHost.flatMap((l) => l.instances);
    // Per probed host, its instances and its two raw consumers: the first of each host makes the
    // raw side, the second the A/A; each side is the median over the hosts of its consumers' figures.
    const probedHosts = perHost.filter((_, i) => probed(i));
    const beside = probedHosts.flatMap((l) => l.instances);
    const rawSide = (which) => {
      const probes = probedHosts.map((l) => l.probes[which]);
      return {
        p50: median(probes.map((p) => p.p50)),
        p99: median(probes.map((p) => p.p99)),
        missing: probes.reduce((s, p) => s + p.missing, 0),
      };
    };
    const [raw, raw2] = [rawSide(0), rawSide(1)];
    const memory = await Promise.all(hosts.map((h) => h.call('memory')));
    const delta = (i, field) => after[i][field] - before[i][field];
    const hostIdx = hosts.map((_, i) => i + 1);
    const readerBytes = hostIdx.reduce((sum, i) => sum + delta(i, 'bytes'), 0);
    const result = {
      size,
      label,
      hosts: counts,
      seconds,
      writesPerSecond: N / seconds,
      recordBytes,
      lagP50ms: median(lags.map((l) => l.p50)),
      lagP99ms: median(lags.map((l) => l.p99)),
      worstLagP99ms: Math.max(...lags.map((l) => l.p99)),
      besideRaw: { p50ms: median(beside.map((l) => l.p50)), p99ms: median(beside.map((l) => l.p99)) },
      raw: { p50ms: raw.p50, p99ms: raw.p99, missing: raw.missing },
      raw2: { p50ms: raw2.p50, p99ms: raw2.p99, missing: raw2.missing },
      missing: lags.reduce((s, l) => s + l.missing, 0),
      perInstance: lags.map((l) => ({ p50ms: l.p50, p99ms: l.p99 })),
      cpuUsPerRecord: median(measuredHosts.map((i) => delta(i, 'cpuUs') / delta(i, 'applied'))),
      cpuUsPerSecondPerInstance: median(measuredHosts.map((i) => delta(i, 'cpuUs') / window / counts[i - 1])),
      idleCpuUsPerSecondPerInstance: median(
        measuredHosts.map((i) => (idle1[i - 1].cpuUs - idle0[i - 1].cpuUs) / ((idle1[i - 1].at - idle0[i - 1].at) / 1000) / counts[i - 1]),
      ),
      brokerBytesPerSecond: (readerBytes + delta(0, 'bytes')) / seconds,
      bytesPerSecondPerInstance: readerBytes / seconds / size,
      memoryBytesPerInstance: median(measuredHosts.map((i) => memory[i - 1])),
      keys: expected.length,
      converged: converged.every((c) => c.ok),
      problems: converged.flatMap((c) => c.problems).slice(0, 5),
    };
    log(
      `${label}: ${size} instances ${JSON.stringify(counts)}: lag p50 ${result.lagP50ms.toFixed(1)} ms, p99 ${result.lagP99ms.toFixed(1)} ms (worst ${result.worstLagP99ms.toFixed(1)}; beside raw kafkajs: p99 ${result.besideRaw.p99ms.toFixed(1)}, raw p50 ${raw.p50.toFixed(1)}, p99 ${raw.p99.toFixed(1)}, again ${raw2.p99.toFixed(1)}); CPU ${result.cpuUsPerRecord.toFixed(1)} µs/record (${(result.cpuUsPerSecondPerInstance / 1000).toFixed(1)} ms/s per instance, idle ${(result.idleCpuUsPerSecondPerInstance / 1000).toFixed(1)}); broker ${(result.brokerBytesPerSecond / 1e6).toFixed(2)} MB/s (${(result.bytesPerSecondPerInstance / 1e3).toFixed(1)} kB/s per instance); memory ${(result.memoryBytesPerInstance / 1e6).toFixed(2)} MB per instance; converged ${result.converged}`,
    );
    return result;
  } finally {
    await Promise.allSettled([writer.stop(), ...hosts.map((h) => h.stop())]);
  }
}

/** replicate, invalidate and a key filter side by side on one topic, the same writes. */
async function variants() {
  const topic = uniqueTopic('fanout-variants');
  const kinds = [
    { kind: 'replicate', options: {} },
    { kind: 'invalidate', options: { mode: 'invalidate' } },
    { kind: `filter 1/${FILTER_EVERY}`, options: { filterEvery: FILTER_EVERY } },
  ];
  const writer = await startPeer('fanout-writer', { worker: 'fanout-host.mjs', nodeFlags: ['--expose-gc'] });
  await writer.call('open', { topic, count: 1, writer: true });
  const hosts = await fleet(
    topic,
    kinds.map(() => VARIANT_INSTANCES),
    kinds.map((k) => k.options),
  );
  try {
    await writer.call('write', { prefix: 'w:', n: WARMUP, rate: RATE, keys: KEYS, tickMs: TICK_MS });
    await sleep(1000);
    const before = await Promise.all(hosts.map((h) => h.call('mark')));
    await writer.call('write', { prefix: 'm:', n: N, rate: RATE, keys: KEYS, tickMs: TICK_MS });
    await sleep(1000);
    const after = await Promise.all(hosts.map((h) => h.call('mark')));
    const { expected } = await oracle(topic);
    const out = [];
    for (let i = 0; i < kinds.length; i++) {
      const seconds = (after[i].at - before[i].at) / 1000;
      const c = await hosts[i].call('converged', {
        expected,
        timeoutMs: 60_000,
        filterEvery: kinds[i].options.filterEvery ?? 0,
        mode: kinds[i].options.mode ?? 'replicate',
      });
      out.push({
        kind: kinds[i].kind,
        bytesPerSecondPerInstance: (after[i].bytes - before[i].bytes) / seconds / VARIANT_INSTANCES,
        cpuUsPerRecord: (after[i].cpuUs - before[i].cpuUs) / (after[i].applied - before[i].applied),
        memoryBytesPerInstance: await hosts[i].call('memory'),
        converged: c.ok,
        problems: c.problems,
      });
      const v = out.at(-1);
      log(
        `${v.kind}: ${(v.bytesPerSecondPerInstance / 1e3).toFixed(1)} kB/s per instance, ${v.cpuUsPerRecord.toFixed(1)} µs CPU per record, memory ${(v.memoryBytesPerInstance / 1e6).toFixed(2)} MB per instance, as the oracle says ${v.converged}`,
      );
    }
    return out;
  } finally {
    await Promise.allSettled([writer.stop(), ...hosts.map((h) => h.stop())]);
  }
}

const fmtMB = (b) => `${(b / 1e6).toFixed(2)} MB/s`;
const rounds = [];
for (const size of SIZES) rounds.push(await round(size, `round ${size}`));
// The smallest fleet again, last: an A/A comparison for the lag ratios (same size, later in the run).
const again = await round(SIZES[0], `round ${SIZES[0]} again`);
const controls = await variants();

const small = rounds[0];
const large = rounds.at(-1);
// Lag against raw kafkajs consumers of the same topic at the same time (the machine's load moves
// both); A/A: the second raw consumer against the first, per round.
const lagRatio = (r) => r.besideRaw.p99ms / r.raw.p99ms;
const aaLag = rounds.map((r) => r.raw2.p99ms / r.raw.p99ms);
const growth = large.lagP99ms / small.lagP99ms;
// The model's constants come from the smallest fleet; its predictions are checked at the others.
const constants = calibrate(small, { entryBytes: ENTRY_BYTES, max: MAX });
const model = rounds.map((r) => {
  const p = predict({ instances: r.size, writesPerSecond: r.writesPerSecond, recordBytes: r.recordBytes, keys: r.keys }, constants);
  const ratios = {
    egress: p.egressBytesPerSecond / r.brokerBytesPerSecond,
    cpu: p.cpuUsPerSecondPerInstance / r.cpuUsPerSecondPerInstance,
    memory: p.memoryBytesPerInstance / r.memoryBytesPerInstance,
  };
  return {
    ...p,
    calibration: r === small,
    ratios,
    measured: {
      egressBytesPerSecond: r.brokerBytesPerSecond,
      cpuUsPerSecondPerInstance: r.cpuUsPerSecondPerInstance,
      memoryBytesPerInstance: r.memoryBytesPerInstance,
    },
  };
});
const LAG_RATIO = 1.5;
// A/A: the smallest fleet measured twice; how far its figures moved is the noise of the model's ratios.
const aa = (field) => noise({ aa: again[field] / small[field], rounds: [again[field] / small[field]] });
const aaOf = { egress: aa('brokerBytesPerSecond'), cpu: aa('cpuUsPerSecondPerInstance'), memory: aa('memoryBytesPerInstance') };
const checks = [
  check(`lag p99 vs raw at ${large.size}`, lagRatio(large), '<=', LAG_RATIO, noise({ aa: aaLag.at(-1), rounds: aaLag })),
  fact('every instance converged', [...rounds, again].every((r) => r.converged) && controls.every((c) => c.converged)),
  ...model
    .filter((m) => !m.calibration)
    .flatMap((m) => [
      ...['egress', 'memory'].flatMap((what) => [
        check(`model ${what} at ${m.instances} (>= 0.75x)`, m.ratios[what], '>=', 0.75, aaOf[what]),
        check(`model ${what} at ${m.instances} (<= 1.25x)`, m.ratios[what], '<=', 1.25, aaOf[what]),
      ]),
      // CPU: the model is a bound (records arriving as they were written); instances that fall
      // behind get more records per fetch and spend less per record, never more.
      check(`model cpu at ${m.instances} (>= 0.75x)`, m.ratios.cpu, '>=', 0.75, aaOf.cpu),
    ]),
];
for (const m of model)
  log(
    `model at ${m.instances}${m.calibration ? ' (calibration)' : ''}: egress ${fmtMB(m.egressBytesPerSecond)} (${m.ratios.egress.toFixed(2)}x measured), CPU ${(m.cpuUsPerSecondPerInstance / 1000).toFixed(1)} ms/s per instance (${m.ratios.cpu.toFixed(2)}x), memory ${(m.memoryBytesPerInstance / 1e6).toFixed(2)} MB (${m.ratios.memory.toFixed(2)}x)`,
  );
const converged = checks[1].ok;
report({
  scenario: 'fanout',
  title: `fan-out: ${SIZES.join(', ')} instances on one broker under ${RATE} writes/s`,
  method: `per fleet size, a fresh topic (1 partition), a writer process and host processes of ${PER_HOST} instances each (each instance its own admin, producer and consumer); ${WARMUP} warm-up writes, ${IDLE_MS / 1000} s idle (idle CPU), then ${N} writes at ${RATE}/s (in ticks of ${TICK_MS} ms) over ${KEYS} keys (values of about 200 B of JSON); the phase ends once every instance holds what the oracle (a fresh kafkajs reader folding the topic) says; lag = time a value is visible on an instance (its change event) - time of the set on the writer, p50 and p99 per instance, median over instances; raw: two kafkajs consumers (eachBatch) in every other host process (the first, the third...), beside its instances, the second of each the A/A (lag ratio: median p99 of those hosts' instances / median p99 of their first raw consumers); CPU = process.cpuUsage of each host over the phase, per record its instances applied and per second per instance (fetching, decoding, applying, heartbeats: the whole process), median over the hosts without the raw consumers; broker egress = bytes read on every Kafka socket of the instances' and the writer's processes (diagnostics_channel net.client.socket, socket.bytesRead) over the phase, per second of writes; memory = heapUsed + arrayBuffers after GC with the instances open minus before, per instance; the smallest fleet again at the end (A/A of the model's figures); then ${VARIANT_INSTANCES} instances each of replicate, invalidate and a filter keeping one key in ${FILTER_EVERY}, on one topic, the same writes; model (bench/model.mjs, docs/operations.md): constants from the smallest fleet's round, predictions checked at the others`,
  ratio: lagRatio(large),
  ratioLabel: `lag p99 vs raw kafkajs at ${large.size} instances`,
  measured: `lag p99 ${rounds.map((r) => `${r.lagP99ms.toFixed(0)}`).join(' / ')} ms at ${SIZES.join(' / ')} (${lagRatio(large).toFixed(2)}x raw at ${large.size}); broker ${rounds.map((r) => fmtMB(r.brokerBytesPerSecond)).join(' / ')}; CPU ${rounds.map((r) => r.cpuUsPerRecord.toFixed(0)).join(' / ')} µs/record; model ${model
    .filter((m) => !m.calibration)
    .map((m) => `${m.ratios.egress.toFixed(2)}/${m.ratios.cpu.toFixed(2)}/${m.ratios.memory.toFixed(2)}x`)
    .join(', ')} (egress/CPU/memory); converged: ${converged ? 'all' : 'NOT all'}`,
  target: `lag p99 <= ${LAG_RATIO}x raw kafkajs at ${large.size}; all converge; model egress and memory within 25%, CPU not under by more than 25%`,
  ...verdictFields(checks),
  lagGrowth: growth,
  rounds,
  again,
  controls,
  constants,
  model,
});
