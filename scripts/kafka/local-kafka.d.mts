// Types of local-kafka.mjs, for the TypeScript tests that start their own brokers.

export type LogFn = (message: string) => void;

export interface LocalClusterNode {
  index: number;
  id: number;
  port: number;
  controllerPort: number;
  dir: string;
  pid: number | null;
}

export interface LocalCluster {
  name: string;
  version: string;
  /** "127.0.0.1:port" of every node. */
  brokers: string[];
  nodes: LocalClusterNode[];
  /** SIGTERM (SIGKILL after the timeout); waits until the process exited. */
  stopNode(index: number, options?: { timeoutMs?: number }): Promise<void>;
  /** Starts a stopped node again on its data directory; waits until it answers. */
  startNode(index: number, options?: { deadlineMs?: number }): Promise<void>;
  /** SIGKILL; waits until the process exited. */
  killNode(index: number): Promise<void>;
  /** Stops every node. */
  stop(): Promise<void>;
}

export interface StartClusterOptions {
  nodes?: number;
  name?: string;
  /** First broker port; 0 picks free ports. */
  basePort?: number;
  log?: LogFn;
  deadlineMs?: number;
  brokerConfig?: Record<string, unknown> | ((node: LocalClusterNode) => Record<string, unknown>);
  jvmArgs?: readonly string[];
  stopOnExit?: boolean;
}

export const REPO_ROOT: string;
export const KAFKA_DIR: string;
export function kafkaVersion(): string;
export function fetchKafka(options?: { log?: LogFn }): Promise<{ version: string; classpath: string }>;
export function startCluster(options?: StartClusterOptions): Promise<LocalCluster>;
export function stopCluster(options?: { name?: string; log?: LogFn; timeoutMs?: number }): Promise<{ stopped: number }>;
