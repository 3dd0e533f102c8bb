// Replies in RESP2 or RESP3: a command builds a Reply; the connection encodes it for the
// protocol version its client chose with HELLO.

/** What a command answers. */
export type Reply =
  | { readonly type: 'simple'; readonly value: string }
  | { readonly type: 'error'; readonly value: string }
  | { readonly type: 'integer'; readonly value: number }
  | { readonly type: 'bulk'; readonly value: Buffer | string }
  | { readonly type: 'null' }
  | { readonly type: 'array'; readonly value: readonly Reply[] }
  | { readonly type: 'map'; readonly value: readonly (readonly [Reply, Reply])[] };

export const OK: Reply = { type: 'simple', value: 'OK' };
export const NULL: Reply = { type: 'null' };
export const simple = (value: string): Reply => ({ type: 'simple', value });
export const integer = (value: number): Reply => ({ type: 'integer', value });
export const bulk = (value: Buffer | string): Reply => ({ type: 'bulk', value });
export const array = (value: readonly Reply[]): Reply => ({ type: 'array', value });
export const map = (value: readonly (readonly [Reply, Reply])[]): Reply => ({ type: 'map', value });
/** An error reply; `message` starts with its code (`ERR`, `WRONGPASS`...). */
export const error = (message: string): Reply => ({ type: 'error', value: message });

/** An error line never breaks the framing: no CR or LF inside. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}

const OK_TEXT = '+OK\r\n';
const NULL_TEXT = { 2: '$-1\r\n', 3: '_\r\n' } as const;

/**
 * `reply` encoded for protocol version `protocol` as one string, or undefined when it holds bytes
 * (a Buffer bulk, which may not be text): those go through `encodeReply`. The replies of the hot
 * commands (OK, null, a text bulk) take no array and no Buffer here.
 */
export function replyText(reply: Reply, protocol: 2 | 3): string | undefined {
  if (reply === OK) return OK_TEXT;
  switch (reply.type) {
    case 'bulk':
      return typeof reply.value === 'string' ? `$${Buffer.byteLength(reply.value)}\r\n${reply.value}\r\n` : undefined;
    case 'null':
      return NULL_TEXT[protocol];
    case 'simple':
      return `+${oneLine(reply.value)}\r\n`;
    case 'error':
      return `-${oneLine(reply.value)}\r\n`;
    case 'integer':
      return `:${reply.value}\r\n`;
    default: {
      const out: (Buffer | string)[] = [];
      encodeReply(reply, protocol, out);
      let text = '';
      for (const part of out) {
        if (typeof part !== 'string') return undefined;
        text += part;
      }
      return text;
    }
  }
}

/** Encodes `reply` for protocol version `protocol` (2 or 3) into `out`. */
export function encodeReply(reply: Reply, protocol: 2 | 3, out: (Buffer | string)[]): void {
  switch (reply.type) {
    case 'simple':
      out.push(`+${oneLine(reply.value)}\r\n`);
      return;
    case 'error':
      out.push(`-${oneLine(reply.value)}\r\n`);
      return;
    case 'integer':
      out.push(`:${reply.value}\r\n`);
      return;
    case 'bulk':
      if (typeof reply.value === 'string') {
        out.push(`$${Buffer.byteLength(reply.value)}\r\n${reply.value}\r\n`);
      } else {
        out.push(`$${reply.value.length}\r\n`, reply.value, '\r\n');
      }
      return;
    case 'null':
      out.push(protocol === 3 ? '_\r\n' : '$-1\r\n');
      return;
    case 'array':
      out.push(`*${reply.value.length}\r\n`);
      for (const item of reply.value) encodeReply(item, protocol, out);
      return;
    case 'map':
      // RESP2 has no map: a flat array of keys and values, as Redis answers.
      out.push(protocol === 3 ? `%${reply.value.length}\r\n` : `*${reply.value.length * 2}\r\n`);
      for (const [key, value] of reply.value) {
        encodeReply(key, protocol, out);
        encodeReply(value, protocol, out);
      }
      return;
  }
}
