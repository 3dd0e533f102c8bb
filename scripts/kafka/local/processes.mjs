// The java processes of a cluster: formatting storage, spawning, finding, stopping and killing brokers.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { sleep } from '../../lib/shared.mjs';

/**
 * @typedef {import('./log.mjs').LogFn} LogFn
 * @typedef {import('./config.mjs').NodeInfo} NodeInfo
 */

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
export const DEFAULT_STOP_TIMEOUT_MS = 15_000;
/**
 * Grace period when a whole multi-node cluster stops at once: the last
 * brokers lose their controller quorum and can wait forever for it.
 */
export const CLUSTER_STOP_TIMEOUT_MS = 3_000;

/**
 * Grace period for stopping all `nodeCount` nodes of a cluster together.
 * @param {number} nodeCount
 * @returns {number}
 */
export function clusterStopTimeout(nodeCount) {
  return nodeCount > 1 ? CLUSTER_STOP_TIMEOUT_MS : DEFAULT_STOP_TIMEOUT_MS;
}

/**
 * Runs a command, collecting its combined output. Prints a heartbeat every
 * `heartbeatMs` so long downloads show progress.
 * @param {string} cmd
 * @param {string[]} args
 * @param {{ log: LogFn, heartbeat?: string, heartbeatMs?: number, cwd?: string }} opts
 * @returns {Promise<{ code: number | null, output: string }>}
 */
export function runCollecting(cmd, args, { log, heartbeat, heartbeatMs = 10_000, cwd }) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const timer = heartbeat ? setInterval(() => log(`${heartbeat} (${Math.round((Date.now() - started) / 1000)}s)`), heartbeatMs) : null;
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
 * JVM properties pointing log4j2 at the cluster's configuration. Its shutdown
 * hook is disabled so the broker keeps logging until the JVM exits.
 * @param {NodeInfo} node
 * @returns {string[]}
 */
export function log4jArgs(node) {
  return [`-Dlog4j2.configurationFile=${path.join(node.dir, '..', 'log4j2.properties')}`, '-Dlog4j2.shutdownHookEnabled=false'];
}

/** @returns {string} the java executable (honours JAVA_HOME). */
export function javaExecutable() {
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
export function isAlive(pid) {
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
export function isNodeProcess(pid, node) {
  if (!pid || !isAlive(pid)) return false;
  const cmd = processCommandLine(pid);
  return cmd !== null && cmd.includes('kafka.Kafka') && cmd.includes(node.configFile);
}

/**
 * Sends `signal`, then waits until the process is gone; escalates to SIGKILL
 * after `timeoutMs`.
 * @param {number} pid
 * @param {{ signal?: NodeJS.Signals, timeoutMs?: number }} [opts]
 * @returns {Promise<'exited' | 'killed'>}
 */
export async function terminate(pid, { signal = 'SIGTERM', timeoutMs = DEFAULT_STOP_TIMEOUT_MS } = {}) {
  /** @param {NodeJS.Signals} sig */
  const signalSafe = (sig) => {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  };
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
    return fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .slice(-lines - 1)
      .join('\n');
  } catch {
    return '';
  }
}

/**
 * Formats a node's storage directory for the given cluster id.
 * @param {NodeInfo} node
 * @param {{ classpath: string, clusterId: string, formatArgs?: readonly string[] }} opts
 */
export async function formatStorage(node, { classpath, clusterId, formatArgs = [] }) {
  // kafka.tools.StorageTool ships in kafka_2.13 for both 3.x and 4.x. With a
  // static controller.quorum.voters no --standalone/--initial-controllers is needed.
  const { code, output } = await runCollecting(
    javaExecutable(),
    [
      '-Xmx256m',
      '-XX:TieredStopAtLevel=1',
      ...log4jArgs(node),
      '-cp',
      classpath,
      'kafka.tools.StorageTool',
      'format',
      '--cluster-id',
      clusterId,
      '--config',
      node.configFile,
      '--ignore-formatted',
      ...formatArgs,
    ],
    { log: () => {} },
  );
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
export function spawnNode(node, { classpath, jvmArgs }) {
  const out = fs.openSync(node.logFile, 'a');
  fs.writeSync(out, `\n===== starting node ${node.index} (node.id ${node.id}) at ${new Date().toISOString()} =====\n`);
  const child = spawn(javaExecutable(), [...jvmArgs, ...log4jArgs(node), `-Dkafka.logs.dir=${node.dir}`, '-cp', classpath, 'kafka.Kafka', node.configFile], {
    cwd: node.dir,
    detached: true,
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  child.on('error', () => {
    exited = true;
  });
  child.unref();
  const { pid } = child;
  if (!pid) throw new Error(`could not spawn ${javaExecutable()} for node ${node.index}`);
  return { pid, exited: () => exited || !isAlive(pid) };
}
