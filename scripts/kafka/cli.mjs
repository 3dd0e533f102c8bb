#!/usr/bin/env node
/**
 * Command line for local Kafka clusters (see local-kafka.mjs).
 *
 *   node scripts/kafka/cli.mjs fetch
 *   node scripts/kafka/cli.mjs start [--nodes N] [--name NAME] [--base-port PORT]
 *   node scripts/kafka/cli.mjs stop [--name NAME | --all]
 *   node scripts/kafka/cli.mjs status [--name NAME]
 *
 * Exit codes: 0 success, 1 failure, 2 usage error; `status` exits 0 when
 * the named cluster (without --name: any cluster) is fully running, else 3.
 */
import { parseArgs } from 'node:util';
import { clusterStatus, fetchKafka, startCluster, stopCluster } from './local-kafka.mjs';

const USAGE = `usage: node scripts/kafka/cli.mjs <command> [options]

commands:
  fetch                      resolve the Kafka jars with Maven (cached in .kafka/)
  start                      start a fresh local KRaft cluster, print KAFKA_BROKERS=...
      --nodes N              number of broker+controller nodes (default 1)
      --name NAME            cluster name, data in .kafka/NAME (default "default")
      --base-port PORT       first client port (default 19092, or 19192 for several nodes)
  stop                       stop a cluster
      --name NAME            (default "default")
      --all                  stop every cluster found in .kafka/
  status                     show clusters and whether their nodes run
      --name NAME            only this cluster
`;

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;
const EXIT_NOT_RUNNING = 3;

/** @param {string} message */
const log = (message) => process.stderr.write(`[kafka] ${message}\n`);

/**
 * Parses options for a command; exits with a usage error on bad input.
 * @param {string[]} args
 * @param {Record<string, { type: 'string' | 'boolean' }>} options
 * @returns {Record<string, any>}
 */
function parseOptions(args, options) {
  try {
    return parseArgs({ args, options, allowPositionals: false }).values;
  } catch (err) {
    process.stderr.write(`${/** @type {Error} */ (err).message}\n\n${USAGE}`);
    process.exit(EXIT_USAGE);
  }
}

/**
 * Parses a positive integer option value.
 * @param {string | undefined} value
 * @param {string} flag
 * @returns {number | undefined}
 */
function intOption(value, flag) {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`${flag} expects a non-negative integer, got '${value}'\n`);
    process.exit(EXIT_USAGE);
  }
  return n;
}

/** @param {string[]} args */
async function cmdFetch(args) {
  parseOptions(args, {});
  const { version, jars, classpathFile } = await fetchKafka({ log });
  log(`Apache Kafka ${version}: ${jars.length} jars, classpath in ${classpathFile}`);
  return 0;
}

/** @param {string[]} args */
async function cmdStart(args) {
  const opts = parseOptions(args, {
    nodes: { type: 'string' },
    name: { type: 'string' },
    'base-port': { type: 'string' },
  });
  const cluster = await startCluster({
    nodes: intOption(opts.nodes, '--nodes') ?? 1,
    name: opts.name ?? 'default',
    basePort: intOption(opts['base-port'], '--base-port'),
    log,
  });
  log(`logs: ${cluster.nodes.map((n) => n.logFile).join(' ')}`);
  log(`stop with: node scripts/kafka/cli.mjs stop --name ${cluster.name}`);
  process.stdout.write(`KAFKA_BROKERS=${cluster.brokers.join(',')}\n`);
  return 0;
}

/** @param {string[]} args */
async function cmdStop(args) {
  const opts = parseOptions(args, { name: { type: 'string' }, all: { type: 'boolean' } });
  const names = opts.all ? clusterStatus().map((c) => c.name) : [opts.name ?? 'default'];
  let stopped = 0;
  for (const name of names) stopped += (await stopCluster({ name, log })).stopped;
  log(stopped ? `stopped ${stopped} node(s)` : 'nothing was running');
  return 0;
}

/** @param {string[]} args */
async function cmdStatus(args) {
  const opts = parseOptions(args, { name: { type: 'string' } });
  const clusters = clusterStatus({ name: opts.name });
  if (clusters.length === 0) {
    process.stdout.write(opts.name ? `no cluster '${opts.name}'\n` : 'no local clusters\n');
    return EXIT_NOT_RUNNING;
  }
  let running = 0;
  for (const c of clusters) {
    const alive = c.nodes.filter((n) => n.alive).length;
    if (alive === c.nodes.length) running++;
    if (alive === 0) {
      process.stdout.write(`${c.name}: Kafka ${c.version}, stopped\n`);
      continue;
    }
    const state = alive === c.nodes.length ? 'running' : 'partially running';
    process.stdout.write(`${c.name}: Kafka ${c.version}, ${state} (${alive}/${c.nodes.length} nodes)  KAFKA_BROKERS=${c.brokers.join(',')}\n`);
    for (const n of c.nodes) {
      process.stdout.write(`  node ${n.index} (id ${n.id}) 127.0.0.1:${n.port} ${n.alive ? `pid ${n.pid}` : 'stopped'}\n`);
    }
  }
  // --name: is that cluster fully up; otherwise: is any cluster fully up.
  return running > 0 ? 0 : EXIT_NOT_RUNNING;
}

/** @type {Record<string, (args: string[]) => Promise<number>>} */
const COMMANDS = { fetch: cmdFetch, start: cmdStart, stop: cmdStop, status: cmdStatus };

async function main() {
  const [command, ...args] = process.argv.slice(2);
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const run = COMMANDS[command];
  if (!run) {
    process.stderr.write(`${command ? `unknown command '${command}'\n\n` : ''}${USAGE}`);
    return EXIT_USAGE;
  }
  return run(args);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    log(`error: ${err.message}`);
    process.exitCode = EXIT_FAILURE;
  },
);
