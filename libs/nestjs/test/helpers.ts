import type { INestApplication, ModuleMetadata } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { InProcessBroker, inProcessLog, silentLogger, type NearCacheOptions, type ReplicationLogFactory } from '@nearcache/core';
import { chaos, type ChaosLog } from '../../../test/helpers/chaos.js';
import { recordMeta } from '../../../test/helpers/records.js';

/** Cache options on the in-process log, silent. */
export function inProcess(broker: InProcessBroker, topic = 'test-cache'): Pick<NearCacheOptions, 'topic' | 'log' | 'logger'> {
  return { topic, log: inProcessLog(broker), logger: silentLogger };
}

/** Every app a test created; closed by `closeApps()`. */
const apps: INestApplication[] = [];

/** Compiles `metadata` into an application (logger off) and initialises it unless `init` is false. */
export async function createApp(metadata: ModuleMetadata, options: { init?: boolean } = {}): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule(metadata).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  apps.push(app);
  if (options.init !== false) await app.init();
  return app;
}

export async function closeApps(): Promise<void> {
  await Promise.all(apps.splice(0).map((app) => app.close().catch(() => undefined)));
}

export { waitFor } from '../../../test/helpers/wait.js';

/** A deferred promise, to hold a method until the test lets it finish. */
export function deferred<T>(): { promise: Promise<T>; resolve(value: T): void; reject(error: unknown): void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A factory of logs that hold back every batch until `release()`: a cache on one stays bootstrapping. `last` is the latest built. */
export function held(factory: ReplicationLogFactory): ReplicationLogFactory & { last: ChaosLog | undefined } {
  return chaos(factory, { hold: true });
}

/** The absolute expiry (ms since the epoch, 0 for none) carried by the latest record of `key` on `topic`. */
export function recordExpiry(broker: InProcessBroker, topic: string, key: string): number | undefined {
  const records = broker.records(topic).filter((r) => r.key !== null && Buffer.from(r.key).toString() === key);
  const last = records[records.length - 1];
  if (!last) return undefined;
  return Number(recordMeta(last)?.exp);
}
