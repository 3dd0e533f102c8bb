// Installs Debian packages a test or benchmark needs (redis-server, redis-tools, python3-redis)
// when they are missing: with apt-get, as root, once per process. Node built-ins only.
import { execFileSync, spawn } from 'node:child_process';

/**
 * Whether `command` is on the PATH.
 * @param {string} command
 */
export function hasCommand(command) {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * @param {string} command
 * @param {string[]} args
 * @returns {Promise<number>}
 */
function run(command, args) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    child.on('error', () => resolve(1));
    child.on('exit', (code) => resolve(code ?? 1));
  });
}

/**
 * @typedef {object} SystemPackage
 * @property {string} name        the Debian package
 * @property {() => boolean} present  whether what it provides is already there
 */

/**
 * Installs each missing package with `apt-get install` (after `apt-get update` if the first
 * attempt fails, as on a fresh machine whose package lists are empty). Resolves with the names
 * still missing afterwards: empty when everything is there. Never throws.
 * @param {SystemPackage[]} packages
 * @param {(message: string) => void} [say]
 * @returns {Promise<string[]>}
 */
export async function ensureSystemPackages(packages, say = (message) => console.error(message)) {
  const missing = packages.filter((p) => !p.present());
  if (missing.length === 0) return [];
  const names = missing.map((p) => p.name);
  if (process.getuid?.() !== 0 || !hasCommand('apt-get')) return names;
  say(`installing ${names.join(', ')} with apt-get`);
  const install = ['install', '-y', '-q', '--no-install-recommends', ...names];
  if ((await run('apt-get', install)) !== 0) {
    await run('apt-get', ['update', '-q']);
    await run('apt-get', install);
  }
  return missing.filter((p) => !p.present()).map((p) => p.name);
}

/** The packages the sidecar's client tests use: redis-cli, and Python's client run with the system python3. */
export const REDIS_CLIENT_PACKAGES = [
  { name: 'redis-tools', present: () => hasCommand('redis-cli') },
  {
    name: 'python3-redis',
    present: () => {
      try {
        execFileSync('/usr/bin/python3', ['-c', 'import redis'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    },
  },
];
