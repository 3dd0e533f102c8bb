#!/usr/bin/env node
/**
 * `npm run demo`: three instances of the example catalogue service (apps/example) on one
 * cache topic, driven through a scripted scenario with real HTTP requests, and a report of
 * what happened, measured in this run.
 *
 *   npm run demo                   build, start Kafka and three instances, run, report, stop everything
 *   npm run demo -- --serve        the same, then keep the instances running (Ctrl-C stops them)
 *   npm run demo -- --in-process   no Kafka: the three instances in one process, on the in-process log
 *
 * With KAFKA_BROKERS=host:port,... the demo uses that cluster (and deletes its topic at the end);
 * without it, it starts a local broker from Apache Kafka's jars (Java 17+; Maven on first use).
 * Without Java, it says so and runs the instances in one process on the in-process log.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { startCluster, stopCluster } from './kafka/local-kafka.mjs';
import { freePort, mulberry32 } from './lib/shared.mjs';
import {
  bar, check, DemoFailure, formatMs, formatPrice, pause, section, say, table, waitUntil,
} from './demo-lib.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const EXAMPLE = path.join(ROOT, 'apps', 'example');
const HEALTH_DEADLINE_MS = 90_000;
const REPLICATION_DEADLINE_MS = 30_000;
const LOAD_REQUESTS = 600;
const LOAD_PRODUCTS = 40;
const PRODUCT = '1';

const USAGE = `usage: npm run demo [-- --serve] [-- --in-process]

  --serve        keep the three instances running after the report, print URLs to try (Ctrl-C stops)
  --in-process   run the instances in one process on the in-process log (no Kafka)

KAFKA_BROKERS=host:port,...  use this Kafka cluster instead of starting a local broker`;

let options;
try {
  options = parseArgs({
    options: { serve: { type: 'boolean', default: false }, 'in-process': { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
    allowPositionals: false,
  }).values;
} catch (error) {
  console.error(`${error.message}\n\n${USAGE}`);
  process.exit(2);
}
if (options.help) {
  console.log(USAGE);
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// Everything the demo starts is registered here and stopped in reverse order, whatever happens.
// ---------------------------------------------------------------------------------------------

const cleanups = [];
let cleaning;
function cleanup() {
  cleaning ??= (async () => {
    while (cleanups.length > 0) {
      const { what, run } = cleanups.pop();
      try {
        await run();
      } catch (error) {
        say(`  (could not ${what}: ${error.message})`);
      }
    }
  })();
  return cleaning;
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (interrupted) {
      say('\nstopping at once');
      process.exit(130);
    }
    interrupted = true;
    say(`\n${signal === 'SIGINT' ? 'Ctrl-C' : signal}: stopping everything the demo started...`);
    cleanup().then(() => {
      say('stopped.');
      process.exit(130);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Instances: a child process each, or (no Kafka) all in this process.
// ---------------------------------------------------------------------------------------------

/** An instance of the example in its own process. */
class ChildInstance {
  constructor({ name, framework, port, env, logDir }) {
    Object.assign(this, { name, framework, port, env, logDir });
    this.url = `http://127.0.0.1:${port}`;
    this.logFile = path.join(logDir, `${name}.log`);
    this.child = undefined;
    this.exited = undefined;
  }

  get pid() {
    return this.child?.pid;
  }

  get where() {
    return `pid ${this.pid}`;
  }

  async start() {
    const script = path.join(EXAMPLE, 'dist', this.framework === 'nest' ? 'main-nest.js' : 'main-express.js');
    const out = fs.openSync(this.logFile, 'a');
    fs.writeSync(out, `\n===== ${new Date().toISOString()}: starting ${this.name} =====\n`);
    // An IPC channel: if the demo dies without cleaning up, the instance sees it go and stops.
    const child = spawn(process.execPath, [script], {
      cwd: EXAMPLE,
      env: { ...process.env, ...this.env, PORT: String(this.port), INSTANCE: this.name, NO_COLOR: '1' },
      stdio: ['ignore', out, out, 'ipc'],
    });
    fs.closeSync(out);
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    this.exitStatus = undefined;
    this.exited.then((status) => { this.exitStatus = status; });
    child.on('error', (error) => say(`  ${this.name}: ${error.message}`));
  }

  alive() {
    return this.child !== undefined && this.exitStatus === undefined;
  }

  /** SIGKILL: no flush, no goodbye. */
  async kill() {
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM: the instance flushes and closes its cache; SIGKILL after 10 s. */
  async stop() {
    if (!this.alive()) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }

  /** Why it is not running, for a failure message. */
  exitReason() {
    return this.exitStatus ? `exited (${this.exitStatus.signal ?? `code ${this.exitStatus.code}`})` : 'is running';
  }

  /** The instance's own status lines and the end of its log. */
  failureDetails() {
    let lines = [];
    try {
      lines = fs.readFileSync(this.logFile, 'utf8').trimEnd().split('\n');
    } catch {
      return `${this.name} ${this.exitReason()}; it wrote no log`;
    }
    const own = lines.filter((line) => line.startsWith(`[${this.name}] `)).slice(-3);
    const last = lines.slice(-6).filter((line) => !own.includes(line));
    const clip = (line) => `    ${line.length > 200 ? `${line.slice(0, 200)}...` : line}`;
    return [`${this.name} ${this.exitReason()}; from its log (${this.logFile}):`, ...own.map(clip), ...(last.length > 0 ? ['    ...', ...last.map(clip)] : [])].join('\n');
  }
}

/** An instance of the example in this process (the mode without Kafka). */
class LocalInstance {
  constructor({ name, framework, port, starter }) {
    Object.assign(this, { name, framework, port, starter });
    this.url = `http://127.0.0.1:${port}`;
    this.running = undefined;
  }

  get where() {
    return `in this process (pid ${process.pid})`;
  }

  async start() {
    this.running = await this.starter({ name: this.name, port: this.port, startedAt: performance.timeOrigin + performance.now() });
  }

  alive() {
    return this.running !== undefined;
  }

  /** One process cannot kill a part of itself: the instance is closed, and its cache with it. */
  async kill() {
    const running = this.running;
    this.running = undefined;
    await running?.close();
  }

  async stop() {
    await this.kill();
  }

  exitReason() {
    return this.running ? 'is running' : 'is closed';
  }

  failureDetails() {
    return undefined;
  }
}


// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

async function call(instance, method, urlPath, body) {
  const started = performance.now();
  const response = await fetch(`${instance.url}${urlPath}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  const ms = performance.now() - started;
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const timing = /app;dur=([0-9.]+)/.exec(response.headers.get('server-timing') ?? '');
  return { status: response.status, servedFrom: response.headers.get('x-served-from'), body: json ?? text, ms, serverMs: timing ? Number(timing[1]) : undefined };
}

async function internal(instance, what) {
  const response = await call(instance, 'GET', `/internal/${what}`);
  if (response.status !== 200) throw new DemoFailure(`${instance.name}: GET /internal/${what} answered ${response.status}: ${JSON.stringify(response.body)}`);
  return response.body;
}

const stats = (instance) => internal(instance, 'stats');
const entry = (instance, key) => internal(instance, `entry?key=${encodeURIComponent(key)}`);

async function waitHealthy(instance, started) {
  let last = 'no answer yet';
  await waitUntil(
    async () => {
      if (!instance.alive()) throw new DemoFailure(`instance ${instance.name} ${instance.exitReason()} before it was healthy (${last})`);
      try {
        const response = await call(instance, 'GET', '/health');
        if (response.status === 200) return true;
        const cache = response.body?.details?.nearcache ?? response.body?.info?.nearcache;
        last = `/health answers ${response.status}${cache?.state ? `, cache ${cache.state}` : ''}`;
      } catch (error) {
        const code = error.cause?.code ?? error.message;
        last = code === 'ECONNREFUSED' ? 'not listening yet (an instance listens once its cache caught up with the topic)' : `/health: ${code}`;
      }
      instance.lastHealth = last;
      return false;
    },
    { timeoutMs: HEALTH_DEADLINE_MS, intervalMs: 20, what: () => `${instance.name} to be healthy at ${instance.url}/health (${last})` },
  );
  return performance.now() - started;
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

const runStarted = performance.now();
/** Set when a step failed: the logs are kept. */
let failed = false;
/** The instances, for the failure report. */
const started = [];

async function build() {
  say('Building the packages and the example app (nx run-many -t build)...');
  const started = performance.now();
  const child = spawn(process.execPath, [path.join(ROOT, 'node_modules', '.bin', 'nx'), 'run-many', '-t', 'build', '--output-style=static'], {
    cwd: ROOT,
    env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => { output += chunk; });
  child.stderr.on('data', (chunk) => { output += chunk; });
  const heartbeat = setInterval(() => say(`  still building (${Math.round((performance.now() - started) / 1000)} s)`), 10_000);
  const code = await new Promise((resolve) => {
    child.once('error', (error) => { output += error.message; resolve(1); });
    child.once('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0)));
  });
  clearInterval(heartbeat);
  if (code !== 0) {
    console.error(output.trim());
    throw new DemoFailure(`the build failed (exit ${code}); its output is above`);
  }
  say(`  built in ${formatMs(performance.now() - started)}`);
}

function javaAvailable() {
  const java = process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
  const result = spawnSync(java, ['-version'], { stdio: 'ignore' });
  return !result.error && result.status === 0;
}

const NO_BROKER_HERE = `no KAFKA_BROKERS is set, and this machine cannot run a local Kafka broker`;

function explainInProcess(reason) {
  say('');
  say(`Kafka: ${NO_BROKER_HERE}: ${reason}.`);
  say('  So the demo runs the three instances in this one process, replicating through the');
  say('  in-process log instead of a Kafka topic: the same cache and the same scenario, without');
  say('  the network. To see them replicate through Kafka, install Java 17 or later (and Maven,');
  say('  to fetch the broker jars once), or set KAFKA_BROKERS=host:port,... to a Kafka cluster.');
}

/** Where the cache replicates: { mode: 'kafka', brokers, label } or { mode: 'in-process', label }. */
async function chooseLog() {
  if (options['in-process']) return { mode: 'in-process', label: 'the in-process log (--in-process): the three instances share this process' };
  if (process.env.KAFKA_BROKERS) {
    const brokers = process.env.KAFKA_BROKERS;
    say(`Kafka: using the cluster in KAFKA_BROKERS (${brokers}).`);
    return { mode: 'kafka', brokers, external: true, label: `Kafka at ${brokers} (KAFKA_BROKERS)` };
  }
  if (!javaAvailable()) {
    explainInProcess(process.env.JAVA_HOME ? `JAVA_HOME is set, but ${path.join(process.env.JAVA_HOME, 'bin', 'java')} does not run` : "Java was not found ('java' is not on the PATH and JAVA_HOME is not set)");
    return { mode: 'in-process', label: 'the in-process log (no Java): the three instances share this process' };
  }
  say('Kafka: no KAFKA_BROKERS set, starting a local single-node broker (KRaft) from Apache Kafka\'s jars.');
  const started = performance.now();
  let lastLine = performance.now();
  const log = (message) => {
    lastLine = performance.now();
    say(`  kafka: ${message}`);
  };
  const heartbeat = setInterval(() => {
    if (performance.now() - lastLine >= 5_000) log(`still starting (${Math.round((performance.now() - started) / 1000)} s)`);
  }, 1_000);
  // Registered before the start, so that an interruption while the broker starts stops it too.
  cleanups.push({
    what: 'stop the Kafka broker',
    run: () => stopCluster({ name: 'demo', log }),
  });
  let cluster;
  try {
    cluster = await startCluster({ name: 'demo', nodes: 1, basePort: 0, log, stopOnExit: true });
  } catch (error) {
    if (/'(java|mvn)' not found/.test(error.message)) {
      explainInProcess(error.message.includes('mvn') ? "the broker jars are not downloaded yet and Maven is not installed ('mvn' is not on the PATH)" : error.message);
      return { mode: 'in-process', label: 'the in-process log (no local broker possible): the three instances share this process' };
    }
    throw new DemoFailure(`could not start a local Kafka broker: ${error.message}\n  Set KAFKA_BROKERS=host:port to use a running cluster, or run \`npm run demo -- --in-process\`.`);
  } finally {
    clearInterval(heartbeat);
  }
  const brokers = cluster.brokers.join(',');
  return { mode: 'kafka', brokers, label: `a local Kafka ${cluster.version} broker at ${brokers}, started by the demo` };
}

async function deleteTopicLater(brokers, topic) {
  cleanups.push({
    what: `delete the topic ${topic}`,
    run: async () => {
      const { default: kafkajs } = await import('kafkajs');
      const admin = new kafkajs.Kafka({ clientId: 'nearcache-demo', brokers: brokers.split(','), logLevel: kafkajs.logLevel.NOTHING }).admin();
      const work = (async () => {
        await admin.connect();
        try {
          await admin.deleteTopics({ topics: [topic], timeout: 5_000 });
          say(`  deleted the topic ${topic}`);
        } finally {
          await admin.disconnect();
        }
      })();
      await Promise.race([work, pause(15_000).then(() => { throw new Error('no answer within 15 s'); })]);
    },
  });
}

async function main() {
  say(bar('nearcache demo: three instances of a product catalogue, one cache topic'));
  await build();
  const example = await import(pathToFileURL(path.join(EXAMPLE, 'dist', 'index.js')).href);
  const log = await chooseLog();
  const topic = `catalog-demo-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nearcache-demo-'));
  cleanups.push({
    what: `remove ${workDir}`,
    run: async () => {
      if (failed && log.mode === 'kafka') say(`  the instances' logs are kept in ${workDir}`);
      else fs.rmSync(workDir, { recursive: true, force: true });
    },
  });
  if (log.mode === 'kafka' && log.external) await deleteTopicLater(log.brokers, topic);

  const ports = { A: await freePort(), B: await freePort(), C: await freePort() };
  const spec = [
    { name: 'A', framework: 'nest' },
    { name: 'B', framework: 'nest' },
    { name: 'C', framework: 'express' },
  ];
  let instances;
  let dataLabel;
  if (log.mode === 'kafka') {
    const dataDir = path.join(workDir, 'products');
    example.FileProductStore.seed(dataDir);
    dataLabel = `product files shared by the three processes (${dataDir})`;
    const env = { TOPIC: topic, KAFKA_BROKERS: log.brokers, DATA_DIR: dataDir };
    instances = spec.map((s) => new ChildInstance({ ...s, port: ports[s.name], env, logDir: workDir }));
  } else {
    const { InProcessBroker, inProcessLog } = await import('@nearcache/core');
    const broker = new InProcessBroker();
    const store = new example.MemoryProductStore();
    dataLabel = 'products in memory, shared by the three instances';
    instances = spec.map(
      (s) =>
        new LocalInstance({
          ...s,
          port: ports[s.name],
          starter: (o) =>
            (s.framework === 'nest' ? example.startNestInstance : example.startExpressInstance)({ ...o, topic, log: inProcessLog(broker), store, quiet: true }),
        }),
    );
  }
  started.push(...instances);
  const [A, B, C] = instances;
  const label = (i) => `${i.name}  ${i.framework === 'nest' ? 'Nest   ' : 'Express'}`;
  cleanups.push({
    what: 'stop the instances',
    run: async () => {
      const running = instances.filter((i) => i.alive());
      if (running.length > 0) say(`  stopping ${running.map((i) => i.name).join(', ')}`);
      await Promise.all(running.map((i) => i.stop()));
    },
  });

  say('');
  say(`Cache topic "${topic}" on ${log.label}.`);
  say(`Data source: ${dataLabel}, 50 ms per lookup.`);
  say('Starting three instances of the catalogue service (apps/example), listening on 127.0.0.1:');
  const startedAt = performance.now();
  const healthy = [];
  const waiting = setInterval(() => {
    const reasons = new Map();
    instances.forEach((instance, index) => {
      if (healthy[index] !== undefined) return;
      const reason = instance.lastHealth ?? 'starting';
      reasons.set(reason, [...(reasons.get(reason) ?? []), instance.name]);
    });
    const why = [...reasons].map(([reason, names]) => `${names.join(', ')}: ${reason}`).join('; ');
    say(`  still waiting (${Math.round((performance.now() - startedAt) / 1000)} s) for ${why}`);
  }, 10_000);
  try {
    await Promise.all(instances.map((i) => i.start()));
    await Promise.all(instances.map(async (i, index) => (healthy[index] = await waitHealthy(i, startedAt))));
  } finally {
    clearInterval(waiting);
  }
  instances.forEach((instance, index) => say(`  ${label(instance)}  ${instance.url}  ${instance.where}, healthy after ${formatMs(healthy[index])}`));
  if (interrupted) return;

  // 1. -----------------------------------------------------------------------------------------
  section('1. A cold miss on A, then hits on B and C');
  say('   (server: time spent in the instance; round trip: as the demo\'s HTTP client saw it)');
  reportHeader();
  const page = `/products/${PRODUCT}`;
  const keys = { value: example.productKey(PRODUCT), page: example.pageKey(PRODUCT) };
  const readsBefore = await readsOf(instances);
  const first = await call(A, 'GET', page);
  check(first.status === 200, `GET A ${page} answered ${first.status}`);
  check(first.servedFrom === 'data-source', `the first GET on A should load from the data source, it came from ${first.servedFrom}`);
  report('GET', A, page, first, `${first.body.name}, ${formatPrice(first.body.price)}`);

  // A stored the product (@Cached) and its page (the interceptor); wait until B and C hold them.
  await waitUntil(async () => (await entry(B, keys.page)).present && (await entry(C, keys.page)).present && (await entry(C, keys.value)).present, {
    timeoutMs: REPLICATION_DEADLINE_MS,
    what: `B and C to hold ${keys.page} and ${keys.value}`,
  });
  const delayB = await replicationDelay(A, B, keys.page);
  const delayC = await replicationDelay(A, C, keys.page);
  say(`   A stored the product (${keys.value}) and its page (${keys.page}); through ${log.mode === 'kafka' ? 'the topic' : 'the in-process log'}:`);
  say(`     B holds the page ${formatMs(delayB).padStart(9)} after A stored it   (replication delay, measured by the instances)`);
  say(`     C holds the page ${formatMs(delayC).padStart(9)} after A stored it`);
  const onB = await call(B, 'GET', page);
  const onC = await call(C, 'GET', page);
  const otherUrl = `${page}?ref=demo`;
  const onCOther = await call(C, 'GET', otherUrl);
  const readsAfter = await readsOf(instances);
  check(onB.status === 200 && onB.servedFrom === 'response-cache', `GET B ${page} should be a hit from the replicated page, got ${onB.status} ${onB.servedFrom}`);
  check(onC.status === 200 && onC.servedFrom === 'response-cache', `GET C ${page} should be a hit from the replicated page, got ${onC.status} ${onC.servedFrom}`);
  check(onCOther.status === 200 && onCOther.servedFrom === 'value-cache', `GET C ${otherUrl} should be a hit from the replicated product, got ${onCOther.status} ${onCOther.servedFrom}`);
  check(readsAfter.B === readsBefore.B && readsAfter.C === readsBefore.C, `B and C should not have called the data source (B: ${readsAfter.B - readsBefore.B}, C: ${readsAfter.C - readsBefore.C} calls)`);
  for (const response of [onB, onC, onCOther]) check(JSON.stringify(response.body) === JSON.stringify(first.body), 'B and C should serve the product A loaded');
  report('GET', B, page, onB, 'HIT: the page A computed (Nest), no data-source call on B');
  report('GET', C, page, onC, 'HIT: the same page, served by the Express app, no data-source call on C');
  report('GET', C, otherUrl, onCOther, 'HIT: another URL, so no page yet, but the product A loaded (@Cached)');

  // 2. -----------------------------------------------------------------------------------------
  section('2. An update on C invalidates the entry everywhere');
  reportHeader();
  const newPrice = Math.max(1, first.body.price - 7);
  const update = await call(C, 'PUT', page, { price: newPrice });
  check(update.status === 200 && update.body.price === newPrice, `PUT C ${page} answered ${update.status}: ${JSON.stringify(update.body)}`);
  report('PUT', C, page, update, `price ${formatPrice(first.body.price)} -> ${formatPrice(newPrice)}: data source updated, then the product and its pages deleted`);
  await waitUntil(
    async () => {
      for (const instance of instances) {
        if ((await entry(instance, keys.value)).present || (await entry(instance, keys.page)).present) return false;
      }
      return true;
    },
    { timeoutMs: REPLICATION_DEADLINE_MS, what: `${keys.value} and ${keys.page} to be gone from A, B and C` },
  );
  const goneA = await invalidationDelay(C, A, [keys.value, keys.page]);
  const goneB = await invalidationDelay(C, B, [keys.value, keys.page]);
  say(`   C deleted ${keys.value} and ${keys.page} at once; the tombstones removed them`);
  say(`     from A ${formatMs(goneA).padStart(9)} after C deleted them`);
  say(`     from B ${formatMs(goneB).padStart(9)} after C deleted them`);
  const readsBeforeReload = await readsOf(instances);
  const reload = await call(A, 'GET', page);
  check(reload.status === 200 && reload.servedFrom === 'data-source', `GET A ${page} after the update should load from the data source, got ${reload.status} ${reload.servedFrom}`);
  check(reload.body.price === newPrice, `A should serve the new price ${newPrice}, it served ${reload.body.price}`);
  report('GET', A, page, reload, `MISS: reloaded, new price ${formatPrice(reload.body.price)}`);
  await waitUntil(async () => (await entry(B, keys.page)).present && (await entry(C, keys.page)).present, {
    timeoutMs: REPLICATION_DEADLINE_MS,
    what: `the reloaded page on B and C`,
  });
  const newOnB = await call(B, 'GET', page);
  const newOnC = await call(C, 'GET', page);
  const readsAfterReload = await readsOf(instances);
  for (const [instance, response] of [[B, newOnB], [C, newOnC]]) {
    check(response.status === 200 && response.body.price === newPrice, `${instance.name} should serve the new price ${newPrice}, it served ${response.body.price}`);
    check(response.servedFrom === 'response-cache', `${instance.name} should serve the page A reloaded, it came from ${response.servedFrom}`);
  }
  check(readsAfterReload.B === readsBeforeReload.B && readsAfterReload.C === readsBeforeReload.C, 'B and C should not call the data source after A reloaded the product');
  report('GET', B, page, newOnB, `HIT: new price ${formatPrice(newOnB.body.price)}`);
  report('GET', C, page, newOnC, `HIT: new price ${formatPrice(newOnC.body.price)}`);

  // 3. -----------------------------------------------------------------------------------------
  const child = B instanceof ChildInstance;
  section(child ? '3. B killed (SIGKILL) and restarted: warm after ready()' : '3. B closed and started again: warm after ready()');
  const oldWhere = B.where;
  await B.kill();
  const restartAt = performance.now();
  await B.start();
  const restartHealthy = await waitHealthy(B, restartAt);
  const bStats = await stats(B);
  say(
    child
      ? `   B (${oldWhere}) killed with SIGKILL; started again as pid ${B.pid} on the same port`
      : '   B closed (the three instances share this process: it cannot be killed alone), then started again on the same port',
  );
  say(`   B healthy ${formatMs(restartHealthy)} after its start`);
  say(`     ${child ? 'process start' : 'instance start'} -> listening: ${formatMs(bStats.startup.startToListeningMs)}`);
  say(`     of which the cache's bootstrap, created -> ready(): ${formatMs(bStats.startup.cacheReadyMs)}, reading ${bStats.startup.recordsAtReady} records from the topic into ${bStats.startup.entriesAtReady} entries`);
  const warm = await call(B, 'GET', page);
  const bAfter = await stats(B);
  check(warm.status === 200 && warm.servedFrom !== 'data-source', `the first GET on the restarted B should be a hit, it came from ${warm.servedFrom}`);
  check(bAfter.dataSource.reads === 0, `the restarted B should not have called the data source, it did ${bAfter.dataSource.reads} times`);
  check(warm.body.price === newPrice, `the restarted B should serve the new price ${newPrice}, it served ${warm.body.price}`);
  reportHeader();
  report('GET', B, page, warm, `HIT on its first request: warm, 0 data-source calls since the restart`);

  // 4. -----------------------------------------------------------------------------------------
  section(`4. Load: ${LOAD_REQUESTS} GETs of ${LOAD_PRODUCTS} products (skewed towards the first ones), spread over A, B and C`);
  for (const instance of instances) {
    const response = await call(instance, 'POST', '/internal/stats/reset');
    check(response.status === 204, `${instance.name}: resetting its counters answered ${response.status}`);
  }
  const readsBeforeLoad = await readsOf(instances);
  const random = mulberry32(42);
  const loadStarted = performance.now();
  const loadStartedAt = performance.timeOrigin + loadStarted;
  for (let i = 0; i < LOAD_REQUESTS; i++) {
    const id = String(1 + Math.floor(LOAD_PRODUCTS * random() ** 2));
    const instance = instances[i % instances.length];
    const response = await call(instance, 'GET', `/products/${id}`);
    check(response.status === 200, `GET ${instance.name} /products/${id} answered ${response.status}`);
    if (interrupted) return;
  }
  const loadMs = performance.now() - loadStarted;
  const loadStats = await Promise.all(instances.map((i) => stats(i)));
  const rows = instances.map((instance, index) => {
    const s = loadStats[index];
    const { latency } = s.served;
    return [
      label(instance),
      String(s.served.requests),
      `${(s.served.hitRatio * 100).toFixed(1)} %`,
      formatMs(latency.hit.p50Ms),
      formatMs(latency.hit.p99Ms),
      s.served.misses > 0 ? formatMs(latency.miss.p50Ms) : '-',
      String(s.dataSource.reads - readsBeforeLoad[instance.name]),
      String(s.cache.entries),
    ];
  });
  const total = loadStats.reduce((sum, s) => ({ requests: sum.requests + s.served.requests, hits: sum.hits + s.served.hits }), { requests: 0, hits: 0 });
  say(`   ${LOAD_REQUESTS} requests, one at a time, in ${formatMs(loadMs)}; latency measured on the server, from request to response:`);
  table(
    ['instance', 'requests', 'hit ratio', 'hit p50', 'hit p99', 'miss p50', 'data-source calls', 'cache entries'],
    rows,
    '   ',
  );
  const hitP50 = median(loadStats.filter((s) => s.served.hits > 0).map((s) => s.served.latency.hit.p50Ms));
  const missP50 = median(loadStats.filter((s) => s.served.misses > 0).map((s) => s.served.latency.miss.p50Ms));
  say(`   overall: ${total.hits} of ${total.requests} served from the cache (${((100 * total.hits) / total.requests).toFixed(1)} %), ${total.requests - total.hits} from the data source.`);
  if (hitP50 > 0 && missP50 > 0) {
    say(`   median of the instances' p50: a hit ${formatMs(hitP50)}, a miss ${formatMs(missP50)} (${(missP50 / hitP50).toFixed(0)}x): a miss waits for the data source,`);
    say('   a hit is a local lookup plus the HTTP handling.');
  }
  check(total.hits > 0, 'the load phase should produce hits');

  // Replication delay of every page stored during the load: from the writer storing it to each other instance holding it.
  const delays = [];
  for (let id = 1; id <= LOAD_PRODUCTS; id++) {
    const seen = await Promise.all(instances.map((i) => entry(i, example.pageKey(String(id)))));
    const writers = seen.filter((e) => e.lastChange?.op === 'set' && e.lastChange.source === 'local');
    if (writers.length !== 1 || writers[0].lastChange.at < loadStartedAt) continue; // stored twice (two misses at once), or before the load
    for (const e of seen) if (e.lastChange?.op === 'set' && e.lastChange.source === 'remote') delays.push(e.lastChange.at - writers[0].lastChange.at);
  }
  if (delays.length > 0) {
    delays.sort((a, b) => a - b);
    const q = (p) => delays[Math.min(delays.length - 1, Math.ceil(p * delays.length) - 1)];
    say(`   replication delay, from an instance storing a page to another holding it (${delays.length} deliveries): p50 ${formatMs(q(0.5))}, p90 ${formatMs(q(0.9))}, max ${formatMs(delays.at(-1))}`);
  }

  section('All checks passed');
  say('   cold miss on A, then hits on B and C; the update on C removed the entry everywhere;');
  say('   B came back warm after a restart; every number above was measured in this run.');
  if (options.serve) await serve(instances, log);
}

function reportHeader() {
  say(`   ${'request'.padEnd(28)} ${'status'.padEnd(6)} ${'served from'.padEnd(14)} ${'server'.padStart(9)} ${'round trip'.padStart(10)}`);
}

function report(method, instance, urlPath, response, note) {
  const origin = response.servedFrom ?? (method === 'GET' ? '-' : 'update');
  say(`   ${`${method} ${instance.name} ${urlPath}`.padEnd(28)} ${String(response.status).padEnd(6)} ${origin.padEnd(14)} ${formatMs(response.serverMs).padStart(9)} ${formatMs(response.ms).padStart(10)}   ${note}`);
}

async function readsOf(instances) {
  const all = await Promise.all(instances.map((i) => stats(i)));
  return Object.fromEntries(instances.map((instance, index) => [instance.name, all[index].dataSource.reads]));
}

/** ms between `writer` storing `key` and `reader` applying it, from the instances' own clocks. */
async function replicationDelay(writer, reader, key) {
  const [written, applied] = await Promise.all([entry(writer, key), entry(reader, key)]);
  check(written.lastChange?.source === 'local' && written.lastChange.op === 'set', `${writer.name} should have stored ${key} itself`);
  check(applied.lastChange?.source === 'remote' && applied.lastChange.op === 'set', `${reader.name} should have received ${key} from the topic`);
  return applied.lastChange.at - written.lastChange.at;
}

/** ms between `writer` deleting `keys` and `reader` dropping them (the slowest key). */
async function invalidationDelay(writer, reader, keys) {
  let slowest = 0;
  for (const key of keys) {
    const [deleted, dropped] = await Promise.all([entry(writer, key), entry(reader, key)]);
    check(deleted.lastChange?.op === 'delete' && deleted.lastChange.source === 'local', `${writer.name} should have deleted ${key}`);
    check(dropped.lastChange?.op === 'delete' && dropped.lastChange.source === 'remote', `${reader.name} should have dropped ${key} on a tombstone`);
    slowest = Math.max(slowest, dropped.lastChange.at - deleted.lastChange.at);
  }
  return slowest;
}

function median(values) {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

async function serve(instances, log) {
  const [A, B, C] = instances;
  section('The instances keep running (--serve); Ctrl-C stops them' + (log.mode === 'kafka' && !log.external ? ' and the broker' : ''));
  for (const instance of instances) say(`   ${instance.name}  ${instance.framework === 'nest' ? 'Nest   ' : 'Express'}  ${instance.url}`);
  say('');
  say('   Try (product 77 was not requested yet):');
  say(`   curl -i ${A.url}/products/77               # a miss on A: X-Served-From: data-source, Server-Timing about 50 ms`);
  say(`   curl -i ${B.url}/products/77               # a hit on B: the page A computed (X-Served-From: response-cache)`);
  say(`   curl -i ${C.url}/products/77               # a hit on C: the Express app serves the same page`);
  say(`   curl -i '${C.url}/products/77?lang=fr'     # another URL, no page yet, but the product is cached (value-cache)`);
  say(`   curl -X PUT -H 'content-type: application/json' -d '{"price": 10}' ${C.url}/products/77`);
  say(`   curl -i ${B.url}/products/77               # gone everywhere: a miss, with the new price`);
  say(`   curl ${A.url}/health`);
  say(`   curl ${B.url}/internal/stats              # cache.stats(), data-source calls, hits, misses, latencies`);
  if (instances[0] instanceof ChildInstance) say(`   logs: ${path.dirname(instances[0].logFile)}/{A,B,C}.log`);
  await new Promise(() => {}); // until Ctrl-C (the signal handler cleans up and exits)
}

// ---------------------------------------------------------------------------------------------

let exitCode = 0;
try {
  await main();
} catch (error) {
  if (!interrupted) {
    exitCode = 1;
    failed = true;
    say('');
    say(`demo failed: ${error instanceof DemoFailure ? error.message : error.stack ?? error}`);
    for (const instance of started) {
      const details = instance.failureDetails();
      if (details) say(`\n  ${details}`);
    }
  }
}
if (!interrupted) {
  section('Stopping everything the demo started');
  await cleanup();
  say(`done in ${formatMs(performance.now() - runStarted)}.`);
  process.exit(exitCode);
}
