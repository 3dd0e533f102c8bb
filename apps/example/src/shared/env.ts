import { performance } from 'node:perf_hooks';
import { inProcessLog, InProcessBroker } from '@nearcache/core';
import { FileProductStore } from '../catalog/catalog.js';
import type { InstanceOptions, RunningInstance } from './instance.js';

/**
 * Instance options from the environment:
 *
 * | Variable        | Default            | Meaning |
 * |-----------------|--------------------|---------|
 * | `PORT`          | 3000 (Nest), 3001 (Express) | Port, on 127.0.0.1 |
 * | `INSTANCE`      | `nest-<port>` / `express-<port>` | Name shown in stats and logs |
 * | `TOPIC`         | `catalog-cache`    | Cache topic, shared by every instance |
 * | `KAFKA_BROKERS` | `127.0.0.1:19092` (the broker of `npm run kafka:start`) | Kafka brokers, `host:port,...` |
 * | `IN_PROCESS`    | unset              | `1`: no Kafka, an in-process log (this process only) |
 * | `DATA_DIR`      | unset              | Directory of the product files, shared by every instance using it; unset: products in memory, per process |
 * | `DATA_DELAY_MS` | 50                 | Time each data-source call takes |
 */
export function optionsFromEnv(framework: 'nest' | 'express', env: NodeJS.ProcessEnv = process.env): InstanceOptions {
  const port = integer('PORT', env.PORT, framework === 'nest' ? 3000 : 3001);
  const options: InstanceOptions = {
    name: env.INSTANCE || `${framework}-${port}`,
    port,
    topic: env.TOPIC || 'catalog-cache',
    startedAt: performance.timeOrigin,
    dataDelayMs: integer('DATA_DELAY_MS', env.DATA_DELAY_MS, 50),
  };
  if (env.IN_PROCESS === '1' || env.IN_PROCESS === 'true') options.log = inProcessLog(new InProcessBroker());
  else options.brokers = env.KAFKA_BROKERS || '127.0.0.1:19092';
  if (env.DATA_DIR) options.store = FileProductStore.seed(env.DATA_DIR);
  return options;
}

/** Starts an instance from the environment; stops it on SIGTERM, SIGINT, or when the parent process that started it goes away. */
export async function runFromEnv(framework: 'nest' | 'express', start: (options: InstanceOptions) => Promise<RunningInstance>): Promise<void> {
  let options: InstanceOptions;
  try {
    options = optionsFromEnv(framework);
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
  const where = options.log ? 'an in-process log' : `Kafka at ${String(options.brokers)}`;
  console.log(`[${options.name}] starting the ${framework} app on topic "${options.topic}" over ${where}...`);
  let instance: RunningInstance;
  try {
    instance = await start(options);
  } catch (error) {
    console.error(`[${options.name}] could not start: ${(error as Error).message}`);
    process.exit(1);
  }
  console.log(`[${options.name}] listening on ${instance.url} (ready in ${Math.round(performance.now())} ms)`);

  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`[${options.name}] ${why}: closing`);
    const timer = setTimeout(() => {
      console.error(`[${options.name}] still closing after 10 s: exiting`);
      process.exit(1);
    }, 10_000);
    timer.unref();
    instance.close().then(
      () => {
        // Everything is closed: the process exits on its own (the IPC channel aside).
        if (process.connected) process.disconnect();
      },
      (error: unknown) => {
        console.error(`[${options.name}] close failed: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  if (process.connected) process.once('disconnect', () => stop('parent process gone'));
}

function integer(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65_535) throw new Error(`${name} must be an integer from 0 to 65535, got ${JSON.stringify(raw)}`);
  return value;
}
