// 14. The sidecar against redis-server, and its replication lag.
// Throughput: redis-benchmark's SET and GET (requests per second, 50 clients, without pipelining
// and with pipelines of 16) against a sidecar in this process and against two redis-servers
// started here, on loopback, in interleaved rounds; the second redis-server is the A/A side that
// gives the noise band. The sidecar's cache uses the loopback log, as the other in-process
// scenarios do: what is measured is the Redis protocol front, not Kafka. With CPU pinning (bench/
// run.mjs), this process (so the sidecar) and both redis-servers share one CPU and
// redis-benchmark runs on another, so each server has one core, as redis-server uses one.
// Lag: SETs at a steady rate through a sidecar on the Kafka broker until a Node.js instance (a
// peer process, JSON codec) sees each value; p50 and p99 per round, median over rounds.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { silentLogger } from '@nearcache/core';
import { startSidecar } from '@nearcache/sidecar';
import { freePort } from '../../scripts/lib/shared.mjs';
import { ensureSystemPackages, hasCommand } from '../../scripts/lib/system-packages.mjs';
import {
  BROKERS,
  QUICK,
  check,
  log,
  loopbackLog,
  median,
  noise,
  report,
  roundOrder,
  roundRatios,
  sleep,
  startPeer,
  summarize,
  tick,
  uniqueTopic,
  verdictFields,
  wallMs,
} from '../lib.mjs';

const run = promisify(execFile);
const ROUNDS = QUICK ? 2 : 5;
const CLIENTS = 50;
/** Requests per redis-benchmark test, by pipeline: a pipelined test is that much faster. */
const REQUESTS = QUICK ? { 1: 10_000, 16: 50_000 } : { 1: 20_000, 16: 100_000 };
const PIPELINES = [1, 16];
const LAG_ROUNDS = QUICK ? 2 : 3;
const LAG_N = QUICK ? 1000 : 2000;
const LAG_RATE = 500;
const TARGET = 0.5;

// Pinning, as bench/run.mjs set it up: this process runs on BENCH_MAIN_CPU; redis-benchmark gets
// the first other CPU of BENCH_PEER_CPUS.
const MAIN_CPU = process.env.BENCH_MAIN_CPU;
const BENCH_CPU = (process.env.BENCH_PEER_CPUS ?? '').split(',').find((cpu) => cpu !== '' && cpu !== MAIN_CPU);
const pinned = MAIN_CPU !== undefined && BENCH_CPU !== undefined;
const pinning = pinned
  ? `taskset: the sidecar (this process) and both redis-servers on CPU ${MAIN_CPU}, redis-benchmark on CPU ${BENCH_CPU}`
  : 'not pinned (no CPU pinning from bench/run.mjs)';
const withCpu = (cpu, command, args) => (pinned ? ['taskset', ['-c', cpu, command, ...args]] : [command, args]);

/** Requests per second of `op` (set or get), from redis-benchmark's CSV. */
async function benchmark(port, op, pipeline) {
  const [command, args] = withCpu(BENCH_CPU, 'redis-benchmark', [
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-t',
    op,
    '-n',
    String(REQUESTS[pipeline]),
    '-c',
    String(CLIENTS),
    '-P',
    String(pipeline),
    '-d',
    '200',
    '-r',
    '10000',
    '--csv',
  ]);
  const { stdout } = await run(command, args, { timeout: 300_000 });
  for (const line of stdout.split('\n')) {
    const [name, value] = line.split(',').map((cell) => cell.replaceAll('"', ''));
    if (name === op.toUpperCase() && Number(value) > 0) return Number(value);
  }
  throw new Error(`redis-benchmark printed no ${op.toUpperCase()} figure: ${stdout.slice(0, 300)}`);
}

function connectable(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.end();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/** A redis-server on a free loopback port, on this process's CPU, without persistence. */
async function startRedis() {
  const port = await freePort();
  const [command, args] = withCpu(MAIN_CPU, 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  const child = spawn(command, args, { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  while (!(await connectable(port))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error('redis-server did not start');
    await sleep(100);
  }
  return {
    port,
    pid: child.pid,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', resolve);
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      }),
  };
}

const TICK_US = 1e6 / 100; // USER_HZ, 100 on Linux
/** CPU time (user + system) of process `pid` in µs, from /proc (Linux), or undefined elsewhere. */
function processCpuUs(pid) {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_US;
  } catch {
    return undefined;
  }
}
const ownCpuUs = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

/** RESP for `SET key value`. */
function setCommand(key, value) {
  const k = Buffer.byteLength(key);
  const v = Buffer.byteLength(value);
  return `*3\r\n$3\r\nSET\r\n$${k}\r\n${key}\r\n$${v}\r\n${value}\r\n`;
}

/**
 * `n` SETs at `rate` per second on one connection to the sidecar; the wall-clock time each was
 * written. Resolves once every reply arrived (each `+OK`).
 */
async function writePaced(port, prefix, n, rate) {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let oks = 0;
  let text = '';
  const done = new Promise((resolve, reject) => {
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      let at;
      while ((at = text.indexOf('\r\n')) >= 0) {
        const line = text.slice(0, at);
        text = text.slice(at + 2);
        if (line !== '+OK') return reject(new Error(`sidecar answered ${line}`));
        if (++oks === n) resolve();
      }
    });
    socket.on('error', reject);
  });
  const sent = new Array(n);
  const start = wallMs() + 5;
  const interval = 1000 / rate;
  for (let i = 0; i < n;) {
    const wait = start + i * interval - wallMs();
    if (wait > 1) await sleep(Math.floor(wait));
    else if (wait > 0) await tick();
    while (i < n && start + i * interval <= wallMs()) {
      sent[i] = wallMs();
      socket.write(setCommand(`${prefix}${i}`, `value ${i} ${'x'.repeat(180)}`));
      i++;
    }
  }
  await done;
  socket.destroy();
  return sent;
}

let skipped;
// redis-benchmark comes with redis-tools, redis-server with redis-server: installed with apt-get
// when missing (as root).
await ensureSystemPackages(
  [
    { name: 'redis-tools', present: () => hasCommand('redis-benchmark') },
    { name: 'redis-server', present: () => hasCommand('redis-server') },
  ],
  (message) => log(message),
);
if (!hasCommand('redis-benchmark')) skipped = 'skipped: redis-benchmark not installed (Debian package redis-tools)';
else if (!hasCommand('redis-server')) skipped = 'skipped: redis-server not installed (Debian package redis-server)';

// BENCH_SIDECAR_BASELINE: the path of another build of the sidecar (its dist/index.js), measured
// as one more side in the same rounds, to compare a change with the code before it.
const BASELINE = process.env.BENCH_SIDECAR_BASELINE;
const SIDES = ['sidecar', 'redis', 'redis2', ...(BASELINE ? ['baseline'] : [])];
const CASES = PIPELINES.flatMap((pipeline) => ['get', 'set'].map((op) => ({ op, pipeline, name: `${op.toUpperCase()} P${pipeline}` })));
const perSide = () => Object.fromEntries(SIDES.map((side) => [side, Object.fromEntries(CASES.map((c) => [c.name, []]))]));
/** Requests per second, and CPU µs per request of the server, per side, per case, per round. */
const rounds = perSide();
const cpu = perSide();
if (!skipped) {
  const cacheOptions = () => ({ topic: 'bench.sidecar', log: loopbackLog(), maxBytes: 0, logger: silentLogger });
  const sidecar = await startSidecar({ port: 0, cache: cacheOptions() });
  const baseline = BASELINE ? await (await import(pathToFileURL(BASELINE).href)).startSidecar({ port: 0, cache: cacheOptions() }) : undefined;
  const redis = await startRedis();
  const redis2 = await startRedis();
  // Both sidecars run in this process: only the one under test has work while it is measured.
  const servers = {
    sidecar: { port: sidecar.address?.port, cpuUs: ownCpuUs },
    redis: { port: redis.port, cpuUs: () => processCpuUs(redis.pid) },
    redis2: { port: redis2.port, cpuUs: () => processCpuUs(redis2.pid) },
    ...(baseline ? { baseline: { port: baseline.address?.port, cpuUs: ownCpuUs } } : {}),
  };
  try {
    log(`sidecar scenario: ${pinning}${BASELINE ? `; baseline: ${BASELINE}` : ''}`);
    // A warm-up test per side, not measured (the sidecar's JIT, the servers' first allocations).
    for (const side of SIDES) for (const op of ['set', 'get']) await benchmark(servers[side].port, op, 1);
    for (let r = 0; r < ROUNDS; r++) {
      for (const side of roundOrder(r, SIDES)) {
        // SET first: GET then reads keys that exist.
        for (const c of [...CASES].sort((a, b) => a.pipeline - b.pipeline || (a.op === 'set' ? -1 : 1))) {
          const cpu0 = servers[side].cpuUs();
          const rps = await benchmark(servers[side].port, c.op, c.pipeline);
          const cpu1 = servers[side].cpuUs();
          rounds[side][c.name].push(rps);
          if (cpu0 !== undefined && cpu1 !== undefined) cpu[side][c.name].push((cpu1 - cpu0) / REQUESTS[c.pipeline]);
        }
        const line = CASES.map((c) => `${c.name} ${rounds[side][c.name].at(-1).toFixed(0)}/s ${cpu[side][c.name].at(-1)?.toFixed(1) ?? '-'} µs`);
        log(`sidecar round ${r} ${side}: ${line.join(', ')} (requests per second, CPU per request)`);
      }
    }
  } finally {
    await Promise.allSettled([sidecar.close(), baseline?.close(), redis.stop(), redis2.stop()]);
  }
}

// Replication lag, sidecar write -> Node.js instance: needs the broker.
let lag;
if (!skipped && BROKERS) {
  const topic = uniqueTopic('sidecar-lag');
  const sidecar = await startSidecar({ port: 0, cache: { topic, kafka: { brokers: BROKERS.split(',') }, logger: silentLogger } });
  const reader = await startPeer('sidecar-lag-reader');
  try {
    await reader.call('openOurs', { topic, watch: true, codec: 'json' });
    const perRound = [];
    const all = [];
    let lost = 0;
    // A warm-up round, not measured (the broker's JIT, the connections' first requests).
    await writePaced(sidecar.address.port, 'warm:', LAG_N, LAG_RATE);
    await sleep(1000);
    await reader.call('arrivals', { prefix: 'warm:', n: LAG_N });
    for (let r = 0; r < LAG_ROUNDS; r++) {
      const prefix = `r${r}:`;
      const sent = await writePaced(sidecar.address.port, prefix, LAG_N, LAG_RATE);
      await sleep(1000);
      const seen = await reader.call('arrivals', { prefix, n: LAG_N });
      const round = [];
      for (let i = 0; i < LAG_N; i++) {
        if (seen[i] === null) lost++;
        else round.push(seen[i] - sent[i]);
      }
      all.push(...round);
      const s = summarize(round);
      perRound.push(s);
      log(`sidecar lag round ${r}: p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms, max ${s.max.toFixed(1)} ms`);
    }
    const total = summarize(all);
    lag = {
      p50ms: median(perRound.map((s) => s.p50)),
      p99ms: median(perRound.map((s) => s.p99)),
      maxms: total.max,
      n: total.n,
      lost,
      rounds: perRound.map((s) => ({ p50ms: s.p50, p99ms: s.p99 })),
    };
  } finally {
    await reader.stop();
    await sidecar.close();
  }
}

const results = {};
const checks = [];
const ratios = {};
const hasCpu = (side, name) => cpu[side][name].length === ROUNDS;
if (!skipped) {
  for (const side of SIDES) {
    for (const c of CASES) {
      results[`${side} ${c.name}`] = {
        rps: median(rounds[side][c.name]),
        rounds: rounds[side][c.name],
        cpuUsPerRequest: hasCpu(side, c.name) ? median(cpu[side][c.name]) : null,
      };
    }
  }
  for (const c of CASES) {
    const ratio = median(rounds.sidecar[c.name]) / median(rounds.redis[c.name]);
    const aa = noise({ aa: median(rounds.redis2[c.name]) / median(rounds.redis[c.name]), rounds: roundRatios(rounds.redis2[c.name], rounds.redis[c.name]) });
    // CPU per request, redis-server's over the sidecar's: what the throughput ratio would be if
    // both were bound by their CPU alone. Less moved by other processes than requests per second.
    const cpuRatio = hasCpu('sidecar', c.name) && hasCpu('redis', c.name) ? median(cpu.redis[c.name]) / median(cpu.sidecar[c.name]) : null;
    const cpuAa = hasCpu('redis2', c.name) && cpuRatio !== null ? median(cpu.redis[c.name]) / median(cpu.redis2[c.name]) : null;
    const vsBaseline = BASELINE ? median(rounds.sidecar[c.name]) / median(rounds.baseline[c.name]) : undefined;
    const cpuVsBaseline = BASELINE && hasCpu('baseline', c.name) ? median(cpu.baseline[c.name]) / median(cpu.sidecar[c.name]) : undefined;
    ratios[c.name] = { ratio, aa: aa.aa, band: aa.band(ratio), noise: aa.text, cpuRatio, cpuAa, vsBaseline, cpuVsBaseline };
    // The target is on GET without pipelining; the others are reported with their bands.
    if (c.name === 'GET P1') checks.push(check('GET', ratio, '>=', TARGET, aa));
    log(
      `sidecar ${c.name}: ${ratio.toFixed(2)}x redis-server's requests per second (A/A ${aa.aa.toFixed(2)}x, band ${aa
        .band(ratio)
        .map((v) => v.toFixed(2))
        .join('..')}); CPU per request ${cpuRatio === null ? '-' : `${cpuRatio.toFixed(2)}x (A/A ${cpuAa?.toFixed(2)}x)`}${
        BASELINE ? `; vs baseline: ${vsBaseline.toFixed(2)}x requests per second, ${cpuVsBaseline?.toFixed(2) ?? '-'}x CPU per request` : ''
      }`,
    );
  }
}
const x = (name) => `${ratios[name].ratio.toFixed(2)}x`;
const band = (name) => `${ratios[name].band.map((v) => v.toFixed(2)).join('..')} (A/A ${ratios[name].aa.toFixed(2)})`;
const cpuText = ratios['GET P1']?.cpuRatio
  ? `; CPU per request GET ${ratios['GET P1'].cpuRatio.toFixed(2)}x (P16 ${ratios['GET P16'].cpuRatio?.toFixed(2)}x)`
  : '';
const lagText = lag ? `; lag to a Node.js instance p50 ${lag.p50ms.toFixed(1)} ms, p99 ${lag.p99ms.toFixed(1)} ms` : '; lag not measured (no broker)';
report({
  scenario: 'sidecar',
  title: 'sidecar vs redis-server under redis-benchmark (GET and SET, pipelines 1 and 16), and its replication lag',
  method: `redis-benchmark -t set, then -t get, -c ${CLIENTS} -d 200 -r 10000 --csv, -n ${REQUESTS[1]} without pipelining and -n ${REQUESTS[16]} with -P 16, against the sidecar (cache on the loopback log), a redis-server and a second redis-server (the A/A side)${BASELINE ? ' and a baseline build of the sidecar' : ''}, ${ROUNDS} interleaved rounds, medians of the rounds; beside requests per second, each server's CPU time per request (process.cpuUsage, /proc/<pid>/stat), whose ratio (redis-server's over the sidecar's) is what the throughput ratio would be if both were bound by their CPU only; CPU pinning: ${pinning}. Lag: ${LAG_ROUNDS} rounds of ${LAG_N} SETs at ${LAG_RATE}/s on one connection to a sidecar on the broker, until a Node.js instance (JSON codec, another process) sees each value; p50 and p99 per round, median over rounds`,
  ratio: skipped ? null : ratios['GET P1'].ratio,
  ratioLabel: 'sidecar GET rps / redis-server GET rps (no pipelining)',
  measured: skipped ? skipped : `GET ${x('GET P1')} (P16 ${x('GET P16')}), SET ${x('SET P1')} (P16 ${x('SET P16')})${cpuText}${lagText}`,
  target: `GET (no pipelining) >= ${TARGET}x redis-server; the rest reported`,
  ...(skipped ? { pass: null, skipped } : verdictFields(checks)),
  ...(skipped ? {} : { band: `GET ${band('GET P1')}; GET P16 ${band('GET P16')}; SET ${band('SET P1')}; SET P16 ${band('SET P16')}` }),
  pinning,
  ratios,
  results,
  lag: lag ?? null,
});
