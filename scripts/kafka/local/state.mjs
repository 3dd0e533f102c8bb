// The record of a cluster (`.kafka/<name>/state.json`), and what it allows: stopping a cluster
// started by another process, and reporting which clusters run.
import fs from 'node:fs';
import path from 'node:path';
import { defaultLog } from './log.mjs';
import { KAFKA_DIR, clusterDirOf } from './paths.mjs';
import { clusterStopTimeout, isNodeProcess, terminate } from './processes.mjs';

/**
 * @typedef {import('./log.mjs').LogFn} LogFn
 * @typedef {import('./config.mjs').NodeInfo} NodeInfo
 */

/**
 * @typedef {object} ClusterState
 * @property {string} name
 * @property {string} version          Kafka version
 * @property {string} clusterId
 * @property {string} createdAt        ISO time of the start
 * @property {string} [stoppedAt]      ISO time of the last stop
 * @property {string[]} brokers        bootstrap addresses, '127.0.0.1:<port>'
 * @property {NodeInfo[]} nodes
 */

/**
 * @typedef {object} ClusterStatus
 * @property {string} name
 * @property {string} version
 * @property {string[]} brokers
 * @property {{ index: number, id: number, port: number, pid: number | null, alive: boolean }[]} nodes
 */

/**
 * The recorded state of the cluster called `name`.
 * @param {string} name
 * @returns {ClusterState | null} parsed state.json, or null
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
 * @param {ClusterState} state
 */
export function writeState(name, state) {
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
  await Promise.all(running.map((n) => terminate(/** @type {number} */ (n.pid), { timeoutMs })));
  for (const n of state.nodes) n.pid = null;
  state.stoppedAt = new Date().toISOString();
  writeState(name, state);
  return { stopped: running.length };
}

/**
 * Status of every cluster found in `.kafka/` (or just `name`).
 * @param {{ name?: string }} [options]
 * @returns {ClusterStatus[]}
 */
export function clusterStatus({ name } = {}) {
  /** @type {string[]} */
  let names = [];
  if (name) names = [name];
  else if (fs.existsSync(KAFKA_DIR)) {
    names = fs.readdirSync(KAFKA_DIR).filter((n) => fs.existsSync(path.join(KAFKA_DIR, n, 'state.json')));
  }
  const states = /** @type {ClusterState[]} */ (names.map((n) => readState(n)).filter(Boolean));
  return states.map((state) => ({
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
