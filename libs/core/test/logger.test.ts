import { afterEach, describe, expect, it, vi } from 'vitest';
import { consoleLogger, formatLogLine, LogUnavailableError } from '../src/index.js';

describe('the default console logger', () => {
  afterEach(() => vi.restoreAllMocks());

  it('writes an error with its code and cause on one line, without stacks', () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const cause = new Error('Connection error: connect ECONNREFUSED 127.0.0.1:19999', { cause: new Error('deeper') });
    cause.name = 'KafkaJSNumberOfRetriesExceeded';
    consoleLogger.error('connecting to Kafka: cannot reach Kafka at 127.0.0.1:19999: ECONNREFUSED', { code: 'NC_LOG_UNAVAILABLE', cause });
    expect(error).toHaveBeenCalledTimes(1);
    const args = error.mock.calls[0]!;
    expect(args).toHaveLength(1);
    expect(args[0]).toBe(
      '[nearcache] connecting to Kafka: cannot reach Kafka at 127.0.0.1:19999: ECONNREFUSED (code=NC_LOG_UNAVAILABLE, cause=KafkaJSNumberOfRetriesExceeded: Connection error: connect ECONNREFUSED 127.0.0.1:19999)',
    );
    expect(args[0]).not.toContain('\n');
  });

  it('writes a warning without context as the message alone', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    consoleLogger.warn('skipped record at t/0@7: malformed: x');
    expect(warn.mock.calls).toEqual([['[nearcache] skipped record at t/0@7: malformed: x']]);
  });

  it('drops debug and info', () => {
    const spies = (['log', 'info', 'debug', 'warn', 'error'] as const).map((m) => vi.spyOn(console, m).mockImplementation(() => undefined));
    consoleLogger.debug('d', { a: 1 });
    consoleLogger.info('i');
    for (const spy of spies) expect(spy).not.toHaveBeenCalled();
  });
});

describe('formatLogLine', () => {
  it('puts values, objects and errors after the message, and leaves undefined ones out', () => {
    const error = new LogUnavailableError('the broker went away', { retriable: true });
    expect(formatLogLine('m', { code: 'NC_X', n: 3, none: undefined, obj: { a: [1] }, error })).toBe(
      `m (code=NC_X, n=3, obj={"a":[1]}, error=${error.name}: the broker went away)`,
    );
    expect(formatLogLine('m', {})).toBe('m');
    expect(formatLogLine('m', undefined)).toBe('m');
  });

  it('says [object] for an object JSON cannot write', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(formatLogLine('m', { cycle })).toBe('m (cycle=[object])');
  });
});
