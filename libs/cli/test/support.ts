import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { run } from '@nearcache/cli';
import { waitFor } from '../../../test/helpers/wait.js';

export { KafkaTestClient, NO_CLEANING, testBrokers } from '../../../test/helpers/kafka.js';
export { waitFor };

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = path.join(root, 'libs/cli/dist/bin.js');

export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Starts the tool in this process (from its sources), collecting its output while it runs. */
export function startCli(
  args: string[],
  env: Record<string, string | undefined> = {},
  options: { signal?: AbortSignal; tty?: boolean } = {},
): { stdout: () => string; stderr: () => string; done: Promise<Outcome> } {
  const stdout = new PassThrough();
  const stderr = Object.assign(new PassThrough(), { isTTY: options.tty === true });
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const done = run(args, {
    stdout,
    stderr,
    env: { KAFKA_BROKERS: process.env.KAFKA_BROKERS, ...env },
    ...(options.signal ? { signal: options.signal } : {}),
  }).then((code) => ({ code, stdout: out, stderr: err }));
  return { stdout: () => out, stderr: () => err, done };
}

/** Runs the tool in this process (from its sources). */
export function cli(args: string[], env: Record<string, string | undefined> = {}, options: { signal?: AbortSignal; tty?: boolean } = {}): Promise<Outcome> {
  return startCli(args, env, options).done;
}

/** Builds the package (and the core it references) when its dist is missing or older than its sources. */
export async function buildBin(): Promise<void> {
  const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
  await new Promise<void>((resolve, reject) =>
    execFile(process.execPath, [tsc, '-b', path.join(root, 'libs/cli/tsconfig.lib.json')], { cwd: root }, (error, stdout, stderr) =>
      error ? reject(new Error(`build failed: ${stdout}${stderr}`)) : resolve(),
    ),
  );
  if (!existsSync(BIN) || statSync(BIN).size === 0) throw new Error(`${BIN} was not built`);
}

/** Runs the built bin as a child process; resolves when it exits. */
export function runBin(args: string[], env: Record<string, string | undefined> = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
  });
}

/** Starts the built bin as a child process, collecting its output. */
export function startBin(args: string[]): { child: ChildProcess; stdout: () => string; stderr: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, ...args], { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exit };
}
