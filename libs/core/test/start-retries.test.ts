import { describe, expect, it } from 'vitest';
import { ChaosLog } from '../../../test/helpers/chaos.js';
import { createNearCache, InProcessBroker, inProcessLog, LogUnavailableError, NearCacheError, silentLogger, type Logger } from '../src/index.js';

// A start that fails and retries: what the `error` event and the logger are told on each attempt.

/** A log whose first opens fail, each with the message `causes` lists for it, then works. */
function failingOpens(broker: InProcessBroker, causes: string[]) {
  const attempts: string[] = [];
  const factory = inProcessLog(broker);
  return {
    attempts,
    log: (context: Parameters<typeof factory>[0]) =>
      new (class extends ChaosLog {
        override open(): Promise<{ partitions: number }> {
          const cause = causes[attempts.length];
          attempts.push(cause ?? 'opened');
          if (cause !== undefined) return Promise.reject(new LogUnavailableError(cause, { retriable: true }));
          return super.open();
        }
      })(factory(context)),
  };
}

describe('a start that retries', () => {
  it('emits `error` once per distinct cause, then becomes ready', async () => {
    const broker = new InProcessBroker();
    const { attempts, log } = failingOpens(broker, ['broker down', 'not authorised yet', 'not authorised yet', 'broker down']);
    const cache = createNearCache({ topic: 'start-retries', log, logger: silentLogger });
    const errors: string[] = [];
    // Until the cache is ready, its stats name the last failure.
    const startErrors: unknown[] = [];
    cache.on('error', (error: NearCacheError) => {
      errors.push(error.message);
      startErrors.push(cache.stats().startError);
    });
    expect(cache.stats().startError).toBeUndefined();
    try {
      await cache.ready({ timeout: 30_000 });
      expect(cache.stats().startError).toBeUndefined();
      expect(attempts).toEqual(['broker down', 'not authorised yet', 'not authorised yet', 'broker down', 'opened']);
      expect(errors).toEqual(['broker down', 'not authorised yet']);
      expect(startErrors).toEqual(errors.map((message) => ({ code: 'NC_LOG_UNAVAILABLE', message })));
    } finally {
      await cache.close();
    }
  });

  it('without an `error` listener, still logs a repeated cause with its count (1st, 2nd, 4th... time)', async () => {
    const broker = new InProcessBroker();
    const { log } = failingOpens(broker, ['broker down', 'broker down', 'broker down', 'broker down']);
    const lines: string[] = [];
    const logger: Logger = { ...silentLogger, error: (message: string) => void lines.push(message) };
    const cache = createNearCache({ topic: 'start-retries', log, logger });
    try {
      await cache.ready({ timeout: 30_000 });
      expect(lines).toEqual([
        'broker down',
        expect.stringMatching(/^broker down \(2 times in \d+ s\)$/),
        expect.stringMatching(/^broker down \(4 times in \d+ s\)$/),
      ]);
    } finally {
      await cache.close();
    }
  });
});
