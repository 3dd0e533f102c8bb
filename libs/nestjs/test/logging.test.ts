import { Injectable, Logger } from '@nestjs/common';
import { InProcessBroker, InvalidOptionError, NearCache, type Logger as NearCacheLogger } from '@nearcache/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CachePut, Cached, NearCacheModule } from '../src/index.js';
import { closeApps, createApp, inProcess } from './helpers.js';

afterEach(async () => {
  vi.restoreAllMocks();
  await closeApps();
});

/** A nearcache logger that records what the cache itself logs. */
function recordingLogger(): NearCacheLogger & { lines: Array<[string, string]> } {
  const lines: Array<[string, string]> = [];
  return {
    lines,
    debug: () => undefined,
    info: () => undefined,
    warn: (message) => lines.push(['warn', message]),
    error: (message) => lines.push(['error', message]),
  };
}

describe('values the cache refuses to store', () => {
  @Injectable()
  class Reports {
    bodies = 0;

    @Cached({ key: 'report:{0}' })
    async big(id: string): Promise<string> {
      this.bodies++;
      return `${id}:${'x'.repeat(500)}`;
    }

    @Cached({ key: 'report-sync:{0}' })
    bigSync(id: string): string {
      this.bodies++;
      return `${id}:${'x'.repeat(500)}`;
    }

    @CachePut({ key: 'report-put:{0}' })
    async bigPut(id: string): Promise<string> {
      return `${id}:${'x'.repeat(500)}`;
    }
  }

  it('are reported once per method and kind, at warn level, naming the class, the method and the key; async and sync alike', async () => {
    const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const cacheLog = recordingLogger();
    const app = await createApp({
      imports: [NearCacheModule.forRoot({ ...inProcess(new InProcessBroker()), logger: cacheLog, maxValueBytes: 100 })],
      providers: [Reports],
    });
    const reports = app.get(Reports);
    for (const id of ['a', 'b', 'c']) {
      expect(await reports.big(id)).toMatch(new RegExp(`^${id}:x+$`));
      expect(reports.bigSync(id)).toMatch(new RegExp(`^${id}:x+$`));
      await reports.bigPut(id);
    }
    await app.get(NearCache).flush();
    expect(reports.bodies).toBe(6);
    // Nothing at error level, nothing from the cache itself: the decorators report.
    expect(cacheLog.lines).toEqual([]);
    const messages = warn.mock.calls.map((call) => String(call[0]));
    for (const [decorator, method, key] of [
      ['@Cached', 'Reports.big', 'report:a'],
      ['@Cached', 'Reports.bigSync', 'report-sync:a'],
      ['@CachePut', 'Reports.bigPut', 'report-put:a'],
    ] as const) {
      const about = messages.filter((m) => m.includes(`${decorator} on ${method}:`));
      expect(about, method).toHaveLength(1);
      expect(about[0]).toContain(`key "${key}"`);
      expect(about[0]).toContain('NC_VALUE_TOO_LARGE');
    }
  });

  it("log under the context of the cache they use, NearCache:<name>, the cache's own context", async () => {
    const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const broker = new InProcessBroker();
    @Injectable()
    class Sessions {
      @Cached({ cache: 'sessions', key: 'session:{0}' })
      async load(id: string): Promise<string> {
        return `${id}:${'x'.repeat(500)}`;
      }
    }
    const app = await createApp({
      imports: [
        NearCacheModule.forRoot(inProcess(broker, 'main')),
        NearCacheModule.forRoot({ name: 'sessions', ...inProcess(broker, 'sessions'), maxValueBytes: 100 }),
      ],
      providers: [Sessions],
    });
    await app.get(Sessions).load('s1');
    const index = warn.mock.calls.findIndex((call) => String(call[0]).includes('Sessions.load'));
    expect(index).toBeGreaterThanOrEqual(0);
    expect((warn.mock.contexts[index] as unknown as { context?: string }).context).toBe('NearCache:sessions');
  });
});

describe('decorator ttl', () => {
  it('above the largest ttl a cache accepts is refused when the decorator is applied', () => {
    const hundredYears = 100 * 365 * 24 * 60 * 60 * 1000;
    expect(() => Cached({ ttl: hundredYears + 1 })).toThrow(InvalidOptionError);
    expect(() => CachePut({ key: 'k', ttl: hundredYears + 1 })).toThrow(/ttl must be an integer number of ms from 0 \(none\) to 3153600000000/);
    expect(() => Cached({ ttl: hundredYears })).not.toThrow();
  });
});
