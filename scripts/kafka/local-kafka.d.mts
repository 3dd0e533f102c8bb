// Types of local-kafka.mjs, for the TypeScript tests that start their own brokers.

export type LogFn = (message: string) => void;

export interface LocalClusterNode {
  index: number;
  id: number;
  port: number;
  controllerPort: number;
  dir: string;
  configFile: string;
  /** The node's stdout/stderr and log4j output. */
  logFile: string;
  pid: number | null;
}

export interface LocalCluster {
  name: string;
  version: string;
  clusterId: string;
  /** "127.0.0.1:port" of every node. */
  brokers: string[];
  nodes: LocalClusterNode[];
  /** SIGTERM (SIGKILL after the timeout); waits until the process exited. */
  stopNode(index: number, options?: { timeoutMs?: number }): Promise<void>;
  /** Starts a stopped node again on its data directory; waits until it answers. */
  startNode(index: number, options?: { deadlineMs?: number }): Promise<void>;
  /** SIGKILL; waits until the process exited. */
  killNode(index: number): Promise<void>;
  /** Stops every node: SIGTERM, SIGKILL after timeoutMs (default 15s for one node, 3s for several); waits until they exited. */
  stop(options?: { timeoutMs?: number }): Promise<void>;
}

export interface StartClusterOptions {
  nodes?: number;
  name?: string;
  /** First broker port; 0 picks free ports. */
  basePort?: number;
  log?: LogFn;
  deadlineMs?: number;
  brokerConfig?: Record<string, unknown> | ((node: LocalClusterNode, base: Record<string, unknown>) => Record<string, unknown>);
  jvmArgs?: readonly string[];
  stopOnExit?: boolean;
  /** Create the group/transaction coordinator topics before returning. Default true. */
  warmUp?: boolean;
  /** Extra arguments of the storage format command, e.g. `['--add-scram', 'SCRAM-SHA-512=[name=alice,password=secret]']`. */
  formatArgs?: readonly string[];
}

export const REPO_ROOT: string;
export const KAFKA_DIR: string;
export function kafkaVersion(): string;
export function fetchKafka(options?: { log?: LogFn }): Promise<{ version: string; classpath: string; jars: string[]; classpathFile: string }>;
export function startCluster(options?: StartClusterOptions): Promise<LocalCluster>;
/** The properties that add one more listener on 127.0.0.1 to a node's base properties (merge into brokerConfig). */
export function addListener(
  base: Record<string, unknown>,
  listener: { name: string; protocol: string; port: number },
): Record<string, string>;
export function stopCluster(options?: { name?: string; log?: LogFn; timeoutMs?: number }): Promise<{ stopped: number }>;
/** Clusters recorded in .kafka/ (or just `name`) and whether their nodes run. */
export function clusterStatus(options?: { name?: string }): {
  name: string;
  version: string;
  brokers: string[];
  nodes: { index: number; id: number; port: number; pid: number | null; alive: boolean }[];
}[];
/** Test broker defaults for a cluster of `nodeCount` nodes (before brokerConfig overrides). */
export function testBrokerDefaults(nodeCount: number): Record<string, string | number | boolean>;
/** Metadata v4 request over a raw socket: the registered (unfenced) broker ids. */
export function probeBroker(port: number, timeoutMs?: number): Promise<{ brokers: number[]; controllerId: number; clusterId: string | null }>;
/** Last lines of a file ('' if missing), e.g. a node's logFile. */
export function tailFile(file: string, lines?: number): string;
