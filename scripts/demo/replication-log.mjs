// Where the instances replicate: a Kafka cluster named in KAFKA_BROKERS, a local broker the demo
// starts, or (no Java, or --in-process) the in-process log with the instances in one process.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startCluster, stopCluster } from '../kafka/local-kafka.mjs';
import { sleep } from '../lib/shared.mjs';
import { DemoFailure, say } from './output.mjs';

/**
 * @typedef {import('./types.mjs').LogChoice} LogChoice
 * @typedef {import('./lifecycle.mjs').Lifecycle} Lifecycle
 */

function javaAvailable() {
  const java = process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
  const result = spawnSync(java, ['-version'], { stdio: 'ignore' });
  return !result.error && result.status === 0;
}

const NO_BROKER_HERE = `no KAFKA_BROKERS is set, and this machine cannot run a local Kafka broker`;

/** @param {string} reason */
function explainInProcess(reason) {
  say('');
  say(`Kafka: ${NO_BROKER_HERE}: ${reason}.`);
  say('  So the demo runs the three instances in this one process, replicating through the');
  say('  in-process log instead of a Kafka topic: the same cache and the same scenario, without');
  say('  the network. To see them replicate through Kafka, install Java 17 or later (and Maven,');
  say('  to fetch the broker jars once), or set KAFKA_BROKERS=host:port,... to a Kafka cluster.');
}

/**
 * Chooses the log: `{ mode: 'kafka', brokers, external?, label }` or `{ mode: 'in-process', label }`.
 * A broker it starts is registered with `lifecycle` to be stopped.
 * @param {{ inProcess: boolean, lifecycle: Lifecycle }} options
 * @returns {Promise<LogChoice>}
 */
export async function chooseLog({ inProcess, lifecycle }) {
  if (inProcess) return { mode: 'in-process', label: 'the in-process log (--in-process): the three instances share this process' };
  if (process.env.KAFKA_BROKERS) {
    const brokers = process.env.KAFKA_BROKERS;
    say(`Kafka: using the cluster in KAFKA_BROKERS (${brokers}).`);
    return { mode: 'kafka', brokers, external: true, label: `Kafka at ${brokers} (KAFKA_BROKERS)` };
  }
  if (!javaAvailable()) {
    explainInProcess(
      process.env.JAVA_HOME
        ? `JAVA_HOME is set, but ${path.join(process.env.JAVA_HOME, 'bin', 'java')} does not run`
        : "Java was not found ('java' is not on the PATH and JAVA_HOME is not set)",
    );
    return { mode: 'in-process', label: 'the in-process log (no Java): the three instances share this process' };
  }
  say("Kafka: no KAFKA_BROKERS set, starting a local single-node broker (KRaft) from Apache Kafka's jars.");
  const started = performance.now();
  let lastLine = performance.now();
  const log = (/** @type {string} */ message) => {
    lastLine = performance.now();
    say(`  kafka: ${message}`);
  };
  const heartbeat = setInterval(() => {
    if (performance.now() - lastLine >= 5_000) log(`still starting (${Math.round((performance.now() - started) / 1000)} s)`);
  }, 1_000);
  // Registered before the start, so that an interruption while the broker starts stops it too.
  lifecycle.onCleanup('stop the Kafka broker', () => stopCluster({ name: 'demo', log }));
  let cluster;
  try {
    cluster = await startCluster({ name: 'demo', nodes: 1, basePort: 0, log, stopOnExit: true });
  } catch (caught) {
    const error = /** @type {Error} */ (caught);
    if (/'(java|mvn)' not found/.test(error.message)) {
      explainInProcess(
        error.message.includes('mvn') ? "the broker jars are not downloaded yet and Maven is not installed ('mvn' is not on the PATH)" : error.message,
      );
      return { mode: 'in-process', label: 'the in-process log (no local broker possible): the three instances share this process' };
    }
    throw new DemoFailure(
      `could not start a local Kafka broker: ${error.message}\n  Set KAFKA_BROKERS=host:port to use a running cluster, or run \`npm run demo -- --in-process\`.`,
    );
  } finally {
    clearInterval(heartbeat);
  }
  const brokers = cluster.brokers.join(',');
  return { mode: 'kafka', brokers, label: `a local Kafka ${cluster.version} broker at ${brokers}, started by the demo` };
}

/**
 * On a cluster the demo did not start, its topic is deleted at the end.
 * @param {{ brokers: string, topic: string, lifecycle: Lifecycle }} options
 */
export function deleteTopicLater({ brokers, topic, lifecycle }) {
  lifecycle.onCleanup(`delete the topic ${topic}`, async () => {
    const { default: kafkajs } = await import('kafkajs');
    const admin = new kafkajs.Kafka({ clientId: 'nearcache-demo', brokers: brokers.split(','), logLevel: kafkajs.logLevel.NOTHING }).admin();
    const work = (async () => {
      await admin.connect();
      try {
        await admin.deleteTopics({ topics: [topic], timeout: 5_000 });
        say(`  deleted the topic ${topic}`);
      } finally {
        await admin.disconnect();
      }
    })();
    await Promise.race([
      work,
      sleep(15_000).then(() => {
        throw new Error('no answer within 15 s');
      }),
    ]);
  });
}
