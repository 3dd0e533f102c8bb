import { createNearCache, type NearCache } from '../cache.js';
import { InvalidArgumentError } from '../errors.js';
import { silentLogger } from '../logger.js';
import type { NearCacheOptions } from '../options.js';
import type { ContractFramework, ContractOptions, ReplicationLogHarness } from './harness.js';
import { diff, foldTopic, snapshot } from './oracle.js';
import { SECTIONS } from './sections/index.js';
import { waitFor } from './support.js';

/** What each section of the suite works with: the framework, the harness, and caches it closes after each test. */
export interface ContractContext {
  readonly t: ContractFramework;
  /** The harness, once `beforeAll` built it. */
  harness(): ReplicationLogHarness;
  /** Registers a test, with the suite's timeout. */
  it(name: string, body: () => Promise<void>): void;
  /** A cache on `topic` with the harness's log, closed after the test. */
  open<V = unknown>(topic: string, extra?: Partial<NearCacheOptions>): NearCache<V>;
  /** The same, once ready. */
  openReady<V = unknown>(topic: string, extra?: Partial<NearCacheOptions>): Promise<NearCache<V>>;
  /** Flushes the writers, folds the topic, and waits until every instance holds exactly that; returns it. */
  expectConverged(topic: string, instances: NearCache[], timeout?: number): Promise<Map<string, unknown>>;
}

/** One numbered section of the contract: registers its tests with the context's framework. */
export interface ContractSection {
  readonly number: number;
  readonly title: string;
  register(context: ContractContext): void;
}

/**
 * Registers the cache's contract (docs/consistency.md) as tests of a replication log, under
 * `describe(name)`. Every log must pass it: the project runs it on the in-process log and on
 * Kafka; a log written elsewhere is checked the same way, with a harness of its own.
 *
 * `makeHarness` is called once, before the tests (in `beforeAll`); the harness is closed after.
 */
export function describeReplicationLogContract(
  name: string,
  makeHarness: () => ReplicationLogHarness | Promise<ReplicationLogHarness>,
  options: ContractOptions = {},
): void {
  const t = options.framework ?? globalFramework();
  let harness: ReplicationLogHarness | undefined;
  const caches: NearCache[] = [];
  const current = (): ReplicationLogHarness => {
    if (!harness) throw new InvalidArgumentError('the contract harness is not built yet (it is built in beforeAll)');
    return harness;
  };
  const open = <V = unknown>(topic: string, extra: Partial<NearCacheOptions> = {}): NearCache<V> => {
    const cacheOptions = { topic, log: current().log(topic), logger: silentLogger, lagPollInterval: 200, closeTimeout: 2000, ...extra };
    const cache = createNearCache<V>(cacheOptions as NearCacheOptions<V>);
    caches.push(cache as NearCache);
    return cache;
  };
  const context: ContractContext = {
    t,
    harness: current,
    it: (title, body) => (options.timeout === undefined ? t.it(title, body) : t.it(title, body, options.timeout)),
    open,
    openReady: async <V = unknown>(topic: string, extra?: Partial<NearCacheOptions>): Promise<NearCache<V>> => {
      const cache = open<V>(topic, extra);
      await cache.ready();
      return cache;
    },
    async expectConverged(topic, instances, timeout = 30_000) {
      await Promise.all(instances.map((cache) => cache.flush()));
      let expected = foldTopic(await current().records(topic));
      let readAt = Date.now();
      const converged = () => instances.every((cache) => diff(snapshot(cache), expected).length === 0);
      await waitFor(
        async () => {
          if (converged()) return true;
          // An instance may still be appending: the correction of its stale fenced load is written
          // once it read that load back, and the cleaner may meanwhile have removed the writes that
          // made it stale. The log is read again now and then, until no more records come.
          if (Date.now() - readAt < 500) return false;
          await Promise.all(instances.map((cache) => cache.flush()));
          expected = foldTopic(await current().records(topic));
          readAt = Date.now();
          return converged();
        },
        {
          timeout,
          message: () => `convergence: ${instances.map((c, i) => `#${i} ${diff(snapshot(c), expected).slice(0, 5).join('; ')}`).join(' | ')}`,
        },
      );
      return expected;
    },
  };

  t.describe(name, () => {
    t.beforeAll(async () => {
      harness = await makeHarness();
    });
    t.afterEach(async () => {
      await Promise.all(caches.splice(0).map((cache) => cache.close()));
    });
    t.afterAll(async () => {
      await harness?.close();
    });
    for (const section of SECTIONS) {
      if (options.sections ? options.sections.includes(section.number) : section.number !== 7) {
        t.describe(`${section.number}. ${section.title}`, () => section.register(context));
      }
    }
  });
}

/** The framework's globals (Jest; Vitest with `globals: true`). */
function globalFramework(): ContractFramework {
  const scope = globalThis as Partial<ContractFramework>;
  const names = ['describe', 'it', 'expect', 'beforeAll', 'afterEach', 'afterAll'] as const;
  const missing = names.filter((n) => typeof scope[n] !== 'function');
  if (missing.length > 0) {
    throw new InvalidArgumentError(
      `no test framework globals (${missing.join(', ')}): pass options.framework = { describe, it, expect, beforeAll, afterEach, afterAll } from your test framework`,
    );
  }
  return scope as ContractFramework;
}
