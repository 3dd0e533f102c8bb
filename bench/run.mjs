#!/usr/bin/env node
// `npm run bench [-- --quick] [--only <scenario>[,<scenario>]] [--write-docs] [--no-pin]`
// Builds the packages, starts a Kafka broker (unless KAFKA_BROKERS names one) and redis-server,
// runs every scenario in its own process (pinned to a CPU with taskset where the machine allows),
// prints one line per scenario (measured figure, noise band, target, PASS | MISS | within noise),
// writes bench/results/<timestamp>.json and latest.json, and on a full run (or with
// --write-docs) regenerates docs/benchmarks.md and its plots. Exits 0 when every scenario ran,
// whatever it measured; non-zero only when the benchmark itself failed.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { kafkaVersion, startCluster } from '../scripts/kafka/local-kafka.mjs';
import { freePort, sleep } from '../scripts/lib/shared.mjs';
import { verdictOf, writeDocs } from './report.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyIndex = args.indexOf('--only');
const only = onlyIndex >= 0 ? (args[onlyIndex + 1] ?? '').split(',').filter(Boolean) : undefined;
const writeDocsFlag = args.includes('--write-docs') || (!quick && !only);
const noPin = args.includes('--no-pin');
const say = (message) => process.stderr.write(`[bench] ${message}\n`);

/**
 * The registered scenarios, in the order they run: a file in bench/scenarios, the Node flags it
 * needs, and whether it needs the Kafka broker (`kafka`) or redis-server (`redis`). A new
 * scenario is a file there plus one line here (bench/README.md, "Adding a scenario").
 */
const SCENARIOS = [
  { name: 'get', file: 'get.mjs', flags: [] },
  { name: 'wrap', file: 'wrap.mjs', flags: [] },
  { name: 'set', file: 'set.mjs', flags: [] },
  { name: 'codec', file: 'codec.mjs', flags: [] },
  { name: 'memory', file: 'memory.mjs', flags: ['--expose-gc'] },
  { name: 'remote', file: 'remote.mjs', flags: [], redis: true },
  { name: 'lag', file: 'lag.mjs', flags: [], kafka: true },
  { name: 'token', file: 'token.mjs', flags: [], kafka: true },
  { name: 'throughput', file: 'throughput.mjs', flags: [], kafka: true },
  { name: 'bootstrap', file: 'bootstrap.mjs', flags: [], kafka: true },
  // Not pinned: a start from a snapshot reads and checks the file on a worker thread while the
  // cache's thread connects; both starts run alike, on every CPU of the run (bench/README.md).
  { name: 'restart', file: 'restart.mjs', flags: [], kafka: true, unpinned: true },
  { name: 'mixed', file: 'mixed.mjs', flags: [], kafka: true },
  // Not pinned: replication on a worker thread is a second thread, whose point is another core;
  // both modes run alike, their processes on every CPU of the run (bench/README.md, "CPU pinning").
  { name: 'modes', file: 'modes.mjs', flags: [], kafka: true, unpinned: true },
  { name: 'invalidate', file: 'invalidate.mjs', flags: [] },
  { name: 'tags', file: 'tags.mjs', flags: ['--expose-gc'] },
  { name: 'interceptor', file: 'interceptor.mjs', flags: [] },
  { name: 'http', file: 'http.mjs', flags: [], redis: true },
  { name: 'fleet', file: 'fleet.mjs', flags: [] },
  { name: 'fanout', file: 'fanout.mjs', flags: [], kafka: true },
  { name: 'sidecar', file: 'sidecar.mjs', flags: [], redis: true, kafka: true },
];
if (only) {
  const unknown = only.filter((name) => !SCENARIOS.some((s) => s.name === name));
  if (unknown.length > 0) {
    console.error(`unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
    process.exit(2);
  }
}
const selected = SCENARIOS.filter((s) => !only || only.includes(s.name));
const unregistered = fs.readdirSync(path.join(here, 'scenarios')).filter((f) => f.endsWith('.mjs') && !SCENARIOS.some((s) => s.file === f));
if (unregistered.length > 0) say(`not registered in SCENARIOS (bench/run.mjs), so not run: ${unregistered.join(', ')}`);

// Everything started here is stopped on exit, error or Ctrl-C.
const cleanups = [];
let cleaning;
function cleanup() {
  cleaning ??= (async () => {
    for (const fn of cleanups.reverse())
      await Promise.resolve()
        .then(fn)
        .catch((e) => say(`cleanup: ${e.message}`));
  })();
  return cleaning;
}
let current;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    say(`${signal}: stopping`);
    current?.kill('SIGKILL');
    await cleanup();
    process.exit(130);
  });
}

function run(command, argv, options = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, argv, { cwd: root, stdio: 'inherit', ...options });
    current = child;
    let timer;
    if (options.timeoutMs)
      timer = setTimeout(() => {
        say(`${path.basename(argv.at(-1))}: timed out after ${options.timeoutMs / 1000} s`);
        child.kill('SIGKILL');
      }, options.timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      current = undefined;
      resolve(code ?? (signal ? 1 : 0));
    });
    child.on('error', () => {
      clearTimeout(timer);
      resolve(127);
    });
  });
}

function hasCommand(name) {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function startRedis() {
  if (!hasCommand('redis-server')) {
    if (process.getuid?.() === 0 && hasCommand('apt-get')) {
      say('redis-server is not installed: installing it with apt-get');
      let code = await run('apt-get', ['install', '-y', '-q', 'redis-server'], {
        stdio: ['ignore', 'ignore', 'inherit'],
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
      if (code !== 0) {
        await run('apt-get', ['update', '-q'], { stdio: ['ignore', 'ignore', 'inherit'] });
        await run('apt-get', ['install', '-y', '-q', 'redis-server'], {
          stdio: ['ignore', 'ignore', 'inherit'],
          env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
        });
      }
    }
    if (!hasCommand('redis-server')) return { skipped: 'skipped: redis-server not installed' };
  }
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'], {
    stdio: 'ignore',
  });
  cleanups.push(
    () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', resolve);
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      }),
  );
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) break;
    if (child.exitCode !== null || Date.now() > deadline) return { skipped: 'skipped: redis-server did not start' };
    await sleep(100);
  }
  const version =
    execFileSync('redis-server', ['--version'])
      .toString()
      .match(/v=(\S+)/)?.[1] ?? 'unknown';
  return { url: `redis://127.0.0.1:${port}`, version };
}

/** Parses a CPU list as taskset prints it ("0,1", "0-3,6"). */
function cpuList(text) {
  return text
    .trim()
    .split(',')
    .flatMap((part) => {
      const [a, b] = part.split('-').map(Number);
      return b === undefined ? [a] : Array.from({ length: b - a + 1 }, (_, i) => a + i);
    })
    .filter((n) => Number.isInteger(n));
}

/**
 * Whether and how the compared processes are pinned to CPUs. Each scenario process holds both
 * sides of its comparison (or drives peer processes that do), so pinning it keeps the scheduler
 * from moving it between CPUs in the middle of a round (cold caches, a different core's load);
 * both sides get the same CPU. Needs taskset (util-linux) and at least two CPUs this process may
 * use; the scenario process takes the last of them, its peer processes (writer, reader) the
 * others first, in turn.
 */
function pinning() {
  if (noPin) return { used: false, text: 'not used (--no-pin)' };
  if (process.platform !== 'linux') return { used: false, text: `not used (${process.platform}: taskset is Linux only)` };
  if (!hasCommand('taskset')) return { used: false, text: 'not used (taskset, from util-linux, not found)' };
  let cpus;
  try {
    cpus = cpuList(
      execFileSync('taskset', ['-cp', String(process.pid)])
        .toString()
        .split(':')
        .at(-1) ?? '',
    );
  } catch {
    return { used: false, text: 'not used (taskset cannot read this process affinity)' };
  }
  if (cpus.length < 2) return { used: false, text: `not used (only CPU ${cpus.join(',')} available)` };
  const main = cpus.at(-1);
  const peers = [...cpus.slice(0, -1), main];
  try {
    execFileSync('taskset', ['-c', String(main), 'true'], { stdio: 'ignore' });
  } catch {
    return { used: false, text: 'not used (taskset may not set affinity here)' };
  }
  return {
    used: true,
    main: String(main),
    peers: peers.map(String),
    text: `taskset: each scenario process on CPU ${main}, its peer processes on CPUs ${peers.join(', ')} in turn (of ${cpus.length} available; the broker and redis-server not pinned)`,
  };
}

/** The machine the run had; `loadAtStart`: the load averages read before the first scenario. */
function machine(kafka, redis, pin, loadAtStart) {
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  return {
    cpu: cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1] ?? os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    kafka,
    redis: redis.version ?? redis.skipped,
    loadAverageAtStart: loadAtStart,
    loadAverageAtEnd: loadAverages(),
    pinning: pin.text,
    date: new Date().toISOString(),
  };
}

const loadAverages = () => os.loadavg().map((l) => Number(l.toFixed(2)));
const started = Date.now();
const loadAtStart = loadAverages();
let exitCode = 0;
try {
  say('building the packages');
  const buildCode = await run(path.join(root, 'node_modules', '.bin', 'nx'), ['run-many', '-t', 'build', '--output-style=static'], {
    env: { ...process.env, NX_DAEMON: 'false' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (buildCode !== 0) throw new Error(`the build failed (exit ${buildCode})`);

  const env = { ...process.env, BENCH_QUICK: quick ? '1' : '0' };
  const pin = pinning();
  say(`CPU pinning: ${pin.text}`);
  if (pin.used) {
    env.BENCH_PEER_CPUS = pin.peers.join(',');
    env.BENCH_MAIN_CPU = pin.main;
  } else {
    delete env.BENCH_PEER_CPUS;
    delete env.BENCH_MAIN_CPU;
  }
  let kafka = 'not used';
  if (selected.some((s) => s.kafka)) {
    if (env.KAFKA_BROKERS) {
      kafka = `cluster from KAFKA_BROKERS (client pinned to Kafka ${kafkaVersion()} jars)`;
      say(`using the Kafka cluster in KAFKA_BROKERS: ${env.KAFKA_BROKERS}`);
    } else {
      const cluster = await startCluster({ nodes: 1, name: 'bench', basePort: 0, log: (m) => say(`kafka: ${m}`), stopOnExit: true });
      cleanups.push(() => cluster.stop());
      env.KAFKA_BROKERS = cluster.brokers.join(',');
      kafka = `Apache Kafka ${cluster.version}, 1 broker (KRaft), 127.0.0.1`;
      say(`Kafka broker ready at ${env.KAFKA_BROKERS}`);
    }
  }
  let redis = { skipped: 'not used' };
  if (selected.some((s) => s.redis)) {
    redis = await startRedis();
    if (redis.url) {
      env.REDIS_URL = redis.url;
      say(`redis-server ${redis.version} at ${redis.url}`);
    } else {
      delete env.REDIS_URL;
      env.REDIS_SKIPPED = redis.skipped;
      say(`Redis comparison ${redis.skipped}`);
    }
  }

  const resultsDir = path.join(here, 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  const results = [];
  for (const scenario of selected) {
    const out = path.join(resultsDir, `.${scenario.name}.${process.pid}.json`);
    fs.rmSync(out, { force: true });
    say(`scenario ${scenario.name}`);
    const t0 = Date.now();
    const command = [process.execPath, ...scenario.flags, path.join(here, 'scenarios', scenario.file)];
    const pinned = pin.used && !scenario.unpinned;
    if (pinned) command.unshift('taskset', '-c', pin.main);
    const scenarioEnv = { ...env, BENCH_OUT: out };
    if (!pinned) delete scenarioEnv.BENCH_PEER_CPUS;
    const code = await run(command[0], command.slice(1), {
      env: scenarioEnv,
      stdio: ['ignore', 'inherit', 'inherit'],
      timeoutMs: (quick ? 150 : 900) * 1000,
    });
    const seconds = (Date.now() - t0) / 1000;
    if (code !== 0 || !fs.existsSync(out)) {
      results.push({ scenario: scenario.name, error: `exited with ${code}`, seconds });
      exitCode = 1;
      continue;
    }
    const result = JSON.parse(fs.readFileSync(out, 'utf8'));
    fs.rmSync(out, { force: true });
    result.seconds = seconds;
    results.push(result);
  }

  const report = { quick, only: only ?? null, machine: machine(kafka, redis, pin, loadAtStart), seconds: (Date.now() - started) / 1000, results };
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  fs.writeFileSync(path.join(resultsDir, `${stamp}.json`), JSON.stringify(report, null, 2));
  fs.writeFileSync(path.join(resultsDir, 'latest.json'), JSON.stringify(report, null, 2));

  console.log('');
  const row = (...cells) => cells.map((c, i) => (i < 4 ? String(c).padEnd([12, 44, 46, 40][i]) : String(c))).join('');
  console.log(row('scenario', 'measured', 'noise band (from A/A rounds)', 'target', 'result'));
  for (const r of results) {
    if (r.error) {
      console.log(row(r.scenario, '-', '-', '-', `FAILED (${r.error})`));
      continue;
    }
    // A scenario with several figures of their own (`lines`) prints one line per figure.
    for (const line of r.lines ?? [r]) {
      const measured = line.measured ?? (typeof line.ratio === 'number' ? `${line.ratio.toFixed(2)}` : String(line.ratio));
      console.log(row(line.scenario ?? r.scenario, `${measured} `, `${line.band ?? 'no A/A'} `, `${line.target} `, verdictOf(line)));
    }
  }
  const mode = quick ? ', quick mode: figures indicative only (fewer rounds, smaller sizes)' : '';
  const unpinned = pin.used ? selected.filter((s) => s.unpinned).map((s) => s.name) : [];
  const pinText = unpinned.length > 0 ? `${pin.text}; not pinned: ${unpinned.join(', ')}` : pin.text;
  console.log(`\n${results.length} scenarios in ${report.seconds.toFixed(0)} s${mode}; CPU pinning: ${pinText}; report: bench/results/latest.json`);
  if (writeDocsFlag && exitCode === 0) {
    writeDocs(report, root);
    say('wrote docs/benchmarks.md and docs/benchmarks/*.svg');
  }
} catch (error) {
  say(`failed: ${error.stack ?? error}`);
  exitCode = 1;
} finally {
  await cleanup();
}
process.exit(exitCode);
