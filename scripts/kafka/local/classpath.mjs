// The pinned Kafka version and the broker classpath, resolved with Maven once and cached in `.kafka/`.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { defaultLog } from './log.mjs';
import { KAFKA_DIR, POM_FILE, ensureKafkaDir } from './paths.mjs';
import { runCollecting } from './processes.mjs';

/** @typedef {import('./log.mjs').LogFn} LogFn */

/**
 * @typedef {object} KafkaJars
 * @property {string} version        the pinned Kafka version
 * @property {string} classpath      the jars joined with the platform's path delimiter
 * @property {string[]} jars
 * @property {string} classpathFile  where the classpath is cached
 */

/**
 * Reads the pinned Kafka version (`<kafka.version>`) from the pom.
 * @returns {string}
 */
export function kafkaVersion() {
  const pom = fs.readFileSync(POM_FILE, 'utf8');
  const match = /<kafka\.version>\s*([^<\s]+)\s*<\/kafka\.version>/.exec(pom);
  if (!match) throw new Error(`no <kafka.version> property in ${POM_FILE}`);
  return match[1];
}

/**
 * Path of the cached classpath file; keyed by version and pom contents so a
 * pom change triggers a new resolution.
 * @param {string} version
 * @returns {string}
 */
function classpathFileFor(version) {
  const hash = createHash('sha256').update(fs.readFileSync(POM_FILE)).digest('hex').slice(0, 10);
  return path.join(KAFKA_DIR, `classpath-${version}-${hash}.txt`);
}

/**
 * Reads a classpath file and returns its jar list, or null when the file is
 * missing or any jar it names is gone (e.g. a cleaned Maven repository).
 * @param {string} file
 * @returns {string[] | null}
 */
function readCachedClasspath(file) {
  if (!fs.existsSync(file)) return null;
  const jars = fs.readFileSync(file, 'utf8').trim().split(path.delimiter).filter(Boolean);
  if (jars.length === 0 || !jars.every((jar) => fs.existsSync(jar))) return null;
  return jars;
}

/**
 * Resolves the broker jars with Maven (downloading them on first use) and
 * caches the classpath in `.kafka/`. Maven is skipped when the cached
 * classpath exists and all of its jars are present.
 *
 * @param {{ log?: LogFn }} [options]
 * @returns {Promise<KafkaJars>}
 */
export async function fetchKafka({ log = defaultLog } = {}) {
  const version = kafkaVersion();
  ensureKafkaDir();
  const classpathFile = classpathFileFor(version);
  let jars = readCachedClasspath(classpathFile);
  if (!jars) {
    log(`fetching Apache Kafka ${version} jars with Maven...`);
    const started = Date.now();
    const tmp = `${classpathFile}.${process.pid}.tmp`;
    const { code, output } = await runCollecting(
      'mvn',
      ['-B', '-q', '-Dstyle.color=never', '-f', POM_FILE, 'dependency:build-classpath', `-Dmdep.outputFile=${tmp}`],
      { log, heartbeat: `still fetching Apache Kafka ${version} jars` },
    );
    if (code !== 0) {
      fs.rmSync(tmp, { force: true });
      log(output.replace(/\x1b\[[0-9;]*m/g, '').trim() || '(Maven printed nothing)');
      throw new Error(`Maven failed (exit ${code}) resolving Apache Kafka ${version}; see output above`);
    }
    fs.renameSync(tmp, classpathFile);
    jars = readCachedClasspath(classpathFile);
    if (!jars) throw new Error(`Maven produced an unusable classpath in ${classpathFile}`);
    log(`Apache Kafka ${version}: ${jars.length} jars ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    warnOnLog4jMismatch(jars, log);
  }
  return { version, classpath: jars.join(path.delimiter), jars, classpathFile };
}

/**
 * Warns when the SLF4J binding and log4j-core differ in version (the pom pins
 * the binding separately from the version Kafka pulls in).
 * @param {string[]} jars
 * @param {LogFn} log
 */
function warnOnLog4jMismatch(jars, log) {
  /** @param {string} artifact */
  const versionOf = (artifact) => {
    const jar = jars.map((j) => path.basename(j)).find((j) => j.startsWith(`${artifact}-2.`));
    return jar ? jar.slice(artifact.length + 1, -'.jar'.length) : null;
  };
  const core = versionOf('log4j-core');
  const binding = versionOf('log4j-slf4j-impl');
  if (core && binding && core !== binding) {
    log(`warning: log4j-slf4j-impl ${binding} != log4j-core ${core}; update <log4j.version> in ${POM_FILE}`);
  }
}
