// The demo's scenario: build, choose the log, start three instances on one topic, run the steps,
// report, and stop everything it started. Each step lives in steps/.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { freePort } from '../lib/shared.mjs';
import { build } from './build.mjs';
import { ChildInstance, LocalInstance } from './instances.mjs';
import { Lifecycle } from './lifecycle.mjs';
import { bar, DemoFailure, formatMs, say, section } from './output.mjs';
import { EXAMPLE } from './paths.mjs';
import { chooseLog, deleteTopicLater } from './replication-log.mjs';
import { coldMiss } from './steps/cold-miss.mjs';
import { load } from './steps/load.mjs';
import { restart } from './steps/restart.mjs';
import { serve } from './steps/serve.mjs';
import { startInstances } from './steps/start.mjs';
import { update } from './steps/update.mjs';

/**
 * @typedef {import('./types.mjs').Instance} Instance
 * @typedef {import('./types.mjs').LogChoice} LogChoice
 * @typedef {import('./types.mjs').Demo} Demo
 * @typedef {{ serve: boolean, 'in-process': boolean }} DemoOptions
 */

const REPLICATION_DEADLINE_MS = 30_000;
const PRODUCT = '1';
/** @type {{ name: string, framework: 'nest' | 'express' }[]} */
const SPEC = [
  { name: 'A', framework: 'nest' },
  { name: 'B', framework: 'nest' },
  { name: 'C', framework: 'express' },
];

/**
 * Creates the three instances, as child processes on Kafka or in this process on the in-process log.
 * @param {{ example: any, log: LogChoice, topic: string, workDir: string }} options
 * @returns {Promise<{ dataLabel: string, instances: Instance[] }>}
 */
async function createInstances({ example, log, topic, workDir }) {
  const ports = Object.fromEntries(await Promise.all(SPEC.map(async (s) => [s.name, await freePort()])));
  if (log.mode === 'kafka') {
    const dataDir = path.join(workDir, 'products');
    example.FileProductStore.seed(dataDir);
    const env = { TOPIC: topic, KAFKA_BROKERS: log.brokers, DATA_DIR: dataDir };
    return {
      dataLabel: `product files shared by the three processes (${dataDir})`,
      instances: SPEC.map((s) => new ChildInstance({ ...s, port: ports[s.name], env, logDir: workDir })),
    };
  }
  const { InProcessBroker, inProcessLog } = await import('@nearcache/core');
  const broker = new InProcessBroker();
  const store = new example.MemoryProductStore();
  const start = (/** @type {{ framework: 'nest' | 'express' }} */ s) => (s.framework === 'nest' ? example.startNestInstance : example.startExpressInstance);
  return {
    dataLabel: 'products in memory, shared by the three instances',
    instances: SPEC.map(
      (s) => new LocalInstance({ ...s, port: ports[s.name], starter: (o) => start(s)({ ...o, topic, log: inProcessLog(broker), store, quiet: true }) }),
    ),
  };
}

/**
 * @param {DemoOptions} options
 * @param {Lifecycle} lifecycle
 * @param {Instance[]} started  the instances created, for the failure report
 */
async function scenario(options, lifecycle, started) {
  say(bar('nearcache demo: three instances of a product catalogue, one cache topic'));
  await build();
  const example = await import(pathToFileURL(path.join(EXAMPLE, 'dist', 'index.js')).href);
  const log = await chooseLog({ inProcess: options['in-process'], lifecycle });
  const topic = `catalog-demo-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nearcache-demo-'));
  lifecycle.onCleanup(`remove ${workDir}`, async () => {
    if (lifecycle.failed && log.mode === 'kafka') say(`  the instances' logs are kept in ${workDir}`);
    else fs.rmSync(workDir, { recursive: true, force: true });
  });
  if (log.mode === 'kafka' && log.external) deleteTopicLater({ brokers: log.brokers, topic, lifecycle });

  const { instances, dataLabel } = await createInstances({ example, log, topic, workDir });
  started.push(...instances);
  lifecycle.onCleanup('stop the instances', async () => {
    const running = instances.filter((i) => i.alive());
    if (running.length > 0) say(`  stopping ${running.map((i) => i.name).join(', ')}`);
    await Promise.all(running.map((i) => i.stop()));
  });

  /** @type {Demo} */
  const demo = {
    instances,
    example,
    log,
    lifecycle,
    label: (i) => `${i.name}  ${i.framework === 'nest' ? 'Nest   ' : 'Express'}`,
    page: `/products/${PRODUCT}`,
    keys: { value: example.productKey(PRODUCT), page: example.pageKey(PRODUCT) },
    replicationDeadlineMs: REPLICATION_DEADLINE_MS,
  };
  say('');
  say(`Cache topic "${topic}" on ${log.label}.`);
  say(`Data source: ${dataLabel}, 50 ms per lookup.`);
  await startInstances(demo);
  if (lifecycle.interrupted) return;

  const product = await coldMiss(demo);
  const newPrice = await update(demo, product);
  await restart(demo, newPrice);
  if (!(await load(demo))) return;

  section('All checks passed');
  say('   cold miss on A, then hits on B and C; the update on C removed the entry everywhere;');
  say('   B came back warm after a restart; every number above was measured in this run.');
  if (options.serve) await serve(demo);
}

/**
 * Runs the demo; resolves with the exit code (or never, when interrupted: the signal handler exits).
 * @param {DemoOptions} options
 * @returns {Promise<number>}
 */
export async function runDemo(options) {
  const runStarted = performance.now();
  const lifecycle = new Lifecycle();
  lifecycle.handleSignals();
  /** @type {Instance[]} */
  const started = [];
  let exitCode = 0;
  try {
    await scenario(options, lifecycle, started);
  } catch (error) {
    if (!lifecycle.interrupted) {
      exitCode = 1;
      lifecycle.failed = true;
      say('');
      say(`demo failed: ${error instanceof DemoFailure ? error.message : (/** @type {Error} */ (error).stack ?? error)}`);
      for (const instance of started) {
        const details = instance.failureDetails();
        if (details) say(`\n  ${details}`);
      }
    }
  }
  if (lifecycle.interrupted) return new Promise(() => {});
  section('Stopping everything the demo started');
  await lifecycle.cleanup();
  say(`done in ${formatMs(performance.now() - runStarted)}.`);
  return exitCode;
}
