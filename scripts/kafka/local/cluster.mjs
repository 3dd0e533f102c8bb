// Starting a cluster: configure, format, spawn, wait until ready; and the handle that stops,
// kills and restarts its nodes.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fetchKafka } from './classpath.mjs';
import { LOG4J2_PROPERTIES, buildNodeConfig, describeNode, toProperties } from './config.mjs';
import { defaultLog } from './log.mjs';
import { clusterDirOf } from './paths.mjs';
import { choosePorts, waitForPortFree } from './ports.mjs';
import { DEFAULT_JVM_ARGS, DEFAULT_STOP_TIMEOUT_MS, clusterStopTimeout, formatStorage, isAlive, spawnNode, tailFile, terminate } from './processes.mjs';
import { waitForNode, warmUpCoordinators } from './readiness.mjs';
import { stopCluster, writeState } from './state.mjs';

/**
 * @typedef {import('./log.mjs').LogFn} LogFn
 * @typedef {import('./config.mjs').NodeInfo} NodeInfo
 * @typedef {import('./config.mjs').BrokerConfig} BrokerConfig
 * @typedef {import('./state.mjs').ClusterState} ClusterState
 */

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
 * @typedef {object} StartClusterOptions
 * @property {number} [nodes]          number of nodes (default 1)
 * @property {string} [name]           cluster name, its directory under .kafka/ (default 'default')
 * @property {number} [basePort]       first client port (19092 single node, 19192 multi node);
 *   node i uses basePort+i and controller port basePort+50+i; 0 picks free ports
 * @property {LogFn} [log]             progress output
 * @property {number} [deadlineMs]     max time to wait for the cluster (default 90000)
 * @property {BrokerConfig} [brokerConfig]  extra/overriding server properties
 * @property {readonly string[]} [jvmArgs]  JVM options (default DEFAULT_JVM_ARGS)
 * @property {boolean} [stopOnExit]    SIGKILL the nodes when this process exits (default false)
 * @property {readonly string[]} [formatArgs]  extra arguments of the storage format command,
 *   e.g. `['--add-scram', 'SCRAM-SHA-512=[name=alice,password=alice-secret]']`
 * @property {boolean} [warmUp]        create the group/transaction coordinator topics before
 *   returning, so the first consumer group does not race their creation (default true)
 */

/**
 * Starts a fresh local KRaft cluster; every node is a combined
 * broker+controller on 127.0.0.1. Data of a previous cluster with the same
 * name is wiped; still-running nodes of it are stopped first.
 *
 * @param {StartClusterOptions} [options]
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

  /** @type {ClusterState} */
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

  /** @param {NodeInfo} node */
  const launch = (node) => {
    const { pid, exited } = spawnNode(node, { classpath, jvmArgs });
    node.pid = pid;
    exitedChecks.set(node.index, exited);
    save();
  };

  /**
   * @param {NodeInfo[]} targets
   * @param {number} deadline
   */
  const awaitReady = async (targets, deadline) => {
    const expectBrokers = nodeInfos.filter((n) => n.pid).length;
    try {
      await Promise.all(
        targets.map((node) =>
          waitForNode(node, {
            deadline,
            expectBrokers,
            exited: /** @type {() => boolean} */ (exitedChecks.get(node.index)),
          }),
        ),
      );
    } catch (err) {
      for (const node of targets) {
        log(`--- last lines of ${node.logFile} ---\n${tailFile(node.logFile)}`);
      }
      throw err;
    }
  };

  /** @param {number} i */
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
    nodeInfos.forEach((n) => {
      n.pid = null;
    });
    save();
    throw err;
  }
  log(`Kafka ${version} cluster '${name}' ready in ${((Date.now() - started) / 1000).toFixed(1)}s: ${state.brokers.join(',')}`);

  if (stopOnExit) {
    process.once('exit', () => {
      for (const n of nodeInfos)
        if (n.pid) {
          try {
            process.kill(n.pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
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
      nodeInfos.forEach((n) => {
        n.pid = null;
      });
      state.stoppedAt = new Date().toISOString();
      save();
    },
  };
  return cluster;
}
