/** The logging surface nearcache uses; any console-like or pino-like object fits. */
export interface Logger {
  debug(message: string, context?: Record<string, unknown>): void;
  info(message: string, context?: Record<string, unknown>): void;
  warn(message: string, context?: Record<string, unknown>): void;
  error(message: string, context?: Record<string, unknown>): void;
}

/** Writes warnings and errors to stderr, drops debug and info. The default. */
export const consoleLogger: Logger = {
  debug() {},
  info() {},
  warn(message, context) {
    console.warn(`[nearcache] ${message}`, ...(context ? [context] : []));
  },
  error(message, context) {
    console.error(`[nearcache] ${message}`, ...(context ? [context] : []));
  },
};

/** Drops everything. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
