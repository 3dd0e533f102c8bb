// The instances of the example service the demo runs: a child process each, or (without Kafka)
// all in the demo's own process. Both kinds answer the same calls.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { say } from './output.mjs';
import { EXAMPLE } from './paths.mjs';

/** @typedef {import('./types.mjs').Instance} Instance */
/** @typedef {{ code: number | null, signal: NodeJS.Signals | null }} ExitStatus */

/**
 * An instance of the example in its own process.
 * @implements {Instance}
 */
export class ChildInstance {
  /**
   * @param {{ name: string, framework: 'nest' | 'express', port: number, env: Record<string, string>, logDir: string }} options
   */
  constructor({ name, framework, port, env, logDir }) {
    this.name = name;
    this.framework = framework;
    this.port = port;
    this.env = env;
    this.logDir = logDir;
    this.url = `http://127.0.0.1:${port}`;
    this.logFile = path.join(logDir, `${name}.log`);
    /** @type {import('node:child_process').ChildProcess | undefined} */
    this.child = undefined;
    /** @type {Promise<ExitStatus> | undefined} */
    this.exited = undefined;
    /** @type {ExitStatus | undefined} */
    this.exitStatus = undefined;
    /** @type {string | undefined} */
    this.lastHealth = undefined;
  }

  get pid() {
    return this.child?.pid;
  }

  get where() {
    return `pid ${this.pid}`;
  }

  /** Whether killing it kills a process (not only closes a cache in the demo's process). */
  get isProcess() {
    return true;
  }

  async start() {
    const script = path.join(EXAMPLE, 'dist', this.framework === 'nest' ? 'main-nest.js' : 'main-express.js');
    const out = fs.openSync(this.logFile, 'a');
    fs.writeSync(out, `\n===== ${new Date().toISOString()}: starting ${this.name} =====\n`);
    // An IPC channel: if the demo dies without cleaning up, the instance sees it go and stops.
    const child = spawn(process.execPath, [script], {
      cwd: EXAMPLE,
      env: { ...process.env, ...this.env, PORT: String(this.port), INSTANCE: this.name, NO_COLOR: '1' },
      stdio: ['ignore', out, out, 'ipc'],
    });
    fs.closeSync(out);
    this.child = child;
    /** @type {Promise<ExitStatus>} */
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    this.exited = exited;
    this.exitStatus = undefined;
    exited.then((status) => {
      this.exitStatus = status;
    });
    child.on('error', (error) => say(`  ${this.name}: ${error.message}`));
  }

  alive() {
    return this.child !== undefined && this.exitStatus === undefined;
  }

  /** SIGKILL: no flush, no goodbye. */
  async kill() {
    this.child?.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM: the instance flushes and closes its cache; SIGKILL after 10 s. */
  async stop() {
    if (!this.alive()) return;
    this.child?.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }

  /** Why it is not running, for a failure message. */
  exitReason() {
    return this.exitStatus ? `exited (${this.exitStatus.signal ?? `code ${this.exitStatus.code}`})` : 'is running';
  }

  /** The instance's own status lines and the end of its log. */
  failureDetails() {
    let lines;
    try {
      lines = fs.readFileSync(this.logFile, 'utf8').trimEnd().split('\n');
    } catch {
      return `${this.name} ${this.exitReason()}; it wrote no log`;
    }
    const own = lines.filter((line) => line.startsWith(`[${this.name}] `)).slice(-3);
    const last = lines.slice(-6).filter((line) => !own.includes(line));
    const clip = (/** @type {string} */ line) => `    ${line.length > 200 ? `${line.slice(0, 200)}...` : line}`;
    return [
      `${this.name} ${this.exitReason()}; from its log (${this.logFile}):`,
      ...own.map(clip),
      ...(last.length > 0 ? ['    ...', ...last.map(clip)] : []),
    ].join('\n');
  }
}

/**
 * Starts an instance of the example in this process: the example's startNestInstance or
 * startExpressInstance, with the demo's topic, log and store bound.
 * @typedef {(options: { name: string, port: number, startedAt: number }) => Promise<{ close(): Promise<void> }>} Starter
 */

/**
 * An instance of the example in this process (the mode without Kafka).
 * @implements {Instance}
 */
export class LocalInstance {
  /**
   * @param {{ name: string, framework: 'nest' | 'express', port: number, starter: Starter }} options
   */
  constructor({ name, framework, port, starter }) {
    this.name = name;
    this.framework = framework;
    this.port = port;
    this.starter = starter;
    this.url = `http://127.0.0.1:${port}`;
    /** @type {{ close(): Promise<void> } | undefined} */
    this.running = undefined;
    /** @type {string | undefined} */
    this.lastHealth = undefined;
  }

  get where() {
    return `in this process (pid ${process.pid})`;
  }

  get isProcess() {
    return false;
  }

  async start() {
    this.running = await this.starter({ name: this.name, port: this.port, startedAt: performance.timeOrigin + performance.now() });
  }

  alive() {
    return this.running !== undefined;
  }

  /** One process cannot kill a part of itself: the instance is closed, and its cache with it. */
  async kill() {
    const running = this.running;
    this.running = undefined;
    await running?.close();
  }

  async stop() {
    await this.kill();
  }

  exitReason() {
    return this.running ? 'is running' : 'is closed';
  }

  failureDetails() {
    return undefined;
  }
}
