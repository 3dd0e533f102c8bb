// An incremental parser of Redis requests: RESP arrays of bulk strings (what every client
// library sends) and inline commands (what a person types into a raw TCP connection).
// Bounded: the arguments of one request, its total size and an inline line have limits, and a
// request past one of them is a protocol error (the connection is then closed, as Redis does).

/** The limits of one connection's parser. */
export interface ParserLimits {
  /** Most arguments in one request (the command name included). */
  maxArgs: number;
  /** Most bytes in one request (the sum of its arguments). */
  maxRequestBytes: number;
  /** Most bytes in one inline command line. */
  maxInlineBytes: number;
}

/** A parsed request: the command's arguments as bytes, the name first. */
export type Request = Buffer[];

/** A request the parser refuses: the connection cannot be read any further. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

const CR = 13;
const LF = 10;
/** The longest header line (`*<n>` or `$<n>`) accepted: a sign, 19 digits and some slack. */
const MAX_HEADER = 32;

const enum State {
  Start,
  BulkHeader,
  BulkBody,
}

/**
 * Feed bytes with `push`, take requests with `next` until it returns `undefined` (more bytes
 * needed). `next` throws `ProtocolError` for a malformed or oversized request; the parser is
 * then unusable. Arguments are views of the received bytes; a bulk argument arriving in many
 * chunks is copied once, when complete.
 */
export class RespParser {
  readonly #limits: ParserLimits;
  #buffer: Buffer = Buffer.alloc(0);
  #pos = 0;
  #state = State.Start;
  #args: Buffer[] = [];
  #remaining = 0;
  #requestBytes = 0;
  #bulkLength = 0;
  /** A bulk body's chunks while it is incomplete (the first holds the unread rest of #buffer). */
  #parts: Buffer[] = [];
  #partsBytes = 0;
  #failed = false;

  constructor(limits: ParserLimits) {
    this.#limits = limits;
  }

  /** Bytes received and not yet taken as requests. */
  get buffered(): number {
    return this.#buffer.length - this.#pos + this.#partsBytes;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.#state === State.BulkBody && this.#parts.length > 0) {
      this.#parts.push(chunk);
      this.#partsBytes += chunk.length;
      return;
    }
    this.#buffer = this.#pos >= this.#buffer.length ? chunk : Buffer.concat([this.#buffer.subarray(this.#pos), chunk]);
    this.#pos = 0;
  }

  /** The next complete request, or `undefined` until more bytes arrive. */
  next(): Request | undefined {
    if (this.#failed) throw new ProtocolError('the connection had a protocol error');
    try {
      return this.#next();
    } catch (error) {
      this.#failed = true;
      throw error;
    }
  }

  #next(): Request | undefined {
    for (;;) {
      switch (this.#state) {
        case State.Start: {
          if (this.#pos >= this.#buffer.length) return undefined;
          if (this.#buffer[this.#pos] !== 0x2a /* '*' */) {
            const inline = this.#inline();
            if (inline === undefined) return undefined;
            if (inline.length > 0) return inline;
            continue;
          }
          const count = this.#header('multibulk count');
          if (count === undefined) return undefined;
          if (count <= 0) continue; // `*0` and `*-1` are no request: skipped, as Redis does
          if (count > this.#limits.maxArgs) throw new ProtocolError(`invalid multibulk length: ${count} arguments; the limit is ${this.#limits.maxArgs}`);
          this.#args = [];
          this.#remaining = count;
          this.#requestBytes = 0;
          this.#state = State.BulkHeader;
          continue;
        }
        case State.BulkHeader: {
          if (this.#pos >= this.#buffer.length) return undefined;
          const first = this.#buffer[this.#pos]!;
          if (first !== 0x24 /* '$' */) throw new ProtocolError(`expected '$', got '${printable(first)}'`);
          const length = this.#header('bulk length');
          if (length === undefined) return undefined;
          if (length < 0) throw new ProtocolError('invalid bulk length');
          this.#requestBytes += length;
          if (this.#requestBytes > this.#limits.maxRequestBytes) {
            throw new ProtocolError(`request larger than ${this.#limits.maxRequestBytes} bytes`);
          }
          this.#bulkLength = length;
          this.#state = State.BulkBody;
          continue;
        }
        case State.BulkBody: {
          const body = this.#body();
          if (body === undefined) return undefined;
          this.#args.push(body);
          if (--this.#remaining > 0) {
            this.#state = State.BulkHeader;
            continue;
          }
          this.#state = State.Start;
          const args = this.#args;
          this.#args = [];
          return args;
        }
      }
    }
  }

  /**
   * The integer of a `*<n>\r\n` or `$<n>\r\n` line (its type byte at #pos), or undefined until
   * complete. Read byte by byte (no string, no regular expression): a header comes before every
   * argument of every request.
   */
  #header(what: string): number | undefined {
    const buffer = this.#buffer;
    const start = this.#pos;
    const window = Math.min(buffer.length, start + MAX_HEADER + 1);
    let end = start + 1;
    while (end < window && buffer[end] !== LF) end++;
    if (end >= window) {
      if (buffer.length - start <= MAX_HEADER) return undefined;
      // Past the longest header: "too big" without a line end, "invalid" with one further on.
      throw new ProtocolError(buffer.indexOf(LF, start) === -1 ? `too big ${what} string` : `invalid ${what}`);
    }
    if (end < start + 2 || buffer[end - 1] !== CR) throw new ProtocolError(`invalid ${what}`);
    let i = start + 1;
    const negative = buffer[i] === 0x2d; /* '-' */
    if (negative) i++;
    const digitsEnd = end - 1;
    if (digitsEnd - i < 1 || digitsEnd - i > 19) throw new ProtocolError(`invalid ${what}`);
    let value = 0;
    for (; i < digitsEnd; i++) {
      const digit = buffer[i]! - 0x30;
      if (digit < 0 || digit > 9) throw new ProtocolError(`invalid ${what}`);
      value = value * 10 + digit;
    }
    // Exact while below 2^53; past it, the sum stays at or above 2^53, so this catches it.
    if (value > Number.MAX_SAFE_INTEGER) throw new ProtocolError(`invalid ${what}`);
    this.#pos = end + 1;
    return negative ? -value : value;
  }

  /** A complete bulk body and its CRLF, or undefined until all its bytes arrived. */
  #body(): Buffer | undefined {
    const need = this.#bulkLength + 2;
    if (this.#parts.length === 0) {
      const available = this.#buffer.length - this.#pos;
      if (available < need) {
        // Keep the start aside; later chunks join it once, when the body is complete.
        if (available > 0) {
          this.#parts.push(this.#buffer.subarray(this.#pos));
          this.#partsBytes = available;
        } else {
          this.#parts.push(Buffer.alloc(0));
        }
        this.#buffer = Buffer.alloc(0);
        this.#pos = 0;
        return undefined;
      }
    } else {
      if (this.#partsBytes < need) return undefined;
      this.#buffer = Buffer.concat(this.#parts, this.#partsBytes);
      this.#pos = 0;
      this.#parts = [];
      this.#partsBytes = 0;
    }
    const start = this.#pos;
    const end = start + this.#bulkLength;
    if (this.#buffer[end] !== CR || this.#buffer[end + 1] !== LF) throw new ProtocolError('bulk string not followed by CRLF');
    this.#pos = end + 2;
    // A view, not a copy: a socket's chunks are never reused, and the commands turn what they
    // keep into strings before they return.
    return this.#buffer.subarray(start, end);
  }

  /** An inline command (space-separated words up to LF), or undefined until its line is complete. */
  #inline(): Request | undefined {
    const buffer = this.#buffer;
    const end = buffer.indexOf(LF, this.#pos);
    if (end === -1) {
      if (buffer.length - this.#pos > this.#limits.maxInlineBytes) throw new ProtocolError('too big inline request');
      return undefined;
    }
    if (end - this.#pos > this.#limits.maxInlineBytes) throw new ProtocolError('too big inline request');
    const lineEnd = end > this.#pos && buffer[end - 1] === CR ? end - 1 : end;
    const words: Buffer[] = [];
    let i = this.#pos;
    while (i < lineEnd) {
      while (i < lineEnd && (buffer[i] === 0x20 || buffer[i] === 0x09)) i++;
      const start = i;
      while (i < lineEnd && buffer[i] !== 0x20 && buffer[i] !== 0x09) i++;
      if (i > start) words.push(Buffer.from(buffer.subarray(start, i)));
    }
    if (words.length > this.#limits.maxArgs)
      throw new ProtocolError(`invalid multibulk length: ${words.length} arguments; the limit is ${this.#limits.maxArgs}`);
    this.#pos = end + 1;
    return words;
  }
}

function printable(byte: number): string {
  return byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
}
