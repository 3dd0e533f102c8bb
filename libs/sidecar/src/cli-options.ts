// The command line of `nearcache-sidecar`: flags, each with an environment variable beside it
// (the flag wins), turned into SidecarOptions. Checked here for what only the command line can
// get wrong (a word where a number goes); the option checks of startSidecar do the rest.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { InvalidOptionError } from '@nearcache/core';
import type { SidecarOptions } from './options.js';

interface Flag {
  env: string;
  kind: 'string' | 'integer' | 'mode' | 'boolean';
  help: string;
}

/** Every flag, its environment variable and what it sets. */
export const CLI_FLAGS: Record<string, Flag> = {
  brokers: { env: 'NEARCACHE_BROKERS', kind: 'string', help: 'Kafka brokers, comma-separated (also read from KAFKA_BROKERS)' },
  topic: { env: 'NEARCACHE_TOPIC', kind: 'string', help: 'the cache topic (required)' },
  host: { env: 'NEARCACHE_HOST', kind: 'string', help: 'address of the Redis protocol listener (default 127.0.0.1)' },
  port: { env: 'NEARCACHE_PORT', kind: 'integer', help: 'its TCP port (default 6379, none with --socket)' },
  socket: { env: 'NEARCACHE_SOCKET', kind: 'string', help: 'a Unix socket path for the Redis protocol' },
  'socket-mode': { env: 'NEARCACHE_SOCKET_MODE', kind: 'mode', help: 'file mode of the socket, octal (default 600)' },
  password: { env: 'NEARCACHE_PASSWORD', kind: 'string', help: 'password for AUTH and the HTTP API (required off loopback)' },
  'password-file': { env: 'NEARCACHE_PASSWORD_FILE', kind: 'string', help: 'a file holding the password' },
  'http-port': { env: 'NEARCACHE_HTTP_PORT', kind: 'integer', help: 'TCP port of the HTTP API (default: no HTTP API)' },
  'http-host': { env: 'NEARCACHE_HTTP_HOST', kind: 'string', help: 'address of the HTTP API (default 127.0.0.1)' },
  'max-clients': { env: 'NEARCACHE_MAX_CLIENTS', kind: 'integer', help: 'most connected clients (default 1000)' },
  'max-request-bytes': { env: 'NEARCACHE_MAX_REQUEST_BYTES', kind: 'integer', help: 'most bytes in one request (default 8 MiB)' },
  'max-entries': { env: 'NEARCACHE_MAX_ENTRIES', kind: 'integer', help: 'most entries held (cache option max)' },
  'max-bytes': { env: 'NEARCACHE_MAX_BYTES', kind: 'integer', help: 'most bytes held (cache option maxBytes)' },
  'max-value-bytes': { env: 'NEARCACHE_MAX_VALUE_BYTES', kind: 'integer', help: 'largest encoded value (cache option maxValueBytes)' },
  ttl: { env: 'NEARCACHE_TTL', kind: 'integer', help: 'default time to live in ms of a SET without EX/PX (default 0: none)' },
  'bootstrap-timeout': { env: 'NEARCACHE_BOOTSTRAP_TIMEOUT', kind: 'integer', help: 'ms to wait for the cache to catch up at start' },
  'client-id': { env: 'NEARCACHE_CLIENT_ID', kind: 'string', help: 'Kafka client id' },
  'create-topic': { env: 'NEARCACHE_CREATE_TOPIC', kind: 'boolean', help: 'create the topic if missing (default true)' },
  help: { env: '', kind: 'boolean', help: 'print this help' },
};

export function cliUsage(): string {
  const lines = ['Usage: nearcache-sidecar --topic <name> [options]', '', 'Options (each also read from its environment variable; a flag wins):'];
  for (const [name, flag] of Object.entries(CLI_FLAGS)) {
    lines.push(`  --${name.padEnd(20)} ${flag.env.padEnd(28)} ${flag.help}`);
  }
  return lines.join('\n');
}

function convert(name: string, flag: Flag, raw: string): string | number | boolean {
  switch (flag.kind) {
    case 'string':
      if (raw.trim() === '') throw new InvalidOptionError(`--${name} (${flag.env}) is empty`);
      return raw;
    case 'integer':
      if (!/^\d{1,15}$/.test(raw.trim())) throw new InvalidOptionError(`--${name} (${flag.env}) must be a whole number, got ${JSON.stringify(raw)}`);
      return Number(raw.trim());
    case 'mode':
      if (!/^0?[0-7]{3}$/.test(raw.trim()))
        throw new InvalidOptionError(`--${name} (${flag.env}) must be an octal file mode such as 600 or 660, got ${JSON.stringify(raw)}`);
      return parseInt(raw.trim(), 8);
    case 'boolean':
      if (!['true', 'false', '1', '0', 'yes', 'no'].includes(raw.trim().toLowerCase())) {
        throw new InvalidOptionError(`--${name} (${flag.env}) must be true or false, got ${JSON.stringify(raw)}`);
      }
      return ['true', '1', 'yes'].includes(raw.trim().toLowerCase());
  }
}

/** The sidecar options of a command line and environment, or `'help'`; throws `InvalidOptionError` naming the flag. */
export function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv): SidecarOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(
        Object.entries(CLI_FLAGS).map(([name, flag]) => [name, { type: flag.kind === 'boolean' && name === 'help' ? 'boolean' : 'string' }]),
      ),
    });
  } catch (error) {
    throw new InvalidOptionError(`${(error as Error).message}; see --help`, { cause: error });
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help === true) return 'help';
  const got: Record<string, string | number | boolean> = {};
  for (const [name, flag] of Object.entries(CLI_FLAGS)) {
    if (name === 'help') continue;
    const raw = values[name] ?? (flag.env ? env[flag.env] : undefined) ?? (name === 'brokers' ? env.KAFKA_BROKERS : undefined);
    if (raw !== undefined) got[name] = convert(name, flag, String(raw));
  }
  if (got.topic === undefined) throw new InvalidOptionError('--topic (NEARCACHE_TOPIC) is required: the cache topic to share');
  if (got.brokers === undefined) throw new InvalidOptionError('--brokers (NEARCACHE_BROKERS or KAFKA_BROKERS) is required: the Kafka brokers, comma-separated');
  if (got.password !== undefined && got['password-file'] !== undefined) throw new InvalidOptionError('give --password or --password-file, not both');
  let password = got.password as string | undefined;
  if (got['password-file'] !== undefined) {
    try {
      password = readFileSync(got['password-file'] as string, 'utf8').replace(/\r?\n$/, '');
    } catch (error) {
      throw new InvalidOptionError(`--password-file: cannot read ${JSON.stringify(got['password-file'])}: ${(error as Error).message}`, { cause: error });
    }
  }
  const brokers = (got.brokers as string)
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  const pick = <T>(name: string): T | undefined => got[name] as T | undefined;
  const options: SidecarOptions = {
    cache: {
      topic: got.topic as string,
      kafka: {
        brokers,
        ...(pick('client-id') ? { clientId: pick<string>('client-id') } : {}),
        ...(got['create-topic'] === false ? { createTopic: false } : {}),
      },
      ...(pick('max-entries') !== undefined ? { max: pick<number>('max-entries') } : {}),
      ...(pick('max-bytes') !== undefined ? { maxBytes: pick<number>('max-bytes') } : {}),
      ...(pick('max-value-bytes') !== undefined ? { maxValueBytes: pick<number>('max-value-bytes') } : {}),
      ...(pick('ttl') !== undefined ? { ttl: pick<number>('ttl') } : {}),
      ...(pick('bootstrap-timeout') !== undefined ? { bootstrapTimeout: pick<number>('bootstrap-timeout') } : {}),
    },
    handleSignals: true,
  };
  const direct: [string, keyof SidecarOptions][] = [
    ['host', 'host'],
    ['port', 'port'],
    ['socket', 'socket'],
    ['socket-mode', 'socketMode'],
    ['http-port', 'httpPort'],
    ['http-host', 'httpHost'],
    ['max-clients', 'maxClients'],
    ['max-request-bytes', 'maxRequestBytes'],
  ];
  for (const [flag, option] of direct) if (got[flag] !== undefined) (options as unknown as Record<string, unknown>)[option] = got[flag];
  if (password !== undefined) options.password = password;
  return options;
}
