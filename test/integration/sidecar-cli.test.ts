// The sidecar's command line (the entrypoint of its container image): started from environment
// variables on the real broker, served, and stopped by SIGTERM with its writes flushed.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createNearCache, jsonCodec, silentLogger } from '@nearcache/core';
import { freePort } from '../../scripts/lib/shared.mjs';
import { testBrokers, uniqueTopic } from '../helpers/kafka.js';

const CLI = fileURLToPath(new URL('../../libs/sidecar/dist/cli.js', import.meta.url));

function start(env: Record<string, string>, args: string[] = []) {
  const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const ready = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      if (line.includes(' ready at ')) resolve(line);
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code} before it was ready: ${stderr}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, ready, exited, stderr: () => stderr, lines };
}

describe('nearcache-sidecar command line', () => {
  it('starts from environment variables, serves Redis and HTTP, and stops on SIGTERM with its writes flushed', async () => {
    const topic = uniqueTopic('nc-sidecar-cli');
    const [port, httpPort] = [await freePort(), await freePort()];
    const sidecar = start({
      KAFKA_BROKERS: testBrokers().join(','),
      NEARCACHE_TOPIC: topic,
      NEARCACHE_PORT: String(port),
      NEARCACHE_HTTP_PORT: String(httpPort),
    });
    try {
      expect(await sidecar.ready).toBe(`nearcache-sidecar: topic ${topic} ready at redis://127.0.0.1:${port}, http://127.0.0.1:${httpPort}`);
      const health = await fetch(`http://127.0.0.1:${httpPort}/health`);
      expect(await health.json()).toMatchObject({ state: 'live', topic });
      const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null });
      redis.on('error', () => undefined);
      await redis.connect();
      const values: string[] = [];
      for (let i = 0; i < 50; i++) values.push(`k${i}`, `v${i}`);
      expect(await redis.mset(...values)).toBe('OK');
      redis.disconnect();
      sidecar.child.kill('SIGTERM');
      expect(await sidecar.exited).toBe(0);
    } finally {
      if (sidecar.child.exitCode === null) sidecar.child.kill('SIGKILL');
    }
    // Every write made before SIGTERM is on the topic: a fresh instance reads them all.
    const reader = createNearCache<unknown>({ topic, kafka: { brokers: testBrokers() }, codec: jsonCodec(), logger: silentLogger });
    try {
      await reader.ready();
      expect(reader.get('k0')).toBe('v0');
      expect(reader.get('k49')).toBe('v49');
      expect(reader.size).toBe(50);
    } finally {
      await reader.close();
    }
  });

  it('refuses a bad option with a clear message and exit code 2', async () => {
    const open = start({ KAFKA_BROKERS: '127.0.0.1:1', NEARCACHE_TOPIC: 't', NEARCACHE_HOST: '0.0.0.0' });
    open.ready.catch(() => undefined);
    expect(await open.exited).toBe(2);
    expect(open.stderr()).toMatch(/option "host" is "0\.0\.0\.0", not a loopback address: set "password" too/);
    const word = start({ KAFKA_BROKERS: '127.0.0.1:1', NEARCACHE_TOPIC: 't' }, ['--http-port', 'eighty']);
    word.ready.catch(() => undefined);
    expect(await word.exited).toBe(2);
    expect(word.stderr()).toMatch(/--http-port \(NEARCACHE_HTTP_PORT\) must be a whole number, got "eighty"/);
  });
});
