// What a node is (ports, directories) and the files that configure it: server.properties and log4j2.
import path from 'node:path';

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
export function describeNode({ clusterDir, index, port, controllerPort }) {
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
    'controller.quorum.voters': allNodes.map((n) => `${n.id}@127.0.0.1:${n.controllerPort}`).join(','),
    'controller.listener.names': 'CONTROLLER',
    listeners: `PLAINTEXT://127.0.0.1:${node.port},CONTROLLER://127.0.0.1:${node.controllerPort}`,
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
    listeners: `${base.listeners},${name}://127.0.0.1:${port}`,
    'advertised.listeners': `${base['advertised.listeners']},${name}://127.0.0.1:${port}`,
    'listener.security.protocol.map': `${base['listener.security.protocol.map']},${name}:${protocol}`,
  };
}

/**
 * Serialises properties in java.util.Properties format.
 * @param {Record<string, unknown>} props
 * @returns {string}
 */
export function toProperties(props) {
  /** @param {unknown} s */
  const escape = (s) => String(s).replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return (
    Object.entries(props)
      .map(([k, v]) => `${k}=${escape(v)}`)
      .join('\n') + '\n'
  );
}

/** log4j2 configuration: everything to stdout, which is the node's broker.log. */
export const LOG4J2_PROPERTIES = `status = warn
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
