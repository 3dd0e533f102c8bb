import type { LogRecord } from '../record.js';
import type { RawRecord } from '../log/in-process.js';
import type { ReplicationLogFactory } from '../log/port.js';

/**
 * What the contract suite needs from a replication log to test the cache on it: fresh topics,
 * the log itself, and a way to write, read and compact a topic around the cache.
 */
export interface ReplicationLogHarness {
  /** Names the log in messages, such as "kafka". */
  readonly name: string;
  /** A fresh topic with `partitions` partitions (default 1), compacted within seconds where the log compacts. */
  newTopic(options?: { partitions?: number }): Promise<string>;
  /** The log factory for a cache on `topic` (what `createNearCache({ log })` takes). */
  log(topic: string): ReplicationLogFactory;
  /** Appends records as they are, without validation (to play another writer, or a broken one). Resolves with their offsets. */
  produce(topic: string, records: RawRecord[]): Promise<number[]>;
  /** Every record of the topic, in offset order per partition, as a fresh reader sees it. */
  records(topic: string): Promise<LogRecord[]>;
  /** Runs the log cleaner until `until` holds for the topic's records; rejects if it does not get there. */
  compact(topic: string, until: (records: LogRecord[]) => boolean): Promise<void>;
  /** Makes the log unreachable and reachable again. Without it, section 7 cannot run. */
  outage?: { down(): Promise<void>; up(): Promise<void> };
  /**
   * How to run a Node.js process that creates a cache on `topic` with this log, sets a value,
   * flushes, closes it, prints `closed with state ${cache.state}` and returns from its module:
   * the arguments after the `node` executable, and extra environment. Without it, section 10
   * cannot run.
   */
  closeChild?(topic: string): { args: string[]; env?: Record<string, string> };
  /** Releases what the harness holds (clients, brokers it started). */
  close(): Promise<void>;
}

/** The assertions the suite makes: those of Vitest's and Jest's `expect`. */
export interface ContractAssertion {
  toBe(expected: unknown): void;
  toEqual(expected: unknown): void;
  toMatchObject(expected: object): void;
  toBeUndefined(): void;
  toBeGreaterThan(expected: number): void;
  toBeGreaterThanOrEqual(expected: number): void;
  toBeLessThanOrEqual(expected: number): void;
  toHaveLength(expected: number): void;
  toContain(expected: unknown): void;
  readonly not: ContractAssertion;
  readonly rejects: { toMatchObject(expected: object): Promise<void> };
}

/** The test framework's functions the suite registers its tests with: Vitest's or Jest's. */
export interface ContractFramework {
  describe(name: string, body: () => void): void;
  it(name: string, body: () => Promise<void>, timeout?: number): void;
  beforeAll(body: () => Promise<void>): void;
  afterEach(body: () => Promise<void>): void;
  afterAll(body: () => Promise<void>): void;
  expect(actual: unknown): ContractAssertion;
}

export interface ContractOptions {
  /**
   * `{ describe, it, expect, beforeAll, afterEach, afterAll }` of the test framework. Default:
   * the framework's globals (Jest; Vitest with `globals: true`).
   */
  framework?: ContractFramework;
  /**
   * Run only these sections (1 to 18). Default: all but 7, which needs a log that can be made
   * unavailable (`outage`); section 10 needs `closeChild`.
   */
  sections?: number[];
  /** Timeout of each test, in ms. Default: the framework's. A log on a real broker wants a minute or two. */
  timeout?: number;
}
