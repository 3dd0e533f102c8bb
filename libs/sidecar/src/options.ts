import { isIP } from 'node:net';
import {
  booleanOption,
  integerOption,
  invalidOption,
  InvalidOptionError,
  objectOption,
  rejectUnknownOptions,
  stringOption,
  type NearCacheOptions,
} from '@nearcache/core';

/** Options of `startSidecar` (docs/sidecar.md lists them with their defaults). */
export interface SidecarOptions {
  /** The nearcache instance's options (topic, kafka, max, ttl...). The sidecar sets the codec: `jsonCodec()`. */
  cache: Omit<NearCacheOptions<unknown>, 'codec'>;
  /** Address of the Redis protocol listener. Default `127.0.0.1`; any other than loopback requires `password`. */
  host?: string;
  /** TCP port of the Redis protocol listener; 0 picks a free one. Default 6379, or none when `socket` is set. */
  port?: number;
  /** Path of a Unix socket for the Redis protocol. Default: none. */
  socket?: string;
  /** File mode of the Unix socket. Default 0o600 (the sidecar's user only). */
  socketMode?: number;
  /** Password clients give with AUTH or HELLO (also the HTTP API's bearer token). Default: none. */
  password?: string;
  /** TCP port of the HTTP API; 0 picks a free one. Default: no HTTP API. */
  httpPort?: number;
  /** Address of the HTTP API. Default `127.0.0.1`; any other than loopback requires `password`. */
  httpHost?: string;
  /** Most connected Redis clients; one more is answered with an error and closed. Default 1000. */
  maxClients?: number;
  /** Most bytes in one request. Default 8 MiB. */
  maxRequestBytes?: number;
  /** Most arguments in one request. Default 65,536. */
  maxArgs?: number;
  /** Most bytes in one inline command line. Default 65,536. */
  maxInlineBytes?: number;
  /** Most pipelined requests answered in a row before the connection lets others run. Default 256. */
  maxPipeline?: number;
  /** Most reply bytes waiting to be sent to one client; past it the client is closed. Default 64 MiB. */
  maxReplyBufferBytes?: number;
  /** Close the process's listeners and cache on SIGTERM and SIGINT (the CLI does). Default false. */
  handleSignals?: boolean;
}

export interface ResolvedSidecarOptions {
  cache: Omit<NearCacheOptions<unknown>, 'codec'>;
  host: string;
  port: number | undefined;
  socket: string | undefined;
  socketMode: number;
  password: string | undefined;
  httpPort: number | undefined;
  httpHost: string;
  maxClients: number;
  maxRequestBytes: number;
  maxArgs: number;
  maxInlineBytes: number;
  maxPipeline: number;
  maxReplyBufferBytes: number;
  handleSignals: boolean;
}

export const SIDECAR_OPTION_NAMES = [
  'cache',
  'host',
  'port',
  'socket',
  'socketMode',
  'password',
  'httpPort',
  'httpHost',
  'maxClients',
  'maxRequestBytes',
  'maxArgs',
  'maxInlineBytes',
  'maxPipeline',
  'maxReplyBufferBytes',
  'handleSignals',
] as const;

const MIB = 1024 * 1024;

/** Whether `host` names this machine's loopback interface only. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  const lower = host.toLowerCase();
  return lower === '::1' || lower.startsWith('::ffff:127.');
}

function hostOption(name: string, value: unknown): string {
  const host = stringOption(name, value, '127.0.0.1');
  if (host !== 'localhost' && isIP(host) === 0) invalidOption(name, 'an IP address or "localhost"', value);
  return host;
}

/** Checks every option up front: a wrong one throws `InvalidOptionError` saying what is allowed. */
export function resolveSidecarOptions(options: SidecarOptions): ResolvedSidecarOptions {
  objectOption('options', options);
  rejectUnknownOptions('', options, SIDECAR_OPTION_NAMES);
  const cache = objectOption('cache', options.cache) as SidecarOptions['cache'];
  if ('codec' in cache && cache.codec !== undefined) {
    throw new InvalidOptionError(
      'option "cache.codec" cannot be set: the sidecar stores strings with the JSON codec, so Node.js instances with `codec: jsonCodec()` share the topic',
    );
  }
  const socket = options.socket === undefined ? undefined : stringOption('socket', options.socket, undefined);
  const port = options.port === undefined ? (socket === undefined ? 6379 : undefined) : integerOption('port', options.port, 6379, 0, 65_535);
  const host = hostOption('host', options.host);
  const httpHost = hostOption('httpHost', options.httpHost);
  const httpPort = options.httpPort === undefined ? undefined : integerOption('httpPort', options.httpPort, 0, 0, 65_535);
  let password: string | undefined;
  if (options.password !== undefined) {
    password = stringOption('password', options.password, undefined);
    if (Buffer.byteLength(password) > 512) invalidOption('password', 'at most 512 UTF-8 bytes', '(hidden)');
  }
  if (password === undefined) {
    if (port !== undefined && !isLoopback(host)) {
      throw new InvalidOptionError(
        `option "host" is ${JSON.stringify(host)}, not a loopback address: set "password" too, so that only clients that know it use the cache`,
      );
    }
    if (httpPort !== undefined && !isLoopback(httpHost)) {
      throw new InvalidOptionError(
        `option "httpHost" is ${JSON.stringify(httpHost)}, not a loopback address: set "password" too, so that only clients that know it use the cache`,
      );
    }
  }
  const maxRequestBytes = integerOption('maxRequestBytes', options.maxRequestBytes, 8 * MIB, 1024, 512 * MIB);
  return {
    cache,
    host,
    port,
    socket,
    socketMode: integerOption('socketMode', options.socketMode, 0o600, 0, 0o777),
    password,
    httpPort,
    httpHost,
    maxClients: integerOption('maxClients', options.maxClients, 1000, 1, 100_000),
    maxRequestBytes,
    maxArgs: integerOption('maxArgs', options.maxArgs, 65_536, 3, 1_048_576),
    maxInlineBytes: integerOption('maxInlineBytes', options.maxInlineBytes, 65_536, 64, 16 * MIB),
    maxPipeline: integerOption('maxPipeline', options.maxPipeline, 256, 1, 1_000_000),
    maxReplyBufferBytes: integerOption('maxReplyBufferBytes', options.maxReplyBufferBytes, 64 * MIB, 1024, 4096 * MIB),
    handleSignals: booleanOption('handleSignals', options.handleSignals, false),
  };
}
