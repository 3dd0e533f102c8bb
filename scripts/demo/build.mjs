// Builds the packages and the example app before anything starts.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { DemoFailure, formatMs, say } from './output.mjs';
import { ROOT } from './paths.mjs';

export async function build() {
  say('Building the packages and the example app (nx run-many -t build)...');
  const started = performance.now();
  const child = spawn(process.execPath, [path.join(ROOT, 'node_modules', '.bin', 'nx'), 'run-many', '-t', 'build', '--output-style=static'], {
    cwd: ROOT,
    env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const heartbeat = setInterval(() => say(`  still building (${Math.round((performance.now() - started) / 1000)} s)`), 10_000);
  const code = await new Promise((resolve) => {
    child.once('error', (error) => {
      output += error.message;
      resolve(1);
    });
    child.once('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0)));
  });
  clearInterval(heartbeat);
  if (code !== 0) {
    console.error(output.trim());
    throw new DemoFailure(`the build failed (exit ${code}); its output is above`);
  }
  say(`  built in ${formatMs(performance.now() - started)}`);
}
