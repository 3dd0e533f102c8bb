#!/usr/bin/env node
/**
 * `npm run demo`: three instances of the example catalogue service (apps/example) on one
 * cache topic, driven through a scripted scenario with real HTTP requests, and a report of
 * what happened, measured in this run. The scenario and its steps live in scripts/demo/.
 *
 *   npm run demo                   build, start Kafka and three instances, run, report, stop everything
 *   npm run demo -- --serve        the same, then keep the instances running (Ctrl-C stops them)
 *   npm run demo -- --in-process   no Kafka: the three instances in one process, on the in-process log
 *
 * With KAFKA_BROKERS=host:port,... the demo uses that cluster (and deletes its topic at the end);
 * without it, it starts a local broker from Apache Kafka's jars (Java 17+; Maven on first use).
 * Without Java, it says so and runs the instances in one process on the in-process log.
 */
import { parseArgs } from 'node:util';
import { runDemo } from './demo/run.mjs';

const USAGE = `usage: npm run demo [-- --serve] [-- --in-process]

  --serve        keep the three instances running after the report, print URLs to try (Ctrl-C stops)
  --in-process   run the instances in one process on the in-process log (no Kafka)

KAFKA_BROKERS=host:port,...  use this Kafka cluster instead of starting a local broker`;

let options;
try {
  options = parseArgs({
    options: {
      serve: { type: 'boolean', default: false },
      'in-process': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: false,
  }).values;
} catch (error) {
  console.error(`${/** @type {Error} */ (error).message}\n\n${USAGE}`);
  process.exit(2);
}
if (options.help) {
  console.log(USAGE);
} else {
  process.exit(await runDemo(options));
}
