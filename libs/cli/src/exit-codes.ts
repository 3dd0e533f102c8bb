/**
 * The exit codes of `nearcache`, for scripts (documented in the package README and
 * docs/operations.md). They never change meaning.
 */
export const EXIT = {
  /** The command did what it was asked; `verify` found no bad record. */
  ok: 0,
  /** `verify` found bad records; `get` found no live value; the topic does not exist; `inspect` found a setting a cache refuses. */
  failed: 1,
  /** The command line is wrong (unknown command or option, missing or invalid value). */
  usage: 2,
  /** The cluster could not be reached or refused the tool (connection, TLS, authentication, authorization, or the `--timeout` passed). */
  unreachable: 3,
  /** Anything else (a bug, or a broker error the tool does not know). */
  internal: 4,
  /** A read (not `tail`) was interrupted by SIGINT or SIGTERM. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A problem that ends a command with a given exit code and message. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The command line is wrong: the message says what and what is allowed. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(EXIT.usage, message);
  }
}
