// The sidecar: one nearcache instance (JSON codec) served over the Redis protocol on loopback or
// a Unix socket, and over a small HTTP API, to the other processes of its pod or host.
import { createHash, timingSafeEqual } from 'node:crypto';
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createNearCache, InvalidOptionError, jsonCodec, type NearCache } from '@nearcache/core';
import type { CommandTable, SidecarView } from './commands/context.js';
import { keyCommands } from './commands/keys.js';
import { serverCommands } from './commands/server.js';
import { Connection, type CommandCounters, type ConnectionSettings } from './connection.js';
import { httpApi } from './http-api.js';
import { resolveSidecarOptions, type ResolvedSidecarOptions, type SidecarOptions } from './options.js';
import { infoText, type SidecarFigures } from './report.js';

const COMMANDS: CommandTable = { ...serverCommands, ...keyCommands };

function digest(bytes: Buffer): Buffer {
  return createHash('sha256').update(bytes).digest();
}

function listen(server: Server | HttpServer, target: { port: number; host: string } | { path: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(target, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: Server | HttpServer | undefined): Promise<void> {
  return new Promise((resolve) => (server && server.listening ? server.close(() => resolve()) : resolve()));
}

/** A running sidecar: `startSidecar` resolves with one once its cache is ready and it listens. */
export class Sidecar {
  readonly cache: NearCache<unknown>;
  readonly #options: ResolvedSidecarOptions;
  readonly #passwordDigest: Buffer | undefined;
  readonly #connections = new Set<Connection>();
  readonly #counters: CommandCounters = { commands: 0, errors: 0, protocolErrors: 0 };
  readonly #startedAt = Date.now();
  #tcp: Server | undefined;
  #unix: Server | undefined;
  #http: HttpServer | undefined;
  #nextId = 1;
  #connectionsTotal = 0;
  #rejected = 0;
  #closing: Promise<void> | undefined;
  #signals: (() => void) | undefined;

  /** @internal use `startSidecar` */
  constructor(options: ResolvedSidecarOptions) {
    this.#options = options;
    this.#passwordDigest = options.password === undefined ? undefined : digest(Buffer.from(options.password, 'utf8'));
    this.cache = createNearCache<unknown>({ ...options.cache, codec: jsonCodec() });
  }

  /** The Redis protocol's TCP address, if it listens on one. */
  get address(): { host: string; port: number } | undefined {
    const address = this.#tcp?.address() as AddressInfo | null | undefined;
    return address ? { host: address.address, port: address.port } : undefined;
  }

  /** The Redis protocol's Unix socket, if it listens on one. */
  get socketPath(): string | undefined {
    return this.#unix ? this.#options.socket : undefined;
  }

  /** The HTTP API's address, if it runs. */
  get httpAddress(): { host: string; port: number } | undefined {
    const address = this.#http?.address() as AddressInfo | null | undefined;
    return address ? { host: address.address, port: address.port } : undefined;
  }

  /** Connected Redis protocol clients. */
  get clients(): number {
    return this.#connections.size;
  }

  figures(): SidecarFigures {
    return {
      stats: this.cache.stats(),
      clients: this.#connections.size,
      maxClients: this.#options.maxClients,
      connectionsTotal: this.#connectionsTotal,
      rejectedConnections: this.#rejected,
      counters: { ...this.#counters },
      startedAt: this.#startedAt,
      port: this.address?.port,
    };
  }

  #checkPassword = (password: Buffer): boolean => {
    if (this.#passwordDigest === undefined) return true;
    return timingSafeEqual(digest(password), this.#passwordDigest);
  };

  /** @internal */
  async start(): Promise<void> {
    const options = this.#options;
    try {
      if (options.httpPort !== undefined) {
        // The HTTP API answers /health while the cache catches up.
        this.#http = createHttpServer(
          httpApi({
            cache: this.cache,
            figures: () => this.figures(),
            checkPassword: this.#checkPassword,
            passwordRequired: this.#passwordDigest !== undefined,
          }),
        );
        this.#http.requestTimeout = 30_000;
        this.#http.headersTimeout = 10_000;
        await listen(this.#http, { port: options.httpPort, host: options.httpHost });
      }
      await this.cache.ready();
      if (options.port !== undefined) {
        this.#tcp = this.#server();
        await listen(this.#tcp, { port: options.port, host: options.host });
      }
      if (options.socket !== undefined) {
        await removeStaleSocket(options.socket);
        this.#unix = this.#server();
        await listen(this.#unix, { path: options.socket });
        chmodSync(options.socket, options.socketMode);
      }
      if (options.handleSignals) this.#handleSignals();
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  #server(): Server {
    const view: SidecarView = {
      checkPassword: this.#checkPassword,
      passwordRequired: this.#passwordDigest !== undefined,
      info: (sections) => infoText(this.figures(), sections),
    };
    const settings: ConnectionSettings = {
      maxArgs: this.#options.maxArgs,
      maxRequestBytes: this.#options.maxRequestBytes,
      maxInlineBytes: this.#options.maxInlineBytes,
      maxPipeline: this.#options.maxPipeline,
      maxReplyBufferBytes: this.#options.maxReplyBufferBytes,
    };
    return createServer({ noDelay: true }, (socket: Socket) => {
      if (this.#closing !== undefined || this.#connections.size >= this.#options.maxClients) {
        this.#rejected++;
        socket.end('-ERR max number of clients reached\r\n');
        socket.on('error', () => socket.destroy());
        return;
      }
      this.#connectionsTotal++;
      const connection = new Connection(socket, this.#nextId++, { cache: this.cache, sidecar: view, commands: COMMANDS, settings, counters: this.#counters });
      this.#connections.add(connection);
      socket.on('close', () => this.#connections.delete(connection));
    });
  }

  #handleSignals(): void {
    const stop = () => {
      this.cache.logger.info('nearcache sidecar: stopping');
      void this.close().then(
        () => (process.exitCode ??= 0),
        () => (process.exitCode = 1),
      );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    this.#signals = () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
    };
  }

  /** Stops listening, disconnects every client, then closes the cache (which flushes its writes, bounded). */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#signals?.();
    const stopping = [closeServer(this.#tcp), closeServer(this.#unix), closeServer(this.#http)];
    for (const connection of this.#connections) connection.close();
    this.#http?.closeAllConnections();
    await Promise.all(stopping);
    await this.cache.close();
  }
}

/** Whether a process accepts connections on the Unix socket at `path`. */
function socketInUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/** A socket file left by a process that did not stop cleanly is removed; a live socket or any other file is refused. */
async function removeStaleSocket(path: string): Promise<void> {
  let stat;
  try {
    stat = lstatSync(path);
  } catch {
    return;
  }
  if (!stat.isSocket()) throw new InvalidOptionError(`option "socket" names ${JSON.stringify(path)}, which exists and is not a socket`);
  if (await socketInUse(path)) throw new InvalidOptionError(`option "socket" names ${JSON.stringify(path)}, where another process is listening`);
  unlinkSync(path);
}

/**
 * Starts a sidecar: creates its nearcache instance, waits until it is ready (caught up with the
 * topic), then listens. Rejects with a typed error for a bad option or a cache that cannot start.
 */
export async function startSidecar(options: SidecarOptions): Promise<Sidecar> {
  const sidecar = new Sidecar(resolveSidecarOptions(options));
  await sidecar.start();
  return sidecar;
}
