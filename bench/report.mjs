// Writes docs/benchmarks.md and docs/benchmarks/*.svg from a full run's report. The plots are
// plain SVG written here (horizontal bar charts), so the benchmark needs no plotting package.
import fs from 'node:fs';
import path from 'node:path';
import { fanoutControlsTable, fanoutModelTable, fanoutRoundsTable } from './fanout-report.mjs';

const COLORS = { ours: '#2f6fdf', raw: '#9aa3ad', other: '#d08a2c' };
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A horizontal bar chart: bars [{ label, value, kind: 'ours'|'raw'|'other' }]. */
export function barChart({ title, unit, bars, log = false }) {
  const width = 760,
    left = 250,
    right = 110,
    barH = 18,
    gap = 8,
    top = 40;
  const height = top + bars.length * (barH + gap) + 30;
  const max = Math.max(...bars.map((b) => b.value));
  const min = Math.min(...bars.map((b) => b.value).filter((v) => v > 0));
  const floor = log ? 10 ** Math.floor(Math.log10(min)) : 0;
  const scale = (v) => {
    if (!(v > 0)) return 0;
    if (!log) return ((width - left - right) * v) / max;
    return ((width - left - right) * (Math.log10(v) - Math.log10(floor))) / (Math.log10(max) - Math.log10(floor) || 1);
  };
  const fmt = (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
  const rows = bars.map((b, i) => {
    const y = top + i * (barH + gap);
    const w = Math.max(1, scale(b.value));
    return (
      `<text x="${left - 8}" y="${y + barH - 5}" text-anchor="end">${esc(b.label)}</text>` +
      `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${COLORS[b.kind] ?? COLORS.other}"/>` +
      `<text x="${left + w + 6}" y="${y + barH - 5}">${fmt(b.value)} ${esc(unit)}</text>`
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>
${rows.join('\n')}
<text x="${left}" y="${height - 8}" fill="#555">${log ? 'log scale; ' : ''}blue: nearcache, grey: raw dependency, orange: other</text>
</svg>
`;
}

const f = (v, d = 2) => (typeof v === 'number' ? v.toFixed(d) : '-');
/**
 * A scenario's result: PASS, MISS or "within noise" (its checks, bench/lib.mjs), SKIPPED; results
 * of scenarios without checks have only `pass`.
 */
export function verdictOf(r) {
  if (r.pass === null) return 'SKIPPED';
  if (r.verdict) return r.verdict;
  return r.pass ? 'PASS' : r.pass === false ? 'MISS' : 'SKIPPED';
}
const verdict = verdictOf;

/**
 * The `http` scenario's tables at one load level (`c1`: one connection, `c10`: 10 connections), as
 * markdown rows. `httpTable`: requests per second, latency and server CPU of each server (the A/A
 * copy last); `httpRatioTable`: nearcache's figures over cache-manager's, each with its noise band
 * (the A/A copy over cache-manager in memory, same statistic, same rounds). docs/benchmarks.md,
 * docs/faq.md and the README show these tables.
 */
export function httpTable(r, levelId) {
  const { results } = r.levels[levelId];
  const rows = [
    '| Server (GET /products/:id) | req/s | p50 (ms) | p99 (ms) | server CPU per request (µs) | share of its CPU used | req/s vs cache-manager in-memory |',
    '|---|---|---|---|---|---|---|',
  ];
  const memory = results['cm-memory']?.rps;
  const ids = [...Object.keys(results).filter((id) => id !== 'cm-memory-aa'), 'cm-memory-aa'].filter((id) => results[id]);
  for (const id of ids) {
    const s = results[id];
    const busy = typeof s.cpuBusy === 'number' ? `${(s.cpuBusy * 100).toFixed(0)}%` : '-';
    rows.push(`| ${s.label} | ${f(s.rps, 0)} | ${f(s.p50ms)} | ${f(s.p99ms)} | ${f(s.cpuUsPerRequest, 0)} | ${busy} | ${f(s.rps / memory)}x |`);
  }
  return rows;
}

export function httpRatioTable(r, levelId) {
  const level = r.levels[levelId];
  const others = [
    ['Memory', 'cm in-memory'],
    ['Redis', 'cm Redis'],
  ].filter(([suffix]) => Object.values(level.ratios).some((q) => q[`vs${suffix}`] !== undefined));
  const columns = Object.entries(level.ratios).flatMap(([id, q]) =>
    others.map(([suffix, name]) => ({ q, suffix, title: `${level.results[id].label.replace(/^nearcache, (\w+).*$/, '$1')} / ${name}` })),
  );
  const cell = (value, band) => (typeof value === 'number' ? `${f(value)}x${band ? ` (${band.map((v) => f(v)).join('..')})` : ''}` : '-');
  const rows = [`| nearcache / cache-manager (band) | ${columns.map((c) => c.title).join(' | ')} | A/A |`, `|---|${columns.map(() => '---|').join('')}---|`];
  for (const [stat, label] of [
    ['rps', 'req/s (higher is better)'],
    ['p50', 'p50 latency (lower is better)'],
    ['p99', 'p99 latency (lower is better)'],
    ['cpu', 'server CPU per request (lower is better)'],
  ]) {
    const cells = columns.map(({ q, suffix }) => {
      const k = stat === 'rps' ? `vs${suffix}` : `${stat}Vs${suffix}`;
      return cell(q[k], q[`band${k[0].toUpperCase()}${k.slice(1)}`]);
    });
    rows.push(`| ${label} | ${cells.join(' | ')} | ${cell(level.aa?.[stat]?.ratio)} |`);
  }
  return rows;
}

/** The bar chart of the `http` scenario: requests per second of every server at both load levels. */
export function httpChart(r) {
  const short = {
    'nearcache-nest': 'nearcache, Nest HIT',
    'nearcache-express': 'nearcache, Express HIT',
    'cm-memory': 'cache-manager, in-memory HIT',
    'cm-redis': 'cache-manager, Redis HIT',
    uncached: 'uncached (20 ms source)',
  };
  return {
    title: 'HTTP req/s, GET /products/:id, at 1 and 10 connections (higher is better)',
    unit: 'req/s',
    bars: Object.values(r.levels).flatMap((level) =>
      Object.entries(level.results)
        .filter(([id]) => id !== 'cm-memory-aa')
        .map(([id, s]) => ({
          label: `${level.connections} conn: ${short[id] ?? s.label}`,
          value: s.rps,
          kind: id.startsWith('nearcache') ? 'ours' : 'other',
        })),
    ),
  };
}

export function writeDocs(report, root) {
  const docs = path.join(root, 'docs');
  const plots = path.join(docs, 'benchmarks');
  fs.mkdirSync(plots, { recursive: true });
  const by = Object.fromEntries(report.results.map((r) => [r.scenario, r]));
  const m = report.machine;
  const out = [];
  const plot = (name, chart) => {
    fs.writeFileSync(path.join(plots, `${name}.svg`), barChart(chart));
    out.push('', `![${chart.title}](benchmarks/${name}.svg)`);
  };

  out.push('# Benchmarks', '');
  out.push(
    'Every number here is a ratio against the raw dependency measured in the same run, on the same machine, in the same process or on the same broker, with the compared implementations interleaved in rounds. Absolute times move with the machine; the ratios are what the targets are about. The method is in [bench/README.md](../bench/README.md); `npm run bench` regenerates this page.',
    '',
    '**Noise band.** Each scenario also measures its raw side against a second copy of itself (an A/A comparison), interleaved in the same rounds. On a quiet machine an A/A figure reads "no difference" (a ratio of 1.00, a difference of 0); how far it strays is how far noise alone moves a figure in this run. Each figure is shown with a band: its value, give or take the larger of the A/A figure\'s own distance from "no difference" and twice the standard error of a median of the rounds, estimated from the spread of the A/A rounds (for ratios, worked out on their logarithms, so the band is a factor). A figure whose band lies wholly on the right side of its target is a PASS, wholly on the wrong side a MISS; a band that straddles the target reads **within noise**: this run cannot tell. Limits that are not comparisons (a p99 in ms, a ready time) and yes/no facts (converged, exact, nothing lost) have no band.',
  );
  out.push('', '## Machine', '');
  out.push(`| | |`, `|---|---|`);
  out.push(
    `| CPU | ${m.cpu} |`,
    `| Cores | ${m.cores} |`,
    `| Memory | ${m.memoryGiB} GiB |`,
    `| OS | ${m.os} |`,
    `| Node.js | ${m.node} |`,
    `| Kafka | ${m.kafka} |`,
    `| Redis | ${m.redis} |`,
    `| Load average at start | ${m.loadAverageAtStart.join(', ')} |`,
    ...(m.loadAverageAtEnd ? [`| Load average at end | ${m.loadAverageAtEnd.join(', ')} |`] : []),
    `| CPU pinning | ${m.pinning ?? 'not recorded'} |`,
    `| Date | ${m.date} |`,
    `| Duration | ${report.seconds.toFixed(0)} s${report.quick ? ' (quick mode)' : ''} |`,
  );
  out.push('', '## Summary', '', '| Scenario | Measured | Noise band (A/A) | Target | Result |', '|---|---|---|---|---|');
  for (const r of report.results)
    for (const line of r.lines ?? [r]) {
      out.push(
        `| ${line.title ?? r.title ?? r.scenario} | ${line.measured ?? f(line.ratio)} | ${line.band ?? 'not measured'} | ${line.target} | ${verdict(line)} |`,
      );
    }
  if (report.quick) out.push('', 'Quick mode: fewer rounds and smaller sizes; the figures are indicative only.');

  const get = by.get;
  if (get) {
    out.push(
      '',
      '## 1. get hits',
      '',
      get.method,
      '',
      '| Keys | Keys drawn | raw lru-cache (M ops/s) | nearcache (M ops/s) | throughput ratio | A/A | raw p99 (ns) | nearcache p99 (ns) | p99 ratio (raw/ours) | A/A |',
      '|---|---|---|---|---|---|---|---|---|---|',
    );
    for (const c of get.cases)
      out.push(
        `| ${c.keys.toLocaleString('en')} | ${c.dist} | ${f(c.raw.opsPerSec / 1e6)} | ${f(c.ours.opsPerSec / 1e6)} | ${f(c.throughputRatio)} | ${f(c.aa?.throughputRatio)} | ${f(c.raw.p99ns, 0)} | ${f(c.ours.p99ns, 0)} | ${f(c.p99Ratio)} | ${f(c.aa?.p99Ratio)} |`,
      );
    plot('get', {
      title: 'get hits, millions per second (higher is better)',
      unit: 'M/s',
      bars: get.cases.flatMap((c) => [
        { label: `lru-cache ${c.keys.toLocaleString('en')} ${c.dist}`, value: c.raw.opsPerSec / 1e6, kind: 'raw' },
        { label: `nearcache ${c.keys.toLocaleString('en')} ${c.dist}`, value: c.ours.opsPerSec / 1e6, kind: 'ours' },
      ]),
    });
  }
  const set = by.set;
  if (set) {
    // CPU time (process.cpuUsage) beside the wall time: results written before it was measured have none.
    const cpu = (ns) => (typeof ns === 'number' ? f(ns, 0) : '-');
    out.push(
      '',
      '## 2. set',
      '',
      set.method,
      '',
      '| | ns per set | CPU ns per set |',
      '|---|---|---|',
      `| raw: lru-cache set + JSON.stringify + Buffer.from | ${f(set.raw.nsPerSet, 0)} | ${cpu(set.raw.cpuNsPerSet)} |`,
      `| nearcache set (apply, encode, enqueue) | ${f(set.ours.nsPerSet, 0)} | ${cpu(set.ours.cpuNsPerSet)} |`,
      `| difference | ${f(set.extraUs * 1000, 0)} | ${cpu(set.extraCpuUs === undefined ? undefined : set.extraCpuUs * 1000)} |`,
      ...(set.aa ? [`| A/A: a second raw lru-cache, its difference from the first | ${f(set.aa.extraUs * 1000, 0)} | |`] : []),
    );
    plot('set', {
      title: 'set cost, ns (lower is better)',
      unit: 'ns',
      bars: [
        { label: 'lru-cache set + encode', value: set.raw.nsPerSet, kind: 'raw' },
        { label: 'nearcache set', value: set.ours.nsPerSet, kind: 'ours' },
      ],
    });
  }
  const lag = by.lag;
  if (lag) {
    out.push(
      '',
      '## 3. Replication lag',
      '',
      lag.method,
      '',
      '| | p50 (ms) | p99 (ms) | p99 over all samples (ms) | max (ms) | samples | lost |',
      '|---|---|---|---|---|---|---|',
      `| raw kafkajs produce -> consume | ${f(lag.raw.p50ms)} | ${f(lag.raw.p99ms)} | ${f(lag.raw.allSamples?.p99ms)} | ${f(lag.raw.maxms)} | ${lag.raw.n} | ${lag.raw.lost} |`,
      `| nearcache set on A -> visible on B | ${f(lag.ours.p50ms)} | ${f(lag.ours.p99ms)} | ${f(lag.ours.allSamples?.p99ms)} | ${f(lag.ours.maxms)} | ${lag.ours.n} | ${lag.ours.lost} |`,
      ...(lag.aa ? [`| A/A: raw kafkajs again | ${f(lag.aa.raw2.p50ms)} | ${f(lag.aa.raw2.p99ms)} | | | | ${lag.aa.raw2.lost} |`] : []),
    );
    plot('lag', {
      title: 'replication lag at 1,000 writes/s, ms (lower is better)',
      unit: 'ms',
      bars: [
        { label: 'kafkajs p50', value: lag.raw.p50ms, kind: 'raw' },
        { label: 'nearcache p50', value: lag.ours.p50ms, kind: 'ours' },
        { label: 'kafkajs p99', value: lag.raw.p99ms, kind: 'raw' },
        { label: 'nearcache p99', value: lag.ours.p99ms, kind: 'ours' },
      ],
    });
  }
  const token = by.token;
  if (token) {
    out.push(
      '',
      '## Session token wait',
      '',
      token.method,
      '',
      '| | p50 (ms) | p99 (ms) | lost |',
      '|---|---|---|---|',
      `| raw kafkajs produce -> consume | ${f(token.raw.p50ms)} | ${f(token.raw.p99ms)} | ${token.raw.lost} |`,
      `| B's wait: token arrived -> catchUpTo resolved | ${f(token.ours.readerWait.p50ms)} | ${f(token.ours.readerWait.p99ms)} | ${token.ours.lost} |`,
      `| A's wait for the acknowledgement + B's wait | ${f(token.ours.p50ms)} | ${f(token.ours.p99ms)} | ${token.ours.lost} |`,
      `| (not counted) the token's trip A -> B | ${f(token.ours.tokenTrip.p50ms)} | ${f(token.ours.tokenTrip.p99ms)} | |`,
      ...(token.ours.overrun
        ? [`| B's wait past the arrival of the record it waits for (overrun) | ${f(token.ours.overrun.p50ms)} | ${f(token.ours.overrun.p99ms)} | |`]
        : []),
      ...(token.aa ? [`| A/A: raw kafkajs again | ${f(token.aa.raw2.p50ms)} | ${f(token.aa.raw2.p99ms)} | ${token.aa.raw2.lost} |`] : []),
    );
  }
  const wrap = by.wrap;
  if (wrap) {
    out.push(
      '',
      '## wrap hits',
      '',
      wrap.method,
      '',
      '| Keys | raw cache-aside (M calls/s) | wrap(k, f) (M calls/s) | ratio | wrap(k, f, { ttl }) (M calls/s) | ratio | A/A |',
      '|---|---|---|---|---|---|---|',
    );
    for (const c of wrap.cases)
      out.push(
        `| ${c.keys.toLocaleString('en')} | ${f(c.raw.opsPerSec / 1e6)} | ${f(c.ours.opsPerSec / 1e6)} | ${f(c.ratio)} | ${f(c.oursTtl.opsPerSec / 1e6)} | ${f(c.ttlRatio)} | ${f(c.aa.ratio)} |`,
      );
    plot('wrap', {
      title: 'wrap hits, millions of awaited calls per second (higher is better)',
      unit: 'M/s',
      bars: wrap.cases.flatMap((c) => [
        { label: `lru-cache cache-aside ${c.keys.toLocaleString('en')}`, value: c.raw.opsPerSec / 1e6, kind: 'raw' },
        { label: `nearcache wrap ${c.keys.toLocaleString('en')}`, value: c.ours.opsPerSec / 1e6, kind: 'ours' },
      ]),
    });
  }
  const tput = by.throughput;
  if (tput) {
    out.push(
      '',
      '## 4. Replicated write throughput',
      '',
      tput.method,
      '',
      '| | writes/s | converged |',
      '|---|---|---|',
      `| raw kafkajs, batches of 1,000, acks -1 | ${f(tput.raw.writesPerSec, 0)} | |`,
      `| nearcache set ... flush() | ${f(tput.ours.writesPerSec, 0)} | ${tput.ours.converged ? 'yes' : 'NO'} (follower caught up ${tput.ours.convergenceAfterFlushMs.map((v) => f(v, 0)).join(', ')} ms after flush) |`,
    );
    plot('throughput', {
      title: 'replicated writes per second (higher is better)',
      unit: '/s',
      bars: [
        { label: 'kafkajs batched produce', value: tput.raw.writesPerSec, kind: 'raw' },
        { label: 'nearcache', value: tput.ours.writesPerSec, kind: 'ours' },
      ],
    });
  }
  const boot = by.bootstrap;
  if (boot) {
    out.push(
      '',
      '## 5. Cold bootstrap',
      '',
      boot.method,
      '',
      `| ${boot.records.toLocaleString('en')} records, ${f(boot.valueBytes, 0)} B values | seconds | records/s |`,
      '|---|---|---|',
      `| raw kafkajs drain, keeping nothing (reference) | ${f(boot.raw.ms / 1000)} | ${f(boot.raw.recordsPerSec, 0)} |`,
      ...(boot.rawLru
        ? [`| raw kafkajs drain keeping each value in an lru-cache (the baseline) | ${f(boot.rawLru.ms / 1000)} | ${f(boot.rawLru.recordsPerSec, 0)} |`]
        : []),
      `| nearcache until ready() | ${f(boot.ours.ms / 1000)} | ${f(boot.ours.recordsPerSec, 0)} |`,
    );
    plot('bootstrap', {
      title: 'cold bootstrap, thousand records per second (higher is better)',
      unit: 'k/s',
      bars: [
        { label: 'kafkajs drain', value: boot.raw.recordsPerSec / 1000, kind: 'raw' },
        ...(boot.rawLru ? [{ label: 'drain + lru-cache', value: boot.rawLru.recordsPerSec / 1000, kind: 'other' }] : []),
        { label: 'nearcache ready()', value: boot.ours.recordsPerSec / 1000, kind: 'ours' },
      ],
    });
  }
  const mem = by.memory;
  if (mem) {
    out.push(
      '',
      '## 6. Memory',
      '',
      mem.method,
      '',
      '| | bytes of heap per entry |',
      '|---|---|',
      `| raw lru-cache | ${f(mem.raw.bytesPerEntry, 0)} |`,
      `| nearcache | ${f(mem.ours.bytesPerEntry, 0)} |`,
    );
    plot('memory', {
      title: `heap per entry, ${mem.entries.toLocaleString('en')} entries (lower is better)`,
      unit: 'B',
      bars: [
        { label: 'lru-cache', value: mem.raw.bytesPerEntry, kind: 'raw' },
        { label: 'nearcache', value: mem.ours.bytesPerEntry, kind: 'ours' },
      ],
    });
  }
  const remote = by.remote;
  if (remote) {
    out.push('', '## 7. Against Redis and other caches', '', remote.method, '', '| | get p50 (ns) | get p99 (ns) | p50 vs nearcache |', '|---|---|---|---|');
    const names = {
      ours: 'nearcache get',
      'cache-manager': 'cache-manager (default in-memory store, as @nestjs/cache-manager)',
      bentocache: 'Bentocache (memory driver)',
      redis: 'Redis GET over loopback (node-redis)',
    };
    for (const [k, r] of Object.entries(remote.results)) out.push(`| ${names[k] ?? k} | ${f(r.p50ns, 0)} | ${f(r.p99ns, 0)} | ${f(r.vsOurs, 1)}x |`);
    if (remote.skipped) out.push('', `Redis: ${remote.skipped}.`);
    plot('remote', {
      title: 'get p50, ns (log scale, lower is better)',
      unit: 'ns',
      log: true,
      bars: Object.entries(remote.results).map(([k, r]) => ({ label: k === 'ours' ? 'nearcache' : k, value: r.p50ns, kind: k === 'ours' ? 'ours' : 'other' })),
    });
  }
  const mixed = by.mixed;
  if (mixed) {
    const ref = mixed.rawLru;
    out.push(
      '',
      '## 8. Reads under replication load',
      '',
      mixed.method,
      '',
      `| | nearcache get p99 (ns) |${ref ? ' raw lru-cache get p99 (ns), reference |' : ''}`,
      `|---|---|${ref ? '---|' : ''}`,
      `| read-only | ${f(mixed.readOnly.p99ns, 0)} |${ref ? ` ${f(ref.readOnlyP99ns, 0)} |` : ''}`,
      `| 10% writes + remote writes applying | ${f(mixed.load.p99ns, 0)} |${ref ? ` ${f(ref.loadP99ns, 0)} |` : ''}`,
      ...(ref ? [`| ratio | ${f(mixed.load.p99ns / mixed.readOnly.p99ns)}x | ${f(ref.loadP99ns / ref.readOnlyP99ns)}x |`] : []),
    );
    plot('mixed', {
      title: 'get p99, ns (lower is better)',
      unit: 'ns',
      bars: [
        { label: 'read-only', value: mixed.readOnly.p99ns, kind: 'raw' },
        { label: 'under replication load', value: mixed.load.p99ns, kind: 'ours' },
      ],
    });
  }
  const fanout = by.fanout;
  if (fanout?.rounds) {
    out.push(
      '',
      '## 9. Fan-out',
      '',
      fanout.method,
      '',
      ...fanoutRoundsTable(fanout),
      '',
      'Per-instance controls, side by side on one topic:',
      '',
      ...fanoutControlsTable(fanout),
      '',
      'The capacity model of [operations.md](operations.md#capacity-model) against the measurements:',
      '',
      ...fanoutModelTable(fanout),
    );
  }
  const sidecar = by.sidecar;
  if (sidecar?.ratios) {
    const r = sidecar.results;
    out.push(
      '',
      '## 10. The sidecar against redis-server',
      '',
      sidecar.method,
      '',
      '| | sidecar (requests/s) | redis-server (requests/s) | ratio | band (A/A) | sidecar CPU per request (µs) | redis-server CPU per request (µs) | CPU ratio (A/A) |',
      '|---|---|---|---|---|---|---|---|',
    );
    for (const [name, c] of Object.entries(sidecar.ratios)) {
      out.push(
        `| ${name} | ${f(r[`sidecar ${name}`].rps, 0)} | ${f(r[`redis ${name}`].rps, 0)} | ${f(c.ratio)}x | ${c.band.map((v) => f(v)).join('..')} (${f(c.aa)}) | ${f(r[`sidecar ${name}`].cpuUsPerRequest, 1)} | ${f(r[`redis ${name}`].cpuUsPerRequest, 1)} | ${f(c.cpuRatio)}x (${f(c.cpuAa)}) |`,
      );
    }
    if (sidecar.lag) {
      out.push(
        '',
        `Replication lag, a SET through the sidecar until a Node.js instance sees it: p50 ${f(sidecar.lag.p50ms, 1)} ms, p99 ${f(sidecar.lag.p99ms, 1)} ms (median of rounds), ${sidecar.lag.lost} lost.`,
      );
    }
    plot('sidecar', {
      title: 'requests per second under redis-benchmark (higher is better)',
      unit: '/s',
      bars: Object.keys(sidecar.ratios).flatMap((name) => [
        { label: `redis-server ${name}`, value: r[`redis ${name}`].rps, kind: 'other' },
        { label: `sidecar ${name}`, value: r[`sidecar ${name}`].rps, kind: 'ours' },
      ]),
    });
  }
  const httpResult = by.http;
  if (httpResult) {
    out.push('', '## 11. HTTP HITs under load', '', httpResult.method);
    for (const [id, level] of Object.entries(httpResult.levels))
      out.push('', `**${level.name}**`, '', ...httpTable(httpResult, id), '', ...httpRatioTable(httpResult, id));
    if (httpResult.skipped) out.push('', `${httpResult.skipped}.`);
    plot('http', httpChart(httpResult));
  }
  const notes = path.join(root, 'bench', 'NOTES.md');
  if (fs.existsSync(notes)) out.push('', fs.readFileSync(notes, 'utf8').trim());
  fs.writeFileSync(path.join(docs, 'benchmarks.md'), `${out.join('\n')}\n`);
}
