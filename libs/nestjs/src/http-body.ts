import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { Logger, StreamableFile } from '@nestjs/common';

/** The bytes of a handler's result and their media type, as Express would send them. */
export interface SerialisedBody {
  body: Buffer;
  contentType: string;
}

/**
 * Serialises what a route handler returned the way Express sends it (`res.send` / `res.json`),
 * so that an entry stored by Nest and one stored by Express for the same handler result are
 * byte for byte the same:
 * - a string: UTF-8, as `text/html; charset=utf-8`, or as the `Content-Type` already set with
 *   `charset=utf-8`;
 * - a Buffer (any typed array): as it is, as `application/octet-stream` unless a type is set;
 * - a number, a boolean or a bigint: as its text, like a string (what Nest sends for them);
 * - another object or an array: `JSON.stringify`, as `application/json; charset=utf-8` unless
 *   a type is set (then with `charset=utf-8`).
 * Returns `undefined` for what has no such serialisation (`undefined`, `null`, a function, a
 * value `JSON.stringify` gives nothing for). Throws what `JSON.stringify` throws (cycles, bigints
 * inside objects).
 */
export function serialiseResult(value: unknown, contentType: string | undefined): SerialisedBody | undefined {
  switch (typeof value) {
    case 'string':
      return { body: Buffer.from(value, 'utf8'), contentType: contentType === undefined ? 'text/html; charset=utf-8' : withCharset(contentType) };
    case 'number':
    case 'boolean':
    case 'bigint':
      return serialiseResult(String(value), contentType);
    case 'object': {
      if (value === null) return undefined;
      if (ArrayBuffer.isView(value)) {
        return { body: Buffer.from(value.buffer, value.byteOffset, value.byteLength), contentType: contentType ?? 'application/octet-stream' };
      }
      const json = JSON.stringify(value) as string | undefined;
      if (typeof json !== 'string') return undefined;
      return { body: Buffer.from(json, 'utf8'), contentType: withCharset(contentType ?? 'application/json') };
    }
    default:
      return undefined;
  }
}

/** `type` with `charset=utf-8`, parameters sorted by name, as Express's `res.send` sets it. */
export function withCharset(type: string): string {
  const [media = '', ...rest] = type.split(';');
  const parameters = new Map<string, string>();
  for (const part of rest) {
    const at = part.indexOf('=');
    if (at <= 0) continue;
    parameters.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  parameters.set('charset', 'utf-8');
  const formatted = [...parameters].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, value]) => `${name}=${value}`);
  return [media.trim().toLowerCase(), ...formatted].join('; ');
}

/** True when the value is a body Nest streams itself: a web `Response`, a `ReadableStream`, an async iterable. */
export function isStreamingResult(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Object.prototype.toString.call(value) === '[object Response]') return true;
  if (typeof ReadableStream !== 'undefined' && value instanceof ReadableStream) return true;
  return typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function';
}

/**
 * The parts of Nest's HTTP adapter (`AbstractHttpAdapter`, the same on Nest 11 and 12, on
 * `@nestjs/platform-express` and `@nestjs/platform-fastify`) the interceptor writes through.
 */
export interface ReplyingAdapter {
  reply(response: unknown, body: unknown, statusCode?: number): unknown;
  setHeader(response: unknown, name: string, value: string | readonly string[]): unknown;
  status(response: unknown, statusCode: number): unknown;
  end?(response: unknown, message?: unknown): unknown;
  getType?(): string;
}

/** What the Express request helpers below read: Node's request, as Express extends it. */
interface ExpressRequestLike {
  headers?: Record<string, string | string[] | undefined>;
  socket?: { encrypted?: unknown } | null;
}

/**
 * True when an Express request carries neither `X-Forwarded-Host` nor `X-Forwarded-Proto`: then
 * its `req.hostname` and `req.protocol` do not depend on the app's `trust proxy` setting (Express
 * 4 and 5 fall back to the `Host` header and the socket), and `expressHostname` and
 * `expressProtocol` give them without Express's getters, which look the setting up on every read.
 */
export function isUnforwardedExpressRequest(request: ExpressRequestLike): boolean {
  const headers = request.headers;
  return headers !== undefined && headers['x-forwarded-host'] === undefined && headers['x-forwarded-proto'] === undefined;
}

/** `req.hostname` of an Express request without `X-Forwarded-Host`: the `Host` header without its port (an IPv6 literal keeps its brackets). */
export function expressHostname(request: ExpressRequestLike): string | undefined {
  const host = request.headers?.host;
  if (typeof host !== 'string' || host === '') return undefined;
  const offset = host.charCodeAt(0) === 0x5b ? host.indexOf(']') + 1 : 0;
  const colon = host.indexOf(':', offset);
  return colon < 0 ? host : host.slice(0, colon);
}

/** `req.protocol` of an Express request without `X-Forwarded-Proto`: `https` on a TLS socket, else `http`. */
export function expressProtocol(request: ExpressRequestLike): 'http' | 'https' {
  return request.socket?.encrypted ? 'https' : 'http';
}

/** Headers of a prepared answer, in the order they are set. */
export type AnswerHeaders = Array<[name: string, value: string | string[]]>;

/** What the interceptor answers with: status, headers (set when it is sent) and bytes (`undefined` for none). */
export interface Answer {
  status: number;
  headers: AnswerHeaders;
  body: Buffer | undefined;
  /** The same bytes as Latin-1 text, when the caller has it: on Express, sent in one write with the headers. */
  text?: string | undefined;
  /** Remove a `Content-Type` set before (by the route or a middleware): a 304 or a 204 has none. */
  dropContentType: boolean;
}

/** True for a promise or another thenable. */
export function isThenable<T>(value: unknown): value is PromiseLike<T> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

const EMPTY = Buffer.alloc(0);

/**
 * An answer as the value handed to Nest: a `StreamableFile` of its bytes, which carries the
 * answer and the response it is for. Its stream is only made when something reads it:
 * `adapter.reply` sends the answer without it, so a hit allocates no stream.
 *
 * It is a `StreamableFile` by its prototype (set below): `instanceof StreamableFile` holds, so
 * interceptors around pass it through as they pass files, but StreamableFile's constructor does
 * not run, which makes a `Logger`, two closures and an options object on every call, each hit.
 * What StreamableFile's methods read of an instance (`options`, `getStream()`, the error handler
 * and logger) is here; the error handler and logger are a real StreamableFile's, made on first use.
 */
class PreparedBody {
  readonly options: { length: number };
  #stream: Readable | undefined;
  #file: StreamableFile | undefined;
  #sent = false;

  constructor(
    readonly response: object,
    readonly answer: Answer,
  ) {
    this.options = { length: answer.body?.length ?? 0 };
  }

  /** True the first time only: an answer is sent once. */
  takeForSending(): boolean {
    if (this.#sent) return false;
    this.#sent = true;
    return true;
  }

  getStream(): Readable {
    if (this.#stream === undefined) {
      this.#stream = new Readable();
      this.#stream.push(this.answer.body ?? EMPTY);
      this.#stream.push(null);
    }
    return this.#stream;
  }

  /**
   * StreamableFile's own error handler (until `setErrorHandler` replaces it on this instance): that
   * of a StreamableFile of this body's stream, made on first use, which logs through `logError`.
   */
  handleError(error: Error, response: unknown): void {
    this.#file ??= new StreamableFile(this.getStream()).setErrorLogger((e: Error) => this.logError(e));
    this.#file.errorHandler(error, response as never);
  }

  /** StreamableFile's own error logger (until `setErrorLogger` replaces it on this instance). */
  logError(error: Error): void {
    new Logger('StreamableFile').error(error);
  }
}
Object.setPrototypeOf(PreparedBody.prototype, StreamableFile.prototype);

// Per copy of this module: each copy's reply recognises its own answers.
const ANSWERING = Symbol('nearcache.nestjs.answering-reply');

/**
 * Lets the interceptor answer with a status of its own. Nest sends what an interceptor returns
 * through `adapter.reply(response, result, routeStatus)`, with the route's status (200, or its
 * `@HttpCode()`), which would turn a cached 203 or a 304 into the route's status. Once this ran,
 * `reply` sends a prepared answer (see `prepareAnswer`) with the status and bytes prepared for
 * it; any other reply (another route, an exception filter's) goes through untouched. Installed
 * once per adapter; returns whether `adapter` can be answered through.
 */
export function installAnswering(adapter: ReplyingAdapter | undefined): boolean {
  if (
    adapter === undefined ||
    adapter === null ||
    typeof adapter.reply !== 'function' ||
    typeof adapter.setHeader !== 'function' ||
    typeof adapter.status !== 'function'
  ) {
    return false;
  }
  const marked = adapter as ReplyingAdapter & { [ANSWERING]?: true };
  if (marked[ANSWERING] === true) return true;
  const reply = adapter.reply;
  const type = typeof adapter.getType === 'function' ? adapter.getType() : undefined;
  Object.defineProperty(adapter, ANSWERING, { value: true });
  adapter.reply = function replyWithPreparedAnswers(this: ReplyingAdapter, response: unknown, body: unknown, statusCode?: number): unknown {
    if (!(body instanceof PreparedBody) || body.response !== response || !body.takeForSending()) return reply.call(this, response, body, statusCode);
    return sendAnswer(this, reply, type, response, body.answer);
  };
  return true;
}

function sendAnswer(adapter: ReplyingAdapter, reply: ReplyingAdapter['reply'], type: string | undefined, response: unknown, answer: Answer): unknown {
  if (type === 'express') {
    // Express's response is Node's: the bytes go out as they are (Express's send() would compute
    // its own ETag and answer conditionals itself).
    const raw = response as ServerResponse;
    for (const [name, value] of answer.headers) raw.setHeader(name, value);
    if (answer.dropContentType) raw.removeHeader('content-type');
    raw.statusCode = answer.status;
    if (answer.body === undefined) return raw.end();
    return answer.text === undefined ? raw.end(answer.body) : raw.end(answer.text, 'latin1');
  }
  for (const [name, value] of answer.headers) adapter.setHeader(response, name, value);
  if (answer.dropContentType) (response as { removeHeader?: (name: string) => unknown }).removeHeader?.('content-type');
  if (type === 'fastify') return reply.call(adapter, response, answer.body, answer.status);
  return reply.call(adapter, response, answer.body === undefined ? undefined : new StreamableFile(answer.body), answer.status);
}

/**
 * Prepares the answer to `response` and returns the value for the interceptor to hand to Nest:
 * a `StreamableFile` of the bytes, which interceptors around it pass through (as
 * `ClassSerializerInterceptor` does) and which `adapter.reply` (see `installAnswering`) sends
 * with the answer's status and headers.
 */
export function prepareAnswer(response: object, answer: Answer): StreamableFile {
  return new PreparedBody(response, answer) as unknown as StreamableFile;
}
