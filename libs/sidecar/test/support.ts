// A minimal Redis client for the tests: it sends raw bytes and decodes RESP2/RESP3 replies, so
// that tests can send what no client library would (malformed frames, partial requests).
import { connect, type Socket } from 'node:net';
import { InProcessBroker, inProcessLog, silentLogger } from '@nearcache/core';
import { startSidecar, type Sidecar, type SidecarOptions } from '@nearcache/sidecar';

export type Value = string | number | null | Value[] | { error: string } | Map<Value, Value>;

/** Decodes one reply from `buf` at `pos`: [value, next position], or undefined when incomplete. */
export function decode(buf: Buffer, pos: number): [Value, number] | undefined {
  if (pos >= buf.length) return undefined;
  const end = buf.indexOf('\r\n', pos);
  if (end === -1) return undefined;
  const type = String.fromCharCode(buf[pos]!);
  const line = buf.toString('utf8', pos + 1, end);
  let next = end + 2;
  switch (type) {
    case '+':
      return [line, next];
    case '-':
      return [{ error: line }, next];
    case ':':
      return [Number(line), next];
    case '_':
      return [null, next];
    case '$': {
      const length = Number(line);
      if (length < 0) return [null, next];
      if (buf.length < next + length + 2) return undefined;
      return [buf.toString('utf8', next, next + length), next + length + 2];
    }
    case '*':
    case '%': {
      const count = Number(line);
      if (count < 0) return [null, next];
      const items: Value[] = [];
      for (let i = 0; i < (type === '%' ? count * 2 : count); i++) {
        const item = decode(buf, next);
        if (item === undefined) return undefined;
        items.push(item[0]);
        next = item[1];
      }
      if (type === '*') return [items, next];
      const map = new Map<Value, Value>();
      for (let i = 0; i < items.length; i += 2) map.set(items[i]!, items[i + 1]!);
      return [map, next];
    }
    default:
      throw new Error(`unexpected reply type ${JSON.stringify(type)}`);
  }
}

export function encode(args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg) : arg;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** A connection that sends raw bytes and reads decoded replies. */
export class RawClient {
  readonly socket: Socket;
  #buffer = Buffer.alloc(0);
  #waiters: (() => void)[] = [];
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
    socket.on('error', () => undefined);
  }

  static open(target: { port: number } | { path: string }): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = 'port' in target ? connect(target.port, '127.0.0.1') : connect(target.path);
      socket.once('error', reject);
      socket.once('connect', () => resolve(new RawClient(socket)));
    });
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  send(bytes: Buffer | string): void {
    this.socket.write(bytes);
  }

  /** The next reply; rejects if the connection closes first or nothing comes within `timeout` ms. */
  async reply(timeout = 5000): Promise<Value> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const decoded = decode(this.#buffer, 0);
      if (decoded) {
        this.#buffer = this.#buffer.subarray(decoded[1]);
        return decoded[0];
      }
      if (this.closed) throw new Error('connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no reply');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Resolves once the server closed the connection (rejects after `timeout` ms). */
  async closedByServer(timeout = 5000): Promise<void> {
    const deadline = Date.now() + timeout;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('the connection is still open');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async call(...args: (string | Buffer)[]): Promise<Value> {
    this.send(encode(args));
    return this.reply();
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Sidecars on one in-process topic, closed by `closeAll`. */
export class Sidecars {
  readonly broker = new InProcessBroker();
  /** A new topic after each closeAll, so tests do not share entries. */
  topic = `sidecar-${Math.random().toString(36).slice(2, 10)}`;
  readonly #started: Sidecar[] = [];

  async start(options: Partial<SidecarOptions> = {}, cache: Partial<SidecarOptions['cache']> = {}): Promise<Sidecar> {
    const sidecar = await startSidecar({ port: 0, ...options, cache: { topic: this.topic, log: inProcessLog(this.broker), logger: silentLogger, ...cache } });
    this.#started.push(sidecar);
    return sidecar;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.#started.splice(0).map((s) => s.close()));
    this.topic = `sidecar-${Math.random().toString(36).slice(2, 10)}`;
  }
}
