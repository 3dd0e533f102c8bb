#!/usr/bin/env node
// `npm test`: builds the packages, starts a local Kafka broker unless KAFKA_BROKERS names a
// cluster, runs every project's tests against it, and stops what it started.
// Extra arguments go to vitest (for example `npm test -- --project core`).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCluster } from './kafka/local-kafka.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** @param {string} name */
const bin = (name) => path.join(root, 'node_modules', '.bin', name);

/**
 * Runs a command with inherited output (SIGINT and SIGTERM forwarded to it).
 * @param {string} command
 * @param {string[]} args
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {Promise<number>} its exit code (1 when a signal ended it)
 */
function run(command, args, env = process.env) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, stdio: 'inherit', env });
    /** @param {NodeJS.Signals} signal */
    const forward = (signal) => child.kill(signal);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('exit', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

/** @param {string} message */
const log = (message) => console.log(`[test] ${message}`);

// The close() test runs a child process on the built package.
let code = await run(bin('nx'), ['run-many', '-t', 'build', '--output-style=static'], { ...process.env, NX_DAEMON: 'false' });
if (code !== 0) process.exit(code);

/** @type {import('./kafka/local-kafka.mjs').LocalCluster | undefined} */
let cluster;
const env = { ...process.env };
if (env.KAFKA_BROKERS) {
  log(`using the Kafka cluster in KAFKA_BROKERS: ${env.KAFKA_BROKERS}`);
} else {
  try {
    // A free port, so a broker started with `npm run kafka:start` does not get in the way.
    cluster = await startCluster({ nodes: 1, name: 'test', basePort: 0, log, stopOnExit: true });
  } catch (error) {
    console.error(`[test] could not start a local Kafka broker: ${/** @type {Error} */ (error).message}`);
    console.error('[test] it needs Java 17+ and Maven; or set KAFKA_BROKERS to an existing cluster.');
    process.exit(1);
  }
  env.KAFKA_BROKERS = cluster.brokers.join(',');
  log(`Kafka broker ready at ${env.KAFKA_BROKERS}`);
}

try {
  code = await run(bin('vitest'), ['run', ...process.argv.slice(2)], env);
} finally {
  if (cluster) {
    log('stopping the Kafka broker');
    await cluster.stop();
  }
}
process.exit(code);
