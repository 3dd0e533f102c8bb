// The sidecar's container image, without a container runtime: its run stage done by hand from
// the Dockerfile itself. The workspace's two packages are packed as the build stage packs them,
// installed with their runtime dependencies only as the run stage installs them, and started
// with the image's ENTRYPOINT and ENV (the paths under its WORKDIR moved to a temporary
// directory, the ports to free ones); its HEALTHCHECK URL answers, a Redis client with the
// password works, and its STOPSIGNAL stops it with exit code 0. Not covered here: the base image,
// the non-root USER and the health check's wget, which only a container build exercises.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/lib/shared.mjs';
import { testBrokers, uniqueTopic } from '../helpers/kafka.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const DOCKERFILE = path.join(root, 'libs/sidecar/docker/Dockerfile');

/** The run stage of a Dockerfile (after its last FROM): its instructions, continuation lines joined. */
function runStage(text: string): { instruction: string; args: string }[] {
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/);
  const instructions = lines
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [instruction, ...rest] = line.split(/\s+/);
      return { instruction: instruction!.toUpperCase(), args: rest.join(' ') };
    });
  const lastFrom = instructions.map((i) => i.instruction).lastIndexOf('FROM');
  return instructions.slice(lastFrom);
}

function imageOf(text: string) {
  const stage = runStage(text);
  const one = (name: string) => {
    const found = stage.filter((i) => i.instruction === name);
    if (found.length !== 1) throw new Error(`expected one ${name} in the run stage, found ${found.length}`);
    return found[0]!.args;
  };
  const env: Record<string, string> = {};
  for (const { args } of stage.filter((i) => i.instruction === 'ENV')) {
    for (const pair of args.split(/\s+/)) {
      const at = pair.indexOf('=');
      if (at > 0) env[pair.slice(0, at)] = pair.slice(at + 1);
    }
  }
  const healthcheck = one('HEALTHCHECK').match(/https?:\/\/\S+/)?.[0];
  if (healthcheck === undefined) throw new Error('the HEALTHCHECK names no URL');
  return {
    workdir: one('WORKDIR'),
    entrypoint: JSON.parse(one('ENTRYPOINT')) as string[],
    env,
    user: one('USER'),
    stopSignal: one('STOPSIGNAL') as NodeJS.Signals,
    healthcheck: new URL(healthcheck),
    install: stage.filter((i) => i.instruction === 'RUN').map((i) => i.args),
  };
}

const temporary: string[] = [];
afterAll(() => {
  for (const dir of temporary) fs.rmSync(dir, { recursive: true, force: true });
});

describe('the sidecar container image, run stage by hand', () => {
  it('reads the image from its Dockerfile: non-root, a health check, an entrypoint under its WORKDIR', () => {
    const image = imageOf(fs.readFileSync(DOCKERFILE, 'utf8'));
    expect(image.user).not.toMatch(/^(root|0)(:|$)/);
    expect(image.entrypoint[0]).toBe('node');
    expect(image.entrypoint[1]!.startsWith(`${image.workdir}/node_modules/@nearcache/sidecar/`)).toBe(true);
    expect(image.install.some((line) => line.includes('npm install --omit=dev'))).toBe(true);
  });

  it('installs from the packed packages and serves with the entrypoint and environment of the image', async () => {
    const image = imageOf(fs.readFileSync(DOCKERFILE, 'utf8'));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nc-sidecar-image-'));
    temporary.push(dir);
    const packages = path.join(dir, 'packages');
    const app = path.join(dir, 'app');
    fs.mkdirSync(packages);
    fs.mkdirSync(app);
    // The build stage's `npm pack`, of the packages as built in this workspace.
    await run('npm', ['pack', '--silent', '--pack-destination', packages, '-w', 'libs/core', '-w', 'libs/sidecar'], { cwd: root });
    const tarballs = fs.readdirSync(packages).map((name) => path.join(packages, name));
    expect(tarballs).toHaveLength(2);
    // The run stage's install: runtime dependencies only, nothing from the workspace.
    await run('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--no-package-lock', '--prefer-offline', ...tarballs], { cwd: app });

    const [command, script, ...args] = image.entrypoint;
    const entry = path.join(app, path.relative(image.workdir, script!));
    const topic = uniqueTopic('nc-sidecar-image');
    const [port, httpPort] = [await freePort(), await freePort()];
    const password = 'image-test-password';
    const child = spawn(command === 'node' ? process.execPath : command!, [entry, ...args], {
      cwd: app,
      env: {
        PATH: process.env.PATH,
        ...image.env,
        // What docker-compose.yml sets, and free ports in place of the image's.
        NEARCACHE_BROKERS: testBrokers().join(','),
        NEARCACHE_TOPIC: topic,
        NEARCACHE_PASSWORD: password,
        NEARCACHE_PORT: String(port),
        NEARCACHE_HTTP_PORT: String(httpPort),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const ready = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).on('line', (line) => {
          if (line.includes(' ready at ')) resolve(line);
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code} before it was ready: ${stderr}`)));
      });
      // The image binds every interface (its ENV), so it listens on 0.0.0.0.
      expect(image.env.NEARCACHE_HOST).toBe('0.0.0.0');
      expect(ready).toContain(`topic ${topic} ready at redis://0.0.0.0:${port}`);

      const health = new URL(image.healthcheck);
      health.port = String(httpPort);
      const response = await fetch(health);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ state: 'live', topic });

      // Without the password, a command is refused.
      const noAuth = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1', () => socket.write('*1\r\n$4\r\nPING\r\n'));
        socket.once('data', (chunk) => {
          resolve(chunk.toString('latin1'));
          socket.destroy();
        });
        socket.once('error', reject);
      });
      expect(noAuth).toMatch(/^-NOAUTH /);
      const authed = new Redis({ port, host: '127.0.0.1', password, lazyConnect: true, retryStrategy: () => null });
      authed.on('error', () => undefined);
      try {
        await authed.connect();
        expect(await authed.set('k', 'from the image')).toBe('OK');
        expect(await authed.get('k')).toBe('from the image');
      } finally {
        authed.disconnect();
      }
      child.kill(image.stopSignal);
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
