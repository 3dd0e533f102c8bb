import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './exit-codes.js';

/** The commands, with what each takes. */
export const COMMANDS = {
  inspect: { args: '', summary: 'partitions, offsets, settings (with warnings), record, byte, key and tombstone counts' },
  get: { args: 'KEY', summary: "the key's current value, folded from the topic and decoded" },
  tail: { args: '', summary: 'records as they arrive, decoded (--prefix to filter by key); Ctrl-C ends it' },
  verify: { args: '', summary: 'checks every record against the format (and signatures with --key); lists the bad ones' },
} as const;

export type CommandName = keyof typeof COMMANDS;

const OPTIONS = {
  topic: { type: 'string', short: 't' },
  brokers: { type: 'string', short: 'b' },
  'client-id': { type: 'string' },
  tls: { type: 'boolean' },
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'sasl-mechanism': { type: 'string' },
  'sasl-username': { type: 'string' },
  'sasl-password': { type: 'string' },
  'group-id-prefix': { type: 'string' },
  timeout: { type: 'string' },
  codec: { type: 'string' },
  key: { type: 'string', multiple: true },
  'encryption-key': { type: 'string', multiple: true },
  'allow-unsigned': { type: 'boolean' },
  'max-key-bytes': { type: 'string' },
  'max-value-bytes': { type: 'string' },
  prefix: { type: 'string' },
  'from-beginning': { type: 'boolean' },
  json: { type: 'boolean' },
  'no-progress': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const satisfies ParseArgsConfig['options'];

export type OptionName = keyof typeof OPTIONS;

/** Options every command takes (connection, output). */
const COMMON: OptionName[] = [
  'topic',
  'brokers',
  'client-id',
  'tls',
  'tls-ca',
  'tls-cert',
  'tls-key',
  'sasl-mechanism',
  'sasl-username',
  'sasl-password',
  'group-id-prefix',
  'timeout',
  'json',
  'no-progress',
  'help',
];
const DECODING: OptionName[] = ['codec', 'key', 'encryption-key', 'allow-unsigned', 'max-key-bytes', 'max-value-bytes'];
const ALLOWED: Record<CommandName, OptionName[]> = {
  inspect: [...COMMON, 'max-key-bytes', 'max-value-bytes'],
  get: [...COMMON, ...DECODING],
  tail: [...COMMON, ...DECODING, 'prefix', 'from-beginning'],
  verify: [...COMMON, ...DECODING],
};

export interface ParsedCommandLine {
  command: CommandName | 'help' | 'version';
  /** For `help COMMAND`: the command asked about. */
  helpFor?: CommandName;
  positionals: string[];
  values: { [K in OptionName]?: (typeof OPTIONS)[K] extends { multiple: true } ? string[] : (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };
}

const isCommand = (name: string | undefined): name is CommandName => name !== undefined && Object.hasOwn(COMMANDS, name);

/** Parses the arguments after `nearcache`; throws UsageError naming what is wrong. */
export function parseCommandLine(argv: readonly string[]): ParsedCommandLine {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, '.'));
  }
  const { values, positionals } = parsed;
  const [first, ...rest] = positionals;
  if (values.version) return { command: 'version', positionals: [], values };
  if (first === undefined || first === 'help') {
    const helpFor = rest[0];
    if (helpFor !== undefined && !isCommand(helpFor)) throw new UsageError(`unknown command "${helpFor}"; commands: ${Object.keys(COMMANDS).join(', ')}`);
    return { command: 'help', ...(helpFor === undefined ? {} : { helpFor }), positionals: [], values };
  }
  if (!isCommand(first)) throw new UsageError(`unknown command "${first}"; commands: ${Object.keys(COMMANDS).join(', ')}`);
  if (values.help) return { command: 'help', helpFor: first, positionals: [], values };
  const allowed = ALLOWED[first];
  const misplaced = Object.keys(values).filter((name) => !allowed.includes(name as OptionName));
  if (misplaced.length > 0) throw new UsageError(`option ${misplaced.map((m) => `--${m}`).join(', ')} does not apply to "${first}"`);
  const wanted = COMMANDS[first].args === '' ? 0 : 1;
  if (rest.length !== wanted) {
    throw new UsageError(
      wanted === 0
        ? `"${first}" takes no argument (got ${JSON.stringify(rest[0])}); options start with --`
        : `"${first}" takes exactly one ${COMMANDS[first].args} (got ${rest.length})`,
    );
  }
  return { command: first, positionals: rest, values };
}

/** An integer option given as text, within bounds. */
export function integerValue(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(text)})`);
  }
  return value;
}

const CONNECTION_HELP = `Connection (flags win over environment variables):
  -t, --topic T              the cache's topic                     NEARCACHE_TOPIC
  -b, --brokers LIST         host:port,host:port                   NEARCACHE_BROKERS, KAFKA_BROKERS
      --client-id ID         Kafka client id (default "nearcache") NEARCACHE_CLIENT_ID
      --tls                  connect with TLS                      NEARCACHE_TLS=1
      --tls-ca FILE          CA certificates (PEM); implies --tls  NEARCACHE_TLS_CA
      --tls-cert FILE        client certificate (PEM)              NEARCACHE_TLS_CERT
      --tls-key FILE         client private key (PEM)              NEARCACHE_TLS_KEY
      --sasl-mechanism M     plain, scram-sha-256 or scram-sha-512 NEARCACHE_SASL_MECHANISM
      --sasl-username U                                            NEARCACHE_SASL_USERNAME
      --sasl-password P      prefer the variable (ps shows flags)  NEARCACHE_SASL_PASSWORD
      --group-id-prefix P    consumer group prefix (default "nearcache.")
      --timeout MS           deadline of the whole read (default 60000; tail: of connecting)
Output:
      --json                 machine-readable output on stdout (tail: one JSON object a line)
      --no-progress          no progress bar (it shows only when stderr is a terminal)`;

const DECODING_HELP = `Decoding:
      --codec NAME           codec for version 1 and 2 records, which name none: structured
                             (default), json or buffer; version 3 records name their own
      --key ID=SECRET        a signing key (repeatable); records must then carry a valid
                             signature. SECRET is text, hex:..., base64:... or @FILE. Also
                             NEARCACHE_SIGNING_KEYS="id=secret,id2=secret"
      --allow-unsigned       with --key: accept unsigned records, as requireSigned: false
      --encryption-key ID=SECRET
                             a key of encryptedCodec (32 bytes: hex:..., base64:... or @FILE;
                             repeatable; also NEARCACHE_ENCRYPTION_KEYS)
      --max-key-bytes N      the readers' maxKeyBytes (default 1024)
      --max-value-bytes N    the readers' maxValueBytes (default 524288)`;

const EXIT_HELP = `Exit codes: 0 ok; 1 bad records, key not found, topic missing or not usable by a cache;
2 usage error; 3 cluster unreachable, refusing access or timed out; 4 internal error; 130 interrupted (Ctrl-C;
tail ends with 0).`;

/** The usage text: the overview, or one command's. */
export function usage(command?: CommandName): string {
  if (command === undefined) {
    const lines = Object.entries(COMMANDS).map(([name, { args, summary }]) => `  ${`${name} ${args}`.padEnd(12)} ${summary}`);
    return `Usage: nearcache <command> --topic T [options]

Commands:
${lines.join('\n')}
  help [COMMAND]

${CONNECTION_HELP}

${DECODING_HELP}

${EXIT_HELP}
`;
  }
  const { args, summary } = COMMANDS[command];
  const extra =
    command === 'tail'
      ? `\nFollowing:\n      --prefix P             only keys starting with P (and clears that reach them)\n      --from-beginning       replay the topic first, then follow\n`
      : '';
  return `Usage: nearcache ${command}${args ? ` ${args}` : ''} --topic T [options]

${summary[0]!.toUpperCase()}${summary.slice(1)}.
${extra}
${CONNECTION_HELP}
${command === 'inspect' ? '' : `\n${DECODING_HELP}\n`}
${EXIT_HELP}
`;
}
