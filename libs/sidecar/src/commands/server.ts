// The connection and server commands: PING, HELLO, AUTH, CLIENT, SELECT, INFO and the few a
// client library or tool sends on connecting (COMMAND, CONFIG GET).
import { array, bulk, error, integer, map, NULL, OK, simple, type Reply } from '../resp/reply.js';
import { CommandError, integerArgument, text } from '../values.js';
import type { CommandContext, CommandTable } from './context.js';

/** The Redis version whose commands and replies the sidecar follows (INFO, HELLO). */
export const REDIS_COMPATIBILITY = '7.2.0';

function word(bytes: Buffer | undefined): string {
  return bytes === undefined ? '' : bytes.toString('latin1').toUpperCase();
}

const WRONGPASS = 'WRONGPASS invalid username-password pair or user is disabled.';

function authenticate(ctx: CommandContext, user: Buffer | undefined, password: Buffer): void {
  if (!ctx.sidecar.passwordRequired) {
    // As Redis without a password: the default user takes any password when named (HELLO AUTH, AUTH default x).
    if (user !== undefined) {
      if (user.toString() !== 'default') throw new CommandError(WRONGPASS);
      return;
    }
    throw new CommandError('ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?');
  }
  // Only the default user exists; the password is checked even for another name, in constant time.
  const matches = ctx.sidecar.checkPassword(password);
  if (!matches || (user !== undefined && user.toString() !== 'default')) throw new CommandError(WRONGPASS);
  ctx.session.authenticated = true;
}

function hello(ctx: CommandContext, args: Buffer[]): Reply {
  let protocol = ctx.session.protocol;
  if (args.length > 1) {
    const version = args[1]!.toString('latin1');
    if (version !== '2' && version !== '3') return error('NOPROTO unsupported protocol version');
    protocol = version === '3' ? 3 : 2;
  }
  let name: string | undefined;
  for (let i = 2; i < args.length; i++) {
    const option = word(args[i]);
    if (option === 'AUTH' && i + 2 < args.length) {
      authenticate(ctx, args[i + 1], args[i + 2]!);
      i += 2;
    } else if (option === 'SETNAME' && i + 1 < args.length) {
      name = clientName(args[++i]!);
    } else {
      throw new CommandError(`ERR Syntax error in HELLO option '${args[i]!.toString().slice(0, 64)}'`);
    }
  }
  if (!ctx.session.authenticated) {
    return error(
      'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
    );
  }
  ctx.session.protocol = protocol;
  if (name !== undefined) ctx.session.name = name;
  return map([
    [bulk('server'), bulk('nearcache')],
    [bulk('version'), bulk(REDIS_COMPATIBILITY)],
    [bulk('proto'), integer(protocol)],
    [bulk('id'), integer(ctx.session.id)],
    [bulk('mode'), bulk('standalone')],
    [bulk('role'), bulk('master')],
    [bulk('modules'), array([])],
  ]);
}

function clientName(bytes: Buffer): string {
  const name = text(bytes, 'argument');
  if (!/^[\x21-\x7e]*$/.test(name) || name.length > 256) {
    throw new CommandError('ERR Client names cannot contain spaces, newlines or special characters.');
  }
  return name;
}

function client(ctx: CommandContext, args: Buffer[]): Reply {
  const sub = word(args[1]);
  switch (sub) {
    case 'SETNAME':
      if (args.length !== 3) break;
      ctx.session.name = clientName(args[2]!) || undefined;
      return OK;
    case 'GETNAME':
      return ctx.session.name === undefined ? NULL : bulk(ctx.session.name);
    case 'ID':
      return integer(ctx.session.id);
    case 'SETINFO':
      // Client libraries announce their name and version: accepted, not kept.
      if (args.length !== 4) break;
      return OK;
    default:
      throw new CommandError(`ERR unknown subcommand '${args[1]!.toString().slice(0, 64)}'. Try CLIENT HELP.`);
  }
  throw new CommandError(`ERR wrong number of arguments for 'client|${sub.toLowerCase()}' command`);
}

export const serverCommands: CommandTable = {
  ping: {
    arity: -1,
    run: (_ctx, args) => {
      if (args.length > 2) throw new CommandError("ERR wrong number of arguments for 'ping' command");
      return args.length === 2 ? bulk(args[1]!) : simple('PONG');
    },
  },
  echo: { arity: 2, run: (_ctx, args) => bulk(args[1]!) },
  hello: { arity: -1, noAuth: true, run: hello },
  auth: {
    arity: -2,
    noAuth: true,
    run: (ctx, args) => {
      if (args.length > 3) throw new CommandError('ERR syntax error');
      authenticate(ctx, args.length === 3 ? args[1] : undefined, args[args.length - 1]!);
      return OK;
    },
  },
  quit: {
    arity: -1,
    noAuth: true,
    run: (ctx) => {
      ctx.session.closing = true;
      return OK;
    },
  },
  client: { arity: -2, run: client },
  select: {
    arity: 2,
    run: (_ctx, args) => {
      if (integerArgument(args[1]) !== 0) throw new CommandError('ERR DB index is out of range');
      return OK;
    },
  },
  info: { arity: -1, run: (ctx, args) => bulk(ctx.sidecar.info(args.slice(1).map((a) => a.toString('latin1').toLowerCase()))) },
  time: {
    arity: 1,
    run: () => {
      const micros = BigInt(Date.now()) * 1000n;
      return array([bulk(String(micros / 1_000_000n)), bulk(String(micros % 1_000_000n))]);
    },
  },
  // Tools ask for these on connecting (redis-cli, redis-benchmark): answered empty, not refused.
  command: { arity: -1, run: (_ctx, args) => (word(args[1]) === 'COUNT' ? integer(0) : array([])) },
  config: {
    arity: -2,
    run: (_ctx, args) => {
      if (word(args[1]) !== 'GET') throw new CommandError('ERR CONFIG is read-only on the sidecar: only CONFIG GET, which answers nothing');
      return map([]);
    },
  },
};
