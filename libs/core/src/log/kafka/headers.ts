import { HEADERS, type LogRecord } from '../../record.js';

/** The headers the cache reads as text (see record.ts); any other header is passed on untouched. */
const TEXT_HEADERS = new Set<string>(Object.values(HEADERS));

/**
 * The cache's own header values as strings, converted once here for every record read. The
 * version 2 header (`nc-r`, about 60 bytes) is decoded as UTF-8 like any text; the one- to
 * few-character values of version 1 headers are short ASCII, for which a plain loop is several
 * times cheaper than Buffer#toString. Non-ASCII version 1 values and every other header stay the
 * Buffers kafkajs delivered.
 */
export function headerStrings(headers: IHeadersLike): LogRecord['headers'] {
  // In place: kafkajs made this object for this message alone and does not read it again.
  for (const name in headers) {
    const value = headers[name];
    if (!Buffer.isBuffer(value) || !TEXT_HEADERS.has(name)) continue;
    headers[name] = name === HEADERS.record ? value.toString('utf8') : shortAscii(value);
  }
  return headers;
}

type IHeadersLike = Record<string, Buffer | string | Array<Buffer | string> | undefined>;

function shortAscii(buffer: Buffer): string | Buffer {
  const length = buffer.length;
  if (length > 32) return buffer;
  let text = '';
  for (let i = 0; i < length; i++) {
    const code = buffer[i]!;
    if (code >= 0x80) return buffer;
    text += String.fromCharCode(code);
  }
  return text;
}
