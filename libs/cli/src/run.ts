import { readFileSync } from 'node:fs';
import { parseCommandLine, usage, type ParsedCommandLine } from './args.js';
import { get } from './commands/get.js';
import { inspect } from './commands/inspect.js';
import { tail } from './commands/tail.js';
import { verify } from './commands/verify.js';
import { classify, connectionFrom, type Connection } from './connection.js';
import { EXIT, UsageError, type ExitCode } from './exit-codes.js';
import type { Io } from './output.js';
import { TopicReader } from './reader.js';
import { readingFrom, type Reading } from './records.js';

const COMMAND_RUNNERS = { inspect, get, tail, verify } as const;

type Runner = (line: ParsedCommandLine, io: Io, reader: TopicReader, reading: Reading) => Promise<ExitCode>;

function version(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

/**
 * Runs `nearcache` with `argv` (the arguments after the program name); resolves with the exit
 * code. Never throws: errors are written to `io.stderr` with their exit code.
 */
export async function run(argv: readonly string[], io: Io): Promise<ExitCode> {
  let line: ParsedCommandLine;
  let connection: Connection | undefined;
  let reader: TopicReader | undefined;
  try {
    line = parseCommandLine(argv);
    if (line.command === 'version') {
      io.stdout.write(`${version()}\n`);
      return EXIT.ok;
    }
    if (line.command === 'help') {
      io.stdout.write(usage(line.helpFor));
      return EXIT.ok;
    }
    connection = connectionFrom(line, io.env);
    const reading = readingFrom(line, io.env);
    reader = new TopicReader(connection, line.command === 'tail' ? undefined : io.signal);
    const runner: Runner = COMMAND_RUNNERS[line.command];
    return await runner(line, io, reader, reading);
  } catch (error) {
    const problem = classify(error, connection);
    io.stderr.write(`nearcache: ${problem.message}\n`);
    if (problem instanceof UsageError) io.stderr.write(`Run "nearcache help${argvCommand(argv)}" for the options.\n`);
    if (problem.exitCode === EXIT.internal && problem.cause instanceof Error && problem.cause.stack) io.stderr.write(`${problem.cause.stack}\n`);
    return problem.exitCode;
  } finally {
    await reader?.close();
  }
}

function argvCommand(argv: readonly string[]): string {
  const first = argv.find((a) => !a.startsWith('-'));
  return first !== undefined && ['inspect', 'get', 'tail', 'verify'].includes(first) ? ` ${first}` : '';
}
