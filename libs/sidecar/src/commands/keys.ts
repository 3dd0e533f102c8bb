// The data commands: strings with expiry on the nearcache instance. Reads answer from this
// instance's entries; writes apply here at once and replicate through the log (docs/sidecar.md
// says where this differs from one Redis server).
import { globMatch } from '../resp/glob.js';
import { array, bulk, integer, NULL, OK, type Reply } from '../resp/reply.js';
import { CommandError, integerArgument, text, valueText } from '../values.js';
import type { CommandContext, CommandTable } from './context.js';

const MAX_EXPIRE_MS = 100 * 365 * 24 * 3600 * 1000;

function keyOf(bytes: Buffer): string {
  return text(bytes, 'key');
}

function word(bytes: Buffer | undefined): string {
  return bytes === undefined ? '' : bytes.toString('latin1').toUpperCase();
}

/** A relative expiry in ms from an EX/PX/EXAT/PXAT argument; 0 or less means already expired. */
function expiryMs(kind: string, raw: Buffer | undefined, now: number, command: string): number {
  const amount = integerArgument(raw);
  let ms: number;
  switch (kind) {
    case 'EX':
      ms = amount * 1000;
      break;
    case 'PX':
      ms = amount;
      break;
    case 'EXAT':
      ms = amount * 1000 - now;
      break;
    default:
      ms = amount - now;
  }
  if (amount <= 0 || ms > MAX_EXPIRE_MS) throw new CommandError(`ERR invalid expire time in '${command}' command`);
  return ms;
}

/** The remaining time to live of `key` in ms: -2 without a live entry, -1 without expiry. */
function remaining(ctx: CommandContext, key: string): number {
  if (!ctx.cache.has(key)) return -2;
  const ms = ctx.cache.remainingTtl(key);
  return ms === Infinity ? -1 : Math.max(1, Math.floor(ms));
}

const answerOk = (): Reply => OK;

function set(ctx: CommandContext, args: Buffer[]): Promise<Reply> {
  const key = keyOf(args[1]!);
  const value = text(args[2]!, 'value');
  // A plain SET key value, most of the writes: no option to read, nothing to look up first.
  if (args.length === 3) return ctx.cache.set(key, value).then(answerOk);
  return setWithOptions(ctx, args, key, value);
}

async function setWithOptions(ctx: CommandContext, args: Buffer[], key: string, value: string): Promise<Reply> {
  let condition: 'NX' | 'XX' | undefined;
  let returnOld = false;
  let ttl: number | undefined;
  let keepTtl = false;
  let expirySet = false;
  const now = Date.now();
  for (let i = 3; i < args.length; i++) {
    const option = word(args[i]);
    if ((option === 'NX' || option === 'XX') && condition === undefined) condition = option;
    else if (option === 'GET' && !returnOld) returnOld = true;
    else if (option === 'KEEPTTL' && !expirySet) keepTtl = expirySet = true;
    else if ((option === 'EX' || option === 'PX' || option === 'EXAT' || option === 'PXAT') && !expirySet && i + 1 < args.length) {
      ttl = expiryMs(option, args[++i], now, 'set');
      expirySet = true;
    } else throw new CommandError('ERR syntax error');
  }
  const exists = ctx.cache.has(key);
  const old = returnOld ? ctx.cache.get(key) : undefined;
  const oldReply = old === undefined ? NULL : bulk(valueText(old));
  if ((condition === 'NX' && exists) || (condition === 'XX' && !exists)) return returnOld ? oldReply : NULL;
  if (keepTtl) {
    const left = remaining(ctx, key);
    ttl = left > 0 ? left : 0;
  }
  if (ttl !== undefined && ttl <= 0) {
    await ctx.cache.delete(key);
  } else {
    await ctx.cache.set(key, value, ttl === undefined ? undefined : { ttl });
  }
  return returnOld ? oldReply : OK;
}

/** SETEX / PSETEX: SET with a mandatory expiry before the value. */
function setWithExpiry(unit: 'EX' | 'PX') {
  return async (ctx: CommandContext, args: Buffer[]): Promise<Reply> => {
    const key = keyOf(args[1]!);
    const ttl = expiryMs(unit, args[2], 0, unit === 'EX' ? 'setex' : 'psetex');
    await ctx.cache.set(key, text(args[3]!, 'value'), { ttl });
    return OK;
  };
}

async function del(ctx: CommandContext, args: Buffer[]): Promise<Reply> {
  const keys = args.slice(1).map(keyOf);
  let removed = 0;
  const writes: Promise<void>[] = [];
  for (const key of new Set(keys)) {
    if (ctx.cache.has(key)) removed++;
    // A tombstone also for a key not held here: another instance may hold it.
    writes.push(ctx.cache.delete(key));
  }
  await Promise.all(writes);
  return integer(removed);
}

function mset(ctx: CommandContext, args: Buffer[]): Promise<Reply> | Reply {
  if (args.length % 2 === 0) throw new CommandError("ERR wrong number of arguments for 'mset' command");
  const { maxKeyBytes, maxValueBytes } = ctx.cache.limits;
  const pairs: [string, string][] = [];
  // Every pair is checked before the first is written: a bad one changes nothing.
  for (let i = 1; i < args.length; i += 2) {
    const key = keyOf(args[i]!);
    const value = text(args[i + 1]!, 'value');
    if (key.length === 0 || key.charCodeAt(0) === 0 || Buffer.byteLength(key) > maxKeyBytes) {
      throw new CommandError(`ERR invalid key at argument ${i}: keys are 1 to ${maxKeyBytes} UTF-8 bytes and do not start with U+0000`);
    }
    if (Buffer.byteLength(JSON.stringify(value)) > maxValueBytes) {
      throw new CommandError(`ERR the value at argument ${i + 1} is larger than maxValueBytes (${maxValueBytes}) once encoded`);
    }
    pairs.push([key, value]);
  }
  return Promise.all(pairs.map(([key, value]) => ctx.cache.set(key, value))).then(() => OK);
}

async function expire(ctx: CommandContext, args: Buffer[], unit: 'EX' | 'PX'): Promise<Reply> {
  const key = keyOf(args[1]!);
  const amount = integerArgument(args[2]);
  const ms = unit === 'EX' ? amount * 1000 : amount;
  if (Math.abs(ms) > MAX_EXPIRE_MS) throw new CommandError(`ERR invalid expire time in '${unit === 'EX' ? 'expire' : 'pexpire'}' command`);
  const flag = word(args[3]);
  if (args.length > 4 || (args.length === 4 && !['NX', 'XX', 'GT', 'LT'].includes(flag))) throw new CommandError('ERR syntax error');
  const value = ctx.cache.get(key);
  if (value === undefined) return integer(0);
  const left = remaining(ctx, key);
  const current = left < 0 ? Infinity : left;
  if ((flag === 'NX' && left >= 0) || (flag === 'XX' && left < 0) || (flag === 'GT' && !(ms > current)) || (flag === 'LT' && !(ms < current))) {
    return integer(0);
  }
  // Redis deletes a key given an expiry in the past; elsewhere the value is written again with its new time to live.
  if (ms <= 0) await ctx.cache.delete(key);
  else await ctx.cache.set(key, value, { ttl: ms });
  return integer(1);
}

async function persist(ctx: CommandContext, args: Buffer[]): Promise<Reply> {
  const key = keyOf(args[1]!);
  const value = ctx.cache.get(key);
  if (value === undefined || remaining(ctx, key) < 0) return integer(0);
  await ctx.cache.set(key, value, { ttl: 0 });
  return integer(1);
}

function matching(ctx: CommandContext, pattern: string | undefined): string[] {
  const keys: string[] = [];
  for (const key of ctx.cache.keys()) if (pattern === undefined || globMatch(pattern, key)) keys.push(key);
  return keys;
}

/**
 * SCAN walks a snapshot of this instance's keys taken when a client starts with cursor 0; the
 * cursor is a position in that snapshot, valid on the connection that took it.
 */
function scan(ctx: CommandContext, args: Buffer[]): Reply {
  const cursor = integerArgument(args[1]);
  let pattern: string | undefined;
  let count = 10;
  let type: string | undefined;
  for (let i = 2; i < args.length; i += 2) {
    const option = word(args[i]);
    if (i + 1 >= args.length) throw new CommandError('ERR syntax error');
    if (option === 'MATCH') pattern = text(args[i + 1]!, 'pattern');
    else if (option === 'COUNT') {
      count = integerArgument(args[i + 1]);
      if (count < 1) throw new CommandError('ERR syntax error');
    } else if (option === 'TYPE') type = args[i + 1]!.toString('latin1').toLowerCase();
    else throw new CommandError('ERR syntax error');
  }
  if (cursor === 0) ctx.session.scan = Array.from(ctx.cache.keys());
  const snapshot = ctx.session.scan;
  if (snapshot === undefined || cursor < 0 || cursor > snapshot.length) {
    throw new CommandError('ERR invalid cursor: a SCAN cursor is valid on the connection that started it with 0');
  }
  const end = Math.min(snapshot.length, cursor + count);
  const found: Reply[] = [];
  if (type === undefined || type === 'string') {
    for (let i = cursor; i < end; i++) {
      const key = snapshot[i]!;
      if ((pattern === undefined || globMatch(pattern, key)) && ctx.cache.has(key)) found.push(bulk(key));
    }
  }
  const next = end >= snapshot.length ? 0 : end;
  if (next === 0) ctx.session.scan = undefined;
  return array([bulk(String(next)), array(found)]);
}

export const keyCommands: CommandTable = {
  get: {
    arity: 2,
    run: (ctx, args) => {
      const value = ctx.cache.get(keyOf(args[1]!));
      return value === undefined ? NULL : bulk(valueText(value));
    },
  },
  set: { arity: -3, run: set },
  setex: { arity: 4, run: setWithExpiry('EX') },
  psetex: { arity: 4, run: setWithExpiry('PX') },
  del: { arity: -2, run: del },
  unlink: { arity: -2, run: del },
  exists: { arity: -2, run: (ctx, args) => integer(args.slice(1).filter((k) => ctx.cache.has(keyOf(k))).length) },
  mget: {
    arity: -2,
    run: (ctx, args) =>
      array(
        args.slice(1).map((k) => {
          const value = ctx.cache.get(keyOf(k));
          return value === undefined ? NULL : bulk(valueText(value));
        }),
      ),
  },
  mset: { arity: -3, run: mset },
  expire: { arity: -3, run: (ctx, args) => expire(ctx, args, 'EX') },
  pexpire: { arity: -3, run: (ctx, args) => expire(ctx, args, 'PX') },
  persist: { arity: 2, run: persist },
  ttl: {
    arity: 2,
    run: (ctx, args) => {
      const ms = remaining(ctx, keyOf(args[1]!));
      return integer(ms < 0 ? ms : Math.round(ms / 1000));
    },
  },
  pttl: { arity: 2, run: (ctx, args) => integer(remaining(ctx, keyOf(args[1]!))) },
  type: { arity: 2, run: (ctx, args) => ({ type: 'simple', value: ctx.cache.has(keyOf(args[1]!)) ? 'string' : 'none' }) },
  dbsize: { arity: 1, run: (ctx) => integer(ctx.cache.size) },
  flushdb: { arity: -1, run: flush },
  flushall: { arity: -1, run: flush },
  scan: { arity: -2, run: scan },
  keys: { arity: 2, run: (ctx, args) => array(matching(ctx, text(args[1]!, 'pattern')).map((key) => bulk(key))) },
};

async function flush(ctx: CommandContext, args: Buffer[]): Promise<Reply> {
  if (args.length > 2 || (args.length === 2 && !['ASYNC', 'SYNC'].includes(word(args[1])))) throw new CommandError('ERR syntax error');
  await ctx.cache.clear();
  return OK;
}
