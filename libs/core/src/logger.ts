/** The logging surface nearcache uses; any console-like or pino-like object fits. */
export interface Logger {
  debug(message: string, context?: Record<string, unknown>): void;
  info(message: string, context?: Record<string, unknown>): void;
  warn(message: string, context?: Record<string, unknown>): void;
  error(message: string, context?: Record<string, unknown>): void;
}

/**
 * `message` with its context on the same line, ` (key=value, ...)`: an error as its name and
 * message (no stack, no chain of causes), another object as JSON. One event, one line.
 */
export function formatLogLine(message: string, context: Record<string, unknown> | undefined): string {
  if (!context) return message;
  const parts: string[] = [];
  for (const [key, value] of Object.entries(context)) {
    if (value === undefined) continue;
    if (value instanceof Error) parts.push(`${key}=${value.name}: ${value.message}`);
    else if (typeof value === 'object' && value !== null) {
      try {
        parts.push(`${key}=${JSON.stringify(value)}`);
      } catch {
        parts.push(`${key}=[object]`);
      }
    } else parts.push(`${key}=${String(value)}`);
  }
  return parts.length > 0 ? `${message} (${parts.join(', ')})` : message;
}

/** Writes warnings and errors to stderr, one line each (see `formatLogLine`), drops debug and info. The default. */
export const consoleLogger: Logger = {
  debug() {},
  info() {},
  warn(message, context) {
    console.warn(`[nearcache] ${formatLogLine(message, context)}`);
  },
  error(message, context) {
    console.error(`[nearcache] ${formatLogLine(message, context)}`);
  },
};

/** Drops everything. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * Summarises repeated lines: the first of identical lines passes, then one at each doubling of
 * the count (2nd, 4th, 8th...), saying how often and for how long it repeated. A failure retried
 * with backoff thus costs at most a line per backoff step, and its cause is still said. A line
 * not seen for `quietMs` counts as new again.
 */
export class RepeatedLines {
  readonly #seen = new Map<string, { count: number; since: number; last: number }>();

  constructor(readonly quietMs = 60_000) {}

  /** The line to log for `message` now, or undefined to leave it out. */
  next(message: string, now = Date.now()): string | undefined {
    let entry = this.#seen.get(message);
    if (!entry || now - entry.last > this.quietMs) {
      this.#seen.delete(message);
      entry = { count: 0, since: now, last: now };
      this.#seen.set(message, entry);
      // Bounded: the oldest lines are forgotten first.
      if (this.#seen.size > 64) this.#seen.delete(this.#seen.keys().next().value!);
    }
    entry.count++;
    entry.last = now;
    if (entry.count === 1) return message;
    if ((entry.count & (entry.count - 1)) !== 0) return undefined;
    return `${message} (${entry.count} times in ${Math.max(1, Math.round((now - entry.since) / 1000))} s)`;
  }
}
