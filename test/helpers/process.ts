import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface FixtureProcess {
  child: ChildProcess;
  /** Messages the child printed (JSON lines), in order. */
  messages: Array<Record<string, unknown>>;
  /** Resolves with the first message matching `predicate`; rejects after `timeout` or when the child exits first. */
  next(predicate: (message: Record<string, unknown>) => boolean, timeout?: number): Promise<Record<string, unknown>>;
  /** Resolves once the child exited: its exit code and signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` (SIGKILL by default) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Runs `test/fixtures/<name>` with `node`, with `env` added to this process's environment. */
export function runFixture(name: string, env: Record<string, string>): FixtureProcess {
  const file = fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
  const child = spawn(process.execPath, [file], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const messages: Array<Record<string, unknown>> = [];
  const listeners = new Set<() => void>();
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      messages.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      messages.push({ event: 'text', line });
    }
    for (const listener of [...listeners]) listener();
  });
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      done = true;
      for (const listener of [...listeners]) listener();
      resolve({ code, signal });
    }),
  );
  return {
    child,
    messages,
    exited,
    next(predicate, timeout = 60_000) {
      return new Promise((resolve, reject) => {
        let from = 0;
        const check = (): void => {
          for (; from < messages.length; from++) {
            if (predicate(messages[from]!)) {
              cleanup();
              resolve(messages[from]!);
              return;
            }
          }
          if (done) {
            cleanup();
            reject(new Error(`fixture ${name} exited before the expected message; stderr: ${stderr}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(
            new Error(`timed out after ${timeout} ms waiting for a message from fixture ${name}; got ${JSON.stringify(messages.slice(-5))}; stderr: ${stderr}`),
          );
        }, timeout);
        const cleanup = (): void => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    async kill(signal = 'SIGKILL') {
      if (!done) child.kill(signal);
      await exited;
    },
  };
}

/** Inodes of the sockets process `pid` holds open. */
export function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    const match = /^socket:\[(\d+)\]$/.exec(target);
    if (match) inodes.add(match[1]!);
  }
  return inodes;
}

/** TCP sockets (IPv4 and IPv6) of process `pid`, with their state: 0A is LISTEN, 01 ESTABLISHED. */
export function tcpSockets(pid: number): Array<{ local: string; remote: string; state: string; inode: string }> {
  const inodes = socketInodes(pid);
  const sockets: Array<{ local: string; remote: string; state: string; inode: string }> = [];
  for (const table of [`/proc/${pid}/net/tcp`, `/proc/${pid}/net/tcp6`]) {
    if (!fs.existsSync(table)) continue;
    for (const line of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10) continue;
      const [, local, remote, state, , , , , , inode] = fields;
      if (inodes.has(inode!)) sockets.push({ local: local!, remote: remote!, state: state!, inode: inode! });
    }
  }
  return sockets;
}
