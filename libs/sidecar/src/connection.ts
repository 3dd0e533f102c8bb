// One client connection: bytes in through the bounded parser, commands run one at a time in
// order, replies out in order. A protocol error is answered and the connection closed; a
// command's error is answered and the connection goes on; nothing a client sends throws past here.
import type { Socket } from 'node:net';
import type { NearCache } from '@nearcache/core';
import type { CommandContext, CommandTable, Session, SidecarView } from './commands/context.js';
import { ProtocolError, RespParser, type ParserLimits } from './resp/parser.js';
import { encodeReply, error, replyText, type Reply } from './resp/reply.js';
import { errorLine } from './values.js';

/** Queued replies are written once they reach this length, whatever the pipeline's length. */
const FLUSH_AT = 64 * 1024;

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

/** The lower-case name of a command: GET and SET, most of the traffic, without a new string. */
function commandName(bytes: Buffer): string {
  if (bytes.length === 3 && (bytes[1]! | 0x20) === 0x65 /* e */ && (bytes[2]! | 0x20) === 0x74 /* t */) {
    const first = bytes[0]! | 0x20;
    if (first === 0x67 /* g */) return 'get';
    if (first === 0x73 /* s */) return 'set';
  }
  return bytes.toString('latin1').toLowerCase();
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
  /** Replies encoded as text and not yet written. */
  #out = '';
  /** Replies with bytes and the text before them, not yet written (then `#out` follows them). */
  #parts: (Buffer | string)[] = [];
  /** The length of what is queued (characters and bytes: a measure, not exact bytes). */
  #outLength = 0;
  /** Requests answered since the answering started or last paused. */
  #answeredInSlice = 0;

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

  /**
   * Answers every complete request, in order; waits for an asynchronous command, and for a client
   * that is not reading. Synchronous while the commands are (GET): no promise per request.
   */
  #drain(): void {
    if (this.#running || this.#closed) return;
    this.#running = true;
    this.#answer();
  }

  /** Answers until no complete request is left; `#running` stays true while a command or a pause between slices is awaited. */
  #answer(): void {
    if (this.#stopForClient()) return this.#idle();
    const socket = this.#socket;
    while (!this.#closed) {
      let request: Buffer[] | undefined;
      try {
        request = this.#parser.next();
      } catch (cause) {
        this.#counters.protocolErrors++;
        const message = cause instanceof ProtocolError ? cause.message : 'unreadable request';
        this.#write(error(`ERR Protocol error: ${message}`));
        this.#end();
        return this.#idle();
      }
      if (request === undefined) {
        if (socket.isPaused()) socket.resume();
        return this.#idle();
      }
      const reply = this.#dispatch(request);
      if (reply instanceof Promise) {
        // #dispatch turns a failure into an error reply: this promise does not reject.
        void reply.then((answer) => {
          if (this.#answered(answer)) this.#answer();
        });
        return;
      }
      if (!this.#answered(reply)) return;
    }
    this.#idle();
  }

  /**
   * Queues `reply`; false when the answering stops here: the connection closed, the client must
   * read first, or a long pipeline pauses so that other clients and the replication run between
   * its slices (it goes on by itself after the pause).
   */
  #answered(reply: Reply): boolean {
    if (this.#closed) {
      this.#idle();
      return false;
    }
    this.#write(reply);
    if (this.#ctx.session.closing) {
      this.#end();
      this.#idle();
      return false;
    }
    // The replies of a slice leave together; a long pipeline's in parts.
    if (++this.#answeredInSlice >= this.#settings.maxPipeline || this.#outLength >= FLUSH_AT) {
      this.#flush();
      if (this.#stopForClient()) {
        this.#idle();
        return false;
      }
      if (this.#answeredInSlice >= this.#settings.maxPipeline) {
        this.#answeredInSlice = 0;
        setImmediate(() => this.#answer());
        return false;
      }
    }
    return true;
  }

  /** Writes what is queued; the next bytes or 'drain' start the answering again. */
  #idle(): void {
    this.#flush();
    this.#answeredInSlice = 0;
    this.#running = false;
  }

  /**
   * Whether to stop answering because of the client: it sends requests and does not read the
   * replies. Past `maxReplyBufferBytes` of unread replies it is cut off, as Redis does; before
   * that, its requests wait until the socket drains ('drain' runs the answering again).
   */
  #stopForClient(): boolean {
    if (this.#socket.writableLength > this.#settings.maxReplyBufferBytes) this.close();
    return this.#closed || this.#socket.writableNeedDrain;
  }

  /** Writes what is pending, then ends the connection. */
  #end(): void {
    this.#flush();
    this.#socket.end();
    this.#closed = true;
  }

  #dispatch(request: Buffer[]): Reply | Promise<Reply> {
    this.#counters.commands++;
    const name = commandName(request[0]!);
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

  /** Queues the encoded reply; `#flush` writes the queue. */
  #write(reply: Reply): void {
    const protocol = this.#ctx.session.protocol;
    const text = replyText(reply, protocol);
    if (text !== undefined) {
      this.#out += text;
      this.#outLength += text.length;
      return;
    }
    // A reply with bytes: the text before it and its parts are written in order.
    if (this.#out.length > 0) this.#parts.push(this.#out);
    this.#out = '';
    const before = this.#parts.length;
    encodeReply(reply, protocol, this.#parts);
    for (let i = before; i < this.#parts.length; i++) this.#outLength += this.#parts[i]!.length;
  }

  /** Writes the queued replies: one write when they are all text, the usual case. */
  #flush(): void {
    if (this.#outLength === 0) return;
    const socket = this.#socket;
    // Text is 1 to 3 bytes a character: the bytes are counted only when they may pass the limit.
    const room = this.#settings.maxReplyBufferBytes - socket.writableLength;
    if ((this.#closed && socket.destroyed) || (this.#outLength * 3 > room && this.#queuedBytes() > room)) {
      // Closed, or the client sends requests and does not read the replies: cut off, as Redis does.
      this.#clearOut();
      this.close();
      return;
    }
    if (this.#parts.length === 0) {
      socket.write(this.#out);
    } else {
      if (this.#out.length > 0) this.#parts.push(this.#out);
      socket.cork();
      for (const part of this.#parts) socket.write(part);
      socket.uncork();
    }
    this.#clearOut();
  }

  /** The bytes of the queued replies. */
  #queuedBytes(): number {
    let bytes = Buffer.byteLength(this.#out);
    for (const part of this.#parts) bytes += typeof part === 'string' ? Buffer.byteLength(part) : part.length;
    return bytes;
  }

  #clearOut(): void {
    this.#out = '';
    this.#parts = [];
    this.#outLength = 0;
  }
}
