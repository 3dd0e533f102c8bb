// Tables of the `fanout` scenario's result, for docs/benchmarks.md (bench/report.mjs) and the
// capacity model of docs/operations.md.
const n = (v, d = 1) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : '-');

/** Per fleet size: lag (and raw kafkajs), CPU, broker egress, memory, convergence. */
export function fanoutRoundsTable(result) {
  return [
    '| Instances (processes) | lag p50 / p99 (ms), median over instances | worst p99 (ms) | raw kafkajs p50 / p99 (ms) | CPU per record (µs) | CPU per instance (ms/s; idle) | broker egress (MB/s) | per instance (kB/s) | memory per instance (MB) | converged |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...[...result.rounds, result.again].map(
      (r) =>
        `| ${r.size} (${r.hosts.length})${r === result.again ? ', again' : ''} | ${n(r.lagP50ms)} / ${n(r.lagP99ms)} | ${n(r.worstLagP99ms)} | ${n(r.raw?.p50ms)} / ${n(r.raw?.p99ms)} | ${n(r.cpuUsPerRecord)} | ${n(r.cpuUsPerSecondPerInstance / 1000)}; ${n(r.idleCpuUsPerSecondPerInstance / 1000)} | ${n(r.brokerBytesPerSecond / 1e6, 2)} | ${n(r.bytesPerSecondPerInstance / 1e3)} | ${n(r.memoryBytesPerInstance / 1e6, 2)} | ${r.converged ? 'yes' : 'NO'} |`,
    ),
  ];
}

/** replicate, invalidate and a key filter side by side. */
export function fanoutControlsTable(result) {
  const base = result.controls[0];
  return [
    '| Instance | received (kB/s per instance) | CPU per record (µs) | memory per instance (MB) | as the oracle says |',
    '|---|---|---|---|---|',
    ...result.controls.map(
      (c) =>
        `| ${c.kind} | ${n(c.bytesPerSecondPerInstance / 1e3)} (${n(c.bytesPerSecondPerInstance / base.bytesPerSecondPerInstance, 2)}x) | ${n(c.cpuUsPerRecord)} (${n(c.cpuUsPerRecord / base.cpuUsPerRecord, 2)}x) | ${n(c.memoryBytesPerInstance / 1e6, 2)} (${n(c.memoryBytesPerInstance / base.memoryBytesPerInstance, 2)}x) | ${c.converged ? 'yes' : 'NO'} |`,
    ),
  ];
}

/** The capacity model's predictions against the measurements. */
export function fanoutModelTable(result) {
  return [
    '| Instances | egress predicted / measured (MB/s) | ratio | CPU per instance predicted / measured (ms/s) | ratio | memory per instance predicted / measured (MB) | ratio |',
    '|---|---|---|---|---|---|---|',
    ...result.model.map(
      (m) =>
        `| ${m.instances}${m.calibration ? ' (constants taken here)' : ''} | ${n(m.egressBytesPerSecond / 1e6, 2)} / ${n(m.measured.egressBytesPerSecond / 1e6, 2)} | ${n(m.ratios.egress, 2)} | ${n(m.cpuUsPerSecondPerInstance / 1000)} / ${n(m.measured.cpuUsPerSecondPerInstance / 1000)} | ${n(m.ratios.cpu, 2)} | ${n(m.memoryBytesPerInstance / 1e6, 2)} / ${n(m.measured.memoryBytesPerInstance / 1e6, 2)} | ${n(m.ratios.memory, 2)} |`,
    ),
  ];
}
