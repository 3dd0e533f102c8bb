#!/usr/bin/env node
// `npx nearcache-sidecar`: starts a sidecar from flags and environment variables, and stops it
// cleanly on SIGTERM or SIGINT (its clients disconnected, its writes flushed, bounded).
import { isNearCacheError } from '@nearcache/core';
import { cliUsage, parseCli } from './cli-options.js';
import { startSidecar } from './sidecar.js';

async function main(): Promise<void> {
  let options;
  try {
    options = parseCli(process.argv.slice(2), process.env);
  } catch (error) {
    console.error(`nearcache-sidecar: ${(error as Error).message}`);
    process.exitCode = 2;
    return;
  }
  if (options === 'help') {
    console.log(cliUsage());
    return;
  }
  try {
    const sidecar = await startSidecar(options);
    const where = [
      sidecar.address && `redis://${sidecar.address.host.includes(':') ? `[${sidecar.address.host}]` : sidecar.address.host}:${sidecar.address.port}`,
      sidecar.socketPath && `unix:${sidecar.socketPath}`,
      sidecar.httpAddress && `http://${sidecar.httpAddress.host}:${sidecar.httpAddress.port}`,
    ].filter(Boolean);
    console.log(`nearcache-sidecar: topic ${sidecar.cache.topic} ready at ${where.join(', ')}`);
  } catch (error) {
    const code = isNearCacheError(error) ? ` [${error.code}]` : '';
    console.error(`nearcache-sidecar: could not start${code}: ${(error as Error).message}`);
    process.exitCode = isNearCacheError(error) && error.code === 'NC_INVALID_OPTION' ? 2 : 1;
  }
}

await main();
