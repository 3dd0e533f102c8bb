// Where the local clusters live: the repository root, `.kafka/`, the pom, one directory per cluster.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Repository root, derived from this module's location (not the cwd). */
export const REPO_ROOT = path.resolve(HERE, '..', '..', '..');
/** Cache / state directory for everything the local clusters produce. */
export const KAFKA_DIR = path.join(REPO_ROOT, '.kafka');
/** The Maven project that pins the Kafka version. */
export const POM_FILE = path.resolve(HERE, '..', 'pom.xml');

/**
 * Ensures `.kafka/` exists and is ignored by git.
 */
export function ensureKafkaDir() {
  fs.mkdirSync(KAFKA_DIR, { recursive: true });
  const ignore = path.join(KAFKA_DIR, '.gitignore');
  if (!fs.existsSync(ignore)) fs.writeFileSync(ignore, '*\n');
}

/**
 * The directory of the cluster called `name` under `.kafka/`.
 * @param {string} name
 * @returns {string}
 */
export function clusterDirOf(name) {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`invalid cluster name '${name}'`);
  return path.join(KAFKA_DIR, name);
}
