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
 * This module is the entry point; the work is done in `local/`, one job per module:
 *
 *   paths.mjs       the repository root, .kafka/, the pom, cluster directories
 *   classpath.mjs   the pinned version and the Maven-resolved classpath
 *   config.mjs      what a node is; server.properties and log4j2 configuration
 *   ports.mjs       default and free ports
 *   processes.mjs   formatting storage; spawning, finding and stopping broker processes
 *   protocol.mjs    a minimal Kafka wire-protocol client (Metadata, FindCoordinator, InitProducerId)
 *   readiness.mjs   waiting until nodes answer and the coordinators are up
 *   state.mjs       .kafka/<name>/state.json: stopping and reporting recorded clusters
 *   cluster.mjs     starting a cluster, and the handle that stops and restarts its nodes
 *
 * Plain ES modules, Node built-ins only, typed with JSDoc (checked by `npm run typecheck`).
 */

/**
 * @typedef {import('./local/log.mjs').LogFn} LogFn
 * @typedef {import('./local/config.mjs').NodeInfo} LocalClusterNode
 * @typedef {import('./local/config.mjs').BrokerProps} BrokerProps
 * @typedef {import('./local/config.mjs').BrokerConfig} BrokerConfig
 * @typedef {import('./local/classpath.mjs').KafkaJars} KafkaJars
 * @typedef {import('./local/state.mjs').ClusterState} ClusterState
 * @typedef {import('./local/state.mjs').ClusterStatus} ClusterStatus
 * @typedef {import('./local/cluster.mjs').StartClusterOptions} StartClusterOptions
 * @typedef {import('./local/cluster.mjs').LocalCluster} LocalCluster
 */

export { REPO_ROOT, KAFKA_DIR, POM_FILE } from './local/paths.mjs';
export { kafkaVersion, fetchKafka } from './local/classpath.mjs';
export { testBrokerDefaults, buildNodeConfig, addListener } from './local/config.mjs';
export { DEFAULT_BASE_PORT, DEFAULT_MULTI_NODE_BASE_PORT, CONTROLLER_PORT_OFFSET } from './local/ports.mjs';
export { DEFAULT_JVM_ARGS, tailFile } from './local/processes.mjs';
export { kafkaRequest, probeBroker } from './local/protocol.mjs';
export { readState, stopCluster, clusterStatus } from './local/state.mjs';
export { startCluster } from './local/cluster.mjs';
