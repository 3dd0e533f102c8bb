// What the steps print per request, and delays measured from the instances' own clocks.
import { entry } from './http.mjs';
import { check, formatMs, say } from './output.mjs';

/**
 * @typedef {import('./types.mjs').Instance} Instance
 * @typedef {import('./types.mjs').Answer} Answer
 */

export function reportHeader() {
  say(`   ${'request'.padEnd(28)} ${'status'.padEnd(6)} ${'served from'.padEnd(14)} ${'server'.padStart(9)} ${'round trip'.padStart(10)}`);
}

/**
 * Prints one request of a step.
 * @param {string} method
 * @param {Instance} instance
 * @param {string} urlPath
 * @param {Answer} response
 * @param {string} note
 */
export function report(method, instance, urlPath, response, note) {
  const origin = response.servedFrom ?? (method === 'GET' ? '-' : 'update');
  say(
    `   ${`${method} ${instance.name} ${urlPath}`.padEnd(28)} ${String(response.status).padEnd(6)} ${origin.padEnd(14)} ${formatMs(response.serverMs).padStart(9)} ${formatMs(response.ms).padStart(10)}   ${note}`,
  );
}

/**
 * ms between `writer` storing `key` and `reader` applying it.
 * @param {Instance} writer
 * @param {Instance} reader
 * @param {string} key
 * @returns {Promise<number>}
 */
export async function replicationDelay(writer, reader, key) {
  const [written, applied] = await Promise.all([entry(writer, key), entry(reader, key)]);
  check(written.lastChange?.source === 'local' && written.lastChange.op === 'set', `${writer.name} should have stored ${key} itself`);
  check(applied.lastChange?.source === 'remote' && applied.lastChange.op === 'set', `${reader.name} should have received ${key} from the topic`);
  return applied.lastChange.at - written.lastChange.at;
}

/**
 * ms between `writer` deleting `keys` and `reader` dropping them (the slowest key).
 * @param {Instance} writer
 * @param {Instance} reader
 * @param {string[]} keys
 * @returns {Promise<number>}
 */
export async function invalidationDelay(writer, reader, keys) {
  let slowest = 0;
  for (const key of keys) {
    const [deleted, dropped] = await Promise.all([entry(writer, key), entry(reader, key)]);
    check(deleted.lastChange?.op === 'delete' && deleted.lastChange.source === 'local', `${writer.name} should have deleted ${key}`);
    check(dropped.lastChange?.op === 'delete' && dropped.lastChange.source === 'remote', `${reader.name} should have dropped ${key} on a tombstone`);
    slowest = Math.max(slowest, dropped.lastChange.at - deleted.lastChange.at);
  }
  return slowest;
}
