/**
 * Local Apache Kafka clusters for development and tests, without Docker.
 *
 * The broker jars are resolved with Maven from `scripts/kafka/pom.xml` (the
 * one place the Kafka version is pinned) and the brokers run as plain `java`
 * processes in KRaft mode, every node being a combined broker + controller
 * listening on 127.0.0.1 only. All state lives in `<repo>/.kafka/`:
 *
 *   .kafka/classpath-<version>-<hash>.txt   resolved broker classpath
 *   .kafka/<name>/state.json                pids, ports and brokers of a cluster
 *   .kafka/<name>/node-<i>/server.properties
 *   .kafka/<name>/node-<i>/broker.log       stdout/stderr + log4j output
 *   .kafka/<name>/node-<i>/data/            log.dirs (topic data, KRaft metadata)
 *
 * Plain ES module, Node built-ins only.
 */
import { spawn, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../lib/shared.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Repository root, derived from this module's location (not the cwd). */
export const REPO_ROOT = path.resolve(HERE, '..', '..');
/** Cache / state directory for everything the local clusters produce. */
export const KAFKA_DIR = path.join(REPO_ROOT, '.kafka');
/** The Maven project that pins the Kafka version. */
export const POM_FILE = path.join(HERE, 'pom.xml');

/** Default first client port of a single-node cluster. */
export const DEFAULT_BASE_PORT = 19092;
/** Default first client port of a multi-node cluster. */
export const DEFAULT_MULTI_NODE_BASE_PORT = 19192;
/** Controller ports are `basePort + CONTROLLER_PORT_OFFSET + index`. */
export const CONTROLLER_PORT_OFFSET = 50;

/** JVM options: small heap, quick start; light enough for a 2-core box. */
export const DEFAULT_JVM_ARGS = Object.freeze([
  '-Xms256m',
  '-Xmx512m',
  '-XX:+UseG1GC',
  '-XX:MaxGCPauseMillis=20',
  '-XX:+ExitOnOutOfMemoryError',
  '-Djava.awt.headless=true',
]);

/** How long a node gets to shut down after SIGTERM before it gets SIGKILL. */
const DEFAULT_STOP_TIMEOUT_MS = 15_000;
/**
 * Grace period when a whole multi-node cluster stops at once: the last
 * brokers lose their controller quorum and can wait forever for it.
 */
const CLUSTER_STOP_TIMEOUT_MS = 3_000;

/**
 * Grace period for stopping all `nodeCount` nodes of a cluster together.
 * @param {number} nodeCount
 * @returns {number}
 */
function clusterStopTimeout(nodeCount) {
  return nodeCount > 1 ? CLUSTER_STOP_TIMEOUT_MS : DEFAULT_STOP_TIMEOUT_MS;
}
/** Interval between readiness probes. */
const PROBE_INTERVAL_MS = 250;

/**
 * @typedef {(message: string) => void} LogFn
 */

/** @type {LogFn} */
const defaultLog = (message) => { process.stderr.write(`[kafka] ${message}\n`); };

// ---------------------------------------------------------------------------
// Version and classpath
// ---------------------------------------------------------------------------

/**
 * Reads the pinned Kafka version (`<kafka.version>`) from the pom.
 * @returns {string}
 */
export function kafkaVersion() {
  const pom = fs.readFileSync(POM_FILE, 'utf8');
  const match = /<kafka\.version>\s*([^<\s]+)\s*<\/kafka\.version>/.exec(pom);
  if (!match) throw new Error(`no <kafka.version> property in ${POM_FILE}`);
  return match[1];
}

/**
 * Path of the cached classpath file; keyed by version and pom contents so a
 * pom change triggers a new resolution.
 * @param {string} version
 * @returns {string}
 */
function classpathFileFor(version) {
  const hash = createHash('sha256').update(fs.readFileSync(POM_FILE)).digest('hex').slice(0, 10);
  return path.join(KAFKA_DIR, `classpath-${version}-${hash}.txt`);
}

/**
 * Reads a classpath file and returns its jar list, or null when the file is
 * missing or any jar it names is gone (e.g. a cleaned Maven repository).
 * @param {string} file
 * @returns {string[] | null}
 */
function readCachedClasspath(file) {
  if (!fs.existsSync(file)) return null;
  const jars = fs.readFileSync(file, 'utf8').trim().split(path.delimiter).filter(Boolean);
  if (jars.length === 0 || !jars.every((jar) => fs.existsSync(jar))) return null;
  return jars;
}

/**
 * Ensures `.kafka/` exists and is ignored by git.
 */
function ensureKafkaDir() {
  fs.mkdirSync(KAFKA_DIR, { recursive: true });
  const ignore = path.join(KAFKA_DIR, '.gitignore');
  if (!fs.existsSync(ignore)) fs.writeFileSync(ignore, '*\n');
}

/**
 * Runs a command, collecting its combined output. Prints a heartbeat every
 * `heartbeatMs` so long downloads show progress.
 * @param {string} cmd
 * @param {string[]} args
 * @param {{ log: LogFn, heartbeat?: string, heartbeatMs?: number, cwd?: string }} opts
 * @returns {Promise<{ code: number | null, output: string }>}
 */
function runCollecting(cmd, args, { log, heartbeat, heartbeatMs = 10_000, cwd }) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => { output += chunk; });
    child.stderr.on('data', (chunk) => { output += chunk; });
    const timer = heartbeat
      ? setInterval(() => log(`${heartbeat} (${Math.round((Date.now() - started) / 1000)}s)`), heartbeatMs)
      : null;
    child.on('error', (/** @type {NodeJS.ErrnoException} */ err) => {
      if (timer) clearInterval(timer);
      reject(err.code === 'ENOENT' ? new Error(`'${cmd}' not found on PATH`) : err);
    });
    child.on('close', (code) => {
      if (timer) clearInterval(timer);
      resolve({ code, output });
    });
  });
}

/**
 * Resolves the broker jars with Maven (downloading them on first use) and
 * caches the classpath in `.kafka/`. Maven is skipped when the cached
 * classpath exists and all of its jars are present.
 *
 * @param {{ log?: LogFn }} [options]
 * @returns {Promise<{ version: string, classpath: string, jars: string[], classpathFile: string }>}
 */
export async function fetchKafka({ log = defaultLog } = {}) {
  const version = kafkaVersion();
  ensureKafkaDir();
  const classpathFile = classpathFileFor(version);
  let jars = readCachedClasspath(classpathFile);
  if (!jars) {
    log(`fetching Apache Kafka ${version} jars with Maven...`);
    const started = Date.now();
    const tmp = `${classpathFile}.${process.pid}.tmp`;
    const { code, output } = await runCollecting('mvn', [
      '-B', '-q', '-Dstyle.color=never',
      '-f', POM_FILE,
      'dependency:build-classpath',
      `-Dmdep.outputFile=${tmp}`,
    ], { log, heartbeat: `still fetching Apache Kafka ${version} jars` });
    if (code !== 0) {
      fs.rmSync(tmp, { force: true });
      log(output.replace(/\x1b\[[0-9;]*m/g, '').trim() || '(Maven printed nothing)');
      throw new Error(`Maven failed (exit ${code}) resolving Apache Kafka ${version}; see output above`);
    }
    fs.renameSync(tmp, classpathFile);
    jars = readCachedClasspath(classpathFile);
    if (!jars) throw new Error(`Maven produced an unusable classpath in ${classpathFile}`);
    log(`Apache Kafka ${version}: ${jars.length} jars ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    warnOnLog4jMismatch(jars, log);
  }
  return { version, classpath: jars.join(path.delimiter), jars, classpathFile };
}

/**
 * Warns when the SLF4J binding and log4j-core differ in version (the pom pins
 * the binding separately from the version Kafka pulls in).
 * @param {string[]} jars
 * @param {LogFn} log
 */
function warnOnLog4jMismatch(jars, log) {
  const versionOf = (artifact) => {
    const jar = jars.map((j) => path.basename(j)).find((j) => j.startsWith(`${artifact}-2.`));
    return jar ? jar.slice(artifact.length + 1, -'.jar'.length) : null;
  };
  const core = versionOf('log4j-core');
  const binding = versionOf('log4j-slf4j-impl');
  if (core && binding && core !== binding) {
    log(`warning: log4j-slf4j-impl ${binding} != log4j-core ${core}; update <log4j.version> in ${POM_FILE}`);
  }
}

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

/**
 * @typedef {object} NodeInfo
 * @property {number} index            0-based position in the cluster
 * @property {number} id               Kafka node.id (index + 1)
 * @property {number} port             client (PLAINTEXT) port on 127.0.0.1
 * @property {number} controllerPort   KRaft controller port on 127.0.0.1
 * @property {string} dir              node directory
 * @property {string} configFile       server.properties
 * @property {string} logFile          broker.log
 * @property {number | null} pid       running java process, or null
 */

/**
 * Computes the ports and directories of a node.
 * @param {{ clusterDir: string, index: number, port: number, controllerPort: number }} spec
 * @returns {NodeInfo}
 */
function describeNode({ clusterDir, index, port, controllerPort }) {
  const dir = path.join(clusterDir, `node-${index}`);
  return {
    index,
    id: index + 1,
    port,
    controllerPort,
    dir,
    configFile: path.join(dir, 'server.properties'),
    logFile: path.join(dir, 'broker.log'),
    pid: null,
  };
}

/**
 * Broker settings shared by every node: quick to start, quick to compact,
 * strict about topic creation, sized for tests.
 * @param {number} nodeCount
 * @returns {Record<string, string | number | boolean>}
 */
export function testBrokerDefaults(nodeCount) {
  const internalRf = Math.min(nodeCount, 3);
  return {
    'num.partitions': 1,
    'default.replication.factor': Math.min(nodeCount, 3),
    'min.insync.replicas': nodeCount >= 3 ? 2 : 1,
    'auto.create.topics.enable': false,
    'offsets.topic.replication.factor': internalRf,
    'offsets.topic.num.partitions': 5,
    'transaction.state.log.replication.factor': internalRf,
    'transaction.state.log.min.isr': Math.min(nodeCount, 2),
    'transaction.state.log.num.partitions': 5,
    'share.coordinator.state.topic.replication.factor': internalRf,
    'share.coordinator.state.topic.min.isr': Math.min(nodeCount, 2),
    'group.initial.rebalance.delay.ms': 0,
    // A killed node is fenced (and loses leadership) after 4s instead of 9s.
    'broker.heartbeat.interval.ms': 1000,
    'broker.session.timeout.ms': 4000,
    'log.cleaner.backoff.ms': 100,
    'log.cleaner.dedupe.buffer.size': 16 * 1024 * 1024,
    'log.initial.task.delay.ms': 1000,
    'message.max.bytes': 10 * 1024 * 1024,
    'replica.fetch.max.bytes': 10 * 1024 * 1024,
    'num.network.threads': 2,
    'num.io.threads': 4,
  };
}

/**
 * Listener and KRaft settings of one node.
 * @param {NodeInfo} node
 * @param {NodeInfo[]} allNodes
 * @returns {Record<string, string | number>}
 */
function kraftConfig(node, allNodes) {
  return {
    'process.roles': 'broker,controller',
    'node.id': node.id,
    'controller.quorum.voters': allNodes
      .map((n) => `${n.id}@127.0.0.1:${n.controllerPort}`)
      .join(','),
    'controller.listener.names': 'CONTROLLER',
    'listeners': `PLAINTEXT://127.0.0.1:${node.port},CONTROLLER://127.0.0.1:${node.controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${node.port}`,
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'log.dirs': path.join(node.dir, 'data'),
  };
}

/**
 * @typedef {Record<string, string | number | boolean | null | undefined>} BrokerProps
 * @typedef {BrokerProps | ((node: NodeInfo, base: BrokerProps) => BrokerProps)} BrokerConfig
 *   Extra or overriding server properties: an object, or a function of the
 *   node and its computed base properties (for per-node values such as extra
 *   listener ports). `null`/`undefined` removes a property.
 */

/**
 * Builds the full property map of a node: KRaft/listeners, test defaults,
 * then the caller's overrides.
 *
 * @param {NodeInfo} node
 * @param {NodeInfo[]} allNodes
 * @param {BrokerConfig} [brokerConfig]
 * @returns {Record<string, string | number | boolean>}
 */
export function buildNodeConfig(node, allNodes, brokerConfig = {}) {
  const base = { ...kraftConfig(node, allNodes), ...testBrokerDefaults(allNodes.length) };
  const overrides = typeof brokerConfig === 'function' ? brokerConfig(node, { ...base }) : brokerConfig;
  const merged = { ...base, ...overrides };
  for (const key of Object.keys(merged)) {
    if (merged[key] === null || merged[key] === undefined) delete merged[key];
  }
  return /** @type {Record<string, string | number | boolean>} */ (merged);
}

/**
 * Returns the properties that add one more listener on 127.0.0.1 to `base`
 * (e.g. a SASL or TLS listener next to the PLAINTEXT one, which the
 * readiness probes keep using). Merge the result into a brokerConfig:
 *
 *   brokerConfig: (node, base) => ({
 *     ...addListener(base, { name: 'SASL_PLAINTEXT', protocol: 'SASL_PLAINTEXT', port: node.port + 1000 }),
 *     'sasl.enabled.mechanisms': 'PLAIN',
 *   })
 *
 * @param {BrokerProps} base
 * @param {{ name: string, protocol: string, port: number }} listener
 * @returns {BrokerProps}
 */
export function addListener(base, { name, protocol, port }) {
  return {
    'listeners': `${base.listeners},${name}://127.0.0.1:${port}`,
    'advertised.listeners': `${base['advertised.listeners']},${name}://127.0.0.1:${port}`,
    'listener.security.protocol.map': `${base['listener.security.protocol.map']},${name}:${protocol}`,
  };
}

/**
 * Serialises properties in java.util.Properties format.
 * @param {Record<string, unknown>} props
 * @returns {string}
 */
function toProperties(props) {
  const escape = (s) => String(s).replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return Object.entries(props).map(([k, v]) => `${k}=${escape(v)}`).join('\n') + '\n';
}

/** log4j2 configuration: everything to stdout, which is the node's broker.log. */
const LOG4J2_PROPERTIES = `status = warn
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.network.name = kafka.network.RequestChannel$
logger.network.level = WARN
logger.zookeeper.name = org.apache.zookeeper
logger.zookeeper.level = WARN
`;

// ---------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------

/**
 * JVM properties pointing log4j2 at the cluster's configuration. Its shutdown
 * hook is disabled so the broker keeps logging until the JVM exits.
 * @param {NodeInfo} node
 * @returns {string[]}
 */
function log4jArgs(node) {
  return [
    `-Dlog4j2.configurationFile=${path.join(node.dir, '..', 'log4j2.properties')}`,
    '-Dlog4j2.shutdownHookEnabled=false',
  ];
}

/** @returns {string} the java executable (honours JAVA_HOME). */
function javaExecutable() {
  return process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
}

/**
 * Command line of a process, or null if it does not exist.
 * @param {number} pid
 * @returns {string | null}
 */
function processCommandLine(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    if (fs.existsSync('/proc/self')) return null;
  }
  try {
    return execFileSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

/**
 * Whether a pid is alive. A zombie counts as dead once all of its threads
 * have exited (only then are its sockets closed and its ports free).
 * @param {number} pid
 * @returns {boolean}
 */
function isAlive(pid) {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return /** @type {NodeJS.ErrnoException} */ (err).code === 'EPERM';
  }
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const state = /^State:\s+(\S)/m.exec(status)?.[1];
    const threads = Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? '1');
    return !((state === 'Z' || state === 'X') && threads <= 1);
  } catch {
    return true;
  }
}

/**
 * Whether `pid` is the broker of `node` (guards against recycled pids).
 * @param {number | null} pid
 * @param {NodeInfo} node
 * @returns {boolean}
 */
function isNodeProcess(pid, node) {
  if (!pid || !isAlive(pid)) return false;
  const cmd = processCommandLine(pid);
  return cmd !== null && cmd.includes('kafka.Kafka') && cmd.includes(node.configFile);
}

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sends `signal`, then waits until the process is gone; escalates to SIGKILL
 * after `timeoutMs`.
 * @param {number} pid
 * @param {{ signal?: NodeJS.Signals, timeoutMs?: number }} [opts]
 * @returns {Promise<'exited' | 'killed'>}
 */
async function terminate(pid, { signal = 'SIGTERM', timeoutMs = DEFAULT_STOP_TIMEOUT_MS } = {}) {
  const signalSafe = (sig) => { try { process.kill(pid, sig); } catch { /* already gone */ } };
  signalSafe(signal);
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      signalSafe('SIGKILL');
      const killDeadline = Date.now() + 10_000;
      while (isAlive(pid)) {
        if (Date.now() > killDeadline) throw new Error(`process ${pid} survived SIGKILL for 10s`);
        await sleep(50);
      }
      return 'killed';
    }
    await sleep(signal === 'SIGKILL' ? 20 : 100);
  }
  return 'exited';
}

/**
 * Last `lines` lines of a file (empty string if missing).
 * @param {string} file
 * @param {number} [lines]
 * @returns {string}
 */
export function tailFile(file, lines = 40) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines - 1).join('\n');
  } catch {
    return '';
  }
}

/**
 * Fails if a TCP port on 127.0.0.1 is already taken.
 * @param {number} port
 * @returns {Promise<void>}
 */
function assertPortFree(port) {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (/** @type {NodeJS.ErrnoException} */ err) => reject(err.code === 'EADDRINUSE'
      ? new Error(`port 127.0.0.1:${port} is already in use (another cluster? try: node scripts/kafka/cli.mjs status)`)
      : err));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve()));
  });
}

/**
 * Waits (briefly) for a port that a just-stopped node held to become free.
 * @param {number} port
 * @param {number} [timeoutMs]
 * @returns {Promise<void>}
 */
async function waitForPortFree(port, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await assertPortFree(port);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
}

// ---------------------------------------------------------------------------
// Kafka wire protocol probes
// ---------------------------------------------------------------------------

/** Kafka error codes the readiness checks retry on. */
const RETRIABLE_COORDINATOR_ERRORS = new Set([
  14, // COORDINATOR_LOAD_IN_PROGRESS
  15, // COORDINATOR_NOT_AVAILABLE
  16, // NOT_COORDINATOR
]);

/**
 * Minimal reader over a Kafka response body (non-flexible versions only).
 */
class ResponseReader {
  /** @param {Buffer} buf */
  constructor(buf) {
    this.buf = buf;
    this.offset = 0;
  }

  int8() { const v = this.buf.readInt8(this.offset); this.offset += 1; return v; }

  int16() { const v = this.buf.readInt16BE(this.offset); this.offset += 2; return v; }

  int32() { const v = this.buf.readInt32BE(this.offset); this.offset += 4; return v; }

  /** @returns {string | null} */
  string() {
    const len = this.int16();
    if (len < 0) return null;
    const v = this.buf.toString('utf8', this.offset, this.offset + len);
    this.offset += len;
    return v;
  }
}

/**
 * Encodes a Kafka string (int16 length + UTF-8 bytes).
 * @param {string} value
 * @returns {Buffer}
 */
function encodeString(value) {
  const bytes = Buffer.from(value, 'utf8');
  const len = Buffer.alloc(2);
  len.writeInt16BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

/**
 * Sends one request (header v1, i.e. a non-flexible API version) to a broker
 * on 127.0.0.1 over a fresh socket and returns the response body.
 *
 * @param {number} port
 * @param {{ apiKey: number, apiVersion: number, body: Buffer, timeoutMs?: number }} request
 * @returns {Promise<ResponseReader>} positioned after the correlation id
 */
export function kafkaRequest(port, { apiKey, apiVersion, body, timeoutMs = 3000 }) {
  const correlationId = 1;
  const header = Buffer.alloc(8);
  header.writeInt16BE(apiKey, 0);
  header.writeInt16BE(apiVersion, 2);
  header.writeInt32BE(correlationId, 4);
  const payload = Buffer.concat([header, encodeString('local-kafka-probe'), body]);
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length);

  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let received = Buffer.alloc(0);
    const fail = (err) => { socket.destroy(); reject(err); };
    socket.setTimeout(timeoutMs, () => fail(new Error('timeout')));
    socket.once('error', fail);
    socket.once('connect', () => socket.write(Buffer.concat([size, payload])));
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 4 || received.length < 4 + received.readInt32BE(0)) return;
      socket.destroy();
      const reader = new ResponseReader(received.subarray(4, 4 + received.readInt32BE(0)));
      if (reader.int32() !== correlationId) reject(new Error('unexpected correlation id'));
      else resolve(reader);
    });
    socket.once('end', () => fail(new Error('connection closed')));
  });
}

/**
 * Metadata v4 for no topics: which brokers are registered and unfenced.
 * @param {number} port
 * @param {number} [timeoutMs]
 * @returns {Promise<{ brokers: number[], controllerId: number, clusterId: string | null }>}
 */
export async function probeBroker(port, timeoutMs = 3000) {
  const body = Buffer.alloc(5);
  body.writeInt32BE(0, 0); // topics: empty array
  body.writeInt8(0, 4); // allow_auto_topic_creation: false
  const r = await kafkaRequest(port, { apiKey: 3, apiVersion: 4, body, timeoutMs });
  r.int32(); // throttle_time_ms
  const brokers = [];
  for (let i = r.int32(); i > 0; i--) {
    brokers.push(r.int32());
    r.string(); // host
    r.int32(); // port
    r.string(); // rack
  }
  const clusterId = r.string();
  const controllerId = r.int32();
  return { brokers, controllerId, clusterId };
}

/**
 * FindCoordinator v1; asking creates the internal __consumer_offsets
 * (keyType 0, group) or __transaction_state (keyType 1) topic if missing.
 * @param {number} port
 * @param {string} key
 * @param {0 | 1} keyType
 * @returns {Promise<{ errorCode: number, nodeId: number }>}
 */
async function findCoordinator(port, key, keyType) {
  const body = Buffer.concat([encodeString(key), Buffer.from([keyType])]);
  const r = await kafkaRequest(port, { apiKey: 10, apiVersion: 1, body });
  r.int32(); // throttle_time_ms
  const errorCode = r.int16();
  r.string(); // error_message
  return { errorCode, nodeId: r.int32() };
}

/**
 * InitProducerId v1 without a transactional id (what an idempotent producer
 * sends first); the first one makes the broker fetch a producer-id block.
 * @param {number} port
 * @returns {Promise<{ errorCode: number }>}
 */
async function initProducerId(port) {
  const body = Buffer.alloc(6);
  body.writeInt16BE(-1, 0); // transactional_id: null
  body.writeInt32BE(60_000, 2); // transaction_timeout_ms
  const r = await kafkaRequest(port, { apiKey: 22, apiVersion: 1, body });
  r.int32(); // throttle_time_ms
  return { errorCode: r.int16() };
}

/**
 * Repeats a coordinator request until it succeeds, retrying on the
 * "not available / loading" error codes.
 * @param {string} what
 * @param {() => Promise<{ errorCode: number }>} request
 * @param {number} deadline
 */
async function retryUntilAvailable(what, request, deadline) {
  let lastError;
  for (;;) {
    try {
      const { errorCode } = await request();
      if (errorCode === 0) return;
      if (!RETRIABLE_COORDINATOR_ERRORS.has(errorCode)) throw new Error(`${what}: error code ${errorCode}`);
      lastError = `error code ${errorCode}`;
    } catch (err) {
      if (err.message.startsWith(what)) throw err;
      lastError = err.message;
    }
    if (Date.now() > deadline) throw new Error(`${what} not available in time (${lastError})`);
    await sleep(PROBE_INTERVAL_MS);
  }
}

/**
 * Creates the group and transaction coordinator topics and fetches the first
 * producer-id block, so the first consumer group or idempotent producer of a
 * test does not race their lazy initialisation.
 * @param {NodeInfo[]} nodes
 * @param {number} deadline
 */
async function warmUpCoordinators(nodes, deadline) {
  const key = 'local-kafka-warm-up';
  const { port } = nodes[0];
  await retryUntilAvailable('group coordinator', () => findCoordinator(port, key, 0), deadline);
  await retryUntilAvailable('transaction coordinator', () => findCoordinator(port, key, 1), deadline);
  // Every broker allocates its own producer-id block.
  await Promise.all(nodes.map((n) => retryUntilAvailable('producer id allocation', () => initProducerId(n.port), deadline)));
}

/**
 * Waits until a node answers Metadata requests and lists itself plus
 * `expectBrokers` registered (unfenced) brokers.
 * @param {NodeInfo} node
 * @param {{ deadline: number, expectBrokers: number, exited: () => boolean }} opts
 * @returns {Promise<void>}
 */
async function waitForNode(node, { deadline, expectBrokers, exited }) {
  let lastError = 'no answer yet';
  while (Date.now() < deadline) {
    if (exited()) throw new Error(`node ${node.index} (pid ${node.pid}) exited during startup`);
    try {
      const { brokers } = await probeBroker(node.port, Math.max(500, Math.min(3000, deadline - Date.now())));
      if (brokers.includes(node.id) && brokers.length >= expectBrokers) return;
      lastError = `metadata lists brokers [${brokers.join(',')}], waiting for ${expectBrokers} incl. ${node.id}`;
    } catch (err) {
      lastError = err.message;
    }
    await sleep(PROBE_INTERVAL_MS);
  }
  throw new Error(`node ${node.index} on 127.0.0.1:${node.port} not ready in time (${lastError})`);
}

// ---------------------------------------------------------------------------
// Cluster state
// ---------------------------------------------------------------------------

/**
 * @param {string} name
 * @returns {string}
 */
function clusterDirOf(name) {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`invalid cluster name '${name}'`);
  return path.join(KAFKA_DIR, name);
}

/**
 * @param {string} name
 * @returns {object | null} parsed state.json, or null
 */
export function readState(name) {
  try {
    return JSON.parse(fs.readFileSync(path.join(clusterDirOf(name), 'state.json'), 'utf8'));
  } catch {
    return null;
  }
}

/**
 * Atomically writes state.json.
 * @param {string} name
 * @param {object} state
 */
function writeState(name, state) {
  const file = path.join(clusterDirOf(name), 'state.json');
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 2) + '\n');
  fs.renameSync(`${file}.tmp`, file);
}

/**
 * Stops the nodes of a cluster recorded in its state.json (only processes
 * that are still the recorded brokers). Safe to call when nothing runs.
 * SIGTERM first, SIGKILL after `timeoutMs` (default 15s for one node, 3s for
 * several).
 * @param {{ name?: string, log?: LogFn, timeoutMs?: number }} [options]
 * @returns {Promise<{ stopped: number }>}
 */
export async function stopCluster({ name = 'default', log = defaultLog, timeoutMs } = {}) {
  const state = readState(name);
  if (!state) return { stopped: 0 };
  timeoutMs ??= clusterStopTimeout(state.nodes.length);
  const running = state.nodes.filter((n) => isNodeProcess(n.pid, n));
  if (running.length) log(`stopping cluster '${name}' (${running.length} node(s))...`);
  await Promise.all(running.map((n) => terminate(n.pid, { timeoutMs })));
  for (const n of state.nodes) n.pid = null;
  state.stoppedAt = new Date().toISOString();
  writeState(name, state);
  return { stopped: running.length };
}

/**
 * Status of every cluster found in `.kafka/` (or just `name`).
 * @param {{ name?: string }} [options]
 * @returns {{ name: string, version: string, brokers: string[], nodes: { index: number, id: number, port: number, pid: number | null, alive: boolean }[] }[]}
 */
export function clusterStatus({ name } = {}) {
  let names = [];
  if (name) names = [name];
  else if (fs.existsSync(KAFKA_DIR)) {
    names = fs.readdirSync(KAFKA_DIR).filter((n) => fs.existsSync(path.join(KAFKA_DIR, n, 'state.json')));
  }
  return names.map((n) => readState(n)).filter(Boolean).map((state) => ({
    name: state.name,
    version: state.version,
    brokers: state.brokers,
    nodes: state.nodes.map((node) => ({
      index: node.index,
      id: node.id,
      port: node.port,
      pid: node.pid,
      alive: isNodeProcess(node.pid, node),
    })),
  }));
}

// ---------------------------------------------------------------------------
// Cluster lifecycle
// ---------------------------------------------------------------------------

/**
 * Formats a node's storage directory for the given cluster id.
 * @param {NodeInfo} node
 * @param {{ classpath: string, clusterId: string, formatArgs?: readonly string[] }} opts
 */
async function formatStorage(node, { classpath, clusterId, formatArgs = [] }) {
  // kafka.tools.StorageTool ships in kafka_2.13 for both 3.x and 4.x. With a
  // static controller.quorum.voters no --standalone/--initial-controllers is needed.
  const { code, output } = await runCollecting(javaExecutable(), [
    '-Xmx256m', '-XX:TieredStopAtLevel=1', ...log4jArgs(node), '-cp', classpath,
    'kafka.tools.StorageTool', 'format',
    '--cluster-id', clusterId,
    '--config', node.configFile,
    '--ignore-formatted',
    ...formatArgs,
  ], { log: () => {} });
  if (code !== 0) {
    throw new Error(`formatting storage of node ${node.index} failed (exit ${code}):\n${output.trim()}`);
  }
}

/**
 * Spawns the broker of a node detached, appending output to broker.log.
 * @param {NodeInfo} node
 * @param {{ classpath: string, jvmArgs: readonly string[] }} opts
 * @returns {{ pid: number, exited: () => boolean }}
 */
function spawnNode(node, { classpath, jvmArgs }) {
  const out = fs.openSync(node.logFile, 'a');
  fs.writeSync(out, `\n===== starting node ${node.index} (node.id ${node.id}) at ${new Date().toISOString()} =====\n`);
  const child = spawn(javaExecutable(), [
    ...jvmArgs,
    ...log4jArgs(node),
    `-Dkafka.logs.dir=${node.dir}`,
    '-cp', classpath,
    'kafka.Kafka', node.configFile,
  ], { cwd: node.dir, detached: true, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  let exited = false;
  child.on('exit', () => { exited = true; });
  child.on('error', () => { exited = true; });
  child.unref();
  if (!child.pid) throw new Error(`could not spawn ${javaExecutable()} for node ${node.index}`);
  return { pid: child.pid, exited: () => exited || !isAlive(child.pid) };
}

/**
 * Generates a random Kafka cluster id (16 bytes, URL-safe base64).
 * @returns {string}
 */
function newClusterId() {
  // Like Kafka's own Uuid.randomUuid(): never starting with '-', which the format command
  // would read as an option ("--cluster-id: expected one argument").
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/**
 * Picks client and controller ports for every node.
 * @param {number} nodes
 * @param {number | undefined} basePort  0 = any free ports
 * @returns {Promise<{ port: number, controllerPort: number }[]>}
 */
async function choosePorts(nodes, basePort) {
  const ports = [];
  for (let i = 0; i < nodes; i++) {
    if (basePort === 0) {
      ports.push({ port: await freePort(), controllerPort: await freePort() });
    } else {
      const base = basePort ?? (nodes === 1 ? DEFAULT_BASE_PORT : DEFAULT_MULTI_NODE_BASE_PORT);
      ports.push({ port: base + i, controllerPort: base + CONTROLLER_PORT_OFFSET + i });
    }
  }
  for (const { port, controllerPort } of ports) {
    await assertPortFree(port);
    await assertPortFree(controllerPort);
  }
  return ports;
}

/**
 * @typedef {object} LocalCluster
 * @property {string} name
 * @property {string} version            Kafka version
 * @property {string} clusterId
 * @property {string[]} brokers          bootstrap addresses, '127.0.0.1:<port>'
 * @property {NodeInfo[]} nodes
 * @property {(i: number, opts?: { timeoutMs?: number }) => Promise<void>} stopNode   SIGTERM (SIGKILL after timeout), waits for exit
 * @property {(i: number, opts?: { deadlineMs?: number }) => Promise<void>} startNode restarts a stopped node on its data dir, waits until it answers
 * @property {(i: number) => Promise<void>} killNode   SIGKILL, waits for exit
 * @property {(opts?: { timeoutMs?: number }) => Promise<void>} stop  stops all nodes (SIGTERM; SIGKILL
 *   after timeoutMs, default 15s for one node, 3s for several), waits for exit
 */

/**
 * Starts a fresh local KRaft cluster; every node is a combined
 * broker+controller on 127.0.0.1. Data of a previous cluster with the same
 * name is wiped; still-running nodes of it are stopped first.
 *
 * @param {object} [options]
 * @param {number} [options.nodes=1]          number of nodes
 * @param {string} [options.name='default']  cluster name (directory under .kafka/)
 * @param {number} [options.basePort]         first client port (19092 single node,
 *   19192 multi node); node i uses basePort+i and controller port basePort+50+i;
 *   0 picks free ports
 * @param {LogFn} [options.log]               progress output
 * @param {number} [options.deadlineMs=90000] max time to wait for the cluster
 * @param {BrokerConfig} [options.brokerConfig]  extra/overriding server properties
 * @param {readonly string[]} [options.jvmArgs]  JVM options (default DEFAULT_JVM_ARGS)
 * @param {boolean} [options.stopOnExit=false]  SIGKILL the nodes when this process exits
 * @param {readonly string[]} [options.formatArgs]  extra arguments of the storage format
 *   command, e.g. ['--add-scram', 'SCRAM-SHA-512=[name=alice,password=alice-secret]']
 * @param {boolean} [options.warmUp=true]  create the group/transaction coordinator topics
 *   before returning, so the first consumer group does not race their creation
 * @returns {Promise<LocalCluster>}
 */
export async function startCluster({
  nodes = 1,
  name = 'default',
  basePort,
  log = defaultLog,
  deadlineMs = 90_000,
  brokerConfig = {},
  jvmArgs = DEFAULT_JVM_ARGS,
  stopOnExit = false,
  warmUp = true,
  formatArgs = [],
} = {}) {
  if (!Number.isInteger(nodes) || nodes < 1) throw new Error(`nodes must be a positive integer, got ${nodes}`);
  const clusterDir = clusterDirOf(name);
  const { version, classpath } = await fetchKafka({ log });
  await stopCluster({ name, log });

  const ports = await choosePorts(nodes, basePort);
  fs.rmSync(clusterDir, { recursive: true, force: true });
  fs.mkdirSync(clusterDir, { recursive: true });
  fs.writeFileSync(path.join(clusterDir, 'log4j2.properties'), LOG4J2_PROPERTIES);

  const nodeInfos = ports.map((p, index) => describeNode({ clusterDir, index, ...p }));
  for (const node of nodeInfos) {
    fs.mkdirSync(node.dir, { recursive: true });
    fs.writeFileSync(node.configFile, toProperties(buildNodeConfig(node, nodeInfos, brokerConfig)));
  }

  const clusterId = newClusterId();
  log(`starting ${nodes}-node Kafka ${version} cluster '${name}' (KRaft) on ${nodeInfos.map((n) => `127.0.0.1:${n.port}`).join(',')}...`);
  const started = Date.now();
  await Promise.all(nodeInfos.map((node) => formatStorage(node, { classpath, clusterId, formatArgs })));
  log(`storage formatted in ${((Date.now() - started) / 1000).toFixed(1)}s`);

  const state = {
    name,
    version,
    clusterId,
    createdAt: new Date().toISOString(),
    brokers: nodeInfos.map((n) => `127.0.0.1:${n.port}`),
    nodes: nodeInfos,
  };
  /** @type {Map<number, () => boolean>} */
  const exitedChecks = new Map();
  const save = () => writeState(name, state);

  const launch = (node) => {
    const { pid, exited } = spawnNode(node, { classpath, jvmArgs });
    node.pid = pid;
    exitedChecks.set(node.index, exited);
    save();
  };

  const awaitReady = async (targets, deadline) => {
    const expectBrokers = nodeInfos.filter((n) => n.pid).length;
    try {
      await Promise.all(targets.map((node) => waitForNode(node, {
        deadline,
        expectBrokers,
        exited: exitedChecks.get(node.index),
      })));
    } catch (err) {
      for (const node of targets) {
        log(`--- last lines of ${node.logFile} ---\n${tailFile(node.logFile)}`);
      }
      throw err;
    }
  };

  const nodeAt = (i) => {
    const node = nodeInfos[i];
    if (!node) throw new Error(`no node ${i} in cluster '${name}' (${nodes} nodes)`);
    return node;
  };

  const spawned = Date.now();
  nodeInfos.forEach(launch);
  try {
    await awaitReady(nodeInfos, started + deadlineMs);
    log(`${nodes} node(s) answering ${((Date.now() - spawned) / 1000).toFixed(1)}s after spawn`);
    if (warmUp) await warmUpCoordinators(nodeInfos, started + deadlineMs);
  } catch (err) {
    await Promise.all(nodeInfos.map((n) => n.pid && terminate(n.pid, { signal: 'SIGKILL' })));
    nodeInfos.forEach((n) => { n.pid = null; });
    save();
    throw err;
  }
  log(`Kafka ${version} cluster '${name}' ready in ${((Date.now() - started) / 1000).toFixed(1)}s: ${state.brokers.join(',')}`);

  if (stopOnExit) {
    process.once('exit', () => {
      for (const n of nodeInfos) if (n.pid) { try { process.kill(n.pid, 'SIGKILL'); } catch { /* gone */ } }
    });
  }

  /** @type {LocalCluster} */
  const cluster = {
    name,
    version,
    clusterId,
    brokers: state.brokers,
    nodes: nodeInfos,

    async stopNode(i, { timeoutMs = DEFAULT_STOP_TIMEOUT_MS } = {}) {
      const node = nodeAt(i);
      if (node.pid) await terminate(node.pid, { timeoutMs });
      node.pid = null;
      save();
    },

    async killNode(i) {
      const node = nodeAt(i);
      if (node.pid) await terminate(node.pid, { signal: 'SIGKILL' });
      node.pid = null;
      save();
    },

    async startNode(i, { deadlineMs: nodeDeadlineMs = deadlineMs } = {}) {
      const node = nodeAt(i);
      if (node.pid && isAlive(node.pid)) throw new Error(`node ${i} of cluster '${name}' is already running (pid ${node.pid})`);
      await waitForPortFree(node.port);
      await waitForPortFree(node.controllerPort);
      launch(node);
      await awaitReady([node], Date.now() + nodeDeadlineMs);
    },

    async stop({ timeoutMs = clusterStopTimeout(nodes) } = {}) {
      await Promise.all(nodeInfos.map((n) => n.pid && terminate(n.pid, { timeoutMs })));
      nodeInfos.forEach((n) => { n.pid = null; });
      state.stoppedAt = new Date().toISOString();
      save();
    },
  };
  return cluster;
}
