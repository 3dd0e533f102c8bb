// One client connection: bytes in through the bounded parser, commands run one at a time in
// order, replies out in order. A protocol error is answered and the connection closed; a
// command's error is answered and the connection goes on; nothing a client sends throws past here.
import type { Socket } from 'node:net';
import type { NearCache } from '@nearcache/core';
import type { CommandContext, CommandTable, Session, SidecarView } from './commands/context.js';
import { ProtocolError, RespParser, type ParserLimits } from './resp/parser.js';
import { encodeReply, error, type Reply } from './resp/reply.js';
import { errorLine } from './values.js';

export interface ConnectionSettings extends ParserLimits {
  maxPipeline: number;
  maxReplyBufferBytes: number;
}

/** Counters the connections share with the sidecar's INFO and metrics. */
export interface CommandCounters {
  commands: number;
  errors: number;
  protocolErrors: number;
}

export class Connection {
  readonly #socket: Socket;
  readonly #parser: RespParser;
  readonly #commands: CommandTable;
  readonly #settings: ConnectionSettings;
  readonly #counters: CommandCounters;
  readonly #ctx: CommandContext;
  #running = false;
  #closed = false;

  constructor(
    socket: Socket,
    id: number,
    deps: { cache: NearCache<unknown>; sidecar: SidecarView; commands: CommandTable; settings: ConnectionSettings; counters: CommandCounters },
  ) {
    this.#socket = socket;
    this.#settings = deps.settings;
    this.#commands = deps.commands;
    this.#counters = deps.counters;
    this.#parser = new RespParser(deps.settings);
    const session: Session = { id, protocol: 2, authenticated: !deps.sidecar.passwordRequired, name: undefined, scan: undefined, closing: false };
    this.#ctx = { cache: deps.cache, session, sidecar: deps.sidecar };
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.#parser.push(chunk);
      // Bytes past one request's limit wait unread until the commands before them are answered.
      if (this.#parser.buffered > deps.settings.maxRequestBytes + deps.settings.maxInlineBytes) socket.pause();
      this.#drain();
    });
    socket.on('drain', () => this.#drain());
    socket.on('error', () => this.close());
    socket.on('close', () => {
      this.#closed = true;
    });
  }

  get session(): Session {
    return this.#ctx.session;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.destroy();
  }

  /** Answers every complete request, in order; waits for an asynchronous command, and for a client that is not reading. */
  #drain(): void {
    if (this.#running || this.#closed) return;
    this.#running = true;
    void this.#run().finally(() => {
      this.#running = false;
    });
  }

  async #run(): Promise<void> {
    // Replies written in one slice leave in one packet: corked here, uncorked when the slice ends.
    this.#socket.cork();
    try {
      await this.#answer();
    } finally {
      this.#socket.uncork();
    }
  }

  async #answer(): Promise<void> {
    const socket = this.#socket;
    let answered = 0;
    while (!this.#closed) {
      if (socket.writableLength > this.#settings.maxReplyBufferBytes) {
        // The client sends requests and does not read the replies: cut it off, as Redis does.
        this.close();
        return;
      }
      if (socket.writableNeedDrain) return; // 'drain' runs this again
      let request: Buffer[] | undefined;
      try {
        request = this.#parser.next();
      } catch (cause) {
        this.#counters.protocolErrors++;
        const message = cause instanceof ProtocolError ? cause.message : 'unreadable request';
        this.#write(error(`ERR Protocol error: ${message}`));
        this.#socket.end();
        this.#closed = true;
        return;
      }
      if (request === undefined) {
        if (socket.isPaused()) socket.resume();
        return;
      }
      let reply = this.#dispatch(request);
      if (reply instanceof Promise) reply = await reply;
      if (this.#closed) return;
      this.#write(reply);
      if (this.#ctx.session.closing) {
        this.#socket.end();
        this.#closed = true;
        return;
      }
      // A long pipeline lets other clients and the replication run between its slices.
      if (++answered >= this.#settings.maxPipeline) {
        answered = 0;
        socket.uncork();
        await new Promise((resolve) => setImmediate(resolve));
        socket.cork();
      }
    }
  }

  #dispatch(request: Buffer[]): Reply | Promise<Reply> {
    this.#counters.commands++;
    const name = request[0]!.toString('latin1').toLowerCase();
    const command = Object.hasOwn(this.#commands, name) ? this.#commands[name] : undefined;
    if (command === undefined) {
      this.#counters.errors++;
      const shown = request[0]!.toString('utf8').slice(0, 128);
      const rest = request
        .slice(1, 8)
        .map((a) => `'${a.toString('utf8').slice(0, 64)}'`)
        .join(' ');
      return error(`ERR unknown command '${shown}', with args beginning with: ${rest}`);
    }
    if (!this.#ctx.session.authenticated && !command.noAuth) {
      this.#counters.errors++;
      return error('NOAUTH Authentication required.');
    }
    if (command.arity > 0 ? request.length !== command.arity : request.length < -command.arity) {
      this.#counters.errors++;
      return error(`ERR wrong number of arguments for '${name}' command`);
    }
    try {
      const reply = command.run(this.#ctx, request);
      return reply instanceof Promise ? reply.catch((cause: unknown) => this.#failed(cause)) : reply;
    } catch (cause) {
      return this.#failed(cause);
    }
  }

  #failed(cause: unknown): Reply {
    this.#counters.errors++;
    return error(errorLine(cause));
  }

  #write(reply: Reply): void {
    const parts: (Buffer | string)[] = [];
    encodeReply(reply, this.#ctx.session.protocol, parts);
    if (parts.length === 1) {
      this.#socket.write(parts[0]!);
    } else {
      this.#socket.write(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p))));
    }
  }
}
