import { Injectable, Logger } from '@nestjs/common';
import { InProcessBroker, inProcessLog, InvalidOptionError, NearCache, type Clock } from '@nearcache/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { chaos } from '../../../test/helpers/chaos.js';
import { Cached, NearCacheModule } from '../src/index.js';
import { closeApps, createApp, inProcess, waitFor } from './helpers.js';

/** The source of truth the cached methods read. */
const source = new Map<string, string>();
let runs = 0;

@Injectable()
class ProfilesService {
  @Cached({ key: 'profile:{0}', after: (_id: string, session?: string) => session })
  async profile(id: string, session?: string): Promise<string> {
    runs++;
    return source.get(id) ?? 'none';
  }

  @Cached({ key: 'recent:{0}', maxStaleness: 100 })
  async recent(id: string): Promise<string> {
    runs++;
    return source.get(id) ?? 'none';
  }
}

function fakeClock(): Clock & { advance(ms: number): void } {
  let now = 1_000_000;
  return { now: () => now, advance: (ms) => (now += ms) };
}

describe('@Cached freshness: after (session token) and maxStaleness', () => {
  afterEach(async () => {
    vi.restoreAllMocks();
    source.clear();
    runs = 0;
    await closeApps();
  });

  it('runs the method while this instance has not applied the caller token, and hits once it has', async () => {
    const broker = new InProcessBroker();
    const appA = await createApp({ imports: [NearCacheModule.forRoot(inProcess(broker, 'profiles'))], providers: [ProfilesService] });
    const logB = chaos(inProcessLog(broker));
    const appB = await createApp({ imports: [NearCacheModule.forRoot({ ...inProcess(broker, 'profiles'), log: logB })], providers: [ProfilesService] });
    const a = appA.get(NearCache);
    const b = appB.get(NearCache);
    const onB = appB.get(ProfilesService);
    await Promise.all([a.ready(), b.ready()]);
    source.set('1', 'old');
    expect(await onB.profile('1')).toBe('old');
    await waitFor(() => a.get('profile:1') === 'old', { message: 'replication to a' });
    // Instance A writes (what a @CachePut or an update handler does), and returns its token to the client.
    logB.last!.hold();
    source.set('1', 'new');
    await a.set('profile:1', 'new');
    const token = await a.sessionToken();
    runs = 0;
    // B has not applied the write: without the token it serves its copy, with it the method runs.
    expect(await onB.profile('1')).toBe('old');
    expect(runs).toBe(0);
    expect(await onB.profile('1', token)).toBe('new');
    expect(runs).toBe(1);
    logB.last!.release();
    await b.catchUpTo(token);
    expect(await onB.profile('1', token)).toBe('new');
    expect(runs).toBe(1);
  });

  it('runs the method while this instance cannot show it is within maxStaleness', async () => {
    const broker = new InProcessBroker();
    const clock = fakeClock();
    const app = await createApp({
      imports: [NearCacheModule.forRoot({ ...inProcess(broker, 'recent'), clock, lagPollInterval: 600_000 })],
      providers: [ProfilesService],
    });
    const cache = app.get(NearCache);
    const profiles = app.get(ProfilesService);
    await cache.ready();
    source.set('1', 'v1');
    expect(await profiles.recent('1')).toBe('v1');
    expect(await profiles.recent('1')).toBe('v1');
    expect(runs).toBe(1);
    clock.advance(1000);
    source.set('1', 'v2');
    expect(await profiles.recent('1')).toBe('v2');
    expect(runs).toBe(2);
    // The miss asked the log for its end offsets: once confirmed, calls hit again.
    await waitFor(() => cache.staleness() === 0, { message: () => `a confirmation, staleness ${cache.staleness()}` });
    expect(await profiles.recent('1')).toBe('v2');
    expect(runs).toBe(2);
  });

  it('refuses bad settings when the class is declared, and runs a call with a bad token uncached, with a warning', async () => {
    expect(() => Cached({ maxStaleness: -1 })).toThrow(InvalidOptionError);
    expect(() => Cached({ maxStaleness: 1.5 })).toThrow(/maxStaleness must be an integer/);
    expect(() => Cached({ after: 'token' as never })).toThrow(/after must be a function/);
    const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const broker = new InProcessBroker();
    const app = await createApp({ imports: [NearCacheModule.forRoot(inProcess(broker, 'bad-token'))], providers: [ProfilesService] });
    await app.get(NearCache).ready();
    source.set('1', 'v');
    expect(await app.get(ProfilesService).profile('1', 'not-a-token')).toBe('v');
    expect(await app.get(ProfilesService).profile('1', 'not-a-token')).toBe('v');
    expect(runs).toBe(2);
    expect(warn.mock.calls.map((call) => String(call[0])).join('\n')).toMatch(/ProfilesService\.profile.*"profile:1"/);
  });
});
